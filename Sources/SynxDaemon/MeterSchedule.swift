import SynxMeters
import SynxSystem

/// One meter's place in its bus's schedule and its resolved register map.
final class MeterSchedule {
    /// The longest wait of a failing meter's backoff (ms), unless its poll interval is longer.
    static let maxBackoffMs: Int64 = 10_000
    /// Slots of one gap recorded as `missing` rows one by one; a longer gap (a long backoff of a fast meter)
    /// is counted in full but stored as its first this many slots.
    static let maxMissingRowsPerGap = 600

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
        nextDue = alignedAfter(now, interval: Int64(config.pollIntervalMs), phase: Int64(config.pollPhaseMs))
        nextSlowDue = nextDue
        if config.profile.discovery == .fixed { setProfile(config.profile) }
    }

    func setProfile(_ p: MeterProfile) {
        profile = p
        let limits = Plausibility(nominalVoltage: config.nominalVoltage)
        plausible = Dictionary(p.points.map { ($0.measurement.name, limits.range(of: $0)) }) { first, _ in first }
        plans = (
            ReadPlan(points: p.points.filter { $0.rate == .fast }, mergeGap: p.mergeGap),
            ReadPlan(points: p.points.filter { $0.rate == .slow }, mergeGap: p.mergeGap)
        )
    }

    /// Moves to the next slot after the poll of `slot` that started at `start` (with the schedule's anchoring
    /// `anchor`, and slow registers if `includesSlow`), backing off after failures; returns the slots that passed
    /// without a poll (the poll ran past them, or the backoff skips them) and why.
    func advance(
        slot: Int64, start: Int64, anchor: Int, includesSlow: Bool, failed: Bool
    ) -> (slots: [Int64], reason: MissedReason) {
        // Re-anchored during the poll (the clock stepped): its slot belongs to the old clock.
        guard anchor == self.anchor else { return ([], .busy) }
        let interval = Int64(config.pollIntervalMs)
        consecutiveFailures = failed ? consecutiveFailures + 1 : 0
        var delay = interval
        if consecutiveFailures > 1 {
            let cap = max(interval, MeterSchedule.maxBackoffMs)
            delay = min(interval << min(consecutiveFailures - 1, 16), cap)
        }
        let now = wallClockNow()
        nextDue = alignedAfter(max(start + delay - interval, now), interval: interval, phase: phase)
        if includesSlow { nextSlowDue = alignedAfter(now, interval: Int64(config.slowPollIntervalMs), phase: phase) }
        if consecutiveFailures == 1 { lastProbe = now }  // newly isolated: the forced-probe period starts now
        let slots = stride(from: slot + interval, to: nextDue, by: Int(interval)).prefix(
            MeterSchedule.maxMissingRowsPerGap)
        return (Array(slots), delay > interval ? .backoff : .busy)
    }

    /// Counts re-anchorings, so a poll that spans one is recognised.
    private(set) var anchor = 0

    /// Moves the next slot to the first after `now` (the wall clock stepped); slow registers are read then too.
    func reanchor(now: Int64) {
        anchor += 1
        nextDue = alignedAfter(now, interval: Int64(config.pollIntervalMs), phase: phase)
        nextSlowDue = nextDue
        lastLateness = nil
        lastProbe = now
    }

    /// Where in the interval its slots fall (ms after each whole multiple of it).
    var phase: Int64 { Int64(config.pollPhaseMs) }

    /// Whether the meter is failing: its polls are probes that must fit beside its healthy neighbours.
    var isIsolated: Bool { consecutiveFailures > 0 }
    /// Wall-clock ms of its last probe while isolated.
    var lastProbe: Int64 = 0
    /// The values each of its measurements can physically take (`docs/measurements.md`), from its profile.
    private var plausible: [String: ClosedRange<Double>] = [:]

    /// The plausible range of `point` (worked out once per profile; a poll only looks it up).
    func plausibleRange(of point: RegisterPoint) -> ClosedRange<Double> {
        plausible[point.measurement.name] ?? Plausibility(nominalVoltage: config.nominalVoltage).range(of: point)
    }
}

/// The first slot strictly after `t` of a schedule with slots at every multiple of `interval` plus `phase`
/// (0 ≤ phase < interval): with phase 0 a 1 s meter polls at whole seconds.
func alignedAfter(_ t: Int64, interval: Int64, phase: Int64 = 0) -> Int64 {
    let shifted = t - phase
    let floor = shifted >= 0 ? shifted / interval : (shifted - interval + 1) / interval
    return (floor + 1) * interval + phase
}

/// Why a slot passed without a poll (counted per meter in `status`).
enum MissedReason: String {
    /// The meter is failing and waits (2, 4, 8… intervals, at most 10 s) before its next probe.
    case backoff
    /// The bus was still busy with earlier polls when the slot came (the bus is overloaded).
    case busy = "bus busy"
    /// The meter is failing and no probe fitted before a healthy neighbour's slot.
    case noRoom = "isolated: no room beside healthy meters"
}
