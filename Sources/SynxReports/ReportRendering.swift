import Foundation
import SynxTables

extension ComplianceReport {
    /// The report as JSON (`docs/reports.md`), keys sorted, one document and a newline.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// The report as terminal tables: the heading with the period, source and coverage, the checks, the event
    /// tables and the curve counts.
    public func table() -> String {
        let sourceName = source == .classA ? "Class A (IEC 61000-4-30, synx's engine)" : "meter-derived (not Class A)"
        var out = "\(standard) — meter \(meter), \(ComplianceReport.iso(fromMs)) to \(ComplianceReport.iso(toMs))\n"
        out += "values: \(sourceName); 10-min coverage \(String(format: "%.1f", coveragePercent)) %; "
        out += settings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        out += "verdict: \(verdict.rawValue.uppercased())\n"
        if !checks.isEmpty {
            out +=
                "\n"
                + Report(
                    title: "Checks",
                    columns: checkColumns.map { $0.uppercased() }, rows: checks.map { checkCells($0, none: "-") }
                ).render(.table)
        }
        for t in tables {
            out +=
                "\n"
                + Report(
                    title: t.title, columns: ["U"] + t.columns,
                    rows: zip(t.rows, t.counts).map { [$0] + $1.map(String.init) }
                ).render(.table)
        }
        if !curves.isEmpty {
            out +=
                "\n"
                + Report(
                    title: "Events against equipment tolerance curves",
                    columns: ["CURVE", "INSIDE", "OUTSIDE", "NOT COVERED"],
                    rows: curves.map { [$0.curve, String($0.inside), String($0.outside), String($0.notCovered)] }
                ).render(.table)
        }
        guard !tables.isEmpty || !curves.isEmpty || !events.isEmpty else { return out }
        out +=
            "\n"
            + Report(
                title: "Events (\(events.count))",
                columns: ["KIND", "START (UTC)", "DURATION (s)", "% OF REFERENCE", "WORST", "ITIC", "SEMI F47"],
                rows: events.map { e in
                    let mark = { (inside: Bool?) in inside.map { $0 ? "inside" : "outside" } ?? "-" }
                    return [
                        e.kind, Self.iso(e.startMs), String(format: "%.3f", e.durationSeconds),
                        String(format: "%.1f", e.percent), e.worstPhase.uppercased(),
                        mark(EventCurves.insideITIC(e)), mark(EventCurves.insideSEMIF47(e)),
                    ]
                }
            ).render(.table)
        return out
    }

    static func percent(_ v: Double) -> String { String(format: "%.2f %%", v) }

    /// The columns of the checks, as the table and the page show them: a percentile column only in a report whose
    /// statistics are percentiles (IEEE 519, IEC 61000-2-2).
    var checkColumns: [String] {
        ["Parameter", "Clause", "Basis", "Limit", "Required", "Measured"] + (hasPercentiles ? ["Percentile"] : [])
            + ["Worst", "In/out/flagged/missing", "Verdict"]
    }

    /// A check's cells under `checkColumns`, `none` where it has no value.
    func checkCells(_ c: Check, none: String) -> [String] {
        let number = { (v: Double?) in v.map { String(format: "%.3f", $0) } ?? none }
        return [
            c.parameter, c.clause, c.basis, c.limit, c.requiredPercent.map { Self.percent($0) } ?? none,
            c.measuredPercent.map { Self.percent($0) } ?? none,
        ] + (hasPercentiles ? [number(c.percentile)] : []) + [
            number(c.worst), "\(c.within)/\(c.outside)/\(c.flagged)/\(c.missing)", c.verdict.rawValue,
        ]
    }

    private var hasPercentiles: Bool { checks.contains { $0.percentile != nil } }

    /// UTC milliseconds as ISO 8601 to the second.
    static func iso(_ ms: Int64) -> String {
        var seconds = time_t(ms / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
