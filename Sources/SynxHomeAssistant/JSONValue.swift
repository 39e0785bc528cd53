/// A JSON value written as RFC 8259 text, object keys in the order given (the payloads are read by people too).
public indirect enum JSONValue: Equatable, Sendable {
    /// A string, escaped as JSON needs.
    case string(String)
    /// A number; NaN and infinities are written `null` (JSON has no such numbers).
    case number(Double)
    /// `true` or `false`, and `null`.
    case bool(Bool)
    case null
    /// An array, and an object whose keys keep the order given.
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// Two values are equal when they are written alike.
    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.text == b.text }

    /// The value as compact JSON text.
    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    /// Appends the value's JSON text to `out`.
    public func write(to out: inout String) {
        switch self {
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .number(let v): JSONValue.writeNumber(v, to: &out)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(key, to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    /// A number as JSON: integral values without a fraction, others in Swift's shortest round-trip form, NaN and
    /// infinities as `null`.
    public static func writeNumber(_ v: Double, to out: inout String) {
        guard v.isFinite else {
            out += "null"
            return
        }
        if v == v.rounded(), abs(v) < 1e15 {
            out += String(Int64(v))
        } else {
            out += "\(v)"
        }
    }

    /// A string as JSON: quotes, backslashes and control characters escaped; everything else as UTF-8.
    public static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
