import Glibc

/// A Modbus/TCP client (Modbus Messaging on TCP/IP Implementation Guide V1.0b) of synx's own.
///
/// Why not libmodbus here: libmodbus waits with select(), which aborts the process for a descriptor
/// ≥ 1024, and a site with hundreds of meters has that many sockets. This client waits with poll(), so any
/// descriptor works, and one connection serves every unit id behind a gateway (host:port).
/// One request at a time; a late reply to an earlier, timed-out request is recognised by its
/// transaction id and dropped. With `.rtu` framing it speaks Modbus/RTU frames (with CRC) over the TCP
/// stream instead, as transparent serial device servers expect.
public final class ModbusTCPClient: ModbusTransport {
    /// How requests and replies are framed on the stream.
    public enum Framing: Sendable { case mbap, rtu }

    public let host: String
    public let port: Int
    /// How long to wait for a connection or a complete reply.
    public let timeoutMilliseconds: Int
    public let framing: Framing
    private var fd: Int32 = -1
    private var transactionID: UInt16 = 0
    /// Bytes received and not yet consumed, and the scratch buffer recv() fills.
    private var inbox: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 1024)

    public init(host: String, port: Int, timeoutMilliseconds: Int, framing: Framing = .mbap) {
        self.host = host
        self.port = port
        self.timeoutMilliseconds = timeoutMilliseconds
        self.framing = framing
    }

    deinit { disconnect() }

    public var endpoint: String { framing == .mbap ? "tcp \(host):\(port)" : "rtu-over-tcp \(host):\(port)" }

    public func connect() throws {
        if fd >= 0 { return }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw ModbusError(.connection("cannot resolve \(host): \(String(cString: gai_strerror(rc)))"), function: "connect")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let s = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            if s < 0 { lastError = Errno(errno).description; continue }
            var one: Int32 = 1
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let c = Glibc.connect(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen)
            let e = errno
            if c == 0 { fd = s; return }
            if e != EINPROGRESS { lastError = Errno(e).description; close(s); continue }
            switch waitFor(s, events: Int16(POLLOUT), deadline: monotonicMilliseconds() + Int64(timeoutMilliseconds)) {
            case .ready:
                var soError: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &len)
                if soError == 0 { fd = s; return }
                lastError = Errno(soError).description
            case .timedOut:
                lastError = "connect timed out"
            case .failed(let err):
                lastError = err.description
            }
            close(s)
        }
        throw ModbusError(.connection("\(host):\(port): \(lastError)"), function: "connect")
    }

    public func disconnect() {
        if fd >= 0 { close(fd); fd = -1 }
        inbox.removeAll()
    }

    public func readRegisters(_ table: RegisterTable, unit: UInt8, address: Int, count: Int) throws -> [UInt16] {
        precondition((1...maxRegistersPerRead).contains(count) && (0...0xFFFF).contains(address))
        func failure(_ kind: ModbusError.Kind) -> ModbusError {
            ModbusError(kind, function: table.functionName, unit: unit, address: address)
        }
        do { try connect() } catch var error as ModbusError {
            error.unit = unit
            error.address = address
            throw error
        }
        let pdu: [UInt8] = [table.rawValue, UInt8(address >> 8), UInt8(address & 0xFF), UInt8(count >> 8), UInt8(count & 0xFF)]
        transactionID &+= 1
        let tid = transactionID
        let request = framing == .mbap
            ? [UInt8(tid >> 8), UInt8(tid & 0xFF), 0, 0, 0, 6, unit] + pdu
            : ModbusCRC.appending(to: [unit] + pdu)
        let deadline = monotonicMilliseconds() + Int64(timeoutMilliseconds)
        if framing == .rtu { discardPending() }
        if let error = sendAll(request) {
            disconnect()
            throw failure(.connection(error.description))
        }
        if framing == .rtu {
            return try receiveRTUReply(table: table, unit: unit, count: count, deadline: deadline, fail: failure)
        }
        while true {
            var header = [UInt8](repeating: 0, count: 7)
            if let kind = receive(into: &header, deadline: deadline) {
                if kind.isConnectionLoss { disconnect() }
                throw failure(kind)
            }
            let replyTID = UInt16(header[0]) << 8 | UInt16(header[1])
            let protocolID = UInt16(header[2]) << 8 | UInt16(header[3])
            let length = Int(header[4]) << 8 | Int(header[5])
            guard protocolID == 0, (2...254).contains(length) else {
                disconnect()
                throw failure(.garbage("bad MBAP header (protocol \(protocolID), length \(length))"))
            }
            var pdu = [UInt8](repeating: 0, count: length - 1)
            if let kind = receive(into: &pdu, deadline: deadline) {
                if kind.isConnectionLoss { disconnect() }
                throw failure(kind)
            }
            if replyTID != tid { continue }  // a late reply to a request that already timed out
            guard header[6] == unit else {
                throw failure(.garbage("reply from unit \(header[6])"))
            }
            return try decodeReadReply(pdu, table: table, count: count, fail: failure)
        }
    }

    /// Reads one RTU reply frame: `unit fc count data… crc` or `unit fc|0x80 code crc`.
    private func receiveRTUReply(table: RegisterTable, unit: UInt8, count: Int, deadline: Int64,
                                 fail: (ModbusError.Kind) -> ModbusError) throws -> [UInt16] {
        var head = [UInt8](repeating: 0, count: 3)
        if let kind = receive(into: &head, deadline: deadline) {
            if kind.isConnectionLoss { disconnect() }
            throw fail(kind)
        }
        let isException = head[1] == table.rawValue | 0x80
        var rest = [UInt8](repeating: 0, count: isException ? 2 : Int(head[2]) + 2)
        if let kind = receive(into: &rest, deadline: deadline) {
            if kind.isConnectionLoss { disconnect() }
            throw fail(kind)
        }
        let frame = head + rest
        let crc = UInt16(frame[frame.count - 2]) | UInt16(frame[frame.count - 1]) << 8
        guard crc == ModbusCRC.checksum(frame.dropLast(2)) else { throw fail(.crc) }
        guard head[0] == unit else { throw fail(.garbage("reply from unit \(head[0])")) }
        return try decodeReadReply(Array(frame[1..<(frame.count - 2)]), table: table, count: count, fail: fail)
    }

    /// Drops bytes left on an RTU stream by an earlier, timed-out exchange (RTU frames carry no id).
    private func discardPending() {
        inbox.removeAll()
        while chunk.withUnsafeMutableBytes({ recv(fd, $0.baseAddress!, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
    }

    // MARK: - I/O helpers

    private enum Wait { case ready, timedOut, failed(Errno) }

    private func waitFor(_ s: Int32, events: Int16, deadline: Int64) -> Wait {
        while true {
            let remaining = deadline - monotonicMilliseconds()
            if remaining <= 0 { return .timedOut }
            var p = pollfd(fd: s, events: events, revents: 0)
            switch retryingEINTR({ poll(&p, 1, Int32(clamping: remaining)) }) {
            case .success(0): continue
            case .success: return .ready
            case .failure(let e): return .failed(e)
            }
        }
    }

    private func sendAll(_ bytes: [UInt8]) -> Errno? {
        var offset = 0
        while offset < bytes.count {
            let r = bytes.withUnsafeBytes { buf in
                retryingEINTR { send(fd, buf.baseAddress! + offset, buf.count - offset, Int32(MSG_NOSIGNAL)) }
            }
            switch r {
            case .success(let n): offset += n
            case .failure(let e) where e.code == EAGAIN:
                if case .failed(let err) = waitFor(fd, events: Int16(POLLOUT), deadline: monotonicMilliseconds() + Int64(timeoutMilliseconds)) { return err }
            case .failure(let e): return e
            }
        }
        return nil
    }

    /// Fills `buffer` completely before `deadline`, or says why not. Bytes arrive through `inbox`: one
    /// recv() usually brings a whole reply, so a transaction costs send, poll and recv.
    private func receive(into buffer: inout [UInt8], deadline: Int64) -> ModbusError.Kind? {
        while inbox.count < buffer.count {
            switch waitFor(fd, events: Int16(POLLIN), deadline: deadline) {
            case .ready: break
            case .timedOut: return .timeout
            case .failed(let err): return .connection(err.description)
            }
            let n = chunk.withUnsafeMutableBytes { buf in retryingEINTR { recv(fd, buf.baseAddress!, buf.count, 0) } }
            switch n {
            case .success(0): return .connection("closed by peer")
            case .success(let got): inbox.append(contentsOf: chunk[0..<got])
            case .failure(let e) where e.code == EAGAIN: continue
            case .failure(let e): return .connection(e.description)
            }
        }
        buffer.withUnsafeMutableBufferPointer { out in
            for i in 0..<out.count { out[i] = inbox[i] }
        }
        inbox.removeFirst(buffer.count)
        return nil
    }
}

extension ModbusError.Kind {
    var isConnectionLoss: Bool { if case .connection = self { return true } else { return false } }
}

/// Decodes the PDU of a reply to function 3 or 4 (Modbus application protocol §6.3, §6.4, §7).
func decodeReadReply(_ pdu: [UInt8], table: RegisterTable, count: Int,
                     fail: (ModbusError.Kind) -> ModbusError) throws -> [UInt16] {
    guard let function = pdu.first else { throw fail(.garbage("empty PDU")) }
    if function == table.rawValue | 0x80 {
        guard pdu.count == 2 else { throw fail(.garbage("exception reply of \(pdu.count) bytes")) }
        throw fail(.exception(pdu[1]))
    }
    guard function == table.rawValue else { throw fail(.garbage("function \(function) in reply")) }
    guard pdu.count >= 2, Int(pdu[1]) == 2 * count, pdu.count == 2 + 2 * count else {
        throw fail(.garbage("byte count \(pdu.count >= 2 ? Int(pdu[1]) : -1) for \(count) registers"))
    }
    return (0..<count).map { UInt16(pdu[2 + 2 * $0]) << 8 | UInt16(pdu[3 + 2 * $0]) }
}
