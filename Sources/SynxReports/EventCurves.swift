/// Voltage-event classifications that set no limit but that engineers compare events against: EN 50160's dip and
/// swell tables, and the equipment voltage-tolerance curves ITIC (CBEMA) and SEMI F47.
public enum EventCurves {
    /// EN 50160:2010 §6.1.1 / IEC 61000-4-30: the duration columns of the dip and swell tables, seconds (upper
    /// bounds; the first column starts at 10 ms).
    public static let durationColumns: [(title: String, upTo: Double)] = [
        ("10–200 ms", 0.2), ("0.2–0.5 s", 0.5), ("0.5–1 s", 1), ("1–5 s", 5), ("5–60 s", 60),
    ]

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
            events: events.filter { $0.kind == "dip" || $0.kind == "interruption" })
    }

    /// The swell table: maximum voltage rows, % of the reference, × duration columns.
    public static func swellTable(_ events: [ReportEvent]) -> EventTable {
        table(
            "Swells (maximum voltage u, % of the reference)",
            rows: [("u ≥ 120", { $0 >= 120 }), ("120 > u > 110", { $0 > 110 && $0 < 120 })],
            events: events.filter { $0.kind == "swell" })
    }

    private static func table(
        _ title: String, rows: [(String, (Double) -> Bool)], events: [ReportEvent]
    ) -> EventTable {
        var counts = Array(repeating: Array(repeating: 0, count: durationColumns.count), count: rows.count)
        for e in events {
            guard let r = rows.firstIndex(where: { $0.1(e.percent) }),
                let c = durationColumns.firstIndex(where: { e.durationSeconds <= $0.upTo })
            else { continue }
            counts[r][c] += 1
        }
        return EventTable(title: title, rows: rows.map(\.0), columns: durationColumns.map(\.title), counts: counts)
    }

    /// Whether equipment built to the ITIC (CBEMA) curve (Information Technology Industry Council, 2000 revision)
    /// rides through `e`: a dip or interruption above the lower envelope (any depth up to 20 ms, 70 % to 0.5 s,
    /// 80 % to 10 s, 90 % beyond), a swell below the upper one (140 % to 3 ms, 120 % to 0.5 s, 110 % beyond). A
    /// value exactly on the envelope is inside. nil for an RVC, which the curve does not cover.
    public static func insideITIC(_ e: ReportEvent) -> Bool? {
        let t = e.durationSeconds
        switch e.kind {
        case "dip", "interruption":
            let floor: Double = t <= 0.02 ? 0 : t <= 0.5 ? 70 : t <= 10 ? 80 : 90
            return e.percent >= floor
        case "swell":
            let ceiling: Double = t <= 0.003 ? 140 : t <= 0.5 ? 120 : 110
            return e.percent <= ceiling
        default:
            return nil
        }
    }

    /// Whether semiconductor equipment built to SEMI F47-0706 rides through a dip or interruption `e`: residual
    /// at or above 50 % for 50–200 ms, 70 % to 0.5 s, 80 % to 1 s. nil for what the curve does not cover: swells,
    /// RVC, and dips shorter than 50 ms or longer than 1 s (the standard specifies neither; it recommends riding
    /// through a full cycle of 0 %).
    public static func insideSEMIF47(_ e: ReportEvent) -> Bool? {
        guard e.kind == "dip" || e.kind == "interruption" else { return nil }
        let t = e.durationSeconds
        guard t >= 0.05, t <= 1 else { return nil }
        let floor: Double = t <= 0.2 ? 50 : t <= 0.5 ? 70 : 80
        return e.percent >= floor
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
