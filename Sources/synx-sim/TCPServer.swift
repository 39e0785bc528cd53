import CLinux
import CModbus
import Foundation
import Glibc
import SynxModbus
import SynxSystem

/// Serves every Modbus/TCP listener and connection of the simulator on one thread and one epoll set.
///
/// Why not libmodbus's receive and a thread per connection: libmodbus waits with select(), which aborts the
/// process for a descriptor ≥ 1024, and ten thousand simulated meters are ten thousand connections. Here MBAP
/// frames are cut from what each connection sent and answered in arrival order; a request waits behind one that
/// waits out a `delay` fault on its connection (a timer of this thread, so other connections are answered
/// meanwhile). Nothing more is read from a connection until what it sent is answered and sent, so a client that
/// sends without reading fills its own socket, not the simulator's memory. libmodbus writes each reply into a
/// socket pair, from which it is read back into the connection's unsent bytes: a reply the client's socket
/// cannot take at once waits there for EPOLLOUT, never cut short nor overtaken by the next.
final class TCPServer: @unchecked Sendable {
    /// An MBAP header: transaction id, protocol id, length (of the unit id and the PDU), unit id.
    static let headerLength = 7
    /// The MBAP lengths a request may have: a unit id and a function code at least, a 260-byte frame at most.
    static let requestLengths = 2...(Int(MODBUS_TCP_MAX_ADU_LENGTH) - 6)
    /// Bytes read from a connection per wake-up (epoll is level-triggered: it reports the rest at the next).
    static let readBytes = 16 * 1024
    /// How long a listener rests after accept failed for want of descriptors or memory (the clients wait in
    /// its backlog meanwhile).
    static let acceptPauseMilliseconds: Int64 = 100

    /// A request cut from a connection's bytes: its frame zero-padded to the longest frame, since libmodbus
    /// reads a request's fields where its function code puts them.
    private struct Request {
        let bytes: [UInt8]
        let length: Int
    }

    /// A client's connection.
    private final class Connection {
        let fd: Int32
        /// Bytes received and not yet cut into requests.
        var received: [UInt8] = []
        /// Requests not yet answered, oldest first.
        var requests: [Request] = []
        /// The action decided for the oldest request while it waits out its delay.
        var delayed: Simulator.Action?
        /// Reply bytes the socket has not taken yet.
        var unsent: [UInt8] = []
        /// The events epoll reports for it.
        var watched = EPOLLIN.rawValue
        var isOpen = true
        init(fd: Int32) { self.fd = fd }
    }

    /// What a timer of the thread is for.
    private enum Timer {
        /// The oldest request of the connection has waited out its delay.
        case delayOver(Connection)
        /// The listener may accept again.
        case acceptAgain(TCPListener)
    }

    private let simulator: Simulator
    private let epfd: Int32
    /// The one libmodbus context that builds every reply; its socket is `replyIn`.
    private let ctx: OpaquePointer
    /// A socket pair: libmodbus writes a reply into `replyIn`, the server reads it from `replyOut`.
    private let replyIn: Int32, replyOut: Int32
    private var listeners: [Int32: TCPListener] = [:]
    private var connections: [Int32: Connection] = [:]
    private var timers = TimerHeap<Timer>()
    private var chunk = [UInt8](repeating: 0, count: TCPServer.readBytes)

    /// Raises the soft limit on open descriptors to the hard one: every simulated meter on a connection of its
    /// own is a descriptor, and the usual soft limit is 1024.
    static func raiseDescriptorLimit() throws {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { throw SimError.system("getrlimit") }
        limit.rlim_cur = limit.rlim_max
        guard setrlimit(resource, &limit) == 0 else { throw SimError.system("setrlimit") }
    }

