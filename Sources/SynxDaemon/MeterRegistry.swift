import Foundation
import SynxControl
import SynxMeters
import SynxSystem

/// The daemon's in-memory view of every meter and bus: state, last error, latest values and counters.
/// Written by the bus threads, read by the control server; one lock, held briefly.
final class MeterRegistry: @unchecked Sendable {
    struct MeterEntry {
        var config: MeterConfig
        var model: String
        var state: MeterState = .unknown
        var lastError: String?
        var lastGoodPoll: Int64?
        /// The monotonic clock at the last good poll: how old data is does not change when the wall clock steps.
        var lastGoodMonotonic: Int64?
        var polls = 0
        var failedPolls = 0
        var values: [String: LiveValue] = [:]
        /// Slots that passed without a poll, by reason; values stored `invalid`, by reason (a small fixed set
        /// of reasons per meter: the measurement and the rule, never the value).
        var missedPolls: [String: Int] = [:]
        var invalidValues: [String: Int] = [:]
        /// The measurements its profile reads at the slow rate (worked out once, for the stale rules).
        var slowMeasurements: Set<String> = []
    }

    struct BusEntry {
        var config: BusConfig
        var endpoint: String
        var state = LinkState.disconnected
        var lastError: String?
        var requests = 0
        var failures = 0
        /// Frames (or bursts of bytes) that arrived when no reply was awaited, or did not match the request in
        /// flight, and were dropped.
        var strayFrames = 0
        /// How late the last polls started against their wall-clock slot (ms), and how much that changed
        /// from one poll of a meter to its next (ms).
        var lateness = Ring(capacity: MeterRegistry.timingWindow)
        var jitter = Ring(capacity: MeterRegistry.timingWindow)
    }

    private let lock = NSLock()
    private var meters: [String: MeterEntry] = [:]
    private var meterOrder: [String] = []
    private var buses: [String: BusEntry] = [:]
    private var busOrder: [String] = []
    private var clockStep: ClockStepStatus?
    static let timingWindow = 4096
    /// Polls of every bus kept for `status`'s lateness summary.
    static let fleetTimingWindow = 65_536
    private var allLateness = Ring(capacity: MeterRegistry.fleetTimingWindow)

    /// Notes a step of the wall clock (shown by `status`).
    func recordClockStep(stepMs: Int64, detectedMs: Int64) {
        lock.withLock {
            clockStep = ClockStepStatus(detectedAt: detectedMs, stepMs: stepMs, count: (clockStep?.count ?? 0) + 1)
        }
    }

    var lastClockStep: ClockStepStatus? { lock.withLock { clockStep } }

    /// Adds a bus, or replaces one of the same name (configuration reload) keeping its place in the order.
    func register(bus: BusConfig, endpoint: String) {
        lock.withLock {
            if buses[bus.name] == nil { busOrder.append(bus.name) }
            buses[bus.name] = BusEntry(config: bus, endpoint: endpoint)
        }
    }

    func register(meter: MeterConfig) {
        lock.withLock {
            if meters[meter.name] == nil { meterOrder.append(meter.name) }
            var entry = MeterEntry(config: meter, model: meter.profile.model)
            entry.slowMeasurements = Set(meter.profile.points.filter { $0.rate == .slow }.map(\.measurement.name))
            meters[meter.name] = entry
        }
    }

    /// Forgets a bus and the meters on it (configuration reload removed or changed it).
    func unregister(bus name: String) {
        lock.withLock {
            buses[name] = nil
            busOrder.removeAll { $0 == name }
            let gone = Set(meters.values.filter { $0.config.bus == name }.map(\.config.name))
            for m in gone { meters[m] = nil }
            meterOrder.removeAll { gone.contains($0) }
        }
    }

    /// Meters that answer (online or degraded) but whose last good data is older than three poll intervals and
    /// at least 5 s: a schedule or a stream that stopped advancing. Name and age (ms); `now` is monotonic.
    func staleMeters(monotonicNow now: Int64) -> [(name: String, ageMs: Int64)] {
        lock.withLock {
            meterOrder.compactMap { name in
                guard let m = meters[name], m.state == .online || m.state == .degraded, let last = m.lastGoodMonotonic
                else { return nil }
                let age = now - last
                return age > max(3 * Int64(m.config.pollIntervalMs), 5000) ? (name, age) : nil
            }
        }
    }

