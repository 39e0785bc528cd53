/// Checks what the TOML library (toml++, under TOMLKit) does not check before it asserts: that a table header's
/// first key starts with a key character or a quote. toml++ `assert`s it in `parse_key` — so `[.`, `[.a]` or
/// `[[.` in any file synx reads would abort the process (a configuration reload killing the daemon) instead of
/// being an error. Every other place toml++ reads a key checks the character itself and reports an error.
///
/// The scan follows strings (basic, literal, multi-line), comments and the brackets of values, so a `[` that
/// opens an array on a continuation line is not taken for a header.
enum HeaderCheck {
    /// The line of the first header whose key starts with a character no key can start with, and that character.
    static func firstBadHeader(in text: String) -> (line: Int, character: Character)? {
        let c = Array(text)
        var i = 0, line = 1, depth = 0, lineStart = true
        func isKeyStart(_ x: Character) -> Bool {
            x.isASCII && (x.isLetter || x.isNumber || x == "_" || x == "-") || x == "\"" || x == "'"
        }
        /// Skips a string starting at `i` (its quote), counting lines.
        func skipString() {
            let quote = c[i]
            let triple = i + 2 < c.count && c[i + 1] == quote && c[i + 2] == quote
            i += triple ? 3 : 1
            while i < c.count {
                if c[i] == "\n" { line += 1; if !triple { return } }
                if quote == "\"" && c[i] == "\\" { i += 2; continue }
                if c[i] == quote && (!triple || (i + 2 < c.count && c[i + 1] == quote && c[i + 2] == quote)) {
                    i += triple ? 3 : 1
                    return
                }
                i += 1
            }
        }
        while i < c.count {
            let x = c[i]
            switch x {
            case "\n", "\r\n":
                line += 1; lineStart = true; i += 1
            case " ", "\t", "\r":
                i += 1
            case "#":
                while i < c.count && c[i] != "\n" && c[i] != "\r\n" { i += 1 }
            case "\"", "'":
                skipString(); lineStart = false
            case "[" where lineStart && depth == 0:
                var j = i + 1
                if j < c.count && c[j] == "[" { j += 1 }
                while j < c.count && (c[j] == " " || c[j] == "\t") { j += 1 }
                if j < c.count && !isKeyStart(c[j]) && c[j] != "]" { return (line, c[j]) }
                // The rest of the header line: its brackets are not a value's.
                i = j
                while i < c.count && c[i] != "\n" && c[i] != "\r\n" {
                    if c[i] == "\"" || c[i] == "'" { skipString() } else if c[i] == "#" { break } else { i += 1 }
                }
                lineStart = false
            case "[", "{":
                depth += 1; lineStart = false; i += 1
            case "]", "}":
                depth = max(0, depth - 1); lineStart = false; i += 1
            default:
                lineStart = false; i += 1
            }
        }
        return nil
    }
}
