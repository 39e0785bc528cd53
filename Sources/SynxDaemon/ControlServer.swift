import CLinux
import Foundation
import Glibc
import Logging
import SynxControl
import SynxStore

/// The Unix-socket control server: accepts synxctl connections and answers each request line.
///
/// Each request is validated in a fixed order — size, framing, version, command — before one handler
/// per command runs. The socket is created mode 0660; clients are served on short-lived threads (at most
/// `maxClients` at once) so a slow store query never holds up `status`.
final class ControlServer: @unchecked Sendable {
    let path: String
    private let handler: ControlHandler
    private let logger: Logger
    private var listenFD: Int32 = -1
    private var wakePipe: [Int32] = [-1, -1]
    private let finished = DispatchSemaphore(value: 0)
    private let clients = NSLock()
    private var clientCount = 0
    static let maxClients = 32
    static let clientIdleSeconds = 30

    init(path: String, handler: ControlHandler, logger: Logger) {
        self.path = path
        self.handler = handler
        self.logger = logger
    }

    /// Binds and listens; errors here stop the daemon from starting.
    func listen() throws {
        let dir = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else {
                throw DaemonError.startup("\(path) exists and is not a socket")
            }
            // A live daemon answers on it; a stale file from a killed one does not.
            if (try? ControlClient(socketPath: path, timeoutSeconds: 1).send(Request(command: .status))) != nil {
                throw DaemonError.startup("another synxd is already listening on \(path)")
            }
            unlink(path)
        }
        listenFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listenFD >= 0 else { throw DaemonError.startup("socket: \(String(cString: strerror(errno)))") }
        var addr = try UnixAddress(path: path)
        let oldMask = umask(0o117)  // the socket file is born 0660: never world-writable
        let rc = addr.withSockaddr { bind(listenFD, $0, $1) }
        let bindErrno = errno
        umask(oldMask)
        guard rc == 0 else { throw DaemonError.startup("bind \(path): \(String(cString: strerror(bindErrno)))") }
        chmod(path, 0o660)
        guard Glibc.listen(listenFD, 64) == 0 else { throw DaemonError.startup("listen: \(String(cString: strerror(errno)))") }
        guard pipe(&wakePipe) == 0 else { throw DaemonError.startup("pipe: \(String(cString: strerror(errno)))") }
        wakePipe.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
    }

    func start() {
        startThread(named: "synx-control") { [self] in acceptLoop(); finished.signal() }
    }

    func stop() {
        var b: UInt8 = 1
        _ = write(wakePipe[1], &b, 1)
        finished.wait()
        close(listenFD)
        close(wakePipe[0])
        close(wakePipe[1])
        unlink(path)
    }

    private func acceptLoop() {
        while true {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, 2, -1)
            if n < 0 && errno == EINTR { continue }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let client = accept(listenFD, nil, nil)
            if client < 0 { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            clients.lock()
            let admitted = clientCount < ControlServer.maxClients
            if admitted { clientCount += 1 }
            clients.unlock()
            guard admitted else {
                logger.warning("control client refused: too many clients", metadata: ["limit": "\(ControlServer.maxClients)"])
                reply(client, .failure(.busy, "too many control clients (\(ControlServer.maxClients)); try again"))
                close(client)
                continue
            }
            startThread(named: "synx-control-c") { [self] in
                serve(client)
                close(client)
                clients.lock(); clientCount -= 1; clients.unlock()
            }
        }
    }

    /// Answers request lines until the peer closes, misbehaves or idles out.
    private func serve(_ fd: Int32) {
        var tv = timeval(tv_sec: ControlServer.clientIdleSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var peer = PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max)  // unknown: never privileged
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        if synx_peer_credentials(fd, &pid, &uid, &gid) == 0 { peer = PeerCredentials(pid: pid, uid: uid, gid: gid) }
        let session = handler.session(peer: peer)
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<nl]
                buffer.removeSubrange(buffer.startIndex...nl)
                guard reply(fd, session.answer(line)) else { return }
                continue
            }
            // 1. Size: a request line longer than the limit is refused and the connection closed.
            if buffer.count >= maxRequestBytes {
                logger.notice("control request refused: larger than \(maxRequestBytes) bytes")
                reply(fd, .failure(.tooLarge, "request exceeds \(maxRequestBytes) bytes"))
                return
            }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    @discardableResult
    private func reply(_ fd: Int32, _ response: Response) -> Bool {
        guard let data = try? Framing.encode(response) else { return false }
        return data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = send(fd, buf.baseAddress! + off, buf.count - off, Int32(MSG_NOSIGNAL))
                if n < 0 { if errno == EINTR { continue }; return false }
                off += n
            }
            return true
        }
    }
}

/// Failures that stop synxd from starting.
enum DaemonError: Error, CustomStringConvertible {
    case startup(String)
    var description: String { if case .startup(let s) = self { return s }; return "" }
}
