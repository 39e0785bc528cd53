import Foundation
import Logging
import SynxControl
import SynxMeters
import SynxModbus
import SynxStore
import SynxSystem

/// One bus's meters, their wall-clock schedule and the state of the link, whatever carries the requests
/// (a serial bus thread or the TCP reactor). Used from that one thread only; recording runs on the
/// daemon's recorder queue.
///
/// A meter that fails is marked offline or degraded with the reason and *isolated*: it is retried with
/// backoff, and each retry is a probe that fits in the time left before the next healthy meter's slot (no
/// retries, a shortened timeout), so a dead or late unit never takes its neighbours' slots (docs/configuration.md,
/// "What a failing unit costs its neighbours"). Every slot that passes without a poll is stored as `missing`
/// and counted with its reason. A link that cannot be opened puts the whole bus in backoff: its meters are
/// reported offline at once instead of each waiting for a connect timeout.
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
    /// Steps of the wall clock, which every schedule on the bus follows at once.
    private var clock = ClockStepDetector()

    /// Kept free before a healthy meter's slot, for the probe's own bookkeeping and the frame gap.
    static let probeMarginMs = 20
    /// The shortest probe worth sending (a device that answers at all answers sooner).
    static let minimumProbeMs = 100
    /// An isolated meter that never finds room beside its healthy neighbours is still probed with the full
    /// timeout this often, so a meter that comes back on a saturated bus is seen (costing at most one slot).
    static let forcedProbeIntervalMs: Int64 = 300_000
    /// Whether a timeout is followed by a quiet interval as long as the timeout (RTU framing: a late reply must
    /// arrive and be dropped before the next request), which a probe's room must also hold.
    let quietAfterTimeout: Bool

    init(
        config: BusConfig, endpoint: String, meters: [MeterConfig], registry: MeterRegistry, writer: StoreWriter,
        recorder: Recorder, alerts: AlertCenter, logger: Logger, quietAfterTimeout: Bool
    ) {
        self.config = config
        self.quietAfterTimeout = quietAfterTimeout
        self.alerts = alerts
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

    /// The meter whose poll is due first; healthy meters go before isolated ones due at the same time.
    var nextMeter: MeterSchedule? { nextMeter(excluding: []) }

    /// The meter whose poll is due first among those not in `running` (cycles under way, by identity).
    func nextMeter(excluding running: Set<ObjectIdentifier>) -> MeterSchedule? {
        schedules.filter { !running.contains(ObjectIdentifier($0)) }
            .min { ($0.nextDue, $0.isIsolated ? 1 : 0) < ($1.nextDue, $1.isIsolated ? 1 : 0) }
    }

    /// Re-anchors every schedule of the bus to the wall clock if it stepped (either way) since the last look: each
    /// meter's next slot becomes the first after now, slow registers included, so no meter waits out the step
    /// (an hour back) or polls through the slots it skipped (years forward). Returns whether it stepped.
    @discardableResult
    func followClock() -> Bool {
        guard let step = clock.check() else { return false }
        let now = wallClockNow()
        for m in schedules { m.reanchor(now: now) }
        linkRetryAt = min(linkRetryAt, now + linkBackoffMs)
        logger.notice("wall clock stepped: schedules re-anchored", metadata: ["step_ms": "\(step)"])
        return true
    }

    /// Starts a poll of `m` now, recording how late it starts; nil if `m` is isolated and there is no room
    /// for a probe before a healthy neighbour's slot (the slot is then recorded as missed and skipped), or if the
    /// wall clock stepped (the schedules were re-anchored: ask `nextMeter` again). With `spareLane` (a gateway
    /// with `max_in_flight` that keeps another request slot free for the healthy meters) a probe of an isolated
    /// meter needs no room: it takes the bus's whole timeout, without retries.
    func begin(_ m: MeterSchedule, spareLane: Bool = false) -> PollCycle? {
        if followClock() { return nil }
        // A timer may fire a millisecond before its slot (the slot becomes a monotonic deadline from two clock
        // readings): the poll is stamped no earlier than its slot, or it would count in the interval before.
        let start = max(wallClockNow(), m.nextDue)
        var retries = config.timing.retries
        var timeout = config.timing.timeoutMilliseconds
        if !m.isIsolated && !spareLane && !quietAfterTimeout {
            // Behind a Modbus/TCP gateway (no CRC errors: a retry there answers a timeout) a retry is sent only if
            // it fits before the next healthy neighbour's slot: a unit that stops answering costs its neighbours
            // one attempt, not 1 + retries; without the retry the failure is recorded at once, the unit isolated
            // and probed in the room its neighbours leave. A serial line keeps its retries: they answer CRC errors
            // of a noisy line, which cost one exchange, and its isolated units are probed far less often.
            retries = min(retries, max(0, roomBeforeHealthyNeighbour(of: m, now: start) / attemptMilliseconds - 1))
        }
        if m.isIsolated && spareLane {
            (retries, timeout) = (0, config.timing.timeoutMilliseconds)
            m.lastProbe = start
        } else if m.isIsolated {
            guard let probe = probeTimeout(m, now: start) else {
                skip(m, reason: .noRoom, now: start)
                return nil
            }
            (retries, timeout) = (0, probe)
        }
        // A poll that starts a whole interval or more after its slot (the bus was busy) belongs to the slot it
        // starts in: the slots before are stored missing, so every slot has one row and no poll counts twice.
        let interval = Int64(m.config.pollIntervalMs)
        if start - m.nextDue >= interval {
            let current = start - (start - m.nextDue) % interval
            recordMissed(
                m,
                slots: Array(
                    stride(from: m.nextDue, to: current, by: Int(interval)).prefix(MeterSchedule.maxMissingRowsPerGap)),
                reason: .busy)
            m.nextDue = current
        }
        let lateness = start - m.nextDue
        registry.recordTiming(
            bus: config.name, lateness: Double(lateness), jitter: m.lastLateness.map { Double(abs(lateness - $0)) })
        m.lastLateness = lateness
        let linkDown = start < linkRetryAt ? linkError : nil
        // The slot decides, not the clock: a timer may fire a millisecond before the slot it serves.
        return PollCycle(
            meter: m, start: start, slot: m.nextDue, anchor: m.anchor, includesSlow: m.nextDue >= m.nextSlowDue,
            timeoutMilliseconds: timeout, retries: retries, linkDown: linkDown)
    }

    /// What one attempt can hold a Modbus/TCP gateway for: the timeout and the frame gap.
    private var attemptMilliseconds: Int { config.timing.timeoutMilliseconds + config.timing.frameGapMilliseconds }

    /// Whether one commissioning read of `count` registers (or bits) of `table` fits before the next poll, due at
    /// `due` (nil: no meter on the bus): one attempt (the bus's timeout), the frame gap before it and after it, the
    /// probe margin, and on a serial line the request's and the longest reply's time on the wire; on RTU framing
    /// also the quiet interval after a timeout, so that a late reply cannot fall into the poll's exchange (as for a
    /// probe).
    func hasRoomForCommissioning(before due: Int64?, now: Int64, count: Int, table: RegisterTable) -> Bool {
        guard let due else { return true }
        let quiet = quietAfterTimeout ? config.timing.timeoutMilliseconds : 0
        var wire = 0
        if case .rtu(let serial) = config.link {
            // 8 request bytes; a reply of 5 bytes and the data; each character start, data, parity and stop bits.
            let bytes = 8 + 5 + (table.holdsBits ? (count + 7) / 8 : 2 * count)
            let bitsPerCharacter = 1 + serial.dataBits + (serial.parity == "N" ? 0 : 1) + serial.stopBits
            wire = (bytes * bitsPerCharacter * 1000 + serial.baud - 1) / max(serial.baud, 1)
        }
        let needed = attemptMilliseconds + config.timing.frameGapMilliseconds + wire + quiet
        return Int(clamping: due - now) - BusState.probeMarginMs >= needed
    }

    /// Milliseconds from `now` to the next slot of a healthy meter other than `m`, less the probe margin
    /// (`Int.max` when there is none).
    private func roomBeforeHealthyNeighbour(of m: MeterSchedule, now: Int64) -> Int {
        guard let healthy = schedules.filter({ !$0.isIsolated && $0 !== m }).map(\.nextDue).min() else { return .max }
        return Int(clamping: healthy - now) - BusState.probeMarginMs
    }

    /// The timeout of a probe of isolated meter `m` (one attempt, no retries) if one fits before the next healthy
    /// meter's slot, else nil. On RTU framing a probe needs room for the bus's whole timeout and the quiet interval
    /// after it, so that its late reply cannot fall into a neighbour's exchange; with MBAP (replies matched on
    /// transaction ids) a late reply is harmless, so the probe's timeout shrinks to the room (at least
    /// `minimumProbeMs`). Every `forcedProbeIntervalMs` a probe of the full timeout goes out whatever the room.
    private func probeTimeout(_ m: MeterSchedule, now: Int64) -> Int? {
        let full = config.timing.timeoutMilliseconds
        if now - m.lastProbe >= BusState.forcedProbeIntervalMs {
            m.lastProbe = now
            return full
        }
        var timeout = full
        if let healthy = schedules.filter({ !$0.isIsolated && $0 !== m }).map(\.nextDue).min() {
            let room = Int(clamping: healthy - now) - BusState.probeMarginMs - config.timing.frameGapMilliseconds
            if quietAfterTimeout {
                guard room >= 2 * full else { return nil }
            } else {
                timeout = min(full, room)
                guard timeout >= BusState.minimumProbeMs else { return nil }
            }
        }
        m.lastProbe = now
        return timeout
    }

    /// Skips the slot of isolated meter `m` without polling it.
    private func skip(_ m: MeterSchedule, reason: MissedReason, now: Int64) {
        let interval = Int64(m.config.pollIntervalMs)
        let missed = m.nextDue
        m.nextDue = alignedAfter(max(missed, now), interval: interval, phase: m.phase)
        recordMissed(
            m,
            slots: Array(
                stride(from: missed, to: m.nextDue, by: Int(interval)).prefix(MeterSchedule.maxMissingRowsPerGap)),
            reason: reason)
    }

    /// Stores `missing` rows for slots that passed without a poll and counts them.
    private func recordMissed(_ m: MeterSchedule, slots: [Int64], reason: MissedReason) {
        guard !slots.isEmpty else { return }
        let points = (m.profile?.points ?? []).filter { $0.rate == .fast }
        let stored = slots.prefix(MeterSchedule.maxMissingRowsPerGap)  // a stride of at most 10 s of slots in practice
        recorder.async { [self] in
            var rows: [SampleRow] = []
            rows.reserveCapacity(points.count * stored.count)
            for t in stored {
                for p in points {
                    rows.append(
                        SampleRow(
                            meter: m.config.name, measurement: p.measurement.name, unit: p.measurement.unit,
                            time: t, value: nil, quality: .missing))
                }
            }
            if !rows.isEmpty { writer.enqueue(rows) }
            registry.recordMissed(meter: m.config.name, reason: reason.rawValue, count: slots.count)
        }
    }

    /// Ends a poll: updates the link state and the meter's schedule at once, and hands the decoding,
    /// storing and publishing to the recorder queue, so the next poll on this bus starts without waiting.
    func finish(_ cycle: PollCycle, strayFrames: Int) {
        let m = cycle.meter
        followClock()  // a step during the poll re-anchors first: its skipped slots are not missed polls
        noteLink(cycle, strayFrames: strayFrames)
        let state: MeterState = cycle.failures.isEmpty ? .online : (cycle.image.isEmpty ? .offline : .degraded)
        let missed = m.advance(
            slot: cycle.slot, start: cycle.start, anchor: cycle.anchor, includesSlow: cycle.includesSlow,
            failed: state == .offline)
        let points = (m.profile?.points ?? []).filter { $0.rate == .fast || cycle.includesSlow }
        let reason = cycle.failures.first.map { describe($0, meter: m) }
        let (image, start, model) = (cycle.image, cycle.start, m.profile?.model)
        // In time order, as a series' times only grow: slots the late poll's start passed, its rows, then the
        // slots a backoff skips.
        recordMissed(m, slots: missed.slots.filter { $0 < start }, reason: missed.reason)
        recorder.async { [self] in
            record(m, points: points, image: image, start: start, state: state, reason: reason, model: model)
        }
        recordMissed(m, slots: missed.slots.filter { $0 >= start }, reason: missed.reason)
    }

    private func record(
        _ m: MeterSchedule, points: [RegisterPoint], image: RegisterImage, start: Int64, state: MeterState,
        reason: String?, model: String?
    ) {
        var rows: [SampleRow] = []
        var live: [LiveValue] = []
        var decoded: [(point: RegisterPoint, value: Double)] = []
        var invalid: [String] = []
        rows.reserveCapacity(points.count)
        for p in points {
            let value: Double?
            let quality: SampleQuality
            switch image.reading(of: p, plausible: m.plausibleRange(of: p)) {
            case .value(let v):
                (value, quality) = (v, .good)
                live.append(LiveValue(measurement: p.measurement.name, value: v, unit: p.measurement.unit, time: start))
                decoded.append((p, v))
            case .invalid(let why):
                (value, quality) = (nil, .invalid)
                invalid.append(why)
            case .unread: (value, quality) = (nil, .missing)
            case .notImplemented: continue
            }
            rows.append(
                SampleRow(
                    meter: m.config.name, measurement: p.measurement.name, unit: p.measurement.unit,
                    time: start, value: value, quality: quality))
        }
        writer.enqueue(rows)
        let derived = m.derived.add(decoded, time: start)
        if !derived.isEmpty { writer.enqueue(records: StoreRecords(derived: derived)) }
        // A value no meter can measure makes the poll degraded, with the reasons counted (never stored as good).
        var (state, reason) = (state, reason)
        if !invalid.isEmpty {
            if state == .online { state = .degraded }
            let extra = invalid.count > 1 ? " (and \(invalid.count - 1) more)" : ""
            reason = reason ?? "implausible value: \(invalid[0])\(extra)"
        }
        let previous = registry.recordPoll(
            meter: m.config.name, state: state, error: reason, values: live, time: start,
            model: model, invalid: invalid)
        logTransition(m, from: previous, to: state, reason: reason)
        let excursions = alerts.evaluate(meter: m.config, values: live, time: start)
        if !excursions.isEmpty { writer.enqueue(records: StoreRecords(events: excursions)) }
    }

    /// Tracks the link: a connection failure puts the bus in backoff; any answer clears it.
    private func noteLink(_ cycle: PollCycle, strayFrames: Int) {
        if let failure = cycle.failures.first(where: \.isConnectionFailure) {
            let now = wallClockNow()
            if linkError == nil || now >= linkRetryAt {
                linkBackoffMs = min(max(linkBackoffMs * 2, 500), MeterSchedule.maxBackoffMs)
                linkRetryAt = now + linkBackoffMs
            }
            linkError = failure
        } else if cycle.requests > 0 {
            linkError = nil
            linkBackoffMs = 0
        }
        registry.recordBus(
            config.name, connected: linkError == nil && cycle.requests > 0, error: linkError?.reason,
            requests: cycle.requests, failures: cycle.failures.count, strayFrames: strayFrames)
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
            alerts.raise(
                .meterOffline, key: m.config.name, message: "meter \(m.config.name) offline: \(reason ?? "no answer")",
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
