import Foundation

/// EN 50160:2010, "Voltage characteristics of electricity supplied by public electricity networks": the
/// assessment of one meter's stored values over a period (normally a week) against the limits for normal
/// operating conditions (`../shared/reference/pq-methods.md` §5.1, `docs/reports.md`).
///
/// Every statistic is over the intervals present and not flagged (IEC 61000-4-30 §4.7: intervals with a dip,
/// swell or interruption are left out and counted); a verdict is `pass` only if it would hold with every missing
/// interval outside the limit (`Check.statistic`), so missing data is never a pass. Percentages of "a year"
/// (power frequency, synchronous networks) are applied to the period assessed.
public enum EN50160 {
    /// The voltage level: low voltage (Un ≤ 1 kV, §4) or medium voltage (1 kV < Uc ≤ 36 kV, §5).
    public enum VoltageLevel: String, Sendable, Codable, CaseIterable {
        case lv, mv
    }

    /// How the network is connected: synchronously to an interconnected system, or an island.
    public enum Connection: String, Sendable, Codable, CaseIterable {
        case interconnected, island
    }

    /// The limits for individual harmonic voltages to order 25, % of the fundamental (Table 1, LV and MV alike).
    public static let harmonicLimits: [Int: Double] = [
        2: 2, 3: 5, 4: 1, 5: 6, 6: 0.5, 7: 5, 8: 0.5, 9: 1.5, 10: 0.5, 11: 3.5, 12: 0.5, 13: 3, 14: 0.5, 15: 0.5,
        16: 0.5, 17: 2, 18: 0.5, 19: 1.5, 20: 0.5, 21: 0.5, 22: 0.5, 23: 1.5, 24: 0.5, 25: 1.5,
    ]

    /// Interruptions up to this long are short (§4.2.6, §5.2.6: 3 minutes), longer ones long.
    public static let shortInterruptionSeconds = 180.0

