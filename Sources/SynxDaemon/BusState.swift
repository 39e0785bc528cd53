import Foundation
import Logging
import SynxControl
import SynxMeters
import SynxModbus
import SynxStore

/// One bus's meters, their wall-clock schedule and the state of the link, whatever carries the requests
/// (a serial bus thread or the TCP reactor). Used from that one thread only; recording runs on the
/// daemon's recorder queue.
///
/// A meter that fails is marked offline or degraded with the reason and retried with backoff, so a dead
/// meter costs its neighbours at most one timeout per retry. A link that cannot be opened puts the whole
/// bus in backoff: its meters are reported offline at once instead of each waiting for a connect timeout.
final class BusState {
    let config: BusConfig
    let schedules: [MeterSchedule]
    private let registry: MeterRegistry
    private let writer: StoreWriter
    /// Where polls are decoded and recorded, off the thread that polls.
    private let recorder: Recorder
    private let logger: Logger
    private let alerts: AlertCenter
    /// Wall-clock ms before which the link is not retried, and why it is down.
    private var linkRetryAt: Int64 = 0
    private var linkBackoffMs: Int64 = 0
    private var linkError: ModbusError?

    static let maxBackoffMs: Int64 = 10_000

    /// Fault injection for the watchdog tests: with SYNXD_TEST_STALL_BUS naming this bus, the thread polling
    /// it hangs in its first request, as a driver call that never returns would.
    let hangsForTesting: Bool

    /// Blocks the calling thread for good (see `hangsForTesting`).
    func hangForTesting() -> Never {
        logger.warning("SYNXD_TEST_STALL_BUS: hanging this bus's thread on purpose")
        while true { sleep(3600) }
    }

    init(config: BusConfig, endpoint: String, meters: [MeterConfig], registry: MeterRegistry, writer: StoreWriter,
         recorder: Recorder, alerts: AlertCenter, logger: Logger) {
        self.config = config
        self.alerts = alerts
        hangsForTesting = ProcessInfo.processInfo.environment["SYNXD_TEST_STALL_BUS"] == config.name
        let now = wallClockNow()
        schedules = meters.map { MeterSchedule(config: $0, now: now) }
        self.registry = registry
        self.writer = writer
        self.recorder = recorder
        var logger = logger
        logger[metadataKey: "bus"] = "\(config.name)"
        self.logger = logger
        registry.register(bus: config, endpoint: endpoint)
        meters.forEach(registry.register(meter:))
    }

    /// The meter whose poll is due first.
    var nextMeter: MeterSchedule? { schedules.min { $0.nextDue < $1.nextDue } }

    /// Starts a poll of `m` now, recording how late it starts.
    func begin(_ m: MeterSchedule) -> PollCycle {
        let start = wallClockNow()
        let lateness = start - m.nextDue
        registry.recordTiming(bus: config.name, lateness: Double(lateness), jitter: m.lastLateness.map { Double(abs(lateness - $0)) })
        m.lastLateness = lateness
        let linkDown = start < linkRetryAt ? linkError : nil
        // The slot decides, not the clock: a timer may fire a millisecond before the slot it serves.
        return PollCycle(meter: m, start: start, includesSlow: m.nextDue >= m.nextSlowDue, linkDown: linkDown)
    }

    /// Ends a poll: updates the link state and the meter's schedule at once, and hands the decoding,
    /// storing and publishing to the recorder queue, so the next poll on this bus starts without waiting.
    func finish(_ cycle: PollCycle) {
        let m = cycle.meter
        noteLink(cycle)
        let state: MeterState = cycle.failures.isEmpty ? .online : (cycle.image.isEmpty ? .offline : .degraded)
        m.advance(after: cycle.start, failed: state == .offline, includedSlow: cycle.includesSlow)
        let points = (m.profile?.points ?? []).filter { $0.rate == .fast || cycle.includesSlow }
        let reason = cycle.failures.first.map { describe($0, meter: m) }
        let (image, start, model) = (cycle.image, cycle.start, m.profile?.model)
        recorder.async { [self] in record(m, points: points, image: image, start: start, state: state, reason: reason, model: model) }
    }

    private func record(_ m: MeterSchedule, points: [RegisterPoint], image: RegisterImage, start: Int64, state: MeterState,
                        reason: String?, model: String?) {
        var rows: [SampleRow] = []
        var live: [LiveValue] = []
        var decoded: [(point: RegisterPoint, value: Double)] = []
        rows.reserveCapacity(points.count)
        for p in points {
            let value: Double?, quality: SampleQuality
            switch image.reading(of: p) {
            case .value(let v):
                (value, quality) = (v, .good)
                live.append(LiveValue(measurement: p.measurement.name, value: v, unit: p.measurement.unit, time: start))
                decoded.append((p, v))
            case .invalid: (value, quality) = (nil, .invalid)
            case .unread: (value, quality) = (nil, .missing)
            case .notImplemented: continue
            }
            rows.append(SampleRow(meter: m.config.name, measurement: p.measurement.name, unit: p.measurement.unit,
                                  time: start, value: value, quality: quality))
        }
        writer.enqueue(rows)
        let derived = m.derived.add(decoded, time: start)
        if !derived.isEmpty { writer.enqueue(records: StoreRecords(derived: derived)) }
        let previous = registry.recordPoll(meter: m.config.name, state: state, error: reason, values: live, time: start, model: model)
        logTransition(m, from: previous, to: state, reason: reason)
        let excursions = alerts.evaluate(meter: m.config, values: live, time: start)
        if !excursions.isEmpty { writer.enqueue(records: StoreRecords(events: excursions)) }
    }

