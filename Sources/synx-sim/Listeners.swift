import CModbus
import Foundation
import Glibc
import SynxModbus

/// A listening Modbus/TCP socket on one address, non-blocking: `TCPServer` accepts its connections.
struct TCPListener {
    let fd: Int32
    let port: Int

    /// Binds `host:port` (port 0: any free port, printed at start-up).
    init(host: String, port: Int) throws {
        guard let portNumber = UInt16(exactly: port) else { throw SimError("not a TCP port: \(port)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(portNumber.bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw SimError("not an IPv4 address: \(host)") }
        let fd = socket(
            AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
            0)
        guard fd >= 0 else { throw SimError.system("socket") }
        do {
            self.port = try TCPListener.listen(fd, on: address, name: "\(host):\(port)")
        } catch {
            close(fd)
            throw error
        }
        self.fd = fd
    }

    /// Binds `fd` to `address` and listens on it; returns the port bound.
    private static func listen(_ fd: Int32, on address: sockaddr_in, name: String) throws -> Int {
        var one: Int32 = 1
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SimError.system("SO_REUSEADDR \(name)")
        }
        var address = address
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw SimError.system("bind \(name)") }
        // A long backlog (the kernel caps it at net.core.somaxconn): thousands of simulated meters may connect at once.
        guard Glibc.listen(fd, SOMAXCONN) == 0 else { throw SimError.system("listen \(name)") }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw SimError.system("getsockname \(name)") }
        return Int(UInt16(bigEndian: local.sin_port))
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
            if ready == 0 {
                frame.removeAll()
                continue
            }
            if ready < 0 { continue }
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 {
                usleep(10_000)
                continue
            }
            frame += chunk[0..<n]
            while let length = RTUListener.requestLength(frame), frame.count >= length {
                let request = Array(frame[0..<length])
                frame.removeFirst(length)
                let crc = UInt16(request[length - 2]) | UInt16(request[length - 1]) << 8
                guard crc == ModbusCRC.checksum(request.dropLast(2)) else {
                    frame.removeAll()
                    break
                }
                answer(request + [UInt8](repeating: 0, count: 8), length: length)
            }
        }
    }

    /// Answers one request, after its `delay` faults: a line is one request at a time, so this thread sleeps.
    private func answer(_ request: [UInt8], length: Int) {
        let decision = simulator.decide(request: request, headerLength: 1)
        if decision.delayMilliseconds > 0 { Thread.sleep(forTimeInterval: Double(decision.delayMilliseconds) / 1000) }
        simulator.answer(ctx: ctx, request: request, length: length, headerLength: 1, action: decision.action)
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

    /// The failure of a system call, with errno's text.
    static func system(_ call: String) -> SimError { SimError("\(call): \(String(cString: strerror(errno)))") }
}
