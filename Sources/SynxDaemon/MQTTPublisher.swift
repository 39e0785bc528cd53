import Foundation
import Logging
import SynxControl
import SynxHomeAssistant
import SynxMQTT
import SynxMeters
import SynxSystem
import SynxVersion

/// Publishes the meters' values, availability, events and alerts to an MQTT broker (`[mqtt]`, `MQTTTopics`,
/// `docs/integration.md`), and with discovery on announces every meter to Home Assistant.
///
/// One thread of its own at nice +10 runs the connection (libmosquitto, `MQTTClient`) and, every
/// `tickMs`, looks at the registry: a meter polled since its last message gets one state message, a meter whose
/// availability changed gets its availability. Publishing never waits for the broker, so polling and storing go
/// on through any outage. On every (re)connection synxd's status, the discovery, every meter's availability and
/// current state are published again (all retained), so a broker that restarted without persistence is whole
/// again at once. Values polled while the broker was away are not sent later: the store has them.
///
/// Bounds: at most `maxPending` messages handed to the library and not yet delivered (state messages beyond
/// it are skipped, and the meter's next poll is sent when there is room); alerts and events wait in a queue of
/// `maxNotices` (the oldest dropped beyond it) while the broker is away; a connection attempt gets
/// `connectSeconds`, retries back off from 1 s to `maxRetrySeconds`.
final class MQTTPublisher: DaemonPart, @unchecked Sendable {
    let settings: MQTTSettings
    private let registry: MeterRegistry
    private let logger: Logger
    private let limiter = SharedRepeatLimiter(intervalMs: 60_000)
    static let tickMs = 250
    static let maxPending = 1000
    static let maxNotices = 256
    static let connectSeconds: Int64 = 15
    static let maxRetrySeconds: Int64 = 30

    private let lock = NSLock()
    private let wake = NSCondition()
    private var stopping = false
    private var notices: [AlertNotice] = []
    private var counters = MQTTCounters()
    private let finished = DispatchSemaphore(value: 0)
    private var running = false

    // The connection thread's own state.
    private var client: MQTTClient?
    private var linkUp = false
    private var attemptStartedMs: Int64?
    private var nextAttemptMs: Int64 = 0
    private var retrySeconds: Int64 = 1
    private var pending = 0
    /// The connection went down during this pass: its handle is dropped at the end of the pass.
    private var retired = false
    private var downReason: String?
    /// Just connected: status and the bridge's discovery go out again with everything else.
    private var announceAll = false
    /// Per meter: the poll last published, availability last published, the measurement names it provides (the
    /// keys of its state object) and those announced to Home Assistant.
    private var published: [String: PublishedMeter] = [:]

    private struct PublishedMeter {
        var lastPoll: Int64?
        var available: Bool?
        var names: [String] = []
        var announced: Set<String> = []
    }

    init(settings: MQTTSettings, registry: MeterRegistry, logger: Logger) {
        self.settings = settings
        self.registry = registry
        self.logger = logger
    }

    var partName: String { "MQTT publisher" }

    /// Counts for `/metrics`.
    var statistics: MQTTCounters { lock.withLock { counters } }

    /// Checks the options with libmosquitto (options it refuses — a TLS file it cannot use, say — stop synxd from
    /// starting) and starts the connection thread; the broker need not be up.
    func start() throws {
        do {
            _ = try MQTTClient(options: settings.clientOptions)
        } catch {
            throw DaemonError.startup("mqtt: \(error)")
        }
        running = true
        logger.info(
            "mqtt publishing", metadata: ["broker": "\(settings.host):\(settings.port)", "prefix": "\(settings.topics.prefix)"])
        startThread(named: "synx-mqtt", nice: 10) { [self] in
            run()
            finished.signal()
        }
    }

    /// Publishes `offline` on the status topic, disconnects (so the broker does not send the will) and ends the
    /// thread; waits at most `connectSeconds` for it (a name lookup of the broker's host may block that long).
    func stop() {
        guard running else { return }
        wake.withLock {
            stopping = true
            wake.signal()
        }
        if finished.wait(timeout: .now() + .seconds(Int(MQTTPublisher.connectSeconds))) == .timedOut {
            logger.warning("mqtt: the publisher did not stop in time")
        }
        running = false
    }

    /// An alert or event to forward (from any thread); kept while the broker is away, the oldest dropped beyond
    /// `maxNotices`.
    func forward(_ notice: AlertNotice) {
        lock.withLock {
            notices.append(notice)
            if notices.count > MQTTPublisher.maxNotices {
                notices.removeFirst(notices.count - MQTTPublisher.maxNotices)
                counters.droppedNotices += 1
            }
        }
    }

    private var isStopping: Bool { wake.withLock { stopping } }

