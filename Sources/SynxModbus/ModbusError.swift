/// A failed Modbus transaction, as the bus saw it: what went wrong, on which function, unit and register.
///
/// Every libmodbus call and every frame of the Modbus/TCP client maps its failure to one of these kinds,
/// so the daemon can report "unit 3 @30001: exception 2 (illegal data address)" instead of a bare errno.
public struct ModbusError: Error, Equatable, CustomStringConvertible, Sendable {
    /// What went wrong, in the terms of the Modbus application protocol (V1.1b3 §7) and its serial line spec.
    public enum Kind: Error, Equatable, Sendable {
        /// No (complete) reply within the response timeout.
        case timeout
        /// The device answered with an exception code (Modbus application protocol §7).
        case exception(UInt8)
        /// An exception reply whose code is none of 1–11 (nil: libmodbus did not say which): the device
        /// answered, wrongly; the link is fine.
        case invalidException(UInt8?)
        /// A Modbus/RTU frame whose CRC did not match (serial line spec §2.5.1.2).
        case crc
        /// A reply that does not fit the request: wrong length, unit, function or framing.
        case garbage(String)
        /// The link itself: refused, reset, device missing, name not resolved.
        case connection(String)
        /// The process has no file descriptor usable by libmodbus (its select() cannot watch fds ≥ 1024).
        case descriptorLimit
    }

    public var kind: Kind
    /// The operation, e.g. `read_input_registers` or `connect`.
    public var function: String
    public var unit: UInt8?
    public var address: Int?

    /// A failure of `kind` in `function`, of `unit` at register `address` when known.
    public init(_ kind: Kind, function: String, unit: UInt8? = nil, address: Int? = nil) {
        self.kind = kind
        self.function = function
        self.unit = unit
        self.address = address
    }

    /// A short reason for status displays: `timeout`, `exception 2 (illegal data address)`, `CRC error`, …
    public var reason: String {
        switch kind {
        case .timeout: return "timeout"
        case .exception(let code): return "exception \(code) (\(ModbusError.exceptionName(code)))"
        case .invalidException(let code):
            return "invalid exception reply (code \(code.map(String.init) ?? "outside 1–11"))"
        case .crc: return "CRC error"
        case .garbage(let what): return "garbage reply: \(what)"
        case .connection(let what): return "connection: \(what)"
        case .descriptorLimit: return "no file descriptor below 1024 left for libmodbus"
        }
    }

    /// Whether trying the same request again may help (not for exceptions: the device said no).
    public var isRetryable: Bool {
        switch kind {
        case .timeout, .crc, .garbage: return true
        case .exception, .invalidException, .connection, .descriptorLimit: return false
        }
    }

    /// Whether the link itself failed (nothing was heard from the device).
    public var isConnectionFailure: Bool {
        if case .connection = kind { return true } else { return false }
    }

    /// Whether the link should be closed and reopened before the next request.
    public var needsReconnect: Bool {
        switch kind {
        case .garbage, .connection: return true
        case .timeout, .exception, .invalidException, .crc, .descriptorLimit: return false
        }
    }

    public var description: String {
        var place = function
        if let unit { place += " unit \(unit)" }
        if let address { place += " @\(address)" }
        return "\(place): \(reason)"
    }

    /// Whether `code` is an exception code of the Modbus application protocol §7 (1–11).
    public static func isValidException(_ code: UInt8) -> Bool { (1...11).contains(code) }

    /// Names of the exception codes of the Modbus application protocol §7.
    public static func exceptionName(_ code: UInt8) -> String {
        switch code {
        case 1: return "illegal function"
        case 2: return "illegal data address"
        case 3: return "illegal data value"
        case 4: return "server device failure"
        case 5: return "acknowledge"
        case 6: return "server device busy"
        case 8: return "memory parity error"
        case 10: return "gateway path unavailable"
        case 11: return "gateway target device failed to respond"
        default: return "unknown exception"
        }
    }
}