    /// The assessment of `input` for a `level` network connected by `connection`.
    public static func assess(_ input: ReportInput, level: VoltageLevel, connection: Connection) -> ComplianceReport {
        let un = input.nominalVoltage
        let f0 = input.nominalFrequency
        let tenMinutes = input.expectedIntervals(600_000)
        var checks: [Check] = []

        // Power frequency, 10-s mean values (§4.2.1, §5.2.1).
        let (narrow, wide): ((Double, Double, Double), (Double, Double, Double)) =
            connection == .interconnected ? ((0.01, 0.01, 99.5), (0.04, 0.06, 100)) : ((0.02, 0.02, 95), (0.15, 0.15, 100))
        for (up, down, share) in [narrow, wide] {
            checks.append(
                check(
                    "Power frequency",
                    clause: level == .mv ? "§5.2.1" : connection == .interconnected ? "§4.2.1 a)" : "§4.2.1 b)",
                    basis: input.frequencyIntervalMs == 10_000
                        ? "10-s mean, \(format(share)) % of the period"
                        : "3-s mean (meter-derived; the standard: 10-s), \(format(share)) % of the period",
                    intervals: input.tenSecond, expected: input.expectedIntervals(input.frequencyIntervalMs),
                    name: "frequency", required: share,
                    low: f0 * (1 - down), high: f0 * (1 + up), unit: "Hz", nominal: f0))
        }

        // Supply voltage variations, 10-min mean RMS (§4.2.2, §5.2.2), per phase.
        let phases = ReportInput.phases(input.tenMinute)
        let bands: [(Double, Double, Double)] =
            level == .lv ? [(0.10, 0.10, 95), (0.10, 0.15, 100)] : [(0.10, 0.10, 99), (0.15, 0.15, 100)]
        for p in phases {
            for (up, down, share) in bands {
                checks.append(
                    check(
                        "Supply voltage variations, \(p.uppercased())", clause: level == .lv ? "§4.2.2" : "§5.2.2",
                        basis: "10-min mean RMS, \(format(share)) % of the period", intervals: input.tenMinute,
                        expected: tenMinutes, name: "voltage.\(p)n", required: share, low: un * (1 - down),
                        high: un * (1 + up), unit: "V", nominal: un))
            }
        }

        // Flicker: long-term severity Plt ≤ 1 for 95 % of the time (§4.2.3, §5.2.3), per phase.
        for p in ["l1", "l2", "l3"] where input.twoHour.contains(where: { $0.values["flicker.plt.\(p)"] != nil }) {
            checks.append(
                check(
                    "Flicker Plt, \(p.uppercased())", clause: level == .lv ? "§4.2.3" : "§5.2.3",
                    basis: "2-h Plt, 95 % of the period", intervals: input.twoHour,
                    expected: input.expectedIntervals(7_200_000), name: "flicker.plt.\(p)", required: 95, low: nil,
                    high: 1, unit: "", nominal: nil))
        }

        // Supply voltage unbalance, 10-min negative-sequence ratio ≤ 2 % for 95 % (§4.2.4, §5.2.4).
        checks.append(
            check(
                "Supply voltage unbalance u2", clause: level == .lv ? "§4.2.4" : "§5.2.4",
                basis: "10-min mean, 95 % of the period", intervals: input.tenMinute, expected: tenMinutes,
                name: "unbalance.voltage.u2", required: 95, low: nil, high: 2, unit: "%", nominal: nil))

        // Harmonic voltage: THD ≤ 8 % (per phase), and each order to 25 within Table 1, for 95 % (§4.2.5, §5.2.5).
        let clause = level == .lv ? "§4.2.5" : "§5.2.5"
        for p in phases {
            checks.append(
                check(
                    "THD, \(p.uppercased())", clause: clause, basis: "10-min mean, 95 % of the period",
                    intervals: input.tenMinute, expected: tenMinutes, name: "thd.voltage.\(p)", required: 95, low: nil,
                    high: 8, unit: "%", nominal: nil))
        }
        for order in 2...25 {
            let limit = harmonicLimits[order]!
            // Each phase is assessed; the report shows the worst one (fewest intervals within).
            let perPhase = phases.map { p in
                check(
                    "Harmonic \(order), \(p.uppercased())", clause: "\(clause), Table 1",
                    basis: "10-min mean, 95 % of the period", intervals: input.tenMinute, expected: tenMinutes,
                    name: "harmonic.voltage.\(p).h\(order)", required: 95, low: nil, high: limit, unit: "%",
                    nominal: nil)
            }
            if let worst = Check.worst(of: perPhase) { checks.append(worst) }
        }

        // Events: no limits (indicative values only); counted for information.
        let rvc = input.events.filter { $0.kind == "rvc" }
        checks.append(information("Rapid voltage changes", clause: "§4.3.1", count: rvc.count))
        let interruptions = input.events.filter { $0.kind == "interruption" }
        checks.append(
            information(
                "Short interruptions (≤ 3 min)", clause: "§4.3.2",
                count: interruptions.filter { $0.durationSeconds <= shortInterruptionSeconds }.count))
        checks.append(
            information(
                "Long interruptions (> 3 min)", clause: "§4.3.3",
                count: interruptions.filter { $0.durationSeconds > shortInterruptionSeconds }.count))
        checks += EventCurves.meterCounts(input)

        var report = ComplianceReport(
            standard: "EN 50160:2010", meter: input.meter, fromMs: input.fromMs, toMs: input.toMs,
            source: input.source,
            settings: [
                "voltage_level": level.rawValue, "connection": connection.rawValue,
                "nominal_voltage_v": format(un), "nominal_frequency_hz": format(f0),
            ],
            coveragePercent: input.tenMinuteCoveragePercent,
            checks: checks, tables: [EventCurves.dipTable(input.events), EventCurves.swellTable(input.events)],
            curves: EventCurves.curveCounts(input.events), events: input.events)
        report.trends = [
            trend("Supply voltage, 10-min mean", unit: "V", input.tenMinute, names: phases.map { "voltage.\($0)n" },
                limits: [("+10 %", un * 1.1), ("−10 %", un * 0.9)] + (level == .lv ? [("−15 %", un * 0.85)] : [("−15 %", un * 0.85), ("+15 %", un * 1.15)])),
            trend("Voltage THD, 10-min mean", unit: "%", input.tenMinute, names: phases.map { "thd.voltage.\($0)" },
                limits: [("8 %", 8)]),
            trend("Voltage unbalance u2, 10-min mean", unit: "%", input.tenMinute, names: ["unbalance.voltage.u2"],
                limits: [("2 %", 2)]),
            trend("Flicker Plt", unit: "", input.twoHour, names: ["l1", "l2", "l3"].map { "flicker.plt.\($0)" },
                limits: [("1", 1)]),
        ].filter { $0.lines.contains { !$0.values.isEmpty } }
        report.spectrum = spectrum(input.tenMinute, phases: phases, orders: 2...25) { harmonicLimits[$0]! }
        return report
    }

