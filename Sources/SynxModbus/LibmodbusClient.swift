import CModbus
import Glibc
import SynxSystem

/// Serial line settings of a Modbus/RTU bus (Modbus over serial line V1.02 §2.5.1).
public struct SerialSettings: Equatable, Sendable {
    public var device: String
    public var baud: Int
    /// `N`, `E` or `O`.
    public var parity: Character
    public var dataBits: Int
    public var stopBits: Int

    /// A serial line's settings as the configuration gives them.
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

/// A blocking Modbus master through libmodbus: Modbus/RTU on one serial line, or Modbus/TCP on one
/// connection (for links that need a thread of their own, such as a waveform meter's stream).
///
/// RTU frames carry no transaction id, so on a serial line only silence and matching tell a reply from a
/// stray frame: before each request whatever arrived since the last reply is read and dropped; after a
/// timeout the line is listened to for as long again, so a late reply arrives and is dropped before the next
/// request; and a reply followed at once by a frame's worth of bytes (two frames where one was asked for) is
/// not used.
/// Dropped frames are counted (`takeStrayFrames`). libmodbus checks the slave address, function and length.
///
/// libmodbus waits with select(), which aborts the process on a descriptor ≥ 1024. The client therefore
/// reserves a low descriptor when it is created (at start-up, before the sockets) and moves the port or
/// socket onto that number every time it opens it, so it never lands above FD_SETSIZE.
public final class LibmodbusClient: ModbusTransport {
    /// The line or connection the client talks over.
    public enum Link: Equatable, Sendable {
        case rtu(SerialSettings)
        case tcp(host: String, port: Int)
    }
    public let link: Link
    public let timeoutMilliseconds: Int
    private let ctx: OpaquePointer
    /// A descriptor number held for the serial port: /dev/null while the port is closed.
    private let pinnedDescriptor: Int32
    private var connected = false
    private var strayFrames = 0
    private var currentTimeout = -1

    /// A client of the serial line `settings`.
    public convenience init(settings: SerialSettings, timeoutMilliseconds: Int) throws {
        try self.init(link: .rtu(settings), timeoutMilliseconds: timeoutMilliseconds)
    }