    /// Tracks the link: a connection failure puts the bus in backoff; any answer clears it.
    private func noteLink(_ cycle: PollCycle) {
        if let failure = cycle.failures.first(where: \.isConnectionFailure) {
            let now = wallClockNow()
            if linkError == nil || now >= linkRetryAt {
                linkBackoffMs = min(max(linkBackoffMs * 2, 500), BusState.maxBackoffMs)
                linkRetryAt = now + linkBackoffMs
            }
            linkError = failure
        } else if cycle.requests > 0 {
            linkError = nil
            linkBackoffMs = 0
        }
        registry.recordBus(config.name, connected: linkError == nil && cycle.requests > 0, error: linkError?.reason,
                           requests: cycle.requests, failures: cycle.failures.count)
    }

    private func describe(_ error: ModbusError, meter: MeterSchedule) -> String {
        if case .exception(2) = error.kind {
            return "\(error) — the device has no such register; check profile \"\(meter.config.profile.name)\""
        }
        return error.description
    }

    private func logTransition(_ m: MeterSchedule, from previous: MeterState, to state: MeterState, reason: String?) {
        guard previous != state else { return }
        var meta: Logger.Metadata = ["meter": "\(m.config.name)", "unit": "\(m.config.unit)"]
        if let reason { meta["reason"] = "\(reason)" }
        switch state {
        case .offline:
            alerts.raise(.meterOffline, key: m.config.name, message: "meter \(m.config.name) offline: \(reason ?? "no answer")",
                         fields: meta.merging(["bus": "\(config.name)"]) { $1 })
        case .degraded: logger.warning("meter degraded", metadata: meta)
        case .online where previous == .offline:
            alerts.clear(.meterOffline, key: m.config.name, message: "meter \(m.config.name) back online")
        case .online where previous != .unknown: logger.notice("meter back online", metadata: meta)
        case .online: logger.info("meter online", metadata: meta)
        case .unknown: break
        }
    }
}

/// One meter's place in its bus's schedule and its resolved register map.
final class MeterSchedule {
    let config: MeterConfig
    /// Wall-clock ms of the next poll, and of the next poll that includes slow registers.
    var nextDue: Int64
    var nextSlowDue: Int64
    var consecutiveFailures = 0
    /// How late the previous poll started (ms); jitter is the change of it from poll to poll.
    var lastLateness: Int64?
    /// The register map, once known (SunSpec meters learn theirs by discovery), and its reads.
    private(set) var profile: MeterProfile?
    private(set) var plans: (fast: ReadPlan, slow: ReadPlan)?
    /// The meter-derived 3-s, 10-min and 2-h aggregates of its polled values (used on the recorder thread).
    let derived: DerivedAggregator

    init(config: MeterConfig, now: Int64) {
        self.config = config
        derived = DerivedAggregator(meter: config)
        nextDue = alignedAfter(now, interval: Int64(config.pollIntervalMs))
        nextSlowDue = nextDue
        if config.profile.discovery == .fixed { setProfile(config.profile) }
    }

    func setProfile(_ p: MeterProfile) {
        profile = p
        plans = (ReadPlan(points: p.points.filter { $0.rate == .fast }, mergeGap: p.mergeGap),
                 ReadPlan(points: p.points.filter { $0.rate == .slow }, mergeGap: p.mergeGap))
    }

    /// Moves to the next slot after a poll that started at `start`, backing off after failures.
    func advance(after start: Int64, failed: Bool, includedSlow: Bool) {
        let interval = Int64(config.pollIntervalMs)
        consecutiveFailures = failed ? consecutiveFailures + 1 : 0
        var delay = interval
        if consecutiveFailures > 1 {
            let cap = max(interval, BusState.maxBackoffMs)
            delay = min(interval << min(consecutiveFailures - 1, 16), cap)
        }
        let now = wallClockNow()
        nextDue = alignedAfter(max(start + delay - interval, now), interval: interval)
        if includedSlow { nextSlowDue = alignedAfter(now, interval: Int64(config.slowPollIntervalMs)) }
    }
}

/// The first multiple of `interval` strictly after `t` (so a 1 s meter polls at whole seconds).
func alignedAfter(_ t: Int64, interval: Int64) -> Int64 { (t / interval + 1) * interval }
