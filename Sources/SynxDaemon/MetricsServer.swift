import CLinux
import Foundation
import Glibc
import Logging
import SynxControl
import SynxMetrics
import SynxStore
import SynxSystem
import SynxVersion

/// `GET /metrics` for Prometheus (`[metrics] listen`, `docs/integration.md`): the meters' current values and
/// synxd's own state in the Prometheus text format, or OpenMetrics when the scraper's `Accept` asks for it.
///
/// A minimal HTTP/1.1 server of our own rather than a library's: synxd is thread-per-part without an event loop
/// (SwiftNIO would be the only library that fits, and would double the build), and all it must do is answer one
/// GET and close. Bounds: at most `maxClients` connections at once (more are answered 503 and closed); a request
/// head of at most `maxRequestBytes`, complete within `requestSeconds` of the connection; the response taken within
/// `responseSeconds`. Connections are served at nice +10, so a scrape storm takes CPU from nothing that polls.
/// Four clients that connect and say nothing hold every slot for up to `requestSeconds`, and scrapes meanwhile
/// are answered 503.
final class MetricsServer: DaemonPart, @unchecked Sendable {
    let address: MetricsAddress
    private let collector: MetricsCollector
    private let logger: Logger
    private let logLimiter = SharedRepeatLimiter()
    private var listener: ConnectionListener?
    private let clients = NSLock()
    private var clientCount = 0
    /// The connections being served: `stop` shuts them down and waits for their threads.
    private var clientFDs: Set<Int32> = []
    private let served = DispatchGroup()
    static let maxClients = 4
    static let maxRequestBytes = 8192
    static let requestSeconds: Int64 = 5
    static let responseSeconds: Int64 = 10

    init(address: MetricsAddress, collector: MetricsCollector, logger: Logger) {
        self.address = address
        self.collector = collector
        self.logger = logger
    }

    var partName: String { "metrics server" }