    /// The harmonic spectrum: per order, the highest of the phases' 95th percentiles of the unflagged 10-min
    /// values, against `limit(order)` (orders without values are left out).
    static func spectrum(
        _ intervals: [IntervalValues], phases: [String], orders: ClosedRange<Int>, limit: (Int) -> Double
    ) -> [SpectrumBar] {
        let unflagged = intervals.filter(\.isAssessed)
        return orders.compactMap { order in
            let worst = phases.compactMap { p -> (String, Double)? in
                let values = unflagged.compactMap { $0.values["harmonic.voltage.\(p).h\(order)"] }
                return percentile(values, 95).map { (p, $0) }
            }.max { $0.1 < $1.1 }
            return worst.map { SpectrumBar(order: order, percentile95: $0.1, phase: $0.0, limit: limit(order)) }
        }
    }

    /// The values `names` of `intervals` as one line each, named by phase (L1) or, for a three-phase quantity, by
    /// the name's last part (u2, nema); names without any value are left out.
    static func trend(
        _ title: String, unit: String, _ intervals: [IntervalValues], names: [String], limits: [(String, Double)]
    ) -> Trend {
        let lines = names.compactMap { name -> Trend.Line? in
            let present = intervals.filter { $0.values[name] != nil }
            guard !present.isEmpty else { return nil }
            let phase = name.split(separator: ".").map(String.init).first { ["l1", "l1n", "l2", "l2n", "l3", "l3n"].contains($0) }
            return Trend.Line(
                name: phase.map { String($0.prefix(2)).uppercased() } ?? String(name.split(separator: ".").last!), times: present.map(\.endMs),
                values: present.map { $0.values[name]! }, flagged: present.map(\.isFlagged))
        }
        return Trend(title: title, unit: unit, limits: limits.map { Trend.Limit(label: $0.0, value: $0.1) }, lines: lines)
    }

    /// The `p`-th percentile by nearest rank (the smallest value with at least p % of the values at or below it).
    static func percentile(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }

    /// A check of the values named `name` of `intervals` within [low, high] (either may be open).
    static func check(
        _ parameter: String, clause: String, basis: String, intervals: [IntervalValues], expected: Int, name: String,
        required: Double, low: Double?, high: Double?, unit: String, nominal: Double?
    ) -> Check {
        let limit: String
        switch (low, high) {
        case (let l?, let h?): limit = "within \(format(l)) … \(format(h)) \(unit)"
        case (nil, let h?): limit = "≤ \(format(h))\(unit.isEmpty ? "" : " \(unit)")"
        default: limit = "-"
        }
        let present = intervals.filter { $0.values[name] != nil }
        guard !present.isEmpty || intervals.isEmpty else {
            // The meter does not measure it (no interval holds the value).
            var c = information(parameter, clause: clause, count: 0)
            c.basis = "not measured by this meter"
            c.limit = limit
            return c
        }
        let flagged = present.filter(\.isFlagged).count
        let values = present.filter(\.isAssessed).compactMap { $0.values[name] }
        return Check.statistic(
            parameter, clause: clause, basis: basis, limit: limit, requiredPercent: required, values: values,
            flagged: flagged, expected: expected,
            accept: { v in (low.map { v >= $0 } ?? true) && (high.map { v <= $0 } ?? true) },
            worst: { vs in
                // Furthest from nominal, or the highest.
                if let nominal { return vs.max { abs($0 - nominal) < abs($1 - nominal) } }
                return vs.max()
            })
    }

    /// A count (or a note in `basis`) for information, with no limit.
    static func information(
        _ parameter: String, clause: String, count: Int, basis: String = "events in the period (no limit set)"
    ) -> Check {
        Check(
            parameter: parameter, clause: clause, basis: basis, limit: "-",
            requiredPercent: nil, measuredPercent: nil, worst: Double(count), within: 0, outside: 0, flagged: 0,
            missing: 0, verdict: .information)
    }

    /// A limit for reading: whole numbers without decimals, others with two.
    static func format(_ v: Double) -> String {
        abs(v - v.rounded()) < 1e-9 && abs(v) < 1e9 ? String(Int(v.rounded())) : String(format: "%.2f", v)
    }
}
