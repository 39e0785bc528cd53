import CModbus
import Glibc

/// Serial line settings of a Modbus/RTU bus (Modbus over serial line V1.02 §2.5.1).
public struct SerialSettings: Equatable, Sendable {
    public var device: String
    public var baud: Int
    /// `N`, `E` or `O`.
    public var parity: Character
    public var dataBits: Int
    public var stopBits: Int

    public init(device: String, baud: Int, parity: Character, dataBits: Int, stopBits: Int) {
        self.device = device
        self.baud = baud
        self.parity = parity
        self.dataBits = dataBits
        self.stopBits = stopBits
    }

    /// The baud rates the Linux termios interface accepts.
    public static let supportedBauds: Set<Int> = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400]
}

/// A Modbus/RTU master on one serial line, through libmodbus.
///
/// libmodbus waits with select(), which aborts the process on a descriptor ≥ 1024. The client therefore
/// reserves a low descriptor when it is created (at start-up, before the sockets) and moves the serial
/// port onto that number every time it opens it, so the port never lands above FD_SETSIZE.
public final class ModbusRTUClient: ModbusTransport {
    public let settings: SerialSettings
    public let timeoutMilliseconds: Int
    private let ctx: OpaquePointer
    /// A descriptor number held for the serial port: /dev/null while the port is closed.
    private let pinnedDescriptor: Int32
    private var connected = false

    public init(settings: SerialSettings, timeoutMilliseconds: Int) throws {
        self.settings = settings
        self.timeoutMilliseconds = timeoutMilliseconds
        guard let ctx = modbus_new_rtu(settings.device, Int32(settings.baud), Int8(settings.parity.asciiValue ?? 78),
                                       Int32(settings.dataBits), Int32(settings.stopBits)) else {
            throw ModbusError(.connection("modbus_new_rtu: \(String(cString: modbus_strerror(errno)))"), function: "modbus_new_rtu")
        }
        self.ctx = ctx
        pinnedDescriptor = open("/dev/null", O_RDWR | O_CLOEXEC)
        modbus_set_response_timeout(ctx, UInt32(timeoutMilliseconds / 1000), UInt32(timeoutMilliseconds % 1000) * 1000)
        modbus_set_byte_timeout(ctx, 0, 50_000)
    }

    deinit {
        disconnect()
        modbus_free(ctx)
        close(pinnedDescriptor)
    }

    public var endpoint: String {
        "rtu \(settings.device) \(settings.baud) \(settings.dataBits)\(settings.parity)\(settings.stopBits)"
    }

    public func connect() throws {
        if connected { return }
        guard pinnedDescriptor >= 0, pinnedDescriptor < FD_SETSIZE else {
            throw ModbusError(.descriptorLimit, function: "modbus_connect")
        }
        if modbus_connect(ctx) != 0 {
            let e = errno
            throw ModbusError(.connection("\(settings.device): \(String(cString: modbus_strerror(e)))"), function: "modbus_connect")
        }
        let opened = modbus_get_socket(ctx)
        if opened != pinnedDescriptor {
            moveDescriptor(opened, onto: pinnedDescriptor)
            close(opened)
            modbus_set_socket(ctx, pinnedDescriptor)
        }
        connected = true
    }

    public func disconnect() {
        guard connected else { return }
        // Put /dev/null back on the pinned number (closing the port) instead of modbus_close, which
        // would free the number for any other thread's next open().
        let placeholder = open("/dev/null", O_RDWR | O_CLOEXEC)
        if placeholder >= 0 {
            moveDescriptor(placeholder, onto: pinnedDescriptor)
            close(placeholder)
        }
        modbus_set_socket(ctx, -1)
        connected = false
    }

    public func readRegisters(_ table: RegisterTable, unit: UInt8, address: Int, count: Int) throws -> [UInt16] {
        precondition((1...maxRegistersPerRead).contains(count))
        do { try connect() } catch var error as ModbusError {
            error.unit = unit
            error.address = address
            throw error
        }
        modbus_set_slave(ctx, Int32(unit))
        var words = [UInt16](repeating: 0, count: count)
        let n = words.withUnsafeMutableBufferPointer { buf in
            table == .holding
                ? modbus_read_registers(ctx, Int32(address), Int32(count), buf.baseAddress)
                : modbus_read_input_registers(ctx, Int32(address), Int32(count), buf.baseAddress)
        }
        let e = errno  // read at once: the calls below may change it
        if n == count { return words }
        let kind = ModbusRTUClient.kind(forErrno: e, returned: n)
        modbus_flush(ctx)
        let error = ModbusError(kind, function: table.functionName, unit: unit, address: address)
        if error.needsReconnect { disconnect() }
        throw error
    }

    /// Makes `target` refer to what `source` refers to (atomically replacing it), close-on-exec.
    private func moveDescriptor(_ source: Int32, onto target: Int32) {
        dup2(source, target)
        _ = fcntl(target, F_SETFD, FD_CLOEXEC)
    }

    /// Maps libmodbus's errno values (modbus.h: MODBUS_ENOBASE + n) to the failure kinds.
    static func kind(forErrno e: Int32, returned: Int32) -> ModbusError.Kind {
        let base = Int32(MODBUS_ENOBASE)
        let gatewayTarget = base + Int32(MODBUS_EXCEPTION_GATEWAY_TARGET)
        if returned >= 0 { return .garbage("\(returned) registers in reply") }
        switch e {
        case ETIMEDOUT: return .timeout
        case gatewayTarget + 1: return .crc  // EMBBADCRC
        case (base + 1)...gatewayTarget: return .exception(UInt8(e - base))
        case (gatewayTarget + 2)...(gatewayTarget + 6): return .garbage(String(cString: modbus_strerror(e)))
        default: return .connection(String(cString: modbus_strerror(e)))
        }
    }
}