    var meterNames: [String] { lock.withLock { meterOrder } }

    /// Meters counted by state, for the service status line.
    func stateCounts() -> (meters: Int, offline: Int, degraded: Int) {
        lock.withLock {
            (
                meters.count, meters.values.filter { $0.state == .offline }.count,
                meters.values.filter { $0.state == .degraded }.count
            )
        }
    }

    /// Records the outcome of one poll. Returns the previous state, so the caller can log transitions.
    @discardableResult
    func recordPoll(
        meter: String, state: MeterState, error: String?, values: [LiveValue], time: Int64, model: String?,
        invalid: [String] = [], received: Int64 = monotonicMilliseconds()
    ) -> MeterState {
        lock.withLock {
            guard var m = meters[meter] else { return .unknown }
            let previous = m.state
            m.polls += 1
            m.state = state
            m.lastError = error
            if let model { m.model = model }
            if state == .offline {
                m.failedPolls += 1
            } else if state == .online || !values.isEmpty {
                m.lastGoodPoll = time
                m.lastGoodMonotonic = received
            }
            for v in values { m.values[v.measurement] = v }
            for reason in invalid { m.invalidValues[reason, default: 0] += 1 }
            meters[meter] = m
            return previous
        }
    }

    /// Counts `count` slots of `meter` that passed without a poll.
    func recordMissed(meter: String, reason: String, count: Int) {
        lock.withLock { meters[meter]?.missedPolls[reason, default: 0] += count }
    }

    func recordBus(_ bus: String, connected: Bool, error: String?, requests: Int, failures: Int, strayFrames: Int = 0) {
        lock.withLock {
            guard var b = buses[bus] else { return }
            b.strayFrames += strayFrames
            b.state = connected ? .connected : (error == nil ? .disconnected : .error)
            b.lastError = error
            b.requests += requests
            b.failures += failures
            buses[bus] = b
        }
    }

    func recordTiming(bus: String, lateness: Double, jitter: Double?) {
        lock.withLock {
            buses[bus]?.lateness.append(lateness)
            if let jitter { buses[bus]?.jitter.append(jitter) }
            allLateness.append(lateness)
        }
    }

    /// How late the last `MeterRegistry.fleetTimingWindow` polls of every bus started.
    func latenessSummary() -> LatenessSummary {
        let values = lock.withLock { allLateness.values }.sorted()
        return LatenessSummary(
            polls: values.count, p50Ms: quantile(sorted: values, 0.5), p99Ms: quantile(sorted: values, 0.99),
            maxMs: values.last ?? 0)
    }

    func meterStatuses() -> [MeterStatus] {
        lock.withLock { meterOrder.compactMap { meters[$0].map(Self.status) } }
    }

    /// The buses (all, or those `including` says), in configuration order. Their timing is copied under the lock
    /// and its percentiles computed outside it, so a status of thousands of buses never holds up the pollers.
    func busStatuses(including: (_ state: LinkState) -> Bool = { _ in true }) -> [BusStatus] {
        let copies = lock.withLock {
            busOrder.compactMap { name in buses[name].flatMap { including($0.state) ? (name, $0) : nil } }
        }
        return copies.map { name, b in
            BusStatus(
                name: name, endpoint: b.endpoint, state: b.state, lastError: b.lastError,
                requests: b.requests, failures: b.failures,
                pollLatenessP99Ms: percentile(b.lateness.values, 0.99),
                pollJitterP99Ms: percentile(b.jitter.values, 0.99),
                strayFrames: b.strayFrames)
        }
    }

    /// How many buses are in each state.
    func busCounts() -> [String: Int] {
        lock.withLock { Dictionary(grouping: buses.values, by: \.state.rawValue).mapValues(\.count) }
    }

    func live(meter: String) -> LiveValues? {
        lock.withLock {
            meters[meter].map { m in
                LiveValues(
                    meter: meter, state: m.state, values: m.values.values.sorted { $0.measurement < $1.measurement })
            }
        }
    }