    /// Sets up the epoll set with the listeners and the libmodbus context; nothing is served before `start`.
    init(simulator: Simulator, listeners: [TCPListener]) throws {
        self.simulator = simulator
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epfd >= 0 else { throw SimError.system("epoll_create1") }
        var pair: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &pair) == 0 else { throw SimError.system("socketpair") }
        (replyIn, replyOut) = (pair[0], pair[1])
        guard let ctx = modbus_new_tcp_pi("127.0.0.1", "502") else { throw SimError.system("modbus_new_tcp_pi") }
        self.ctx = ctx
        // libmodbus sleeps the response timeout before some exception replies (to a request it finds malformed);
        // this thread is every connection's, so it sleeps the shortest it allows.
        guard modbus_set_response_timeout(ctx, 0, 1) == 0, modbus_set_socket(ctx, replyIn) == 0 else {
            throw SimError.system("libmodbus context")
        }
        for listener in listeners {
            guard watch(listener.fd, EPOLLIN.rawValue, EPOLL_CTL_ADD) else { throw SimError.system("epoll_ctl") }
            self.listeners[listener.fd] = listener
        }
    }

    /// Starts the thread that serves the listeners and their connections.
    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "tcp"
        thread.start()
    }

    /// The event loop: due timers, then what epoll reports, until the process ends.
    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 1024)
        while true {
            while let timer = timers.popDue(monotonicMilliseconds()) { fire(timer) }
            let timeout = timers.earliest.map { Int32(clamping: max(0, $0 - monotonicMilliseconds())) } ?? -1
            let n = epoll_wait(epfd, &events, Int32(events.count), timeout)
            if n < 0 && errno != EINTR { fatalError(SimError.system("epoll_wait").description) }
            for event in events.prefix(Int(max(n, 0))) { handle(event) }
        }
    }

    /// Acts on what epoll reports for a listener or a connection.
    private func handle(_ event: epoll_event) {
        let fd = event.data.fd
        if let listener = listeners[fd] { return acceptAll(listener) }
        guard let c = connections[fd] else { return }
        // An error or a hang-up (reset, or closed both ways): nothing can reach the client any more.
        if event.events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { return disconnect(c) }
        if event.events & EPOLLOUT.rawValue != 0 { flush(c) }
        if c.isOpen && event.events & EPOLLIN.rawValue != 0 { receive(c) }
        rewatch(c)
    }

    /// Acts on a timer that is due.
    private func fire(_ timer: Timer) {
        switch timer {
        case .delayOver(let c):
            guard c.isOpen, let action = c.delayed else { return }
            c.delayed = nil
            reply(c, c.requests.removeFirst(), action)
            serve(c)
            flush(c)
            rewatch(c)
        case .acceptAgain(let listener):
            rewatch(listener, EPOLLIN.rawValue)
            acceptAll(listener)
        }
    }

    // MARK: - Connections

    /// Accepts every connection waiting on the listener.
    private func acceptAll(_ listener: TCPListener) {
        while true {
            let fd = accept(listener.fd, nil, nil)
            if fd >= 0 {
                admit(fd)
                continue
            }
            switch errno {
            case EAGAIN: return
            case EINTR, ECONNABORTED: continue
            default:
                // Out of descriptors (EMFILE, ENFILE) or memory: stop watching the listener for a while rather
                // than be woken by it again at once.
                rewatch(listener, 0)
                timers.insert(.acceptAgain(listener), at: monotonicMilliseconds() + TCPServer.acceptPauseMilliseconds)
                return
            }
        }
    }

    /// Takes an accepted connection into the epoll set: non-blocking, and without Nagle's delay, which would
    /// hold back a reply behind an earlier one the client has not acknowledged yet.
    private func admit(_ fd: Int32) {
        var one: Int32 = 1
        guard fcntl(fd, F_SETFL, O_NONBLOCK) == 0,
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) == 0,
            watch(fd, EPOLLIN.rawValue, EPOLL_CTL_ADD)
        else {
            close(fd)
            return
        }
        connections[fd] = Connection(fd: fd)
    }

    /// Closes the connection; closing its only descriptor takes it out of the epoll set.
    private func disconnect(_ c: Connection) {
        c.isOpen = false
        connections[c.fd] = nil
        close(c.fd)
    }

    /// Sets the events epoll reports for `fd` (`operation`: EPOLL_CTL_ADD or EPOLL_CTL_MOD).
    private func watch(_ fd: Int32, _ events: UInt32, _ operation: Int32) -> Bool {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        return epoll_ctl(epfd, operation, fd, &event) == 0
    }

    /// Sets what epoll reports for a listener (it is in the epoll set from the start, so this cannot fail but by a bug).
    private func rewatch(_ listener: TCPListener, _ events: UInt32) {
        guard watch(listener.fd, events, EPOLL_CTL_MOD) else { fatalError(SimError.system("epoll_ctl").description) }
    }

    /// Watches the connection for what it waits for: room for its unsent bytes, or, with nothing left to answer
    /// or send, its next requests (neither while a request waits out its delay).
    private func rewatch(_ c: Connection) {
        guard c.isOpen else { return }
        let wanted = !c.unsent.isEmpty ? EPOLLOUT.rawValue : c.requests.isEmpty ? EPOLLIN.rawValue : 0
        guard wanted != c.watched else { return }
        guard watch(c.fd, wanted, EPOLL_CTL_MOD) else { return disconnect(c) }
        c.watched = wanted
    }

    // MARK: - Requests and replies

    /// Reads what the client sent (one chunk), answers the complete requests in it and sends the replies.
    private func receive(_ c: Connection) {
        let n = chunk.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        guard n > 0 else { return disconnect(c) }  // closed by the client, or reset
        c.received += chunk[0..<n]
        guard cutRequests(c) else { return disconnect(c) }
        serve(c)
        flush(c)
    }

    /// Cuts the complete MBAP frames off what the connection received; false on a header no Modbus client sends
    /// (a protocol id other than 0, a length outside `requestLengths`), after which the stream cannot be framed.
    private func cutRequests(_ c: Connection) -> Bool {
        var start = 0
        defer { c.received.removeFirst(start) }
        while c.received.count - start >= TCPServer.headerLength {
            let protocolID = Int(c.received[start + 2]) << 8 | Int(c.received[start + 3])
            let length = Int(c.received[start + 4]) << 8 | Int(c.received[start + 5])
            guard protocolID == 0, TCPServer.requestLengths.contains(length) else { return false }
            let end = start + 6 + length
            guard end <= c.received.count else { break }
            var bytes = [UInt8](repeating: 0, count: Int(MODBUS_TCP_MAX_ADU_LENGTH))
            bytes.replaceSubrange(0..<(end - start), with: c.received[start..<end])
            c.requests.append(Request(bytes: bytes, length: end - start))
            start = end
        }
        return true
    }

    /// Answers the connection's requests in order, until one must wait out a delay first.
    private func serve(_ c: Connection) {
        while c.delayed == nil, let request = c.requests.first {
            let decision = simulator.decide(request: request.bytes, headerLength: TCPServer.headerLength)
            if decision.delayMilliseconds > 0 {
                c.delayed = decision.action
                timers.insert(.delayOver(c), at: monotonicMilliseconds() + Int64(decision.delayMilliseconds))
                return
            }
            c.requests.removeFirst()
            reply(c, request, decision.action)
        }
    }

    /// Carries out `action` for the request and appends what it wrote (nothing, for a silent unit) to the
    /// connection's unsent bytes.
    private func reply(_ c: Connection, _ request: Request, _ action: Simulator.Action) {
        simulator.answer(
            ctx: ctx, request: request.bytes, length: request.length, headerLength: TCPServer.headerLength,
            action: action)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(replyOut, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                c.unsent += chunk[0..<n]
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return  // EAGAIN: all of it read
            }
        }
    }

    /// Sends the connection's unsent bytes; what the socket does not take now waits for EPOLLOUT.
    private func flush(_ c: Connection) {
        while c.isOpen && !c.unsent.isEmpty {
            let n = c.unsent.withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                c.unsent.removeFirst(n)
            } else if n < 0 && errno == EAGAIN {
                return
            } else if !(n < 0 && errno == EINTR) {
                disconnect(c)  // reset or gone
            }
        }
    }
}
