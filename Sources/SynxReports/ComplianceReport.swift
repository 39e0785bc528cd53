/// A verdict that missing data cannot turn into a pass.
public enum Verdict: String, Sendable, Codable {
    /// The limit holds even if every missing interval had been outside it.
    case pass
    /// The limit is broken by the values present, whatever the missing intervals held.
    case fail
    /// The missing intervals could decide: no verdict.
    case inconclusive
    /// The standard sets no limit (counts and tables for information), or the meter has no such values.
    case information
}

/// One assessed parameter: which values, which statistic, the limit, what was measured and the verdict.
public struct Check: Sendable, Equatable, Codable {
    /// The parameter, as the standard names it: "Power frequency", "Supply voltage variations, L1", "Harmonic 5".
    public var parameter: String
    /// The clause or table of the standard.
    public var clause: String
    /// The values assessed and how: "10-min mean RMS, 95 % of the week".
    public var basis: String
    /// The limit in words: "within 207.0 … 253.0 V".
    public var limit: String
    /// The required share of intervals within the limit, percent (95, 99.5, 100), or nil (information).
    public var requiredPercent: Double?
    /// The share of the assessed intervals present that were within the limit, percent; nil without values.
    public var measuredPercent: Double?
    /// The worst value assessed (highest, or furthest from nominal), in the parameter's unit.
    public var worst: Double?
    /// For a percentile statistic (IEEE 519, IEC 61000-2-2): the percentile of the values present, and the upper limit it is
    /// held to, in the parameter's unit.
    public var percentile: Double? = nil
    public var limitValue: Double? = nil
    /// Intervals within and outside the limit, flagged intervals left out (§4.7), and missing ones.
    public var within: Int
    public var outside: Int
    public var flagged: Int
    public var missing: Int
    public var verdict: Verdict

    enum CodingKeys: String, CodingKey {
        case parameter, clause, basis, limit, worst, percentile, within, outside, flagged, missing, verdict
        case limitValue = "limit_value"
        case requiredPercent = "required_percent"
        case measuredPercent = "measured_percent"
    }
}

/// Counts of events in a table of residual (or maximum) voltage rows × duration columns.
public struct EventTable: Sendable, Equatable, Codable {
    public var title: String
    public var rows: [String]
    public var columns: [String]
    /// `counts[row][column]`.
    public var counts: [[Int]]
}

/// Events against an equipment voltage-tolerance curve (ITIC, SEMI F47).
public struct CurveCount: Sendable, Equatable, Codable {
    public var curve: String
    /// Events the curve says equipment rides through, events outside it, and events it does not cover.
    public var inside: Int
    public var outside: Int
    public var notCovered: Int

    enum CodingKeys: String, CodingKey {
        case curve, inside, outside
        case notCovered = "not_covered"
    }
}

/// A series of a report's plots: one line per phase over the period, with the limits drawn across it.
public struct Trend: Sendable, Equatable, Codable {
    /// "Supply voltage (10-min)", "THD (10-min)", …
    public var title: String
    public var unit: String
    /// Lines across the plot: (label, value).
    public var limits: [Limit]
    /// One line per phase (or one for a three-phase quantity): name and its points.
    public var lines: [Line]

    /// A horizontal limit line.
    public struct Limit: Sendable, Equatable, Codable {
        public var label: String
        public var value: Double
    }
    /// One phase's points: interval ends (UTC ms) and values; flagged intervals are marked.
    public struct Line: Sendable, Equatable, Codable {
        public var name: String
        public var times: [Int64]
        public var values: [Double]
        public var flagged: [Bool]
    }
}

/// A harmonic order's 95th-percentile value (the worst phase) against its limit.
public struct SpectrumBar: Sendable, Equatable, Codable {
    public var order: Int
    public var percentile95: Double
    public var phase: String
    public var limit: Double

    enum CodingKeys: String, CodingKey {
        case order, phase, limit
        case percentile95 = "percentile_95"
    }
}

/// A compliance report: one standard's assessment of one meter over one period (`docs/reports.md`; this shape is
/// `format_version` 1, and fields are only ever added).
public struct ComplianceReport: Sendable, Equatable, Codable {
    public var formatVersion = 1
    /// "EN 50160:2010", "events".
    public var standard: String
    public var meter: String
    /// The period, UTC ms.
    public var fromMs: Int64
    public var toMs: Int64
    public var source: ValueSource
    /// The settings the assessment used: network, nominal voltage and frequency.
    public var settings: [String: String]
    /// 10-min intervals present of those the period holds, percent.
    public var coveragePercent: Double
    public var checks: [Check]
    public var tables: [EventTable]
    public var curves: [CurveCount]
    public var events: [ReportEvent]
    /// The plots' data: trends over the period and the harmonic spectrum.
    public var trends: [Trend] = []
    public var spectrum: [SpectrumBar] = []

