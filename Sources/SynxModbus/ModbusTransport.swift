/// The two register tables synx reads (Modbus application protocol §6.3 and §6.4).
public enum RegisterTable: UInt8, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Function code 3, read holding registers.
    case holding = 3
    /// Function code 4, read input registers.
    case input = 4

    /// Holding before input (function code order).
    public static func < (a: RegisterTable, b: RegisterTable) -> Bool { a.rawValue < b.rawValue }

    /// The libmodbus-style name of the read function, used in error messages.
    public var functionName: String { self == .holding ? "read_registers" : "read_input_registers" }
    public var description: String { self == .holding ? "holding" : "input" }
}

/// The most registers one read may ask for (Modbus application protocol §6.3: 1 to 125).
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
    /// Reads `count` registers starting at `address` from `unit`, waiting at most `timeoutMilliseconds`.
    func readRegisters(
        _ table: RegisterTable, unit: UInt8, address: Int, count: Int, timeoutMilliseconds: Int
    ) throws -> [UInt16]
    /// Frames (or bursts of bytes) dropped since the last call because no request waited for them.
    func takeStrayFrames() -> Int
}
