import Foundation
import SynxStore

extension ReportInput {
    /// The 3-s values IEEE 519's daily statistics read.
    static let threeSecondNames = ["l1", "l2", "l3"].flatMap { ["thd.voltage.\($0)", "current.\($0)", "thd.current.\($0)"] }
    /// 3-s values are read for periods up to this long (IEEE 519's daily statistics of a week; 8 days × 9 names of
    /// 28 800 values a day is the largest such read, about 70 MB); a longer period's daily checks are inconclusive.
    public static let threeSecondPeriodMs: Int64 = 8 * 86_400_000

    /// The names a meter-derived report reads, by tier.
    static let derivedNames: [String] =
        ["l1", "l2", "l3"].flatMap { p in
            ["voltage.\(p)n", "thd.voltage.\(p)", "current.\(p)", "thd.current.\(p)"]
                + (2...50).flatMap { ["harmonic.voltage.\(p).h\($0)", "harmonic.current.\(p).h\($0)"] }
        } + ["unbalance.voltage.u2", "unbalance.voltage.nema", "voltage.l12", "voltage.l23", "voltage.l31"]

    /// The input for `meter` over [fromMs, toMs) (at most `ReportPeriod.maximumMs`) read from a store: Class A
    /// aggregates and events when the meter has any in the period (a waveform meter), else its meter-derived
    /// 10-min and 3-s values and its own Plt (a polled meter: `source` says which, and the two are never mixed).
    /// Intervals are taken by their end tag, in (fromMs, toMs]. Each read is bounded by the intervals the period
    /// holds, with room to spare, so a complete record is read whole.
    public static func load(
        from reader: StoreReader, meter: String, fromMs: Int64, toMs: Int64, nominalVoltage: Double,
        nominalFrequency: Double
    ) throws -> ReportInput {
        let span = max(0, toMs - fromMs)
        let limit = { (intervalMs: Int64) in Int(span / intervalMs) + 100 }
        let classA = try reader.aggregates(meter: meter, tier: "10-min", from: fromMs + 1, to: toMs + 1, limit: limit(600_000))
        var input = ReportInput(
            meter: meter, fromMs: fromMs, toMs: toMs, source: classA.isEmpty ? .meterDerived : .classA,
            nominalVoltage: nominalVoltage, nominalFrequency: nominalFrequency)
        if span <= threeSecondPeriodMs { try input.loadThreeSecond(from: reader, limit: limit(3000)) }
        if classA.isEmpty {
            try input.loadDerived(from: reader, limit: limit)
            return input
        }
        input.tenMinute = classA.map(intervalValues)
        input.twoHour = try reader.aggregates(
            meter: meter, tier: "2-h", from: fromMs + 1, to: toMs + 1, limit: limit(7_200_000)
        ).map(intervalValues)
        input.tenSecond = try reader.aggregates(
            meter: meter, tier: "10-s", from: fromMs + 1, to: toMs + 1, limit: limit(10_000)
        ).map { row in
            var v = intervalValues(row)
            if let hz = Self.object(row.valuesJSON)?["frequency_hz"] as? Double { v.values["frequency"] = hz }
            return v
        }
        input.events = try reader.events(
            meter: meter, kind: nil, since: fromMs * 1000, until: toMs * 1000, limit: maxEvents
        ).reversed().map { e in
            // An event stored without a positive reference is placed against the nominal voltage.
            let reference = e.reference > 0 ? e.reference : nominalVoltage
            return ReportEvent(
                kind: e.kind, startMs: e.startMicroseconds / 1000, durationSeconds: Double(e.durationMicroseconds) / 1e6,
                percent: e.magnitude / reference * 100, worstPhase: e.worstPhase)
        }
        return input
    }

    /// At most this many events in one report (a period with more lists the latest).
    public static let maxEvents = 100_000

