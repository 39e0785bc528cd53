import SynxMeters
import SynxStore

/// Meter-derived aggregation of a polled meter's values on UTC-aligned tiers (3 s, 10 min, 2 h). This is NOT
/// IEC 61000-4-30 Class A: the meter's own RMS values are re-aggregated as they were polled (IEC 61000-4-30
/// §4.5's RMS-of-RMS for RMS quantities, the mean for powers, ratios and frequency, the increase for energy
/// counters), which equals a Class A aggregate only if the polls were gapless and equally spaced. Every row
/// carries its coverage (values received / expected), and counters are followed across resets and rollovers.
final class DerivedAggregator {
    struct Tier {
        var name: String
        var milliseconds: Int64
    }
    static let tiers = [
        Tier(name: "3s", milliseconds: 3000), Tier(name: "10min", milliseconds: 600_000),
        Tier(name: "2h", milliseconds: 7_200_000),
    ]

    private struct Accumulator {
        var unit: String
        var method: DerivedMethod
        var count = 0
        var sum = 0.0
        var notes: Set<String> = []
    }

    private let meter: MeterConfig
    /// Per tier: the end of the open interval and its accumulators by measurement.
    private var open: [(end: Int64, values: [String: Accumulator])]
    /// The last value of each counter, across intervals.
    private var lastCounter: [String: Double] = [:]
    /// The latest poll time aggregated: after the wall clock stepped back, polls at or before it repeat times
    /// already aggregated (and are kept aside by the store), so they are left out and the open intervals stay
    /// open until the clock has passed it again.
    private var latest = Int64.min

    init(meter: MeterConfig) {
        self.meter = meter
        open = DerivedAggregator.tiers.map { _ in (0, [:]) }
    }

    /// How `m` is aggregated; nil for a flicker severity a meter computed over its own interval (Pst, Plt), which
    /// is stored as polled and not averaged again.
    static func method(for m: Measurement) -> DerivedMethod? {
        switch m.kind {
        case .rms: .rms
        case .counter: .increase
        case .power, .ratio, .frequency: .mean
        case .severity: nil
        }
    }

    /// Adds one poll's decoded values (taken at `time`, UTC ms); returns the intervals it closed.
    func add(_ values: [(point: RegisterPoint, value: Double)], time: Int64) -> [DerivedRow] {
        guard time > latest else { return [] }
        latest = time
        var closed: [DerivedRow] = []
        // Counter increases are computed once per poll, then added to every tier.
        var increases: [String: (Double, String?)] = [:]
        for (p, v) in values where p.measurement.kind == .counter {
            defer { lastCounter[p.measurement.name] = v }
            guard let last = lastCounter[p.measurement.name] else { continue }
            var d = v - last
            var note: String?
            if d < 0 {
                let wrap = p.type == .acc32 || p.type == .uint32 ? 4_294_967_296 * p.scale : nil
                if let wrap, last - v > wrap / 2 {
                    d += wrap
                    note = "rollover"
                } else {
                    d = v
                    note = "reset"
                }
            }
            increases[p.measurement.name] = (d, note)
        }
        for (t, tier) in DerivedAggregator.tiers.enumerated() {
            let end = (time / tier.milliseconds + 1) * tier.milliseconds
            if open[t].end != end {
                closed += close(t)
                open[t] = (end, [:])
            }
            for (p, v) in values {
                guard let method = DerivedAggregator.method(for: p.measurement) else { continue }
                let name = p.measurement.name
                var a = open[t].values[name] ?? Accumulator(unit: p.measurement.unit, method: method)
                switch a.method {
                case .rms:
                    a.sum += v * v
                    a.count += 1
                case .mean:
                    a.sum += v
                    a.count += 1
                case .increase:
                    a.count += 1
                    if let (d, note) = increases[name] {
                        a.sum += d
                        if let note { a.notes.insert(note) }
                    }
                }
                open[t].values[name] = a
            }
        }
        return closed
    }

    private func close(_ t: Int) -> [DerivedRow] {
        let (end, values) = open[t]
        guard end > 0 else { return [] }
        let tier = DerivedAggregator.tiers[t]
        return values.sorted { $0.key < $1.key }.map { name, a in
            let point = meter.profile.points.first { $0.measurement.name == name }
            let interval = Int64(point?.rate == .slow ? meter.slowPollIntervalMs : meter.pollIntervalMs)
            let value =
                switch a.method {
                case .rms: (a.sum / Double(a.count)).squareRoot()
                case .mean: a.sum / Double(a.count)
                case .increase: a.sum
                }
            return DerivedRow(
                meter: meter.name, measurement: name, unit: a.unit, tier: tier.name, endMs: end, value: value,
                method: a.method, count: a.count, expected: Int(max(1, tier.milliseconds / interval)),
                notes: a.notes.sorted())
        }
    }
}