    /// Binds and listens (an address in use stops synxd from starting), then accepts on its own thread.
    func start() throws {
        var storage = sockaddr_storage()
        let length = try address.socketAddress(&storage)
        let listenFD = socket(
            Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listenFD >= 0 else { throw DaemonError.startup("metrics socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, length) }
        }
        guard rc == 0, Glibc.listen(listenFD, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(listenFD)
            throw DaemonError.startup("metrics listen \(address): \(reason)")
        }
        let listener = try ConnectionListener(listenFD: listenFD)
        self.listener = listener
        logger.info("metrics listening", metadata: ["address": "\(address)"])
        listener.start(
            thread: "synx-metrics", nice: 10,
            failed: { [self] error in
                if let line = logLimiter.admit("accept", "metrics: cannot accept a connection") {
                    logger.warning("\(line)", metadata: ["error": "\(String(cString: strerror(error)))"])
                }
            },
            accepted: { [self] client in admit(client) })
    }

    /// Stops accepting, shuts the connections being served down and waits for their threads (each ends within
    /// its deadlines anyway).
    func stop() {
        listener?.stop()
        clients.withLock { clientFDs.forEach { _ = shutdown($0, Int32(SHUT_RDWR)) } }
        _ = served.wait(timeout: .now() + .seconds(Int(MetricsServer.requestSeconds + MetricsServer.responseSeconds)))
    }

    /// Serves a new connection on a thread of its own, or answers 503 when every slot is taken.
    private func admit(_ client: Int32) {
        let admitted = clients.withLock {
            guard clientCount < MetricsServer.maxClients else { return false }
            clientCount += 1
            clientFDs.insert(client)
            return true
        }
        guard admitted else {
            if let line = logLimiter.admit("busy", "metrics client refused: too many connections") {
                logger.notice("\(line)", metadata: ["limit": "\(MetricsServer.maxClients)"])
            }
            respond(client, status: "503 Service Unavailable", type: "text/plain", body: "too many scrapes at once\n")
            closeAfterAnswer(client)
            return
        }
        served.enter()
        startThread(named: "synx-metrics-c", nice: 10) { [self] in
            serve(client)
            clients.withLock {
                clientCount -= 1
                clientFDs.remove(client)
            }
            closeAfterAnswer(client)
            served.leave()
        }
    }

    /// Closes a connection whose answer has been sent: its write side first, then whatever the client sent that was
    /// not read is drained (without waiting), so the close does not reset the connection and lose the answer.
    private func closeAfterAnswer(_ fd: Int32) {
        _ = shutdown(fd, Int32(SHUT_WR))
        var sink = [UInt8](repeating: 0, count: 4096)
        while recv(fd, &sink, sink.count, Int32(MSG_DONTWAIT)) > 0 {}
        close(fd)
    }

    /// Reads one request head and answers it; anything but `GET /metrics` (or `HEAD`) gets its HTTP error.
    private func serve(_ fd: Int32) {
        let head: String
        switch readHead(fd) {
        case .head(let text):
            head = text
        case .tooLarge:
            respond(fd, status: "431 Request Header Fields Too Large", type: "text/plain", body: "request head over 8 KiB\n")
            return
        case .none:
            if let line = logLimiter.admit("slow", "metrics client dropped: no request head within \(MetricsServer.requestSeconds) s") {
                logger.notice("\(line)")
            }
            return
        }
        guard let request = HTTPRequestHead(head) else {
            respond(fd, status: "400 Bad Request", type: "text/plain", body: "bad request\n")
            return
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            respond(fd, status: "405 Method Not Allowed", type: "text/plain", body: "GET only\n", extra: "Allow: GET, HEAD\r\n")
            return
        }
        guard request.path == "/metrics" else {
            respond(fd, status: "404 Not Found", type: "text/plain", body: "synxd serves /metrics\n")
            return
        }
        let format = ExpositionFormat.negotiate(accept: request.header("accept"))
        let body = Exposition.render(collector.families(), as: format)
        respond(fd, status: "200 OK", type: format.contentType, body: body, headOnly: request.method == "HEAD")
    }

    /// What reading a request head gave.
    private enum HeadRead {
        case head(String)
        case tooLarge
    }

    /// The request head (up to the blank line), read within `requestSeconds` and at most `maxRequestBytes`; nil if
    /// the client closes or dawdles.
    private func readHead(_ fd: Int32) -> HeadRead? {
        let deadline = monotonicMilliseconds() + MetricsServer.requestSeconds * 1000
        var buffer: [UInt8] = []
        while buffer.count < MetricsServer.maxRequestBytes {
            var chunk = [UInt8](repeating: 0, count: min(2048, MetricsServer.maxRequestBytes - buffer.count))
            let left = deadline - monotonicMilliseconds()
            guard left > 0, SocketDeadline.set(fd, SO_RCVTIMEO, milliseconds: left) else { return nil }
            let n = SocketIO.receive(fd, into: &chunk)
            guard n > 0 else { return nil }
            buffer += chunk[0..<n]
            if let end = buffer.indexOfBlankLine { return .head(String(decoding: buffer[..<end], as: UTF8.self)) }
        }
        return .tooLarge
    }

    private func respond(
        _ fd: Int32, status: String, type: String, body: String, extra: String = "", headOnly: Bool = false
    ) {
        let payload = Array(body.utf8)
        var data = Data(
            "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(payload.count)\r\n\(extra)Connection: close\r\n\r\n"
                .utf8)
        if !headOnly { data.append(contentsOf: payload) }
        if !SocketDeadline.send(fd, data, withinSeconds: MetricsServer.responseSeconds),
            let line = logLimiter.admit("response", "metrics client dropped: it did not take its response")
        {
            logger.notice("\(line)")
        }
    }

}

/// Where `/metrics` listens: a numeric IPv4 or IPv6 address and a port (`127.0.0.1:9488`, `[::1]:9488`).
struct MetricsAddress: Equatable, CustomStringConvertible {
    var host: String
    var port: UInt16

    /// Parses `host:port`; nil unless the host is a numeric address and the port 1–65535.
    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var v4 = in_addr()
        var v6 = in6_addr()
        guard inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1 else { return nil }
        self.host = host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Fills `storage` with the address; returns its length.
    func socketAddress(_ storage: inout sockaddr_storage) throws -> socklen_t {
        try withUnsafeMutablePointer(to: &storage) { pointer in
            var v4 = sockaddr_in()
            if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = port.bigEndian
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee = v4 }
                return socklen_t(MemoryLayout<sockaddr_in>.size)
            }
            var v6 = sockaddr_in6()
            guard inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 else {
                throw DaemonError.startup("metrics: \(host) is not a numeric address")
            }
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee = v6 }
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
    }
}

