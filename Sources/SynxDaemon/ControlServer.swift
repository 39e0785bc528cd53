import CLinux
import Foundation
import Glibc
import Logging
import SynxControl
import SynxStore
import SynxSystem

/// The Unix-socket control server: accepts synxctl connections and answers each request line.
///
/// Each request is validated in a fixed order — size, framing, version, command — before one handler
/// per command runs. The socket is created mode 0660; clients are served on short-lived threads so a slow
/// store query never holds up `status`.
///
/// Bounds (docs/PROTOCOL.md, "Limits"): at most `maxClients` connections, plus `reservedForAdmins` that only root
/// and synxd's own user may take, so they can always get `status` and `reload` through; a connection may idle
/// `idleSeconds` before a request, must complete a request line within `requestSeconds` of its first byte and
/// take a whole response within `responseSeconds`, or it is closed. A request is at most 64 KiB and a response
/// at most about 2 MB (queries and event lists are paged), so the control side holds at most about 36 × 2 MB.
final class ControlServer: DaemonPart, @unchecked Sendable {
    let path: String
    private let handler: ControlHandler
    private let logger: Logger
    /// Refusals and drops are logged once per kind every 10 s, with the count held back.
    private let logLimiter = SharedRepeatLimiter()
    private var listenFD: Int32 = -1
    private var listener: ConnectionListener?
    private let clients = NSLock()
    private var clientCount = 0
    static let maxClients = 32
    static let reservedForAdmins = 4
    static let idleSeconds: Int64 = 30
    static let requestSeconds: Int64 = 5
    static let responseSeconds: Int64 = 10
    /// Where the requests that read the store run.
    private let heavy = HeavyRequestWorkers()

    init(path: String, handler: ControlHandler, logger: Logger) {
        self.path = path
        self.handler = handler
        self.logger = logger
    }

    var partName: String { "control server" }

    /// Binds, listens and starts accepting; errors here stop the daemon from starting.
    func start() throws {
        try listen()
        let listener = try ConnectionListener(listenFD: listenFD)
        self.listener = listener
        listener.start(
            thread: "synx-control",
            failed: { [self] error in
                if let line = logLimiter.admit("accept", "control: cannot accept a connection") {
                    logger.warning("\(line)", metadata: ["error": "\(String(cString: strerror(error)))"])
                }
            },
            accepted: { [self] client in admit(client) })
    }