    enum CodingKeys: String, CodingKey {
        case standard, meter, source, settings, checks, tables, curves, events, trends, spectrum
        case formatVersion = "format_version"
        case fromMs = "from_ms"
        case toMs = "to_ms"
        case coveragePercent = "coverage_percent"
    }

    /// The overall verdict: fail if any check fails, else inconclusive if any is, else pass.
    public var verdict: Verdict {
        let verdicts = checks.map(\.verdict)
        if verdicts.contains(.fail) { return .fail }
        if verdicts.contains(.inconclusive) { return .inconclusive }
        return verdicts.contains(.pass) ? .pass : .information
    }
}

extension Check {
    /// The worst of several checks: a fail before an inconclusive before a pass, then the lowest share within,
    /// then the percentile nearest its limit.
    static func worst(of checks: [Check]) -> Check? {
        let order: [Verdict: Int] = [.fail: 0, .inconclusive: 1, .pass: 2, .information: 3]
        let key = { (c: Check) in
            (order[c.verdict]!, c.measuredPercent ?? 101, -((c.percentile ?? 0) / (c.limitValue ?? 1)))
        }
        return checks.min { key($0) < key($1) }
    }

    /// A statistical check of `values` (one per interval present and not flagged) against `accept`: at least
    /// `requiredPercent` % of the `expected` intervals of the period must be within. Flagged intervals are out of
    /// the statistic (and out of `expected`); missing ones count against a pass and for nothing towards a fail,
    /// so the verdict is `pass` only if it would hold with every missing interval outside the limit, `fail` only
    /// if it would with every one within, and `inconclusive` otherwise. `worst` picks the value reported.
    static func statistic(
        _ parameter: String, clause: String, basis: String, limit: String, requiredPercent: Double,
        values: [Double], flagged: Int, expected: Int, accept: (Double) -> Bool, worst: ([Double]) -> Double?
    ) -> Check {
        let within = values.filter(accept).count
        let outside = values.count - within
        let assessed = max(expected - flagged, values.count)
        let missing = assessed - values.count
        let required = requiredPercent / 100 * Double(assessed)
        // A small tolerance so that exactly the required share (e.g. 95 % of 1008) counts as meeting it.
        let verdict: Verdict
        if assessed == 0 {
            verdict = .inconclusive
        } else if Double(within) >= required - 1e-9 {
            verdict = .pass
        } else if Double(within + missing) < required - 1e-9 {
            verdict = .fail
        } else {
            verdict = .inconclusive
        }
        return Check(
            parameter: parameter, clause: clause, basis: basis, limit: limit, requiredPercent: requiredPercent,
            measuredPercent: values.isEmpty ? nil : Double(within) / Double(values.count) * 100, worst: worst(values),
            within: within, outside: outside, flagged: flagged, missing: missing, verdict: verdict)
    }

    /// A check that the `percent`-th percentile of `value` over the unflagged intervals is at or below `limit`.
    static func percentileCheck(
        _ parameter: String, clause: String, basis: String, intervals: [IntervalValues], expected: Int,
        value: (IntervalValues) -> Double?, percent: Double, limit: Double
    ) -> Check {
        // Flagged intervals are left out and counted; incomplete ones are missing.
        let present = intervals.filter { !$0.isIncomplete || $0.isFlagged }.compactMap { x in
            value(x).map { (x.isFlagged, $0) }
        }
        let values = present.filter { !$0.0 }.map(\.1)
        var c = Check.statistic(
            parameter, clause: clause, basis: basis, limit: "≤ \(EN50160.format(limit)) %", requiredPercent: percent,
            values: values, flagged: present.filter(\.0).count, expected: expected,
            accept: { $0 <= limit }, worst: { $0.max() })
        c.percentile = EN50160.percentile(values, percent)
        c.limitValue = limit
        if !intervals.contains(where: { value($0) != nil }), !intervals.isEmpty {
            c = EN50160.information(parameter, clause: clause, count: 0, basis: "not measured by this meter")
            c.limit = "≤ \(EN50160.format(limit)) %"
        }
        return c
    }
}