    /// A client of `link`, each response awaited at most `timeoutMilliseconds`.
    public init(link: Link, timeoutMilliseconds: Int) throws {
        self.link = link
        self.timeoutMilliseconds = timeoutMilliseconds
        let created: OpaquePointer?
        switch link {
        case .rtu(let s):
            created = modbus_new_rtu(
                s.device, Int32(s.baud), Int8(s.parity.asciiValue ?? 78), Int32(s.dataBits), Int32(s.stopBits))
        case .tcp(let host, let port):
            created = modbus_new_tcp_pi(host, String(port))
        }
        guard let ctx = created else {
            throw ModbusError(
                .connection("libmodbus context: \(String(cString: modbus_strerror(errno)))"), function: "modbus_new")
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
        switch link {
        case .rtu(let s): "rtu \(s.device) \(s.baud) \(s.dataBits)\(s.parity)\(s.stopBits)"
        case .tcp(let host, let port): "tcp \(host):\(port)"
        }
    }

    private var portName: String {
        switch link {
        case .rtu(let s): s.device
        case .tcp(let host, let port): "\(host):\(port)"
        }
    }

    /// Opens the link if it is not open; fails with `descriptorLimit` when no descriptor below 1024 is reserved for it.
    public func connect() throws {
        if connected { return }
        guard pinnedDescriptor >= 0, pinnedDescriptor < FD_SETSIZE else {
            throw ModbusError(.descriptorLimit, function: "modbus_connect")
        }
        if modbus_connect(ctx) != 0 {
            let e = errno
            throw ModbusError(
                .connection("\(portName): \(String(cString: modbus_strerror(e)))"), function: "modbus_connect")
        }
        let opened = modbus_get_socket(ctx)
        if opened != pinnedDescriptor {
            moveDescriptor(opened, onto: pinnedDescriptor)
            close(opened)
            modbus_set_socket(ctx, pinnedDescriptor)
        }
        connected = true
    }

    /// Closes the link; the next request reopens it.
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

    /// Reads `count` registers from `address` of `unit`, waiting at most `timeoutMilliseconds`.
    public func readRegisters(
        _ table: RegisterTable, unit: UInt8, address: Int, count: Int, timeoutMilliseconds: Int
    ) throws -> [UInt16] {
        if let outside = registerSpaceProblem(address: address, count: count) {
            throw ModbusError(outside, function: table.functionName, unit: unit, address: address)
        }
        do { try connect() } catch var error as ModbusError {
            error.unit = unit
            error.address = address
            throw error
        }
        let serial: Bool = { if case .rtu = link { return true } else { return false } }()
        if serial { dropInput(listeningMilliseconds: 0) }  // nothing that came before the request is its reply
        if timeoutMilliseconds != currentTimeout {
            modbus_set_response_timeout(
                ctx, UInt32(timeoutMilliseconds / 1000), UInt32(timeoutMilliseconds % 1000) * 1000)
            currentTimeout = timeoutMilliseconds
        }
        // libmodbus refuses a unit id above 247 on RTU and would keep the previous one: never read the wrong unit.
        guard modbus_set_slave(ctx, Int32(unit)) == 0 else {
            throw ModbusError(.garbage("unit id \(unit) cannot be addressed on this link"), function: table.functionName, unit: unit, address: address)
        }
        var words = [UInt16](repeating: 0, count: count)
        let n: Int32
        switch table {
        case .holding: n = words.withUnsafeMutableBufferPointer { modbus_read_registers(ctx, Int32(address), Int32(count), $0.baseAddress) }
        case .input:
            n = words.withUnsafeMutableBufferPointer { modbus_read_input_registers(ctx, Int32(address), Int32(count), $0.baseAddress) }
        case .coils, .discreteInputs:
            var bits = [UInt8](repeating: 0, count: count)
            n = bits.withUnsafeMutableBufferPointer {
                table == .coils
                    ? modbus_read_bits(ctx, Int32(address), Int32(count), $0.baseAddress)
                    : modbus_read_input_bits(ctx, Int32(address), Int32(count), $0.baseAddress)
            }
            words = bits.map { UInt16($0 != 0 ? 1 : 0) }
        }
        let e = errno  // read at once: the calls below may change it
        if n == count {
            // A second frame right behind the reply: one of the two was a stray (a late reply of another
            // request, or someone else on the line), and nothing tells which.
            if serial, dropInput(listeningMilliseconds: settleMilliseconds) >= ModbusTCPReactor.strayFrameBytes {
                throw ModbusError(
                    .garbage("more bytes followed the reply (a stray frame on the line)"),
                    function: table.functionName, unit: unit, address: address)
            }
            return words
        }
        let kind = LibmodbusClient.kind(forErrno: e, returned: n)
        if serial && kind == .timeout {
            dropInput(listeningMilliseconds: timeoutMilliseconds)  // a late reply arrives now, and is dropped
        } else {
            modbus_flush(ctx)
        }
        let error = ModbusError(kind, function: table.functionName, unit: unit, address: address)
        if error.needsReconnect { disconnect() }
        throw error
    }

    /// Bytes that arrived when no reply was awaited, counted as frames, since the last call.
    public func takeStrayFrames() -> Int {
        defer { strayFrames = 0 }
        return strayFrames
    }

    /// 3.5 character times (the RTU inter-frame silence, Modbus over serial line §2.5.1.1), at least 2 ms: how long
    /// the line is listened to after a reply for a frame right behind it.
    private var settleMilliseconds: Int {
        guard case .rtu(let s) = link else { return 0 }
        return max(2, Int((3.5 * 11 * 1000 / Double(s.baud)).rounded(.up)))
    }

    /// Reads and drops what the port holds and what arrives within `listeningMilliseconds` (at most 64 KiB, and
    /// never past the deadline: a line that never falls silent cannot hold the bus thread); returns the bytes
    /// dropped, counted as one stray frame if there were any.
    @discardableResult
    private func dropInput(listeningMilliseconds: Int) -> Int {
        let fd = modbus_get_socket(ctx)
        guard fd >= 0 else { return 0 }
        let deadline = monotonicMilliseconds() + Int64(listeningMilliseconds)
        var dropped = 0
        var sink = [UInt8](repeating: 0, count: 512)
        repeat {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(clamping: max(0, deadline - monotonicMilliseconds())))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0, p.revents & Int16(POLLIN) != 0 else { break }
            let n = sink.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            dropped += n
        } while dropped < 65536 && monotonicMilliseconds() <= deadline
        if dropped > 0 { strayFrames += 1 }
        return dropped
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
        case base: return .invalidException(0)  // libmodbus reports exception code 0 as errno MODBUS_ENOBASE
        case gatewayTarget + 3: return .invalidException(nil)  // EMBBADEXC: a code beyond 11
        case gatewayTarget + 1: return .crc  // EMBBADCRC
        case (base + 1)...gatewayTarget: return .exception(UInt8(e - base))
        case (gatewayTarget + 2)...(gatewayTarget + 6): return .garbage(String(cString: modbus_strerror(e)))
        default: return .connection(String(cString: modbus_strerror(e)))
        }
    }
}