    private func listen() throws {
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
        guard rc == 0 else {
            close(listenFD)
            throw DaemonError.startup("bind \(path): \(String(cString: strerror(bindErrno)))")
        }
        chmod(path, 0o660)
        guard Glibc.listen(listenFD, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listenFD)
            throw DaemonError.startup("listen: \(reason)")
        }
    }

    func stop() {
        listener?.stop()
        unlink(path)
    }

    /// Serves a new connection on a thread of its own, or refuses it (busy) when every slot its user may take is
    /// in use.
    private func admit(_ client: Int32) {
        var peer = PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max)  // unknown: never privileged
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        if synx_peer_credentials(client, &pid, &uid, &gid) == 0 {
            peer = PeerCredentials(pid: pid, uid: uid, gid: gid)
        }
        let admin = peer.uid == 0 || peer.uid == geteuid()
        let admitted = clients.withLock {
            let limit = ControlServer.maxClients + (admin ? ControlServer.reservedForAdmins : 0)
            guard clientCount < limit else { return false }
            clientCount += 1
            return true
        }
        guard admitted else {
            if let line = logLimiter.admit("busy", "control client refused: too many clients") {
                logger.warning("\(line)", metadata: ["limit": "\(ControlServer.maxClients)", "uid": "\(peer.uid)"])
            }
            send(
                client, encode(.failure(.busy, "too many control clients (\(ControlServer.maxClients)); try again"))
            )
            close(client)
            return
        }
        startThread(named: "synx-control-c") { [self] in
            serve(client, peer: peer)
            close(client)
            clients.withLock { clientCount -= 1 }
        }
    }

    /// Answers request lines until the peer closes, misbehaves, idles out or is too slow (module comment).
    private func serve(_ fd: Int32, peer: PeerCredentials) {
        let session = handler.session(peer: peer)
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 16384)
        var requestStarted: Int64?  // monotonic ms of the first byte of the request being read
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<nl]
                buffer.removeSubrange(buffer.startIndex...nl)
                let encoded =
                    session.readsTheStore(line)
                    ? heavy.run { self.encode(session.answer(line)) } : encode(session.answer(line))
                guard send(fd, encoded) else {
                    if let line = logLimiter.admit(
                        "response",
                        "control client dropped: it did not take its response within \(ControlServer.responseSeconds) s"
                    ) {
                        logger.notice("\(line)", metadata: ["uid": "\(peer.uid)", "pid": "\(peer.pid)"])
                    }
                    return
                }
                requestStarted = buffer.isEmpty ? nil : monotonicMilliseconds()
                continue
            }
            // 1. Size: a request line longer than the limit is refused and the connection closed.
            if buffer.count >= maxRequestBytes {
                if let line = logLimiter.admit("size", "control request refused: larger than \(maxRequestBytes) bytes")
                {
                    logger.notice("\(line)")
                }
                send(fd, encode(.failure(.tooLarge, "request exceeds \(maxRequestBytes) bytes")))
                return
            }
            // Idle before a request; once it has begun, the whole line within its deadline (a client that
            // dribbles a byte every few seconds cannot hold a slot).
            let wait =
                requestStarted.map { $0 + ControlServer.requestSeconds * 1000 - monotonicMilliseconds() }
                ?? ControlServer.idleSeconds * 1000
            guard wait > 0, SocketDeadline.set(fd, SO_RCVTIMEO, milliseconds: wait) else { return dropSlow(peer) }
            let n = SocketIO.receive(fd, into: &chunk)
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && requestStarted != nil { return dropSlow(peer) }
            if n <= 0 { return }
            if requestStarted == nil { requestStarted = monotonicMilliseconds() }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    private func dropSlow(_ peer: PeerCredentials) {
        if let line = logLimiter.admit(
            "slow", "control client dropped: no complete request within \(ControlServer.requestSeconds) s")
        {
            logger.notice("\(line)", metadata: ["uid": "\(peer.uid)", "pid": "\(peer.pid)"])
        }
    }

    /// A response as its line; nil (logged, and the connection is then closed) if it cannot be encoded.
    private func encode(_ response: Response) -> Data? {
        do { return try Framing.encode(response) } catch {
            logger.error("control response cannot be encoded", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Sends one encoded response line, all of it within `responseSeconds`; false if the client did not take it.
    @discardableResult
    private func send(_ fd: Int32, _ data: Data?) -> Bool {
        guard let data else { return false }
        return SocketDeadline.send(fd, data, withinSeconds: ControlServer.responseSeconds)
    }
}

/// Two threads at a lower scheduling priority (nice +10) for the requests that read the store and build large
/// responses (`query`, `events`, `exportEvent`): however many clients ask at once, at most two run, and requests
/// such as `status`, answered on the connection's own thread at normal priority, are never held up by them.
final class HeavyRequestWorkers: @unchecked Sendable {
    private let condition = MonotonicCondition()
    private var jobs: [() -> Void] = []

    init(count: Int = 2) {
        for i in 0..<count {
            startThread(named: "synx-control-w\(i)", nice: 10) { [self] in
                while true {
                    condition.lock()
                    while jobs.isEmpty { condition.wait() }
                    let job = jobs.removeFirst()
                    condition.unlock()
                    job()
                }
            }
        }
    }

    /// Runs `body` on a worker and waits for its result.
    func run<T>(_ body: @escaping () -> T) -> T {
        var result: T?
        let done = DispatchSemaphore(value: 0)
        condition.withLock {
            jobs.append {
                result = body()
                done.signal()
            }
            condition.signal()
        }
        done.wait()
        return result!
    }
}