    func hasMeter(_ name: String) -> Bool { lock.withLock { meters[name] != nil } }

    /// One meter as `/metrics` shows it: its status, how long ago (monotonic ms) its last good data came, and
    /// its values that are current — none when the meter is offline or its data is older than three poll
    /// intervals (and 5 s); of a polled meter, none that its polls have not refreshed in three of their own
    /// intervals (fast or slow rate: a register read invalid keeps its last good value in the live table, but not
    /// on the page). A waveform meter's values are all refreshed together, stamped by the device's clock, so only
    /// the meter's age applies. Prometheus leaves a value out rather than repeat a stale one.
    struct MeterMetrics {
        var status: MeterStatus
        var ageMs: Int64?
        /// The meter answers and its data is within three poll intervals (and 5 s).
        var current: Bool
        var values: [LiveValue]
    }

    /// Every meter in configuration order for `/metrics` (only those in `names`, if given); `now` is monotonic. The
    /// entries are copied under the lock (their value tables are copied on write), and filtered outside it.
    func metricsSnapshot(monotonicNow now: Int64, of names: Set<String>? = nil) -> [MeterMetrics] {
        let entries = lock.withLock { meterOrder.compactMap { names?.contains($0) == false ? nil : meters[$0] } }
        return entries.map { m in
            let age = m.lastGoodMonotonic.map { now - $0 }
            guard MeterRegistry.isCurrent(m, ageMs: age) else {
                return MeterMetrics(status: MeterRegistry.status(m), ageMs: age, current: false, values: [])
            }
            var values = Array(m.values.values)
            if m.config.source == .registers, let last = m.lastGoodPoll {
                values.removeAll { v in
                    let slow = m.slowMeasurements.contains(v.measurement)
                    return v.time < last - 3 * Int64(slow ? m.config.slowPollIntervalMs : m.config.pollIntervalMs)
                }
            }
            return MeterMetrics(status: MeterRegistry.status(m), ageMs: age, current: true, values: values)
        }
    }

    /// Each meter in configuration order: its last good poll (UTC ms) and whether its data is current (as
    /// `MeterMetrics.current`); cheap enough to ask four times a second (the MQTT publisher does).
    func freshness(monotonicNow now: Int64) -> [(meter: String, lastGoodPoll: Int64?, current: Bool)] {
        lock.withLock {
            meterOrder.compactMap { name in
                meters[name].map { m in
                    (name, m.lastGoodPoll, MeterRegistry.isCurrent(m, ageMs: m.lastGoodMonotonic.map { now - $0 }))
                }
            }
        }
    }

    /// The meter answers and its data is within three poll intervals (and 5 s).
    private static func isCurrent(_ m: MeterEntry, ageMs: Int64?) -> Bool {
        (m.state == .online || m.state == .degraded)
            && (ageMs.map { $0 <= max(3 * Int64(m.config.pollIntervalMs), 5000) } ?? false)
    }

    /// The configuration of the meter `name`, if there is one.
    func config(of name: String) -> MeterConfig? { lock.withLock { meters[name]?.config } }

    private static func status(_ m: MeterEntry) -> MeterStatus {
        MeterStatus(
            name: m.config.name, bus: m.config.bus, unit: Int(m.config.unit), profile: m.config.profile.name,
            model: m.model, state: m.state, lastError: m.lastError, lastGoodPoll: m.lastGoodPoll,
            pollIntervalMs: m.config.pollIntervalMs, polls: m.polls, failedPolls: m.failedPolls,
            missedPolls: m.missedPolls, invalidValues: m.invalidValues,
            pollPhaseMs: m.config.pollPhaseMs > 0 ? m.config.pollPhaseMs : nil)
    }
}

/// The `q` quantile of `values` (nearest rank); 0 for none.
func percentile(_ values: [Double], _ q: Double) -> Double { quantile(sorted: values.sorted(), q) }

/// The `q` quantile (nearest rank) of values sorted ascending; 0 for none.
func quantile(sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// The last `capacity` values of a series.
struct Ring {
    let capacity: Int
    private(set) var values: [Double] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ v: Double) {
        if values.count < capacity { values.append(v) } else { values[next] = v }
        next = (next + 1) % capacity
    }
}
