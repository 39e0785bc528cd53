import TOMLKit

/// One table of a TOML document with typed, validating accessors whose errors carry file, line and key.
public struct TOMLSection {
    let document: TOMLDocument
    let table: TOMLTable
    let header: KeyLines.Header
    /// How the table is named in messages, e.g. `meter[2]` or `daemon`.
    public let displayPath: String

    init(document: TOMLDocument, table: TOMLTable, header: KeyLines.Header, displayPath: String) {
        self.document = document
        self.table = table
        self.header = header
        self.displayPath = displayPath
    }

    /// The line of the table's header, or of `key` inside it when given and present.
    public func line(of key: String? = nil) -> Int? {
        if let key, let l = document.lines.keyLine[header]?[key] { return l }
        return document.lines.headerLine[header]
    }

    /// An error about `key` (or the whole table) at its line.
    public func error(_ key: String?, _ message: String) -> ConfigError {
        let qualified = key.map { displayPath.isEmpty ? $0 : "\(displayPath).\($0)" } ?? (displayPath.isEmpty ? nil : displayPath)
        return ConfigError(file: document.file, line: line(of: key), key: qualified, message: message)
    }

    public func has(_ key: String) -> Bool { table.contains(key: key) }

    /// Rejects keys the schema does not know, which are almost always typos.
    public func rejectUnknownKeys(_ allowed: Set<String>) throws {
        for key in table.keys.sorted() where !allowed.contains(key) {
            throw error(key, "unknown key (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    public func string(_ key: String) throws -> String? {
        guard let v = table[key] else { return nil }
        guard let s = v.string else { throw error(key, "expected a string, found \(v.type)") }
        return s
    }

    public func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw error(key, "missing (required)") }
        guard !s.isEmpty else { throw error(key, "must not be empty") }
        return s
    }

    public func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = table[key] else { return nil }
        guard let i = v.int else { throw error(key, "expected an integer, found \(v.type)") }
        guard range.contains(i) else { throw error(key, "\(i) is out of range \(range.lowerBound)…\(range.upperBound)") }
        return i
    }

    public func requiredInt(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let i = try int(key, in: range) else { throw error(key, "missing (required)") }
        return i
    }

    /// A number; TOML integers are accepted where a float is expected.
    public func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = table[key] else { return nil }
        guard let d = v.double ?? v.int.map(Double.init) else { throw error(key, "expected a number, found \(v.type)") }
        guard d.isFinite, range.contains(d) else { throw error(key, "\(d) is out of range \(range.lowerBound)…\(range.upperBound)") }
        return d
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let v = table[key] else { return nil }
        guard let b = v.bool else { throw error(key, "expected true or false, found \(v.type)") }
        return b
    }

    public func stringArray(_ key: String) throws -> [String]? {
        guard let v = table[key] else { return nil }
        guard let a = v.array else { throw error(key, "expected an array of strings, found \(v.type)") }
        return try a.map { item in
            guard let s = item.string else { throw error(key, "expected an array of strings") }
            return s
        }
    }

    /// One of a fixed set of words.
    public func choice<T>(_ key: String, _ options: [String: T]) throws -> T? {
        guard let s = try string(key) else { return nil }
        guard let v = options[s] else {
            throw error(key, "\"\(s)\" is not one of: \(options.keys.sorted().joined(separator: ", "))")
        }
        return v
    }

    /// A `[name]` sub-table.
    public func section(_ key: String) throws -> TOMLSection? {
        guard let v = table[key] else { return nil }
        guard let t = v.table else { throw error(key, "expected a table [\(key)]") }
        let name = header.name.isEmpty ? key : "\(header.name).\(key)"
        return TOMLSection(document: document, table: t, header: .init(name: name, index: 0), displayPath: name)
    }

    /// The entries of a `[[name]]` array of tables, in file order.
    public func sections(_ key: String) throws -> [TOMLSection] {
        guard let v = table[key] else { return [] }
        guard let a = v.array else { throw error(key, "expected an array of tables [[\(key)]]") }
        let name = header.name.isEmpty ? key : "\(header.name).\(key)"
        return try a.enumerated().map { index, item in
            guard let t = item.table else { throw error(key, "expected [[\(key)]] tables") }
            return TOMLSection(document: document, table: t, header: .init(name: name, index: index),
                               displayPath: "\(name)[\(index + 1)]")
        }
    }
}
