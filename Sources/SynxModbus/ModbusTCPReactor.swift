import CLinux
import Dispatch
import Glibc
import SynxSystem

/// A connection of a `ModbusTCPReactor`.
public struct ConnectionID: Hashable, Sendable {
    let index: Int
}

/// Every Modbus/TCP (and RTU-over-TCP) connection of the daemon on one thread and one epoll set.
///
/// Why its own client and not libmodbus: libmodbus waits with select(), which aborts the process for a
/// descriptor ≥ 1024, and a thread per gateway wakes hundreds of threads at every whole second. Here each
/// connection (one per gateway host:port, shared by its unit ids) has one request in flight, or up to its
/// `maxInFlight` on MBAP framing for a gateway that takes several outstanding transactions. What is buffered is
/// dropped before a request that goes out alone; replies are matched on transaction id (random, not sequential),
/// unit, function and length, so a late, early or forged frame is dropped and counted, never taken as a reply.
/// A peer cannot take the thread from the others: each wake-up reads at most `readBudgetBytes` per connection,
/// and a connection that sends more than `maxStrayFramesPerSecond` frames nobody asked for is dropped (its bus
/// backs off). On RTU framing (no transaction ids) a timeout is followed by a quiet interval as long as the
/// timeout, so a late reply arrives and is dropped before the next request. Timeouts, retries and the
/// inter-frame gap are timers on the same thread. Everything but `post` and `stop` must be called on the
/// reactor's thread (from completions, timers or posted work).
public final class ModbusTCPReactor: @unchecked Sendable {
    public typealias Completion = (Result<[UInt16], ModbusError>) -> Void

    /// Bytes read from one connection per wake-up before the others get their turn.
    public static let readBudgetBytes = 64 * 1024
    /// Frames nobody asked for that a connection may send in one second before it is dropped.
    public static let maxStrayFramesPerSecond = 50
    /// Bytes behind an RTU reply that make it ambiguous: the shortest frame (an exception reply) is 5; fewer are
    /// line noise (an adapter's byte as it releases the line), counted but harmless.
    public static let strayFrameBytes = 5

    private final class Request {
        let table: RegisterTable, unit: UInt8, address: Int, count: Int
        let timeoutMilliseconds: Int, retries: Int
        let completion: Completion
        var attempts = 0
        init(
            table: RegisterTable, unit: UInt8, address: Int, count: Int, timeoutMilliseconds: Int, retries: Int,
            completion: @escaping Completion
        ) {
            self.table = table
            self.unit = unit
            self.address = address
            self.count = count
            self.timeoutMilliseconds = timeoutMilliseconds
            self.retries = retries
            self.completion = completion
        }
        func error(_ kind: ModbusError.Kind) -> ModbusError {
            ModbusError(kind, function: table.functionName, unit: unit, address: address)
        }
    }

    /// A request sent and not yet answered: its transaction id and which send it was (what its deadline names).
    private struct InFlight {
        let request: Request
        let transaction: UInt16
        let sent: Int
    }

    private final class Connection {
        enum State { case closed, resolving, connecting, open }
        let host: String, port: Int, timing: BusTiming, framing: ModbusFraming
        /// Requests that may be outstanding at once (1 on RTU framing, which has no transaction ids).
        let maxInFlight: Int
        var state = State.closed
        var fd: Int32 = -1
        /// The events the socket is registered for in the epoll set, so a send changes them only when they change.
        var watching: UInt32 = 0
        /// Bumped whenever the socket is closed, so timers of an earlier socket are ignored.
        var generation = 0
        var addresses: [(sockaddr_storage, socklen_t)] = []
        var queue: [Request] = []
        var inFlight: [InFlight] = []
        /// The transaction id sent last.
        var transaction: UInt16 = 0
        /// Counts requests sent: what a deadline timer names (transaction ids are random and may repeat).
        var sent = 0
        var inbox: ReplyReceiver
        var outbox: [UInt8] = []
        var lastEnd: Int64 = 0
        /// Monotonic ms before which nothing is sent (the quiet interval after a timeout on RTU framing).
        var quietUntil: Int64 = 0
        var gapTimerArmed = false
        /// Stray frames at the start of the current one-second window, and when it began.
        var strayWindowStart: Int64 = 0
        var strayAtWindowStart = 0
        /// Stray frames already reported to `takeStrayFrames`.
        var strayReported = 0
        init(host: String, port: Int, timing: BusTiming, framing: ModbusFraming, maxInFlight: Int) {
            self.host = host
            self.port = port
            self.timing = timing
            self.framing = framing
            self.maxInFlight = framing == .mbap ? max(1, maxInFlight) : 1
            inbox = ReplyReceiver(framing: framing)
        }
    }

