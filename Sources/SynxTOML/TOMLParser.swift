/// Where a TOML text breaks the grammar or a rule of TOML 1.0.0, and why.
struct TOMLSyntaxError: Error, Equatable {
    let line: Int
    /// In characters (Unicode scalars) from 1, counted from the start of the line.
    let column: Int
    let message: String
}

/// A TOML 1.0.0 parser (https://toml.io/en/v1.0.0) over the UTF-8 bytes of a file.
///
/// It reads the text once, front to back, and builds the value tree as it goes; every table records the line
/// of its header and of each of its keys. Input is hostile until checked (STYLE habit 14): nothing derived
/// from it is force-unwrapped, number conversions report overflow instead of trapping, and containers may nest
/// at most `maximumDepth` deep, which bounds the recursion of arrays and inline tables (and the depth of the
/// tree, whose release is recursive too).
///
/// This file holds the reading position and the document level (headers, key/value lines, comments,
/// newlines); the table rules, values, strings, numbers and date-times are in the files beside it.
final class TOMLParser {
    /// How deep tables and arrays may nest, counting every table and array from the root.
    static let maximumDepth = 128

    let bytes: [UInt8]
    /// The next byte to read.
    var pos = 0
    /// The line of `pos`, from 1, and the offset where that line starts (for columns).
    var line = 1
    var lineStart = 0
    let root = TOMLTable(origin: .header, line: nil, depth: 0)
    /// The table the key/value lines go into: the root, then the table of the latest header.
    var current: TOMLTable

    private init(bytes: [UInt8]) {
        self.bytes = bytes
        current = root
    }

    /// Parses a whole document; the root table, or the first error met.
    static func parse(_ bytes: [UInt8]) throws -> TOMLTable {
        let parser = TOMLParser(bytes: bytes)
        try parser.parseDocument()
        return parser.root
    }

