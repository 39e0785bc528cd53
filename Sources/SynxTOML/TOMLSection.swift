/// One table of a TOML document with typed, validating accessors whose errors carry file, line and key.
///
/// Type errors name TOML's types in the specification's words ("expected an integer, found a string").
public struct TOMLSection {
    let document: TOMLDocument
    let table: TOMLTable
    /// How the table is named in messages, e.g. `meter[2]` or `daemon`.
    public let displayPath: String

    init(document: TOMLDocument, table: TOMLTable, displayPath: String) {
        self.document = document
        self.table = table
        self.displayPath = displayPath
    }

    /// The line of the table's header, or of `key` inside it when given and present.
    public func line(of key: String? = nil) -> Int? {
        if let key, let entry = table.entries[key] { return entry.line }
        return table.line
    }

    /// An error about `key` (or the whole table) at its line.
    public func error(_ key: String?, _ message: String) -> ConfigError {
        let qualified = key.map(path(of:)) ?? (displayPath.isEmpty ? nil : displayPath)
        return ConfigError(file: document.file, line: line(of: key), key: qualified, message: message)
    }

    /// Whether the table has `key`.
    public func has(_ key: String) -> Bool { table[key] != nil }

    /// Rejects keys the schema does not know, which are almost always typos.
    public func rejectUnknownKeys(_ allowed: Set<String>) throws {
        for key in table.entries.keys.sorted() where !allowed.contains(key) {
            throw error(key, "unknown key (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    /// A string, or nil when the key is absent.
    public func string(_ key: String) throws -> String? {
        guard let v = table[key] else { return nil }
        guard case .string(let s) = v else { throw error(key, "expected a string, found \(v.typeDescription)") }
        return s
    }

    /// A string that must be present and not empty.
    public func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw error(key, "missing (required)") }
        guard !s.isEmpty else { throw error(key, "must not be empty") }
        return s
    }

    /// An integer within `range`, or nil when the key is absent.
    public func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = table[key] else { return nil }
        guard case .integer(let wide) = v else { throw error(key, "expected an integer, found \(v.typeDescription)") }
        guard let i = Int(exactly: wide), range.contains(i) else {
            throw error(key, "\(wide) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return i
    }

    /// An integer within `range` that must be present.
    public func requiredInt(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        guard let i = try int(key, in: range) else { throw error(key, "missing (required)") }
        return i
    }

    /// A number; TOML integers are accepted where a float is expected.
    public func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = table[key] else { return nil }
        let d: Double
        switch v {
        case .float(let f): d = f
        case .integer(let i): d = Double(i)
        default: throw error(key, "expected a number, found \(v.typeDescription)")
        }
        guard d.isFinite, range.contains(d) else {
            throw error(key, "\(d) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return d
    }

    /// A boolean, or nil when the key is absent.
    public func bool(_ key: String) throws -> Bool? {
        guard let v = table[key] else { return nil }
        guard case .boolean(let b) = v else { throw error(key, "expected true or false, found \(v.typeDescription)") }
        return b
    }

    /// An array whose items are all strings, or nil when the key is absent.
    public func stringArray(_ key: String) throws -> [String]? {
        guard let v = table[key] else { return nil }
        guard case .array(let array) = v else {
            throw error(key, "expected an array of strings, found \(v.typeDescription)")
        }
        return try array.items.map { item in
            guard case .string(let s) = item else {
                throw error(key, "expected an array of strings, found \(item.typeDescription) in it")
            }
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

    /// A `[name]` sub-table (or an inline table, or one made by dotted keys).
    public func section(_ key: String) throws -> TOMLSection? {
        guard let v = table[key] else { return nil }
        guard case .table(let t) = v else {
            throw error(key, "expected a table [\(path(of: key))], found \(v.typeDescription)")
        }
        return TOMLSection(document: document, table: t, displayPath: path(of: key))
    }

    /// The entries of a `[[name]]` array of tables (or an array of inline tables), in file order.
    public func sections(_ key: String) throws -> [TOMLSection] {
        guard let v = table[key] else { return [] }
        guard case .array(let array) = v else {
            throw error(key, "expected an array of tables [[\(path(of: key))]], found \(v.typeDescription)")
        }
        return try array.items.enumerated().map { index, item in
            guard case .table(let t) = item else {
                throw error(
                    key, "expected an array of tables [[\(path(of: key))]], found \(item.typeDescription) in it")
            }
            return TOMLSection(document: document, table: t, displayPath: "\(path(of: key))[\(index + 1)]")
        }
    }

    /// `key` qualified by this table's path, as messages name it.
    private func path(of key: String) -> String {
        displayPath.isEmpty ? key : "\(displayPath).\(key)"
    }
}
