/// TOML files are UTF-8 (TOML §Spec: "A TOML file must be a valid UTF-8 encoded Unicode document").
///
/// Text that came through `String` is valid already; the parser checks anyway because it reads bytes, and
/// this says where the first bad byte is, which `String(validating:)` does not.
enum UTF8Validation {
    /// The offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629 §4: no
    /// overlong forms, no surrogates, nothing above U+10FFFF), or nil if all of them do.
    static func firstInvalidByte(in bytes: [UInt8]) -> Int? {
        var i = 0
        while i < bytes.count {
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            let length: Int
            let smallest: UInt32
            switch lead {
            case 0xC2...0xDF:
                length = 2
                smallest = 0x80
            case 0xE0...0xEF:
                length = 3
                smallest = 0x800
            case 0xF0...0xF4:
                length = 4
                smallest = 0x10000
            default: return i
            }
            guard i + length <= bytes.count else { return i }
            var scalar = UInt32(lead) & (0xFF >> (length + 1))
            for k in 1..<length {
                let continuation = bytes[i + k]
                guard continuation & 0xC0 == 0x80 else { return i }
                scalar = scalar << 6 | UInt32(continuation & 0x3F)
            }
            guard scalar >= smallest, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return i }
            i += length
        }
        return nil
    }
}
