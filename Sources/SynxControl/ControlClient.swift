import Foundation
import Glibc

/// Why a control request got no response.
public struct ControlClientError: Error, CustomStringConvertible {
    public var description: String
}

/// A blocking client of the control socket (used by synxctl and the tests).
public struct ControlClient {
    public let socketPath: String
    public let timeoutSeconds: Int

    /// A client of the daemon at `socketPath` that gives up on an answer after `timeoutSeconds`.
    public init(socketPath: String, timeoutSeconds: Int = 10) {
        self.socketPath = socketPath
        self.timeoutSeconds = timeoutSeconds
    }

    /// Sends one request and waits for its response. A daemon that refuses a client (`busy`) answers and closes
    /// before reading the request, so a failed send is not the end: its answer is read if there is one.
    public func send(_ request: Request) throws -> Response {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ControlClientError(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = try UnixAddress(path: socketPath)
        let rc = addr.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc != 0 {
            let e = errno
            let hint = (e == ENOENT || e == ECONNREFUSED) ? " (is synxd running?)" : ""
            throw ControlClientError(
                description: "cannot connect to \(socketPath): \(String(cString: strerror(e)))\(hint)")
        }
        let data = try Framing.encode(request)
        let sendError = SocketIO.sendAll(fd, data)
        var line = Data()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = SocketIO.receive(fd, into: &chunk)
            if n < 0 {
                let e = errno
                if let s = sendError { throw ControlClientError(description: "send: \(String(cString: strerror(s)))") }
                throw ControlClientError(
                    description: e == EAGAIN
                        ? "synxd did not answer within \(timeoutSeconds) s" : "recv: \(String(cString: strerror(e)))")
            }
            if n == 0 {
                if let e = sendError { throw ControlClientError(description: "send: \(String(cString: strerror(e)))") }
                throw ControlClientError(description: "synxd closed the connection without an answer")
            }
            if let nl = chunk[0..<n].firstIndex(of: 0x0A) {
                line.append(contentsOf: chunk[0..<nl])
                break
            }
            line.append(contentsOf: chunk[0..<n])
            if line.count > maxResponseBytes {
                throw ControlClientError(description: "response larger than \(maxResponseBytes) bytes")
            }
        }
        do {
            return try Framing.decode(Response.self, from: line)
        } catch {
            throw ControlClientError(description: "malformed response from synxd: \(error)")
        }
    }
}

/// A `sockaddr_un` for a path.
public struct UnixAddress {
    var storage = sockaddr_un()

    /// The address of the socket at `path`; throws if the path does not fit a `sockaddr_un`.
    public init(path: String) throws {
        storage.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard bytes.count < capacity else {
            throw ControlClientError(description: "socket path longer than \(capacity - 1) bytes: \(path)")
        }
        withUnsafeMutableBytes(of: &storage.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
    }

    /// Calls `body` with the address as the socket calls take it (pointer and length).
    public mutating func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
