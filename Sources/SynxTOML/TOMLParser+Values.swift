/// Values (TOML §Key/Value Pair: "Values must have one of the following types"), arrays (§Array) and inline
/// tables (§Inline Table).
extension TOMLParser {
    /// The value at the reading position; `depth` is the depth an array or inline table written here would
    /// have, so recursion stops at `maximumDepth`.
    func parseValue(depth: Int) throws -> TOMLValue {
        guard let b = peek() else { throw failure("expected a value, found \(found())") }
        switch b {
        case UInt8(ascii: "\""):
            return .string(peek(1) == b && peek(2) == b ? try parseMultilineBasicString() : try parseBasicString())
        case UInt8(ascii: "'"):
            return .string(peek(1) == b && peek(2) == b ? try parseMultilineLiteralString() : try parseLiteralString())
        case UInt8(ascii: "t") where matches("true"):
            pos += 4
            return .boolean(true)
        case UInt8(ascii: "f") where matches("false"):
            pos += 5
            return .boolean(false)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth)
        case UInt8(ascii: "{"):
            return try parseInlineTable(depth: depth)
        case UInt8(ascii: "0")...UInt8(ascii: "9") where startsDateOrTime():
            return .dateTime(try parseDateTime())
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"):
            return try parseNumber()
        case UInt8(ascii: "i") where matches("inf"), UInt8(ascii: "n") where matches("nan"):
            return try parseNumber()
        default:
            throw failure("expected a value, found \(found())")
        }
    }

    private func matches(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard pos + count <= bytes.count else { return false }
        return word.withUTF8Buffer { w in (0..<count).allSatisfy { bytes[pos + $0] == w[$0] } }
    }

    /// `[ v, v, … ]`: values of any types, over any number of lines, with comments, and a trailing comma.
    private func parseArray(depth: Int) throws -> TOMLValue {
        try checkDepth(depth)
        pos += 1
        var items: [TOMLValue] = []
        while true {
            try skipBlankLinesAndComments()
            if peek() == UInt8(ascii: "]") { break }
            items.append(try parseValue(depth: depth + 1))
            try skipBlankLinesAndComments()
            guard peek() == UInt8(ascii: ",") else {
                guard peek() == UInt8(ascii: "]") else {
                    throw failure("expected ',' or ']' in the array, found \(found())")
                }
                break
            }
            pos += 1
        }
        pos += 1
        return .array(TOMLArray(items: items, isArrayOfTables: false))
    }

    /// `{ k = v, k = v }`: on one line (a value inside may span lines), no trailing comma (TOML 1.0.0).
    private func parseInlineTable(depth: Int) throws -> TOMLValue {
        try checkDepth(depth)
        let table = TOMLTable(origin: .inline, line: line, depth: depth)
        pos += 1
        skipBlanks()
        if peek() == UInt8(ascii: "}") {
            pos += 1
            return .table(table)
        }
        while true {
            try parseKeyValue(into: table)
            skipBlanks()
            guard peek() == UInt8(ascii: ",") else {
                guard peek() == UInt8(ascii: "}") else {
                    throw failure("expected ',' or '}' in the inline table, found \(found())")
                }
                pos += 1
                return .table(table)
            }
            pos += 1
        }
    }

    private func skipBlankLinesAndComments() throws {
        while true {
            skipBlanks()
            if peek() == UInt8(ascii: "#") { try skipComment() }
            guard consumeNewline() else { return }
        }
    }
}