/// The first line and headers of an HTTP/1.x request.
struct HTTPRequestHead {
    var method: String
    /// The path without its query.
    var path: String
    private var headers: [(String, String)]

    /// Parses a request head (CRLF or LF line ends); nil if its request line is not `METHOD TARGET HTTP/1.x`.
    init?(_ head: String) {
        let lines = head.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        let parts = (lines.first ?? "").split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { return nil }
        method = String(parts[0])
        path = String(parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        headers = lines.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (
                line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            )
        }
    }

    /// The value of header `name` (lower case), if the request has it.
    func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
}

extension Array where Element == UInt8 {
    /// Where a request head ends: the index of the line end before the blank line that closes it (CRLF CRLF, LF LF,
    /// or the two mixed).
    var indexOfBlankLine: Int? {
        guard count >= 2 else { return nil }
        for i in 1..<count where self[i] == 0x0A {
            // The blank line: LF, or CR LF, right after the previous line's LF.
            let blankStart = self[i - 1] == 0x0D ? i - 1 : i
            guard blankStart >= 1, self[blankStart - 1] == 0x0A else { continue }
            // The previous line's end: its LF, or its CR LF.
            return blankStart >= 2 && self[blankStart - 2] == 0x0D ? blankStart - 2 : blankStart - 1
        }
        return nil
    }
}

/// synxd's state as metric families: each meter's current values (`MeasurementMetrics`), its health and counts,
/// the buses, the store's queue and the alerts raised (`docs/integration.md`).
final class MetricsCollector: @unchecked Sendable {
    private let registry: MeterRegistry
    private let writer: StoreWriter
    private let alerts: AlertCenter
    private let mqtt: MQTTPublisher?

    init(registry: MeterRegistry, writer: StoreWriter, alerts: AlertCenter, mqtt: MQTTPublisher? = nil) {
        self.registry = registry
        self.writer = writer
        self.alerts = alerts
        self.mqtt = mqtt
    }

