/// The tables synx reads (Modbus application protocol §6.1–§6.4): the two register tables meters keep their
/// values in, and the two bit tables commissioning may look at (`synxctl read --coils`). A bit is read as a
/// register holding 0 or 1. Profiles take the register tables only.
public enum RegisterTable: UInt8, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Function code 1, read coils.
    case coils = 1
    /// Function code 2, read discrete inputs.
    case discreteInputs = 2
    /// Function code 3, read holding registers.
    case holding = 3
    /// Function code 4, read input registers.
    case input = 4

    /// Function code order.
    public static func < (a: RegisterTable, b: RegisterTable) -> Bool { a.rawValue < b.rawValue }

    /// Whether the table holds bits (coils, discrete inputs) rather than 16-bit registers.
    public var holdsBits: Bool { self == .coils || self == .discreteInputs }

    /// The libmodbus-style name of the read function, used in error messages.
    public var functionName: String {
        switch self {
        case .coils: "read_bits"
        case .discreteInputs: "read_input_bits"
        case .holding: "read_registers"
        case .input: "read_input_registers"
        }
    }

    /// The table's name in messages and displays.
    public var description: String {
        switch self {
        case .coils: "coils"
        case .discreteInputs: "discrete inputs"
        case .holding: "holding"
        case .input: "input"
        }
    }
}

/// The most registers one read may ask for (Modbus application protocol §6.3: 1 to 125); synx asks for no more
/// bits either (the protocol allows 2000).
public let maxRegistersPerRead = 125

/// Why a read of `count` registers at `address` cannot be sent (a count outside 1…125, or registers past
/// 65535), or nil. Written so that no operand can overflow, whatever a device or a file supplied.
public func registerSpaceProblem(address: Int, count: Int) -> ModbusError.Kind? {
    guard (1...maxRegistersPerRead).contains(count), (0...0xFFFF).contains(address), address <= 0x10000 - count else {
        return .garbage("a read of \(count) registers at \(address) is outside the register space")
    }
    return nil
}

/// A link to one or more Modbus devices that performs one blocking request at a time.
///
/// Implementations block the calling thread; callers run them on a bus thread of their own, never on
/// Swift's cooperative pool.
public protocol ModbusTransport: AnyObject {
    /// A human description of the link, e.g. `tcp 10.0.0.5:502` or `rtu /dev/ttyUSB0 9600 8N1`.
    var endpoint: String { get }
    /// Opens the link if it is not open. Idempotent.
    func connect() throws
    /// Closes the link; the next request reopens it.
    func disconnect()
    /// Reads `count` registers (or bits, as registers of 0 or 1) starting at `address` from `unit`, waiting at most
    /// `timeoutMilliseconds`.
    func readRegisters(
        _ table: RegisterTable, unit: UInt8, address: Int, count: Int, timeoutMilliseconds: Int
    ) throws -> [UInt16]
    /// Frames (or bursts of bytes) dropped since the last call because no request waited for them.
    func takeStrayFrames() -> Int
}
