/// The four kinds of strings (TOML §String): "basic" with escapes, 'literal' without, and their multi-line
/// forms. Control characters other than tab must be escaped (basic) or cannot appear (literal); a multi-line
/// string may hold newlines, which it keeps as LF.
extension TOMLParser {
    /// `"…"`, at its opening quote.
    func parseBasicString() throws -> String {
        pos += 1
        var text: [UInt8] = []
        while true {
            guard let b = peek() else { throw failure("unterminated string: expected '\"', found the end of the file") }
            switch b {
            case UInt8(ascii: "\""):
                pos += 1
                return String(decoding: text, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &text)
            case _ where atNewline():
                throw failure("unterminated string: a \"…\" string ends on its line (\"\"\"…\"\"\" spans lines)")
            case _ where Self.isControl(b):
                throw failure("\(found()) must be escaped in a string")
            default:
                let run = skip { $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && !Self.isControl($0) }
                text.append(contentsOf: bytes[run..<pos])
            }
        }
    }

    /// `'…'`, at its opening quote.
    func parseLiteralString() throws -> String {
        pos += 1
        let start = pos
        while true {
            guard let b = peek() else {
                throw failure("unterminated string: expected \"'\", found the end of the file")
            }
            switch b {
            case UInt8(ascii: "'"):
                pos += 1
                return String(decoding: bytes[start..<(pos - 1)], as: UTF8.self)
            case _ where atNewline():
                throw failure("unterminated string: a '…' string ends on its line ('''…''' spans lines)")
            case _ where Self.isControl(b):
                throw failure("\(found()) is not allowed in a literal string")
            default:
                skip { $0 != UInt8(ascii: "'") && !Self.isControl($0) }
            }
        }
    }

    /// `"""…"""`, at its opening quotes. A newline right after them is dropped, and a backslash at the end
    /// of a line drops it with all the blanks and newlines that follow.
    func parseMultilineBasicString() throws -> String {
        let openingLine = line
        pos += 3
        _ = consumeNewline()
        var text: [UInt8] = []
        while true {
            guard let b = peek() else {
                throw failure("unterminated string: the \"\"\" opened at line \(openingLine) is never closed")
            }
            switch b {
            case UInt8(ascii: "\""):
                if try closesMultiline(quote: b, into: &text) { return String(decoding: text, as: UTF8.self) }
            case UInt8(ascii: "\\") where escapesNewline():
                pos += 1
                while true {
                    skipBlanks()
                    guard consumeNewline() else { break }
                }
            case UInt8(ascii: "\\"):
                try parseEscape(into: &text)
            default:
                try appendMultilineText(b, quote: UInt8(ascii: "\""), into: &text, kind: "string")
            }
        }
    }

    /// `'''…'''`, at its opening quotes. A newline right after them is dropped.
    func parseMultilineLiteralString() throws -> String {
        let openingLine = line
        pos += 3
        _ = consumeNewline()
        var text: [UInt8] = []
        while true {
            guard let b = peek() else {
                throw failure("unterminated string: the ''' opened at line \(openingLine) is never closed")
            }
            if b == UInt8(ascii: "'") {
                if try closesMultiline(quote: b, into: &text) { return String(decoding: text, as: UTF8.self) }
            } else {
                try appendMultilineText(b, quote: UInt8(ascii: "'"), into: &text, kind: "literal string")
            }
        }
    }

    /// At a run of quotes in a multi-line string: one or two are text; three to five close it, those beyond
    /// three being the string's last characters; six or more would put three in the text.
    private func closesMultiline(quote: UInt8, into text: inout [UInt8]) throws -> Bool {
        var run = 0
        while peek(run) == quote { run += 1 }
        guard run < 6 else { throw failure("a multi-line string cannot hold three quotes in a row") }
        text.append(contentsOf: repeatElement(quote, count: run < 3 ? run : run - 3))
        pos += run
        return run >= 3
    }

    /// A newline (kept as LF), or characters up to the next quote, backslash or control character (at
    /// least one, which is none of these but may be a backslash in a literal string).
    private func appendMultilineText(_ b: UInt8, quote: UInt8, into text: inout [UInt8], kind: String) throws {
        if consumeNewline() {
            text.append(UInt8(ascii: "\n"))
        } else if Self.isControl(b) {
            throw failure("\(found()) is not allowed in a multi-line \(kind)")
        } else {
            let run = pos
            pos += 1
            skip { $0 != quote && $0 != UInt8(ascii: "\\") && !Self.isControl($0) }
            text.append(contentsOf: bytes[run..<pos])
        }
    }

    /// Whether the backslash at the reading position ends its line: only blanks between it and a newline.
    private func escapesNewline() -> Bool {
        var i = pos + 1
        while i < bytes.count, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t") { i += 1 }
        guard i < bytes.count else { return false }
        return bytes[i] == UInt8(ascii: "\n")
            || (bytes[i] == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n"))
    }

    /// One escape sequence, at its backslash: \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX (TOML 1.0.0 has no
    /// others); the code of a \u or \U must be a Unicode scalar value, not a surrogate.
    private func parseEscape(into text: inout [UInt8]) throws {
        let start = pos
        pos += 1
        guard let e = peek() else {
            throw failure("unterminated string: expected an escape, found the end of the file")
        }
        pos += 1
        switch e {
        case UInt8(ascii: "b"): text.append(0x08)
        case UInt8(ascii: "t"): text.append(0x09)
        case UInt8(ascii: "n"): text.append(0x0A)
        case UInt8(ascii: "f"): text.append(0x0C)
        case UInt8(ascii: "r"): text.append(0x0D)
        case UInt8(ascii: "\""): text.append(e)
        case UInt8(ascii: "\\"): text.append(e)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let digits = e == UInt8(ascii: "u") ? 4 : 8
            var code: UInt32 = 0
            for _ in 0..<digits {
                guard let d = peek().flatMap(Self.hexDigitValue) else {
                    throw failure(
                        "\\\(Character(Unicode.Scalar(e))) needs \(digits) hexadecimal digits, found \(found())")
                }
                code = code << 4 | d
                pos += 1
            }
            guard let scalar = Unicode.Scalar(code) else {
                throw failure(
                    "U+\(Self.hex(code)) is not a Unicode scalar value (a surrogate, or beyond U+10FFFF)", at: start)
            }
            text.append(contentsOf: String(scalar).utf8)
        default:
            pos -= 1
            throw failure("invalid escape sequence '\\' followed by \(found())", at: start)
        }
    }

    static func hexDigitValue(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(b - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
