/// Integers (TOML §Integer: 64-bit, decimal with an optional sign, or unsigned 0x / 0o / 0b, underscores
/// only between digits, no leading zeros) and floats (§Float: IEEE 754 binary64, fraction and/or exponent,
/// inf and nan). A literal outside the 64-bit range is an error, never a wrapped or trapped value.
extension TOMLParser {
    /// The number at the reading position (a digit, a sign, `i` or `n`).
    func parseNumber() throws -> TOMLValue {
        let start = skip(while: Self.isNumberByte)
        let token = bytes[start..<pos]
        var i = token.startIndex
        let sign = token.first.flatMap { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") ? $0 : nil }
        if sign != nil { i += 1 }
        let negative = sign == UInt8(ascii: "-")
        let body = token[i...]
        if body.count == 3 && (body.first == UInt8(ascii: "i") || body.first == UInt8(ascii: "n")) {
            if body.elementsEqual("inf".utf8) { return .float(negative ? -.infinity : .infinity) }
            if body.elementsEqual("nan".utf8) { return .float(negative ? -.nan : .nan) }
        }
        if body.count > 2 && body.first == UInt8(ascii: "0"),
            let radix = Self.radix(ofPrefix: body[body.index(after: i)])
        {
            guard sign == nil else {
                throw failure("a hexadecimal, octal or binary integer cannot have a sign", at: start)
            }
            return .integer(try prefixedInteger(body.dropFirst(2), radix: radix, at: start))
        }
        return try decimal(body, negative: negative, at: start)
    }

    /// Letters, digits, `_`, `+`, `-` and `.`: a number's token, which is then checked as a whole.
    private static func isNumberByte(_ b: UInt8) -> Bool {
        isBareKeyByte(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: ".")
    }

    private static func radix(ofPrefix b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "x"): return 16
        case UInt8(ascii: "o"): return 8
        case UInt8(ascii: "b"): return 2
        default: return nil
        }
    }

    private func prefixedInteger(_ digits: ArraySlice<UInt8>, radix: UInt8, at start: Int) throws -> Int64 {
        var value: Int64 = 0
        for d in try digitRun(digits, at: start, isDigit: { Self.hexDigitValue($0).map { $0 < radix } ?? false }) {
            let (shifted, o1) = value.multipliedReportingOverflow(by: Int64(radix))
            let (sum, o2) = shifted.addingReportingOverflow(Int64(Self.hexDigitValue(d) ?? 0))
            guard !o1 && !o2 else { throw failure("the integer is beyond the 64-bit range", at: start) }
            value = sum
        }
        return value
    }

    /// `123`, `-1_000`, `3.14`, `6.626e-34`, `1E6`: digits, then an optional fraction and exponent.
    private func decimal(_ body: ArraySlice<UInt8>, negative: Bool, at start: Int) throws -> TOMLValue {
        let isDecimalDigit: (UInt8) -> Bool = { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        let integerEnd =
            body.firstIndex { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
            ?? body.endIndex
        let integerDigits = try digitRun(body[..<integerEnd], at: start, isDigit: isDecimalDigit)
        guard integerDigits.first != UInt8(ascii: "0") || integerDigits.count == 1 else {
            throw failure("a number cannot start with a leading zero", at: start)
        }
        guard integerEnd < body.endIndex else {
            var value: Int64 = 0
            for d in integerDigits {
                let digit = Int64(d - UInt8(ascii: "0"))
                let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) =
                    negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
                guard !o1 && !o2 else { throw failure("the integer is beyond the 64-bit range", at: start) }
                value = sum
            }
            return .integer(value)
        }
        var literal = (negative ? "-" : "") + String(decoding: integerDigits, as: UTF8.self)
        var rest = body[integerEnd...]
        if rest.first == UInt8(ascii: ".") {
            let fractionEnd = rest.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? rest.endIndex
            let fraction = try digitRun(rest[(integerEnd + 1)..<fractionEnd], at: start, isDigit: isDecimalDigit)
            literal += "." + String(decoding: fraction, as: UTF8.self)
            rest = rest[fractionEnd...]
        }
        if let e = rest.first {
            guard e == UInt8(ascii: "e") || e == UInt8(ascii: "E") else { throw failure("malformed float", at: start) }
            var exponent = rest.dropFirst()
            var exponentSign = ""
            if let s = exponent.first, s == UInt8(ascii: "+") || s == UInt8(ascii: "-") {
                exponentSign = s == UInt8(ascii: "-") ? "-" : ""
                exponent = exponent.dropFirst()
            }
            literal +=
                "e" + exponentSign
                + String(decoding: try digitRun(exponent, at: start, isDigit: isDecimalDigit), as: UTF8.self)
        }
        guard let value = Double(literal), value.isFinite else {
            throw failure("the float is beyond the 64-bit range", at: start)
        }
        return .float(value)
    }

    /// Digits with single underscores between them (never first, last or doubled), without the underscores.
    private func digitRun(_ run: ArraySlice<UInt8>, at start: Int, isDigit: (UInt8) -> Bool) throws -> [UInt8] {
        guard !run.isEmpty else { throw failure("malformed number: digits are missing", at: start) }
        var digits: [UInt8] = []
        digits.reserveCapacity(run.count)
        var afterDigit = false
        for b in run {
            if isDigit(b) {
                digits.append(b)
                afterDigit = true
            } else if b == UInt8(ascii: "_") && afterDigit {
                afterDigit = false
            } else {
                let what =
                    b == UInt8(ascii: "_")
                    ? "an underscore must sit between digits" : "unexpected '\(Character(Unicode.Scalar(b)))'"
                throw failure("malformed number: \(what)", at: start)
            }
        }
        guard afterDigit else { throw failure("malformed number: an underscore must sit between digits", at: start) }
        return digits
    }
}