    /// Reads the 3-s values: a waveform meter's stored 150/180-cycle series, or a polled meter's meter-derived
    /// 3-s aggregates.
    private mutating func loadThreeSecond(from reader: StoreReader, limit: Int) throws {
        var byTime: [Int64: [String: Double]] = [:]
        for name in Self.threeSecondNames {
            if source == .classA {
                for s in try reader.samples(meter: meter, measurement: name, from: fromMs + 1, to: toMs + 1, limit: limit) {
                    if let v = s.value { byTime[s.time, default: [:]][name] = v }
                }
            } else {
                for row in try reader.derived(
                    meter: meter, measurement: name, tier: "3s", from: fromMs + 1, to: toMs + 1, limit: limit)
                {
                    byTime[row.endMs, default: [:]][name] = row.value
                }
            }
        }
        threeSecond = byTime.keys.sorted().map { IntervalValues(endMs: $0, values: byTime[$0]!) }
    }

    /// A polled meter's values: its meter-derived 10-min aggregates, its 3-s frequency (meter-derived tiers have
    /// no 10-s one: the frequency check says so), the Plt it computed itself and its own event counts. No dip
    /// flags (a polled meter reports no dips as they happen) and no events; an interval whose values come from
    /// fewer than half its expected polls is marked `incomplete`.
    private mutating func loadDerived(from reader: StoreReader, limit: (Int64) -> Int) throws {
        var tenMinute: [Int64: [String: Double]] = [:]
        var incomplete: Set<Int64> = []
        for name in Self.derivedNames {
            for row in try reader.derived(
                meter: meter, measurement: name, tier: "10min", from: fromMs + 1, to: toMs + 1, limit: limit(600_000))
            {
                tenMinute[row.endMs, default: [:]][name] = row.value
                if row.count * 2 < row.expected { incomplete.insert(row.endMs) }
            }
        }
        self.tenMinute = tenMinute.keys.sorted().map {
            IntervalValues(endMs: $0, flags: incomplete.contains($0) ? ["incomplete"] : [], values: tenMinute[$0]!)
        }
        tenSecond = try reader.derived(
            meter: meter, measurement: "frequency", tier: "3s", from: fromMs + 1, to: toMs + 1, limit: limit(3000)
        ).map { IntervalValues(endMs: $0.endMs, values: ["frequency": $0.value]) }
        frequencyIntervalMs = 3000
        // Event counters: the sum of their 10-min increases (resets and rollovers handled by the aggregation).
        for kind in EventCurves.meterCountedKinds {
            let increases = try reader.derived(
                meter: meter, measurement: "events.\(kind).count", tier: "10min", from: fromMs + 1, to: toMs + 1,
                limit: limit(600_000))
            if !increases.isEmpty { meterEventCounts[kind] = increases.reduce(0) { $0 + $1.value } }
        }
        // The meter's Plt is polled every few seconds but changes every 2 h: the last value polled in the last
        // 10 minutes of each UTC 2-h window of the period stands for it, tagged with the window's end.
        var plt: [IntervalValues] = []
        var end = (fromMs / 7_200_000 + 1) * 7_200_000
        while end <= toMs {
            var values: [String: Double] = [:]
            for p in ["l1", "l2", "l3"] {
                let polled = try reader.samples(
                    meter: meter, measurement: "flicker.plt.\(p)", from: end - 600_000, to: end, limit: 10_000)
                if let v = polled.last(where: { $0.value != nil })?.value { values["flicker.plt.\(p)"] = v }
            }
            if !values.isEmpty { plt.append(IntervalValues(endMs: end, values: values)) }
            end += 7_200_000
        }
        twoHour = plt
    }

    private static func intervalValues(_ row: AggregateRow) -> IntervalValues {
        let measurements = (object(row.valuesJSON)?["measurements"] as? [String: Any]) ?? [:]
        return IntervalValues(
            endMs: row.endMs, flags: Set(row.quality), values: measurements.compactMapValues { $0 as? Double })
    }

    private static func object(_ json: String?) -> [String: Any]? {
        guard let json else { return nil }
        // A row whose values cannot be read counts as an interval without values (missing for every check).
        return (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any]
    }
}
