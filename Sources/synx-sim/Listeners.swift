import CModbus
import Foundation
import Glibc
import SynxModbus

/// Serves Modbus/TCP on one address: a thread accepts, a thread per connection lets libmodbus receive
/// each request (it handles MBAP framing) and the simulator answer it.
final class TCPListener: @unchecked Sendable {
    let simulator: Simulator
    let fd: Int32
    let port: Int

    /// Binds `host:port` (port 0: any free port, printed at start-up).
    init(simulator: Simulator, host: String, port: Int) throws {
        self.simulator = simulator
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { throw SimError("not an IPv4 address: \(host)") }
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw SimError("bind \(host):\(port): \(String(cString: strerror(errno)))") }
        guard listen(fd, 128) == 0 else { throw SimError("listen: \(String(cString: strerror(errno)))") }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: bound.sin_port))
    }

    func start() {
        Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { continue }
                Thread { [self] in serve(client) }.start()
            }
        }.start()
    }

    private func serve(_ client: Int32) {
        guard let ctx = modbus_new_tcp_pi("127.0.0.1", "502") else { close(client); return }
        modbus_set_socket(ctx, client)
        var request = [UInt8](repeating: 0, count: Int(MODBUS_TCP_MAX_ADU_LENGTH))
        while true {
            let n = modbus_receive(ctx, &request)
            if n < 0 { break }  // closed by the master, or a frame libmodbus could not parse
            if n == 0 { continue }
            simulator.answer(ctx: ctx, request: request, length: Int(n), headerLength: 7)
        }
        close(client)
        modbus_free(ctx)
    }
}

/// Serves Modbus/RTU on a serial device (a real port, or one end of a socat pty pair).
///
/// libmodbus's RTU receive drops frames not addressed to its own single slave id, and a simulated line
/// hosts several units, so frames are delimited here (by length and CRC) and libmodbus builds the replies.
final class RTUListener: @unchecked Sendable {
    let simulator: Simulator
    let device: String
    private let ctx: OpaquePointer

    init(simulator: Simulator, device: String) throws {
        self.simulator = simulator
        self.device = device
        guard let ctx = modbus_new_rtu(device, 19200, Int8(UInt8(ascii: "N")), 8, 1) else {
            throw SimError("modbus_new_rtu \(device): \(String(cString: modbus_strerror(errno)))")
        }
        guard modbus_connect(ctx) == 0 else {
            throw SimError("cannot open \(device): \(String(cString: modbus_strerror(errno)))")
        }
        self.ctx = ctx
    }

    func start() {
        Thread { [self] in run() }.start()
    }

    private func run() {
        let fd = modbus_get_socket(ctx)
        var frame: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256)
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            // A silence of 20 ms ends a partial frame (the RTU 3.5-character gap, generously).
            let ready = poll(&p, 1, frame.isEmpty ? -1 : 20)
            if ready == 0 { frame.removeAll(); continue }
            if ready < 0 { continue }
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { usleep(10_000); continue }
            frame += chunk[0..<n]
            while let length = RTUListener.requestLength(frame), frame.count >= length {
                let request = Array(frame[0..<length])
                frame.removeFirst(length)
                let crc = UInt16(request[length - 2]) | UInt16(request[length - 1]) << 8
                guard crc == ModbusCRC.checksum(request.dropLast(2)) else { frame.removeAll(); break }
                simulator.answer(ctx: ctx, request: request + [UInt8](repeating: 0, count: 8), length: length, headerLength: 1)
            }
        }
    }

    /// The length of the RTU request starting `frame`, once it can be known.
    static func requestLength(_ frame: [UInt8]) -> Int? {
        guard frame.count >= 2 else { return nil }
        switch frame[1] {
        case 1...6: return 8
        case 15, 16: return frame.count >= 7 ? 9 + Int(frame[6]) : nil
        default: return 8
        }
    }
}

struct SimError: Error, CustomStringConvertible {
    var description: String
    init(_ s: String) { description = s }
}
