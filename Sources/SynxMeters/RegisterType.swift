/// How a value is laid out in 16-bit registers (Modbus registers are big-endian words; multi-word values
/// vary by vendor in the order of the words).
public enum RegisterType: String, Sendable, CaseIterable {
    case int16, uint16, int32, uint32, float32, float64
    /// SunSpec `acc32`: an unsigned 32-bit accumulator (SunSpec Information Model Specification §4.2).
    case acc32

    /// Registers one value occupies.
    public var wordCount: Int {
        switch self {
        case .int16, .uint16: return 1
        case .int32, .uint32, .float32, .acc32: return 2
        case .float64: return 4
        }
    }
}

/// The order of the 16-bit words of a multi-register value.
public enum WordOrder: String, Sendable {
    /// Most significant word first (`ABCD`): the Modbus convention, SunSpec, Eastron.
    case highFirst = "high-first"
    /// Least significant word first (`CDAB`, "word-swapped").
    case lowFirst = "low-first"
}

/// Decodes and encodes register values in Swift (the float helpers of libmodbus 3.1.6 are unreliable).
public enum RegisterCodec {
    /// The raw (unscaled) value of `type` in `words`, which holds exactly `type.wordCount` registers.
    public static func decode(_ words: ArraySlice<UInt16>, as type: RegisterType, order: WordOrder) -> Double {
        let w = order == .highFirst ? Array(words) : Array(words.reversed())
        switch type {
        case .int16: return Double(Int16(bitPattern: w[0]))
        case .uint16: return Double(w[0])
        case .int32: return Double(Int32(bitPattern: combine32(w)))
        case .uint32, .acc32: return Double(combine32(w))
        case .float32: return Double(Float(bitPattern: combine32(w)))
        case .float64:
            let bits = w.reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
            return Double(bitPattern: bits)
        }
    }

    /// The registers that hold `value` as `type` (rounded to the nearest integer for integer types).
    public static func encode(_ value: Double, as type: RegisterType, order: WordOrder) -> [UInt16] {
        var w: [UInt16]
        switch type {
        case .int16: w = [UInt16(bitPattern: Int16(clamping: Int64(value.rounded())))]
        case .uint16: w = [UInt16(clamping: Int64(value.rounded()))]
        case .int32: w = split32(UInt32(bitPattern: Int32(clamping: Int64(value.rounded()))))
        case .uint32: w = split32(UInt32(clamping: Int64(value.rounded())))
        case .acc32: w = split32(UInt32(truncatingIfNeeded: Int64(value.rounded())))  // an accumulator wraps
        case .float32: w = split32(Float(value).bitPattern)
        case .float64:
            let bits = value.bitPattern
            w = (0..<4).map { UInt16(truncatingIfNeeded: bits >> (48 - 16 * UInt64($0))) }
        }
        return order == .highFirst ? w : w.reversed()
    }

    /// Whether `words` hold the SunSpec "not implemented" marker for `type` (SunSpec Information Model
    /// Specification §4.2: int16 0x8000, uint16 0xFFFF, int32 0x80000000, uint32 0xFFFFFFFF, acc32 0,
    /// float32 NaN).
    public static func isSunSpecNotImplemented(_ words: ArraySlice<UInt16>, as type: RegisterType) -> Bool {
        let w = Array(words)
        switch type {
        case .int16: return w[0] == 0x8000
        case .uint16: return w[0] == 0xFFFF
        case .int32: return combine32(w) == 0x8000_0000
        case .uint32: return combine32(w) == 0xFFFF_FFFF
        case .acc32: return combine32(w) == 0
        case .float32: return Float(bitPattern: combine32(w)).isNaN
        case .float64: return decode(words, as: .float64, order: .highFirst).isNaN
        }
    }

    private static func combine32(_ w: [UInt16]) -> UInt32 { UInt32(w[0]) << 16 | UInt32(w[1]) }
    private static func split32(_ v: UInt32) -> [UInt16] { [UInt16(v >> 16), UInt16(v & 0xFFFF)] }
}
