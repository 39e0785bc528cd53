import TOMLKit

/// A parsed TOML file (via TOMLKit) that knows the line of every table header and key.
///
/// TOMLKit reports lines for syntax errors only; synx also needs them for errors found after parsing
/// ("duplicate meter name", "unknown profile"), so this scans the text once for `[table]`, `[[array]]`
/// headers and `key =` lines. The scan only locates lines: the values come from the real parser.
public struct TOMLDocument {
    public let file: String
    let root: TOMLTable
    let lines: KeyLines

    /// Parses `text`, read from `file` (the name is used in errors only).
    public init(file: String, text: String) throws {
        self.file = file
        if let (line, character) = HeaderCheck.firstBadHeader(in: text) {
            throw ConfigError(file: file, line: line, key: nil,
                              message: "malformed TOML: a table header must start with a key, not '\(character)'")
        }
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(file: file, line: error.source.begin.line, key: nil,
                              message: "malformed TOML: \(error.description)")
        }
        lines = KeyLines(text: text)
    }

    /// The top-level table.
    public var rootSection: TOMLSection {
        TOMLSection(document: self, table: root, header: KeyLines.Header(name: "", index: 0), displayPath: "")
    }
}

/// Line numbers of headers and keys, by header name and occurrence.
struct KeyLines {
    struct Header: Hashable { var name: String; var index: Int }
    var keyLine: [Header: [String: Int]] = [:]
    var headerLine: [Header: Int] = [:]

    init(text: String) {
        var current = Header(name: "", index: 0)
        var occurrences: [String: Int] = [:]
        var inMultiline = false
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = offset + 1
            let line = raw.trimmingCharacters(in: " \t\r")
            let quotes = line.components(separatedBy: "\"\"\"").count - 1 + line.components(separatedBy: "'''").count - 1
            if inMultiline { if quotes % 2 == 1 { inMultiline = false }; continue }
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("[") {
                let isArray = line.hasPrefix("[[")
                let body = line.drop(while: { $0 == "[" }).prefix(while: { $0 != "]" })
                let name = String(body).trimmingCharacters(in: " \t")
                let index = isArray ? occurrences[name, default: 0] : 0
                if isArray { occurrences[name] = index + 1 }
                current = Header(name: name, index: index)
                headerLine[current] = lineNumber
                continue
            }
            if let eq = line.firstIndex(of: "=") {
                var key = String(line[..<eq]).trimmingCharacters(in: " \t")
                key = key.split(separator: ".").first.map(String.init) ?? key
                key = key.trimmingCharacters(in: CharacterSet.quotes)
                if keyLine[current, default: [:]][key] == nil { keyLine[current, default: [:]][key] = lineNumber }
                if quotes % 2 == 1 { inMultiline = true }
            }
        }
    }
}

private enum CharacterSet { static let quotes = "\"'" }

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}