    /// The families now, in a fixed order: synxd's own, then the meters', then the measurements' by name.
    func families() -> [MetricFamily] {
        let meters = registry.metricsSnapshot(monotonicNow: monotonicMilliseconds())
        let buses = registry.busStatuses()
        let store = writer.statistics
        let lateness = registry.latenessSummary()
        typealias L = MetricFamily.Label
        var out: [MetricFamily] = [
            MetricFamily(name: "synx_build_info", kind: .gauge, help: "synxd's version.", samples: [.init([L("version", synxVersion)], 1)]),
            MetricFamily(
                name: "synx_alerts_active", kind: .gauge, help: "Alerts raised now (synxctl alerts).",
                samples: [.init([], Double(alerts.activeCount))]),
            MetricFamily(
                name: "synx_store_queued_rows", kind: .gauge, help: "Rows waiting for the store writer.",
                samples: [.init([], Double(store.queuedRows))]),
            MetricFamily(
                name: "synx_store_committed_rows", kind: .counter, help: "Rows committed to the store since synxd started.",
                samples: [.init([], Double(store.committedRows))]),
            MetricFamily(
                name: "synx_store_dropped_rows", kind: .counter, help: "Rows dropped because the store could not take them.",
                samples: [.init([], Double(store.droppedRows))]),
            MetricFamily(
                name: "synx_poll_lateness_p50_seconds", kind: .gauge,
                help: "How late polls started against their slot: the median over the last polls of every bus.",
                unit: "seconds", samples: lateness.polls == 0 ? [] : [.init([], lateness.p50Ms / 1000)]),
            MetricFamily(
                name: "synx_poll_lateness_p99_seconds", kind: .gauge,
                help: "How late polls started against their slot: the 99th percentile over the last polls of every bus.",
                unit: "seconds", samples: lateness.polls == 0 ? [] : [.init([], lateness.p99Ms / 1000)]),
            MetricFamily(
                name: "synx_bus_up", kind: .gauge, help: "1 if the bus's link is connected.",
                samples: buses.map { .init([L("bus", $0.name)], $0.state == .connected ? 1 : 0) }),
            MetricFamily(
                name: "synx_bus_requests", kind: .counter, help: "Modbus requests sent on the bus.",
                samples: buses.map { .init([L("bus", $0.name)], Double($0.requests)) }),
            MetricFamily(
                name: "synx_bus_failed_requests", kind: .counter, help: "Modbus requests on the bus that failed.",
                samples: buses.map { .init([L("bus", $0.name)], Double($0.failures)) }),
            MetricFamily(
                name: "synx_bus_poll_lateness_p99_seconds", kind: .gauge,
                help: "How late the bus's recent polls started: the 99th percentile.", unit: "seconds",
                samples: buses.map { .init([L("bus", $0.name)], $0.pollLatenessP99Ms / 1000) }),
            MetricFamily(
                name: "synx_meter_up", kind: .gauge, help: "1 if the meter answers (online or degraded).",
                samples: meters.map {
                    .init([L("meter", $0.status.name), L("bus", $0.status.bus)], $0.status.state == .online || $0.status.state == .degraded ? 1 : 0)
                }),
            MetricFamily(
                name: "synx_meter_last_poll_age_seconds", kind: .gauge, help: "Time since the meter's last good data.",
                unit: "seconds",
                samples: meters.compactMap { m in m.ageMs.map { .init([L("meter", m.status.name)], Double($0) / 1000) } }),
            MetricFamily(
                name: "synx_meter_polls", kind: .counter, help: "Polls of the meter, by result (ok, failed).",
                samples: meters.flatMap { m in
                    [
                        .init([L("meter", m.status.name), L("result", "ok")], Double(m.status.polls - m.status.failedPolls)),
                        .init([L("meter", m.status.name), L("result", "failed")], Double(m.status.failedPolls)),
                    ]
                }),
            MetricFamily(
                name: "synx_meter_missed_polls", kind: .counter, help: "Poll slots that passed without a poll, by reason.",
                samples: meters.flatMap { m in
                    (m.status.missedPolls ?? [:]).sorted { $0.key < $1.key }.map {
                        .init([L("meter", m.status.name), L("reason", $0.key)], Double($0.value))
                    }
                }),
            MetricFamily(
                name: "synx_meter_invalid_values", kind: .counter, help: "Values stored invalid (implausible), by reason.",
                samples: meters.flatMap { m in
                    (m.status.invalidValues ?? [:]).sorted { $0.key < $1.key }.map {
                        .init([L("meter", m.status.name), L("reason", $0.key)], Double($0.value))
                    }
                }),
        ]
        if let m = mqtt?.statistics {
            out += [
                MetricFamily(
                    name: "synx_mqtt_connected", kind: .gauge, help: "1 if the MQTT broker has synxd's connection.",
                    samples: [.init([], m.connected ? 1 : 0)]),
                MetricFamily(
                    name: "synx_mqtt_published_messages", kind: .counter, help: "MQTT messages handed to the client library.",
                    samples: [.init([], Double(m.published))]),
                MetricFamily(
                    name: "synx_mqtt_unsent_messages", kind: .counter,
                    help: "MQTT messages not sent, by reason (refused by the library, state skipped while the broker lags, alerts dropped while it was away).",
                    samples: [
                        .init([L("reason", "refused")], Double(m.failed)), .init([L("reason", "lagging")], Double(m.skipped)),
                        .init([L("reason", "queue_full")], Double(m.droppedNotices)),
                    ]),
            ]
        }
        // The measurements: one family per quantity, its samples across meters (each name placed once per scrape).
        var byFamily: [String: MetricFamily] = [:]
        var placements: [String: MeasurementMetrics.Placement?] = [:]
        for m in meters {
            for v in m.values.sorted(by: { $0.measurement < $1.measurement }) {
                let placement =
                    placements[v.measurement] ?? {
                        let p = MeasurementMetrics.placement(of: v.measurement)
                        placements[v.measurement] = p
                        return p
                    }()
                guard let p = placement else { continue }
                byFamily[p.family, default: MetricFamily(name: p.family, kind: p.kind, help: p.help, unit: p.unit)]
                    .samples.append(.init([L("meter", m.status.name)] + p.labels, p.conversion.apply(v.value)))
            }
        }
        out += byFamily.keys.sorted().map { byFamily[$0]! }
        return out
    }
}