    private func run() {
        var nextTickMs = monotonicMilliseconds()
        while !isStopping {
            let now = monotonicMilliseconds()
            if client == nil, now >= nextAttemptMs { attempt() }
            if let started = attemptStartedMs, !linkUp, now - started > MQTTPublisher.connectSeconds * 1000 {
                attemptStartedMs = nil  // before disconnect, whose callback would count the failure twice
                client?.disconnect()
                down("no answer within \(MQTTPublisher.connectSeconds) s")
            }
            if let client {
                // Up: until the next tick; coming up: a tick at most, so a connection attempt never spins.
                let wait = linkUp ? max(1, min(MQTTPublisher.tickMs, Int(nextTickMs - now))) : MQTTPublisher.tickMs
                if let failure = client.service(timeoutMs: wait), linkUp || attemptStartedMs != nil {
                    down(failure.description)
                }
            } else {
                // Waiting to retry: wake for the retry or for stop, whichever is first.
                wake.withLock {
                    if !stopping { _ = wake.wait(until: Date() + Double(max(1, min(nextAttemptMs - now, 1000))) / 1000) }
                }
            }
            // A connection that went down is dropped here, never inside one of its own callbacks.
            if retired { (client, retired) = (nil, false) }
            if linkUp, monotonicMilliseconds() >= nextTickMs {
                publishChanges()
                nextTickMs = monotonicMilliseconds() + Int64(MQTTPublisher.tickMs)
            }
        }
        if linkUp {
            // QoS 0: it goes out in order ahead of the DISCONNECT, never held behind unacknowledged messages.
            send(MQTTClient.Message(topic: settings.topics.status, text: "offline", qos: 0, retain: true))
            client?.disconnect()
        }
        client = nil
    }

    /// Starts a connection attempt on a new libmosquitto handle: messages queued on an earlier connection are
    /// dropped with it (current state is published again on connecting), so nothing piles up across a flapping
    /// broker's reconnections, not even what a hostile one left half-acknowledged.
    private func attempt() {
        attemptStartedMs = monotonicMilliseconds()
        do {
            let client = try MQTTClient(options: settings.clientOptions)
            client.onEvent = { [unowned self] event in handle(event) }
            self.client = client
            try client.connect()
        } catch {
            down("\(error)")
        }
    }

    private func handle(_ event: MQTTClient.Event) {
        switch event {
        case .connected:
            linkUp = true
            attemptStartedMs = nil
            retrySeconds = 1
            pending = 0
            announceAll = true
            lock.withLock {
                counters.connections += 1
                counters.connected = true
            }
            logger.info(
                "mqtt connected", metadata: ["broker": "\(settings.host):\(settings.port)", "after": "\(downReason ?? "start")"])
            downReason = nil
            published = published.mapValues { PublishedMeter(names: $0.names) }
            publishChanges()
        case .refused(let reason):
            down("the broker refused the connection: \(reason)")
        case .disconnected(let reason):
            if linkUp || attemptStartedMs != nil { down(reason) }
        case .delivered:
            pending = max(0, pending - 1)
        }
    }

    /// The connection is down (or did not come up): its handle is dropped after this pass, and a new one tried
    /// after the back-off.
    private func down(_ reason: String) {
        let wasUp = linkUp
        linkUp = false
        retired = client != nil
        if !retired { client = nil }
        lock.withLock { counters.connected = false }
        attemptStartedMs = nil
        nextAttemptMs = monotonicMilliseconds() + retrySeconds * 1000
        retrySeconds = min(retrySeconds * 2, MQTTPublisher.maxRetrySeconds)
        if wasUp || downReason == nil {
            logger.warning(
                "mqtt: broker unreachable; polling and storing go on, current state is published again on reconnection",
                metadata: ["broker": "\(settings.host):\(settings.port)", "error": "\(reason)"])
        } else if let line = limiter.admit("retry", "mqtt: still cannot reach the broker") {
            logger.notice("\(line)", metadata: ["error": "\(reason)"])
        }
        downReason = reason
    }

    /// Hands a message to the library; false if it could not take it (counted).
    @discardableResult
    private func send(_ message: MQTTClient.Message) -> Bool {
        // After the connection went down in this pass, nothing more is handed to it.
        guard linkUp, !retired, let client else { return false }
        // Counted first: a QoS 0 message is delivered (and its callback run) inside `publish`.
        pending += 1
        do {
            try client.publish(message)
            lock.withLock { counters.published += 1 }
            return true
        } catch {
            pending -= 1
            lock.withLock { counters.failed += 1 }
            if let line = limiter.admit("publish", "mqtt: cannot publish") {
                logger.warning("\(line)", metadata: ["topic": "\(message.topic)", "error": "\(error)"])
            }
            return false
        }
    }

    private var hasRoom: Bool { pending < MQTTPublisher.maxPending }

