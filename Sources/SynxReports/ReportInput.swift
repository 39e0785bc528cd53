import Foundation

/// Where a report's numbers come from; a report never mixes the two.
public enum ValueSource: String, Sendable, Codable {
    /// synx's IEC 61000-4-30 Class A engine on a waveform meter's samples.
    case classA = "class_a"
    /// Values a polled meter computed, aggregated by synx: not IEC 61000-4-30 Class A.
    case meterDerived = "meter_derived"
}

/// One aggregated interval of a meter (a 10-s frequency value, a 10-min or a 2-h aggregate): its end (the tag,
/// UTC ms), its IEC 61000-4-30 §4.7 flags, and its values under their canonical names (`docs/measurements.md`).
public struct IntervalValues: Sendable, Equatable {
    /// The interval's end, UTC milliseconds.
    public var endMs: Int64
    /// `flagged`, `incomplete`, `gap`, … as stored.
    public var flags: Set<String>
    /// Values by canonical name: `voltage.l1n`, `thd.voltage.l2`, `harmonic.voltage.l3.h5`, `frequency`, …
    public var values: [String: Double]

    /// An interval ending at `endMs` with `flags` and `values`.
    public init(endMs: Int64, flags: Set<String> = [], values: [String: Double]) {
        self.endMs = endMs
        self.flags = flags
        self.values = values
    }

    /// Overlaps a dip, swell or interruption (§4.7): left out of the statistics and counted.
    public var isFlagged: Bool { flags.contains("flagged") }

    /// Its data do not cover the interval (a Class A aggregate marked `incomplete`: the engine started or resumed
    /// inside it; a meter-derived value from fewer than half its expected polls): not a 10-min (2-h, 10-s) value
    /// of the period, so the statistics count it as missing, never as within.
    public var isIncomplete: Bool { flags.contains("incomplete") }

    /// A value the statistics use: neither flagged nor incomplete.
    var isAssessed: Bool { !isFlagged && !isIncomplete }
}

/// A voltage event (IEC 61000-4-30 §5.4, §5.5, §5.11) as the reports see it.
public struct ReportEvent: Sendable, Equatable, Codable {
    /// `dip`, `swell`, `interruption` or `rvc`.
    public var kind: String
    /// Start, UTC milliseconds.
    public var startMs: Int64
    /// Duration, seconds.
    public var durationSeconds: Double
    /// Residual voltage (dip, interruption) or maximum (swell) in percent of the reference; ΔUmax in percent of
    /// the declared voltage for an RVC.
    public var percent: Double
    /// The phase with the extreme value.
    public var worstPhase: String

    /// An event of `kind` from `startMs` lasting `durationSeconds`, at `percent` of the reference.
    public init(kind: String, startMs: Int64, durationSeconds: Double, percent: Double, worstPhase: String) {
        self.kind = kind
        self.startMs = startMs
        self.durationSeconds = durationSeconds
        self.percent = percent
        self.worstPhase = worstPhase
    }

    enum CodingKeys: String, CodingKey {
        case kind
        case startMs = "start_ms"
        case durationSeconds = "duration_s"
        case percent = "percent_of_reference"
        case worstPhase = "worst_phase"
    }
}

/// Everything a report reads about one meter over one period [from, to): its 10-s frequency values, 10-min and
/// 2-h aggregates and voltage events, from one source.
public struct ReportInput: Sendable {
    public var meter: String
    /// The period, UTC ms, `from` inclusive, `to` exclusive (intervals are taken by their end tag: (from, to]).
    public var fromMs: Int64
    public var toMs: Int64
    public var source: ValueSource
    /// The site's time zone: IEEE 519's days are its calendar days.
    public var timeZone = TimeZone(identifier: "UTC")!
    /// The nominal (LV) or declared (MV) supply voltage, line to neutral, volts.
    public var nominalVoltage: Double
    /// 50 or 60 Hz.
    public var nominalFrequency: Double
    /// The power frequency values: 10-s (Class A) or 3-s (meter-derived) intervals.
    public var tenSecond: [IntervalValues]
    /// The length of those intervals, ms.
    public var frequencyIntervalMs: Int64 = 10_000
    public var tenMinute: [IntervalValues]
    /// Very short (3-s: 150/180-cycle) values: THD and RMS, without spectra (synx stores 3-s values without them).
    public var threeSecond: [IntervalValues] = []
    public var twoHour: [IntervalValues]
    public var events: [ReportEvent]
    /// A polled meter's own event counts over the period, by kind (`dip`, `swell`, `interruption`): the increase
    /// of its event counter registers (`events.dip.count`, …), meter-derived; empty when it has none.
    public var meterEventCounts: [String: Double] = [:]

    /// The input for `meter` over [fromMs, toMs) from `source`; the value lists start empty.
    public init(
        meter: String, fromMs: Int64, toMs: Int64, source: ValueSource, nominalVoltage: Double,
        nominalFrequency: Double
    ) {
        self.meter = meter
        self.fromMs = fromMs
        self.toMs = toMs
        self.source = source
        self.nominalVoltage = nominalVoltage
        self.nominalFrequency = nominalFrequency
        tenSecond = []
        tenMinute = []
        twoHour = []
        events = []
    }

    /// The phases whose voltage any of `intervals` holds; all three when none does (a period without values
    /// is assessed, and inconclusive, rather than left out).
    static func phases(_ intervals: [IntervalValues]) -> [String] {
        let present = ["l1", "l2", "l3"].filter { p in intervals.contains { $0.values["voltage.\(p)n"] != nil } }
        return present.isEmpty ? ["l1", "l2", "l3"] : present
    }

    /// The complete 10-min intervals present, in percent of those the period holds (0 for an empty period).
    public var tenMinuteCoveragePercent: Double {
        let expected = expectedIntervals(600_000)
        return expected > 0 ? Double(tenMinute.filter { !$0.isIncomplete }.count) / Double(expected) * 100 : 0
    }

    /// How many intervals of `milliseconds` the period holds (the number a complete record would have).
    public func expectedIntervals(_ milliseconds: Int64) -> Int {
        Int(max(0, (toMs - fromMs) / milliseconds))
    }
}
