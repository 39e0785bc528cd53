import Foundation
import SynxStore

extension ReportInput {
    /// At most this many rows of one kind are read for one report (a year of 10-s values is 3.2 million; a week
    /// is 60 480): the bound on a report's memory.
    public static let rowLimit = 200_000

    /// The input for `meter` over [fromMs, toMs) read from a store: Class A aggregates and events when the meter
    /// has any in the period (a waveform meter), else its meter-derived 10-min, 2-h and 3-s values (a polled
    /// meter: `source` says which, and the two are never mixed). Intervals are taken by their end tag, in
    /// (fromMs, toMs].
    public static func load(
        from reader: StoreReader, meter: String, fromMs: Int64, toMs: Int64, nominalVoltage: Double,
        nominalFrequency: Double
    ) throws -> ReportInput {
        let classA = try reader.aggregates(
            meter: meter, tier: "10-min", from: fromMs + 1, to: toMs + 1, limit: rowLimit)
        var input = ReportInput(
            meter: meter, fromMs: fromMs, toMs: toMs, source: classA.isEmpty ? .meterDerived : .classA,
            nominalVoltage: nominalVoltage, nominalFrequency: nominalFrequency)
        if classA.isEmpty {
            try input.loadDerived(from: reader)
            try input.loadThreeSecond(from: reader)
            return input
        }
        try input.loadThreeSecond(from: reader)
        input.tenMinute = classA.map(intervalValues)
        input.twoHour = try reader.aggregates(meter: meter, tier: "2-h", from: fromMs + 1, to: toMs + 1, limit: rowLimit)
            .map(intervalValues)
        input.tenSecond = try reader.aggregates(meter: meter, tier: "10-s", from: fromMs + 1, to: toMs + 1, limit: rowLimit)
            .map { row in
                var v = intervalValues(row)
                if let hz = Self.object(row.valuesJSON)?["frequency_hz"] as? Double { v.values["frequency"] = hz }
                return v
            }
        input.events = try reader.events(meter: meter, kind: nil, since: fromMs * 1000, limit: rowLimit)
            .filter { $0.startMicroseconds < toMs * 1000 }
            .sorted { $0.startMicroseconds < $1.startMicroseconds }
            .map { e in
                ReportEvent(
                    kind: e.kind, startMs: e.startMicroseconds / 1000,
                    durationSeconds: Double(e.durationMicroseconds) / 1e6,
                    percent: e.reference > 0 ? e.magnitude / e.reference * 100 : .nan, worstPhase: e.worstPhase)
            }
        return input
    }

    /// The 3-s values IEEE 519's daily statistics read.
    static let threeSecondNames = ["l1", "l2", "l3"].flatMap { ["thd.voltage.\($0)", "current.\($0)", "thd.current.\($0)"] }
    /// At most this many 3-s values of one name (a week is 201 600).
    public static let threeSecondLimit = 250_000

    /// Reads the 3-s values: a waveform meter's stored 150/180-cycle series, or a polled meter's meter-derived
    /// 3-s aggregates.
    private mutating func loadThreeSecond(from reader: StoreReader) throws {
        var byTime: [Int64: [String: Double]] = [:]
        for name in Self.threeSecondNames {
            if source == .classA {
                for s in try reader.samples(meter: meter, measurement: name, from: fromMs + 1, to: toMs + 1, limit: Self.threeSecondLimit) {
                    if let v = s.value { byTime[s.time, default: [:]][name] = v }
                }
            } else {
                for row in try reader.derived(
                    meter: meter, measurement: name, tier: "3s", from: fromMs + 1, to: toMs + 1, limit: Self.threeSecondLimit)
                {
                    byTime[row.endMs, default: [:]][name] = row.value
                }
            }
        }
        threeSecond = byTime.keys.sorted().map { IntervalValues(endMs: $0, values: byTime[$0]!) }
    }

    /// The names a meter-derived report reads, by tier.
    static let derivedNames: [String] =
        ["l1", "l2", "l3"].flatMap { p in
            ["voltage.\(p)n", "thd.voltage.\(p)", "current.\(p)", "thd.current.\(p)"]
                + (2...50).flatMap { ["harmonic.voltage.\(p).h\($0)", "harmonic.current.\(p).h\($0)"] }
        } + ["unbalance.voltage.u2"]

    /// A polled meter's values: its meter-derived 10-min aggregates, its 3-s frequency (meter-derived tiers have
    /// no 10-s one: the frequency check says so), and the Pst/Plt it computed itself (stored as polled). No flags
    /// (a polled meter reports no dips) and no events.
    private mutating func loadDerived(from reader: StoreReader) throws {
        var tenMinute: [Int64: [String: Double]] = [:]
        for name in Self.derivedNames {
            for row in try reader.derived(
                meter: meter, measurement: name, tier: "10min", from: fromMs + 1, to: toMs + 1, limit: Self.rowLimit)
            {
                tenMinute[row.endMs, default: [:]][name] = row.value
            }
        }
        self.tenMinute = tenMinute.keys.sorted().map { IntervalValues(endMs: $0, values: tenMinute[$0]!) }
        tenSecond = try reader.derived(
            meter: meter, measurement: "frequency", tier: "3s", from: fromMs + 1, to: toMs + 1, limit: Self.rowLimit
        ).map { IntervalValues(endMs: $0.endMs, values: ["frequency": $0.value]) }
        frequencyIntervalMs = 3000
        // The meter's Plt is polled every second but changes every 2 h: the last value polled in each UTC 2-h
        // interval stands for it, tagged with the interval's end.
        var plt: [Int64: [String: Double]] = [:]
        for p in ["l1", "l2", "l3"] {
            for s in try reader.samples(
                meter: meter, measurement: "flicker.plt.\(p)", from: fromMs + 1, to: toMs + 1, limit: Self.rowLimit)
            {
                let end = (s.time / 7_200_000 + 1) * 7_200_000
                if let v = s.value { plt[end, default: [:]]["flicker.plt.\(p)"] = v }
            }
        }
        twoHour = plt.keys.sorted().map { IntervalValues(endMs: $0, values: plt[$0]!) }
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