    /// What changed since the last tick (or everything, just after connecting): synxd's status, discovery,
    /// availability, state, then the alerts and events waiting.
    private func publishChanges() {
        let topics = settings.topics
        if announceAll {
            announceAll = false
            send(MQTTClient.Message(topic: topics.status, text: "online", qos: 1, retain: true))
            if settings.discovery {
                let bridge = HomeAssistantDiscovery.bridgeConfig(host: settings.clientID, topics: topics, synxVersion: synxVersion)
                send(MQTTClient.Message(topic: bridge.topic, text: bridge.payload, qos: 1, retain: true))
            }
        }
        // Which meters have something to publish, cheaply; then the values of those only.
        let now = monotonicMilliseconds()
        let fresh = registry.freshness(monotonicNow: now)
        let configured = Set(fresh.map(\.meter))
        for gone in published.keys where !configured.contains(gone) { withdraw(gone) }
        let changed = Set(
            fresh.filter { f in
                let p = published[f.meter]
                return p == nil || p!.available != f.current || (f.current && f.lastGoodPoll != p!.lastPoll)
            }.map(\.meter))
        guard !changed.isEmpty else { return publishNotices() }
        for m in registry.metricsSnapshot(monotonicNow: now, of: changed) {
            let name = m.status.name
            var p = published[name] ?? PublishedMeter()
            if p.names.isEmpty, let config = registry.config(of: name), config.source == .registers {
                p.names = Array(Set(config.profile.points.map(\.measurement.name))).sorted()
            }
            let seen = Set(p.names)
            let new = m.values.map(\.measurement).filter { !seen.contains($0) }
            if !new.isEmpty { p.names = (p.names + Set(new)).sorted() }
            if settings.discovery {
                for measurement in p.names where !p.announced.contains(measurement) && hasRoom {
                    guard let catalog = Measurement.named(measurement),
                        let sensor = HomeAssistantDiscovery.sensor(
                            name: measurement, unit: catalog.unit, isCounter: catalog.kind == .counter)
                    else {
                        p.announced.insert(measurement)
                        continue
                    }
                    let device = HomeAssistantDiscovery.Device(meter: name, model: m.status.model)
                    let c = HomeAssistantDiscovery.config(
                        device: device, measurement: measurement, sensor: sensor, topics: topics, synxVersion: synxVersion)
                    if send(MQTTClient.Message(topic: c.topic, text: c.payload, qos: 1, retain: true)) {
                        p.announced.insert(measurement)
                    }
                }
            }
            if p.available != m.current,
                send(MQTTClient.Message(topic: topics.availability(meter: name), text: m.current ? "online" : "offline", qos: 1, retain: true))
            {
                p.available = m.current
            }
            if m.current, let poll = m.status.lastGoodPoll, poll != p.lastPoll {
                if hasRoom {
                    let values = Dictionary(m.values.map { ($0.measurement, $0.value) }, uniquingKeysWith: { a, _ in a })
                    let payload = StatePayload.json(timeMs: poll, values: p.names.map { ($0, values[$0]) })
                    if send(MQTTClient.Message(topic: topics.state(meter: name), text: payload, qos: settings.qos, retain: settings.retain)) {
                        p.lastPoll = poll
                    }
                } else {
                    lock.withLock { counters.skipped += 1 }
                }
            }
            published[name] = p
        }
        publishNotices()
    }

    /// The alerts and events waiting, as far as there is room.
    private func publishNotices() {
        let topics = settings.topics
        let waiting: [AlertNotice] = lock.withLock {
            let n = min(notices.count, max(0, MQTTPublisher.maxPending - pending))
            defer { notices.removeFirst(n) }
            return Array(notices.prefix(n))
        }
        for notice in waiting {
            let isVoltageEvent = notice.kind == AlertKind.voltageEvent.rawValue
            let topic = isVoltageEvent ? topics.event(meter: notice.key) : topics.alerts
            send(MQTTClient.Message(topic: topic, text: MQTTPublisher.payload(notice), qos: settings.qos, retain: false))
        }
    }

    /// A meter removed by a reload: its retained messages are cleared, so Home Assistant drops its device.
    private func withdraw(_ meter: String) {
        // Its topics and sensors need room; without it, the next tick tries again.
        guard let p = published[meter], pending + 2 + p.announced.count <= MQTTPublisher.maxPending else { return }
        published[meter] = nil
        let topics = settings.topics
        for topic in [topics.state(meter: meter), topics.availability(meter: meter)] {
            send(MQTTClient.Message(topic: topic, payload: [], qos: 1, retain: true))
        }
        for measurement in p.announced {
            let topic = HomeAssistantDiscovery.configTopic(meter: meter, measurement: measurement, topics: topics)
            send(MQTTClient.Message(topic: topic, payload: [], qos: 1, retain: true))
        }
    }

    /// An alert or event as JSON: its kind, state, key, message and the journal entry's fields.
    static func payload(_ notice: AlertNotice) -> String {
        let fields = notice.fields.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string("\($0.value)")) }
        return JSONValue.object([
            ("kind", .string(notice.kind)), ("state", .string(notice.state)), ("key", .string(notice.key)),
            ("message", .string(notice.message)), ("time", .number(Double(notice.timeMs))), ("fields", .object(fields)),
        ]).text
    }
}

/// What the MQTT publisher did since synxd started (`/metrics`).
struct MQTTCounters: Sendable {
    /// The broker has the connection now.
    var connected = false
    /// Connections the broker accepted.
    var connections = 0
    /// Messages handed to the library.
    var published = 0
    /// Messages the library would not take.
    var failed = 0
    /// State messages not sent because `maxPending` messages were on their way.
    var skipped = 0
    /// Alerts and events dropped from a full queue while the broker was away.
    var droppedNotices = 0
}
