/// Voltage-event classifications that set no limit but that engineers compare events against: EN 50160's dip and
/// swell tables, and the equipment voltage-tolerance curves ITIC (CBEMA) and SEMI F47.
public enum EventCurves {
    /// EN 50160:2010: the duration columns of the dip table and of the swell table, seconds (upper bounds, each
    /// included; the first column starts at 10 ms).
    public static let dipColumns: [(title: String, upTo: Double)] = [
        ("10–200 ms", 0.2), ("0.2–0.5 s", 0.5), ("0.5–1 s", 1), ("1–5 s", 5), ("5–60 s", 60),
    ]
    public static let swellColumns: [(title: String, upTo: Double)] = [("10–500 ms", 0.5), ("0.5–5 s", 5), ("5–60 s", 60)]

    /// The dip table (EN 50160 Table 5 layout): residual voltage rows, % of the reference, × duration columns.
    /// Interruptions (residual below 5 %) are the last row. Each row's upper bound is exclusive, its lower bound
    /// inclusive. Events longer than 60 s are in no cell (long interruptions or undervoltages, not dips).
    public static func dipTable(_ events: [ReportEvent]) -> EventTable {
        let bands: [(String, Double, Double)] = [
            ("90 > u ≥ 80", 80, 90), ("80 > u ≥ 70", 70, 80), ("70 > u ≥ 40", 40, 70), ("40 > u ≥ 5", 5, 40),
            ("u < 5", -.infinity, 5),
        ]
        return table(
            "Dips (residual voltage u, % of the reference)",
            rows: bands.map { title, low, high in (title, { (u: Double) in u >= low && u < high }) },
            columns: dipColumns, events: events.filter { $0.kind == "dip" || $0.kind == "interruption" })
    }

    /// The swell table (EN 50160 Table 6 layout): maximum voltage rows, % of the reference, × its three duration
    /// columns.
    public static func swellTable(_ events: [ReportEvent]) -> EventTable {
        table(
            "Swells (maximum voltage u, % of the reference)",
            rows: [("u ≥ 120", { $0 >= 120 }), ("120 > u > 110", { $0 > 110 && $0 < 120 })], columns: swellColumns,
            events: events.filter { $0.kind == "swell" })
    }

    private static func table(
        _ title: String, rows: [(String, (Double) -> Bool)], columns: [(title: String, upTo: Double)],
        events: [ReportEvent]
    ) -> EventTable {
        var counts = Array(repeating: Array(repeating: 0, count: columns.count), count: rows.count)
        for e in events {
            guard let r = rows.firstIndex(where: { $0.1(e.percent) }),
                let c = columns.firstIndex(where: { e.durationSeconds <= $0.upTo })
            else { continue }
            counts[r][c] += 1
        }
        return EventTable(title: title, rows: rows.map(\.0), columns: columns.map(\.title), counts: counts)
    }

    /// A voltage-tolerance envelope: steps of (duration up to, seconds; percent of nominal).
    public typealias Envelope = [(upTo: Double, percent: Double)]

    /// ITIC (CBEMA), Information Technology Industry Council, 2000 revision: the lower envelope (no interruption
    /// of function above it) and the upper one (no damage below it), for RMS events of 1 ms and more.
    public static let iticLower: Envelope = [(0.02, 0), (0.5, 70), (10, 80), (.infinity, 90)]
    public static let iticUpper: Envelope = [(0.003, 140), (0.5, 120), (.infinity, 110)]
    /// SEMI F47-0706: the sag ride-through required of semiconductor equipment, from 50 ms to 1 s.
    public static let semiF47: Envelope = [(0.2, 50), (0.5, 70), (1, 80)]
    public static let semiF47Start = 0.05

    /// The envelope's level at `seconds`: the first step that reaches it.
    public static func level(_ envelope: Envelope, at seconds: Double) -> Double {
        (envelope.first { seconds <= $0.upTo } ?? envelope.last!).percent
    }

    /// Whether equipment built to the ITIC curve rides through `e`: a dip or interruption at or above the lower
    /// envelope (any depth up to 20 ms, 70 % to 0.5 s, 80 % to 10 s, 90 % beyond), a swell at or below the upper
    /// one (140 % to 3 ms, 120 % to 0.5 s, 110 % beyond): a value on the envelope is inside. nil for an RVC, which
    /// the curve does not cover.
    public static func insideITIC(_ e: ReportEvent) -> Bool? {
        switch e.kind {
        case "dip", "interruption": return e.percent >= level(iticLower, at: e.durationSeconds)
        case "swell": return e.percent <= level(iticUpper, at: e.durationSeconds)
        default: return nil
        }
    }

    /// Whether semiconductor equipment built to SEMI F47-0706 rides through a dip or interruption `e`: residual
    /// at or above 50 % for 50–200 ms, 70 % to 0.5 s, 80 % to 1 s. nil for what the curve does not cover: swells,
    /// RVC, and dips shorter than 50 ms or longer than 1 s (the standard specifies neither; it recommends riding
    /// through a full cycle of 0 %).
    public static func insideSEMIF47(_ e: ReportEvent) -> Bool? {
        guard e.kind == "dip" || e.kind == "interruption" else { return nil }
        guard e.durationSeconds >= semiF47Start, e.durationSeconds <= semiF47.last!.upTo else { return nil }
        return e.percent >= level(semiF47, at: e.durationSeconds)
    }

    /// The voltage events report: every event of the period, the dip and swell tables and the curve counts, and no
    /// checks (no standard sets limits on them).
    public static func eventsReport(_ input: ReportInput) -> ComplianceReport {
        ComplianceReport(
            standard: "voltage events", meter: input.meter, fromMs: input.fromMs, toMs: input.toMs, source: input.source,
            settings: ["nominal_voltage_v": EN50160.format(input.nominalVoltage)],
            coveragePercent: input.tenMinuteCoveragePercent,
            checks: meterCounts(input), tables: [dipTable(input.events), swellTable(input.events)],
            curves: curveCounts(input.events), events: input.events)
    }

    /// The event kinds a polled meter's counter registers count (`events.<kind>.count`).
    static let meterCountedKinds = ["dip", "swell", "interruption"]

    /// A polled meter's own event counts, for information: the meter detected them by its own thresholds, and
    /// without their residual voltage and duration they cannot be placed in the tables or on the curves.
    static func meterCounts(_ input: ReportInput) -> [Check] {
        meterCountedKinds.compactMap { kind in
            input.meterEventCounts[kind].map {
                EN50160.information(
                    "\(kind.prefix(1).uppercased())\(kind.dropFirst())s counted by the meter", clause: "-",
                    count: Int($0.rounded()),
                    basis: "the meter's own counter over the period (its thresholds; not placed on the curves)")
            }
        }
    }

    /// The events of a period counted against both curves.
    public static func curveCounts(_ events: [ReportEvent]) -> [CurveCount] {
        [("ITIC (CBEMA)", insideITIC), ("SEMI F47-0706", insideSEMIF47)].map { name, inside in
            let verdicts = events.map(inside)
            return CurveCount(
                curve: name, inside: verdicts.filter { $0 == true }.count,
                outside: verdicts.filter { $0 == false }.count, notCovered: verdicts.filter { $0 == nil }.count)
        }
    }
}