    private enum Timer {
        case work(() -> Void)
        case requestDeadline(Int, generation: Int, request: Int)
        case connectDeadline(Int, generation: Int)
        case gap(Int)
    }

    private let epfd: Int32
    private let wakeFD: Int32
    private static let wakeToken = UInt64.max
    private var connections: [Connection] = []
    private var timers = TimerHeap<Timer>()
    private var chunk = [UInt8](repeating: 0, count: 4096)
    /// State of the transaction-id sequence: xorshift64*, seeded from the system's random source once, so ids
    /// are unpredictable to a peer without a system call per request.
    private var idState = UInt64.random(in: 1...UInt64.max)
    private var postLock = pthread_mutex_t()
    private var posted: [() -> Void] = []
    private var stopping = false

    /// A reactor with no connection yet; throws if the epoll set or its wake-up descriptor cannot be made.
    public init() throws {
        epfd = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC))
        guard epfd >= 0, wakeFD >= 0 else {
            throw ModbusError(.connection("epoll: \(Errno(errno))"), function: "epoll_create1")
        }
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue
        ev.data.u64 = ModbusTCPReactor.wakeToken
        epoll_ctl(epfd, EPOLL_CTL_ADD, wakeFD, &ev)
        pthread_mutex_init(&postLock, nil)
    }

    deinit {
        for c in connections where c.fd >= 0 { close(c.fd) }
        close(epfd)
        close(wakeFD)
    }

    /// Adds a connection (opened on its first request), with up to `maxInFlight` requests outstanding at once on
    /// MBAP framing (RTU framing: one). Call before `run`, or on the reactor's thread.
    public func addConnection(
        host: String, port: Int, timing: BusTiming, framing: ModbusFraming = .mbap,
        maxInFlight: Int = 1
    ) -> ConnectionID {
        connections.append(
            Connection(host: host, port: port, timing: timing, framing: framing, maxInFlight: maxInFlight))
        return ConnectionID(index: connections.count - 1)
    }

    /// The connection's peer as people read it: `tcp HOST:PORT` or `rtu-over-tcp HOST:PORT`.
    public func endpoint(_ id: ConnectionID) -> String {
        let c = connections[id.index]
        return c.framing == .mbap ? "tcp \(c.host):\(c.port)" : "rtu-over-tcp \(c.host):\(c.port)"
    }

    /// Whether the connection is open (a request may go out at once).
    public func isOpen(_ id: ConnectionID) -> Bool { connections[id.index].state == .open }

    /// Frames dropped on the connection (unsolicited, late, forged or of another unit) since the last call.
    public func takeStrayFrames(_ id: ConnectionID) -> Int {
        let c = connections[id.index]
        defer { c.strayReported = c.inbox.strayFrames }
        return c.inbox.strayFrames - c.strayReported
    }

    /// Queues a read; `completion` runs on the reactor's thread with the registers or the failure, after
    /// the retries (the response timeout and retries are the connection's unless given). A read outside the
    /// register space fails without being sent.
    public func submit(
        _ id: ConnectionID, _ table: RegisterTable, unit: UInt8, address: Int, count: Int,
        timeoutMilliseconds: Int? = nil, retries: Int? = nil, completion: @escaping Completion
    ) {
        let c = connections[id.index]
        let request = Request(
            table: table, unit: unit, address: address, count: count,
            timeoutMilliseconds: timeoutMilliseconds ?? c.timing.timeoutMilliseconds,
            retries: retries ?? c.timing.retries, completion: completion)
        if let outside = registerSpaceProblem(address: address, count: count) {
            let error = request.error(outside)
            post { completion(.failure(error)) }
            return
        }
        c.queue.append(request)
        if c.state == .closed { open(id.index) } else { pump(id.index) }
    }

    /// Runs `work` on the reactor's thread at wall-clock time `wallMilliseconds` (UTC ms).
    public func schedule(atWallClock wallMilliseconds: Int64, _ work: @escaping () -> Void) {
        timers.insert(.work(work), at: monotonicMilliseconds() + (wallMilliseconds - wallClockNow()))
    }

    /// Runs `work` on the reactor's thread as soon as possible. Safe from any thread.
    public func post(_ work: @escaping () -> Void) {
        pthread_mutex_lock(&postLock)
        posted.append(work)
        pthread_mutex_unlock(&postLock)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
    }

    /// Closes a connection for good (its bus was removed): fails what is queued on it; it is never reopened
    /// unless a request is submitted on it again. Call on the reactor's thread.
    public func closeConnection(_ id: ConnectionID) {
        shut(id.index, .connection("bus removed"))
    }

    /// Ends `run` after the work in hand. Safe from any thread.
    public func stop() { post { [self] in stopping = true } }

    /// The event loop; returns after `stop`.
    public func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 128)
        while true {
            pthread_mutex_lock(&postLock)
            let work = posted
            posted.removeAll()
            pthread_mutex_unlock(&postLock)
            work.forEach { $0() }
            if stopping { break }
            let now = monotonicMilliseconds()
            while let t = timers.popDue(now) { fire(t) }
            let timeout = timers.earliest.map { Int32(clamping: max(0, $0 - monotonicMilliseconds())) } ?? -1
            let n = epoll_wait(epfd, &events, Int32(events.count), timeout)
            guard n > 0 else { continue }
            for e in events[0..<Int(n)] {
                if e.data.u64 == ModbusTCPReactor.wakeToken {
                    var v: UInt64 = 0
                    _ = read(wakeFD, &v, 8)
                } else {
                    handle(Int(e.data.u64), events: e.events)
                }
            }
        }
        for i in connections.indices where connections[i].fd >= 0 { shut(i, .connection("daemon stopping")) }
    }

    // MARK: - Connecting

    private func open(_ i: Int) {
        let c = connections[i]
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        if let numeric = resolve(c.host, c.port, hints) {
            c.addresses = numeric
            connect(i, next: 0)
            return
        }
        // A host name: resolve off the reactor's thread, so a slow DNS server delays no other bus.
        c.state = .resolving
        let (host, port, generation) = (c.host, c.port, c.generation)
        DispatchQueue.global().async { [self] in
            var h = addrinfo()
            h.ai_socktype = Int32(SOCK_STREAM.rawValue)
            let found = resolve(host, port, h)
            post { [self] in
                guard c.generation == generation, c.state == .resolving else { return }
                guard let found, !found.isEmpty else {
                    c.state = .closed
                    failAll(i, .connection("cannot resolve \(host)"))
                    return
                }
                c.addresses = found
                connect(i, next: 0)
            }
        }
    }

    private func resolve(_ host: String, _ port: Int, _ hints: addrinfo) -> [(sockaddr_storage, socklen_t)]? {
        var hints = hints
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0 else { return nil }
        defer { freeaddrinfo(list) }
        var out: [(sockaddr_storage, socklen_t)] = []
        var p = list
        while let ai = p {
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { dst in
                dst.copyMemory(
                    from: UnsafeRawBufferPointer(start: ai.pointee.ai_addr, count: Int(ai.pointee.ai_addrlen)))
            }
            out.append((storage, ai.pointee.ai_addrlen))
            p = ai.pointee.ai_next
        }
        return out
    }

    /// Tries address `next` of the connection's list, falling through to the following ones.
    private func connect(_ i: Int, next: Int, lastError: String = "no address") {
        let c = connections[i]
        guard next < c.addresses.count else {
            c.state = .closed
            failAll(i, .connection("\(c.host):\(c.port): \(lastError)"))
            return
        }
        var (addr, len) = c.addresses[next]
        let family = Int32(addr.ss_family)
        let s = socket(
            family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { return connect(i, next: next + 1, lastError: Errno(errno).description) }
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, len) }
        }
        let e = errno
        if rc != 0 && e != EINPROGRESS {
            close(s)
            return connect(i, next: next + 1, lastError: Errno(e).description)
        }
        c.fd = s
        c.state = .connecting
        c.watching = EPOLLOUT.rawValue
        var ev = epoll_event()
        ev.events = c.watching
        ev.data.u64 = UInt64(i)
        epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev)
        c.addresses = Array(c.addresses[(next + 1)...])  // what is left to try if this one fails
        timers.insert(
            .connectDeadline(i, generation: c.generation),
            at: monotonicMilliseconds() + Int64(c.timing.timeoutMilliseconds))
    }

    private func connectFinished(_ i: Int) {
        let c = connections[i]
        var soError: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &soError, &len)
        if soError == ECONNRESET {
            // A reset is the answer of a peer that accepted the connection (a refused one answers ECONNREFUSED):
            // the connect succeeded; what failed is the read it was opened for.
            c.state = .open
            return shut(i, .connection("accepted, then reset by peer"))
        }
        if soError != 0 {
            dropSocket(i)
            return connect(i, next: 0, lastError: Errno(soError).description)
        }
        c.state = .open
        watch(i)
        pump(i)
    }

    // MARK: - Requests and replies

    /// Sends queued requests while the connection has room for them (one, or `maxInFlight` on MBAP) and, for a
    /// request that goes out alone, the frame gap has passed.
    private func pump(_ i: Int) {
        let c = connections[i]
        var sentAny = false
        defer { if sentAny { flush(i) } }
        while c.state == .open, c.inFlight.count < c.maxInFlight, !c.queue.isEmpty {
            let now = monotonicMilliseconds()
            if c.inFlight.isEmpty {
                let gapEnd = max(c.lastEnd > 0 ? c.lastEnd + Int64(c.timing.frameGapMilliseconds) : 0, c.quietUntil)
                if now < gapEnd {
                    if !c.gapTimerArmed {
                        c.gapTimerArmed = true
                        timers.insert(.gap(i), at: gapEnd)
                    }
                    return
                }
                c.inbox.discardPending()  // nothing received before a lone request can be its reply
            }
            let r = c.queue.removeFirst()
            // Not sequential, so a forged frame cannot guess it; never the previous one nor one still outstanding,
            // so a late reply cannot match.
            let previous = c.transaction
            repeat {
                c.transaction = nextTransactionID()
            } while c.transaction == previous || c.inFlight.contains { $0.transaction == c.transaction }
            c.sent += 1
            c.inFlight.append(InFlight(request: r, transaction: c.transaction, sent: c.sent))
            c.outbox += c.framing.readRequest(
                transaction: c.transaction, unit: r.unit, table: r.table, address: r.address, count: r.count)
            timers.insert(
                .requestDeadline(i, generation: c.generation, request: c.sent), at: now + Int64(r.timeoutMilliseconds))
            sentAny = true
        }
    }

    /// Writes what the outbox holds; waits for EPOLLOUT if the socket is full.
    private func flush(_ i: Int) {
        let c = connections[i]
        while !c.outbox.isEmpty {
            let n = c.outbox.withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                c.outbox.removeFirst(n)
                continue
            }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && e == EAGAIN { break }
            return shut(i, .connection(Errno(e).description))
        }
        watch(i)
    }

    /// Registers the socket for its replies, and for room to write while the outbox holds bytes (a system call
    /// only when that changes: most sends fit at once).
    private func watch(_ i: Int) {
        let c = connections[i]
        let events = EPOLLIN.rawValue | (c.outbox.isEmpty ? 0 : EPOLLOUT.rawValue)
        guard events != c.watching else { return }
        c.watching = events
        var ev = epoll_event()
        ev.events = events
        ev.data.u64 = UInt64(i)
        epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev)
    }

    private func handle(_ i: Int, events: UInt32) {
        let c = connections[i]
        guard c.fd >= 0 else { return }
        if c.state == .connecting {
            if events & (EPOLLOUT.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 { connectFinished(i) }
            return
        }
        if events & EPOLLOUT.rawValue != 0 { flush(i) }
        guard c.fd >= 0, events & (EPOLLIN.rawValue | EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0 else { return }
        var budget = ModbusTCPReactor.readBudgetBytes  // what is left stays in the socket for the next wake-up
        while budget > 0 {
            let n = chunk.withUnsafeMutableBytes {
                recv(c.fd, $0.baseAddress, min($0.count, budget), Int32(MSG_DONTWAIT))
            }
            if n > 0 {
                c.inbox.append(chunk[0..<n])
                budget -= n
                parseReplies(i)
                if c.fd < 0 { return }
                continue
            }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && e == EAGAIN { break }
            return shut(i, .connection(n == 0 ? "closed by peer" : Errno(e).description))
        }
        checkStrayRate(i)
    }

    private func parseReplies(_ i: Int) {
        let c = connections[i]
        while c.fd >= 0 {
            let expected = c.inFlight.map {
                ReplyReceiver.Expected(
                    transaction: $0.transaction, unit: $0.request.unit,
                    table: $0.request.table, count: $0.request.count)
            }
            guard let (index, event) = c.inbox.next(expectingAny: expected) else { return }
            switch event {
            case .reply(let result):
                guard let index, c.inFlight.indices.contains(index) else { return }
                let r = c.inFlight[index].request
                // RTU frames carry no id: a reply with more bytes right behind it is two frames where one was
                // asked for, and nothing tells which is the reply.
                if c.framing == .rtu, c.inbox.pendingBytes >= ModbusTCPReactor.strayFrameBytes, case .success = result {
                    c.inbox.discardPending()
                    complete(
                        i, index,
                        .failure(r.error(.garbage("more bytes followed the reply (a stray frame on the line)"))))
                    continue
                }
                complete(i, index, result.mapError { r.error($0) })
            case .outOfStep(let kind):
                shut(i, kind)  // the stream is out of step: every request on it fails, and it starts afresh
            }
        }
    }

    /// Drops a connection that sends more frames nobody asked for than any device would (a flood, or someone
    /// else on the plant network): its bus backs off like after any connection failure.
    private func checkStrayRate(_ i: Int) {
        let c = connections[i]
        let now = monotonicMilliseconds()
        if now - c.strayWindowStart >= 1000 {
            c.strayWindowStart = now
            c.strayAtWindowStart = c.inbox.strayFrames
        } else if c.inbox.strayFrames - c.strayAtWindowStart > ModbusTCPReactor.maxStrayFramesPerSecond {
            shut(
                i,
                .connection(
                    "peer sent \(c.inbox.strayFrames - c.strayAtWindowStart) frames nobody asked for within a second"))
        }
    }

    /// Ends request `index` in flight: retried if it may succeed on a second try, else handed back.
    private func complete(_ i: Int, _ index: Int, _ result: Result<[UInt16], ModbusError>) {
        let c = connections[i]
        let r = c.inFlight.remove(at: index).request
        c.lastEnd = monotonicMilliseconds()
        if case .failure(let error) = result, error.isRetryable, r.attempts < r.retries, c.fd >= 0 {
            r.attempts += 1
            c.queue.insert(r, at: 0)
        } else {
            r.completion(result)
        }
        pump(i)
    }

    private func fire(_ t: Timer) {
        switch t {
        case .work(let work):
            work()
        case .requestDeadline(let i, let generation, let request):
            let c = connections[i]
            if c.generation == generation, let index = c.inFlight.firstIndex(where: { $0.sent == request }) {
                let r = c.inFlight[index].request
                // RTU frames carry no id: a late reply must arrive, and be dropped, before the next request.
                if c.framing == .rtu { c.quietUntil = monotonicMilliseconds() + Int64(r.timeoutMilliseconds) }
                complete(i, index, .failure(r.error(.timeout)))
            }
        case .connectDeadline(let i, let generation):
            let c = connections[i]
            if c.generation == generation, c.state == .connecting {
                dropSocket(i)
                connect(i, next: 0, lastError: "connect timed out after \(c.timing.timeoutMilliseconds) ms")
            }
        case .gap(let i):
            connections[i].gapTimerArmed = false
            pump(i)
        }
    }

    private func nextTransactionID() -> UInt16 {
        idState ^= idState >> 12
        idState ^= idState << 25
        idState ^= idState >> 27
        return UInt16(truncatingIfNeeded: (idState &* 0x2545_F491_4F6C_DD1D) >> 48)
    }

    // MARK: - Closing

    /// Closes the socket (timers of this socket become stale).
    private func dropSocket(_ i: Int) {
        let c = connections[i]
        if c.fd >= 0 {
            epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nil)
            close(c.fd)
            c.fd = -1
            c.watching = 0
        }
        c.generation += 1
        c.inbox.discardPending()
        c.outbox.removeAll()
    }

    /// Closes the connection and fails every request on it; the next request reopens it.
    private func shut(_ i: Int, _ kind: ModbusError.Kind) {
        let wasOpen = connections[i].state == .open
        dropSocket(i)
        connections[i].state = .closed
        failAll(i, kind, connected: wasOpen)
    }

    /// Fails every request on the connection; a connection failure names `connect` only if the connection was
    /// never open (a peer that accepts and then closes fails the read, not the connect).
    private func failAll(_ i: Int, _ kind: ModbusError.Kind, connected: Bool = false) {
        let c = connections[i]
        let requests = c.inFlight.map(\.request) + c.queue
        c.inFlight.removeAll()
        c.queue.removeAll()
        for r in requests {
            var e = r.error(kind)
            if case .connection = kind, !connected { e.function = "connect" }
            r.completion(.failure(e))
        }
    }
}