    private func parseDocument() throws {
        if let offset = UTF8Validation.firstInvalidByte(in: bytes) {
            pos = offset
            (line, lineStart) = Self.lineAndStart(of: offset, in: bytes)
            throw failure("the file is not valid UTF-8 text")
        }
        // A byte-order mark is allowed at the very start only (elsewhere it is an invalid character).
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { pos = 3 }
        while true {
            skipBlanks()
            guard let b = peek() else { return }
            switch b {
            case UInt8(ascii: "#"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                break
            case UInt8(ascii: "["):
                try parseHeader()
            default:
                try parseKeyValue(into: current)
            }
            try endOfLine()
        }
    }

    /// `[a.b]` or `[[a.b]]`: from here on, key/value lines go into the table it names.
    private func parseHeader() throws {
        let headerLine = line
        let start = pos
        pos += 1
        let isArrayOfTables = peek() == UInt8(ascii: "[")
        if isArrayOfTables { pos += 1 }
        let path = try parseKey()
        guard peek() == UInt8(ascii: "]") else {
            throw failure("expected ']' to close the table header, found \(found())")
        }
        pos += 1
        if isArrayOfTables {
            guard peek() == UInt8(ascii: "]") else {
                throw failure("expected ']]' to close the array-of-tables header, found \(found())")
            }
            pos += 1
        }
        current =
            isArrayOfTables
            ? try appendArrayTable(path, line: headerLine, at: start)
            : try defineTable(path, line: headerLine, at: start)
    }

    /// `key = value` (the key possibly dotted) into `table`: a header's table or an inline table being read.
    func parseKeyValue(into table: TOMLTable) throws {
        let keyLine = line
        let start = pos
        let path = try parseKey()
        guard peek() == UInt8(ascii: "=") else { throw failure("expected '=' after the key, found \(found())") }
        pos += 1
        skipBlanks()
        let (target, name) = try resolveDottedKey(path, in: table, line: keyLine, at: start)
        let value = try parseValue(depth: target.depth + 1)
        target.insert(name, value, line: keyLine)
    }

    /// A key: one or more simple keys (bare, "basic" or 'literal') joined by dots, with blanks around them.
    func parseKey() throws -> [String] {
        var path: [String] = []
        while true {
            skipBlanks()
            path.append(try parseSimpleKey())
            skipBlanks()
            guard peek() == UInt8(ascii: ".") else { return path }
            pos += 1
        }
    }

    private func parseSimpleKey() throws -> String {
        guard let b = peek() else { throw failure("expected a key, found \(found())") }
        if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
            if peek(1) == b && peek(2) == b { throw failure("a key cannot be a multi-line string") }
            return b == UInt8(ascii: "\"") ? try parseBasicString() : try parseLiteralString()
        }
        let start = skip(while: Self.isBareKeyByte)
        guard pos > start else { throw failure("expected a key, found \(found())") }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    /// A-Z a-z 0-9 _ - (TOML §Keys, bare keys).
    static func isBareKeyByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default: return false
        }
    }

    // MARK: Reading position

    /// The byte `ahead` bytes past the reading position, or nil past the end.
    func peek(_ ahead: Int = 0) -> UInt8? {
        let i = pos + ahead
        return i < bytes.count ? bytes[i] : nil
    }

    /// Skips spaces and tabs, TOML's whitespace.
    func skipBlanks() {
        skip { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
    }

    /// Moves past the bytes `accept` takes; the offset where they start. (The loops that cover most of a
    /// file's bytes go through here: it is several times faster than a `peek()` per byte in debug builds.)
    @discardableResult
    func skip(while accept: (UInt8) -> Bool) -> Int {
        let start = pos
        let bytes = self.bytes
        var i = pos
        while i < bytes.count && accept(bytes[i]) { i += 1 }
        pos = i
        return start
    }

    /// Whether a newline (LF or CRLF) is next.
    func atNewline() -> Bool {
        peek() == UInt8(ascii: "\n") || (peek() == UInt8(ascii: "\r") && peek(1) == UInt8(ascii: "\n"))
    }

    /// Consumes a newline (LF or CRLF) if one is next.
    func consumeNewline() -> Bool {
        if peek() == UInt8(ascii: "\n") {
            pos += 1
        } else if peek() == UInt8(ascii: "\r") && peek(1) == UInt8(ascii: "\n") {
            pos += 2
        } else {
            return false
        }
        line += 1
        lineStart = pos
        return true
    }

    /// Blanks, an optional comment, then a newline or the end of the file: what must follow a header or a
    /// key/value pair.
    private func endOfLine() throws {
        skipBlanks()
        if peek() == UInt8(ascii: "#") { try skipComment() }
        guard peek() == nil || consumeNewline() else { throw failure("expected the end of the line, found \(found())") }
    }

    /// A comment runs to the end of the line; of the control characters it may hold only tabs.
    func skipComment() throws {
        pos += 1
        skip { !Self.isControl($0) }
        guard peek() == nil || atNewline() else { throw failure("\(found()) is not allowed in a comment") }
    }

    /// The control characters TOML forbids unescaped: U+0000–U+001F except tab, and DEL.
    static func isControl(_ b: UInt8) -> Bool { (b < 0x20 && b != UInt8(ascii: "\t")) || b == 0x7F }

    // MARK: Errors

    /// An error at `offset` (on the current line; the reading position unless given).
    func failure(_ message: String, at offset: Int? = nil) -> TOMLSyntaxError {
        let end = min(max(offset ?? pos, lineStart), bytes.count)
        // Columns count characters: every byte that does not continue a UTF-8 sequence starts one.
        let column = bytes[lineStart..<end].reduce(1) { $1 & 0xC0 == 0x80 ? $0 : $0 + 1 }
        return TOMLSyntaxError(line: line, column: column, message: message)
    }

    /// What is at the reading position, for messages: `'x'`, a control character's code, or the end.
    func found() -> String {
        guard let b = peek() else { return "the end of the file" }
        if atNewline() { return "the end of the line" }
        if Self.isControl(b) { return "control character U+\(Self.hex(UInt32(b)))" }
        if b < 0x80 { return "'\(Character(Unicode.Scalar(b)))'" }
        // The text is valid UTF-8 (checked first), so a whole character starts here.
        var end = pos + 1
        while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
        let text = String(decoding: bytes[pos..<end], as: UTF8.self)
        return "'\(text)' (U+\(text.unicodeScalars.first.map { Self.hex($0.value) } ?? "?"))"
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private static func lineAndStart(of offset: Int, in bytes: [UInt8]) -> (Int, Int) {
        var line = 1
        var start = 0
        for i in 0..<offset where bytes[i] == UInt8(ascii: "\n") {
            line += 1
            start = i + 1
        }
        return (line, start)
    }
}
