import Foundation

/// IEEE 519-2022, "Standard for Harmonic Control in Electric Power Systems": voltage distortion at the point of
/// common coupling against Table 1 by bus voltage, and current distortion (TDD and individual harmonics, in
/// percent of the maximum demand current I_L) against Tables 2–4 by I_SC/I_L (`../shared/reference/pq-methods.md`
/// §5.2, `docs/reports.md`). The standard's statistics (§5.1, §5.2):
/// - voltage: the daily 99th percentile of very short (3-s) values below 1.5 × the limit, and the weekly 95th
///   percentile of short (10-min) values below the limit;
/// - current: the daily 99th percentile of 3-s values below 2 ×, the weekly 99th percentile of 10-min values below
///   1.5 ×, and the weekly 95th percentile below 1 × the limit.
/// A percentile below a limit is the share of values at or below it reaching that percentage, so the same rule
/// as EN 50160's applies: missing data never passes (`Check.statistic`). synx keeps 3-s values without spectra,
/// so the daily statistic covers THD and TDD, not individual harmonics (said in the report).
public enum IEEE519 {
    /// Table 1: individual harmonic and THD limits (%) by the bus voltage (line to line, volts) at the PCC.
    public static func voltageLimits(busVolts v: Double) -> (individual: Double, thd: Double) {
        switch v {
        case ...1_000: (5, 8)
        case ...69_000: (3, 5)
        case ...161_000: (1.5, 2.5)
        default: (1, 1.5)
        }
    }

    /// The harmonic bands of Tables 2–4: the lowest order of each (2022: from 2), to 50.
    public static let bands: [ClosedRange<Int>] = [2...10, 11...16, 17...22, 23...34, 35...50]

    /// Tables 2–4: the current limits (% of I_L) per band and TDD, for the bus voltage and I_SC/I_L.
    public static func currentLimits(busVolts v: Double, ratio: Double) -> (bands: [Double], tdd: Double) {
        let rows: [(below: Double, limits: [Double], tdd: Double)]
        if v <= 69_000 {
            rows = [
                (20, [4, 2, 1.5, 0.6, 0.3], 5), (50, [7, 3.5, 2.5, 1, 0.5], 8), (100, [10, 4.5, 4, 1.5, 0.7], 12),
                (1000, [12, 5.5, 5, 2, 1], 15), (.infinity, [15, 7, 6, 2.5, 1.4], 20),
            ]
        } else if v <= 161_000 {
            rows = [
                (20, [2, 1, 0.75, 0.3, 0.15], 2.5), (50, [3.5, 1.75, 1.25, 0.5, 0.25], 4),
                (100, [5, 2.25, 2, 0.75, 0.35], 6), (1000, [6, 2.75, 2.5, 1, 0.5], 7.5),
                (.infinity, [7.5, 3.5, 3, 1.25, 0.7], 10),
            ]
        } else {
            rows = [(25, [1, 0.5, 0.38, 0.15, 0.1], 1.5), (50, [2, 1, 0.75, 0.3, 0.15], 2.5), (.infinity, [3, 1.5, 1.15, 0.45, 0.22], 3.75)]
        }
        // A ratio on a boundary (20, 50, 100, 1000) takes the next row ("20 < 50" begins at 20); one that is not a
        // number takes the strictest.
        let row = rows.first { ratio < $0.below } ?? (ratio.isNaN ? rows[0] : rows[rows.count - 1])
        return (row.limits, row.tdd)
    }

    /// The limit for current harmonic `order` (2022: even orders up to 6 at 50 % of their band's limit).
    static func currentLimit(order: Int, bandLimits: [Double]) -> Double {
        let band = bands.firstIndex { $0.contains(order) }!
        return bandLimits[band] * (order % 2 == 0 && order <= 6 ? 0.5 : 1)
    }

    /// The assessment of `input`; the current checks need the short-circuit current `isc` and the maximum demand
    /// current `il` at the PCC (amperes), and are information without them.
    public static func assess(_ input: ReportInput, isc: Double?, il: Double?) -> ComplianceReport {
        let bus = input.nominalVoltage * 3.0.squareRoot()
        let v = voltageLimits(busVolts: bus)
        let phases = ReportInput.phases(input.tenMinute)
        let tenMinutes = input.expectedIntervals(600_000)
        var checks: [Check] = []

        // Voltage THD: weekly 95th percentile of 10-min values ≤ the limit; daily 99th of 3-s values ≤ 1.5 ×.
        for p in phases {
            checks.append(
                Check.percentileCheck(
                    "Voltage THD, \(p.uppercased())", clause: "§5.1, Table 1", basis: "10-min values, weekly 95th percentile",
                    intervals: input.tenMinute, expected: tenMinutes, value: { $0.values["thd.voltage.\(p)"] },
                    percent: 95, limit: v.thd))
            checks.append(
                dailyWorst(
                    "Voltage THD, \(p.uppercased())", clause: "§5.1, Table 1", basis: "3-s values, daily 99th percentile",
                    input: input, value: { $0.values["thd.voltage.\(p)"] }, percent: 99, limit: 1.5 * v.thd))
        }
        // Individual voltage harmonics: weekly 95th percentile of each order on each phase; the worst shown.
        let voltageHarmonics = phases.flatMap { p in
            (2...50).map { n in
                Check.percentileCheck(
                    "Individual voltage harmonics (worst: h\(n), \(p.uppercased()))", clause: "§5.1, Table 1",
                    basis: "10-min values, weekly 95th percentile, orders 2–50", intervals: input.tenMinute,
                    expected: tenMinutes, value: { $0.values["harmonic.voltage.\(p).h\(n)"] }, percent: 95,
                    limit: v.individual)
            }
        }
        if let worst = Check.worst(of: voltageHarmonics) { checks.append(worst) }
        checks.append(
            EN50160.information(
                "Individual voltage harmonics, daily 99th percentile of 3-s values", clause: "§5.1", count: 0,
                basis: "not assessed: synx stores 3-s values without spectra"))

        var settings = ["bus_voltage_v": EN50160.format(bus.rounded()), "voltage_individual_limit_percent": EN50160.format(v.individual), "voltage_thd_limit_percent": EN50160.format(v.thd)]
        if let isc, let il, il > 0 {
            let limits = currentLimits(busVolts: bus, ratio: isc / il)
            settings["isc_a"] = EN50160.format(isc)
            settings["il_a"] = EN50160.format(il)
            settings["isc_il_ratio"] = String(format: "%.1f", isc / il)
            for p in phases {
                // TDD = √(Σ I_h²) / I_L = THD_I × I1 / I_L, with the fundamental I1 = I_rms / √(1 + THD_I²).
                let tdd = { (x: IntervalValues) -> Double? in
                    guard let rms = x.values["current.\(p)"], let thd = x.values["thd.current.\(p)"] else { return nil }
                    return thd * rms / (1 + thd * thd / 10_000).squareRoot() / il
                }
                for (percent, factor) in [(95.0, 1.0), (99, 1.5)] {
                    checks.append(
                        Check.percentileCheck(
                            "TDD, \(p.uppercased())", clause: "§5.2, Table 2",
                            basis: "10-min values, weekly \(Int(percent))th percentile", intervals: input.tenMinute,
                            expected: tenMinutes, value: tdd, percent: percent, limit: factor * limits.tdd))
                }
                checks.append(
                    dailyWorst(
                        "TDD, \(p.uppercased())", clause: "§5.2, Table 2", basis: "3-s values, daily 99th percentile",
                        input: input, value: tdd, percent: 99, limit: 2 * limits.tdd))
            }
            for (b, band) in bands.enumerated() {
                for (percent, factor) in [(95.0, 1.0), (99, 1.5)] {
                    let perOrder = phases.flatMap { p in
                        band.map { n in
                            Check.percentileCheck(
                                "Current harmonics \(band.lowerBound)–\(band.upperBound) (worst: h\(n), \(p.uppercased()))",
                                clause: "§5.2, Table 2", basis: "10-min values, weekly \(Int(percent))th percentile, % of I_L",
                                intervals: input.tenMinute, expected: tenMinutes,
                                value: { x in
                                    guard let h = x.values["harmonic.current.\(p).h\(n)"], let rms = x.values["current.\(p)"],
                                        let thd = x.values["thd.current.\(p)"]
                                    else { return nil }
                                    return h * rms / (1 + thd * thd / 10_000).squareRoot() / il
                                }, percent: percent,
                                limit: factor * currentLimit(order: n, bandLimits: limits.bands))
                        }
                    }
                    if var worst = Check.worst(of: perOrder) {
                        worst.limit += b == 0 ? " (even orders to 6: half)" : ""
                        checks.append(worst)
                    }
                }
            }
        } else {
            checks.append(
                EN50160.information(
                    "Current distortion (TDD, individual harmonics)", clause: "§5.2", count: 0,
                    basis: "not assessed: give the short-circuit current I_SC and the maximum demand current I_L"))
        }
        var report = ComplianceReport(
            standard: "IEEE 519-2022", meter: input.meter, fromMs: input.fromMs, toMs: input.toMs, source: input.source,
            settings: settings,
            coveragePercent: input.tenMinuteCoveragePercent,
            checks: checks, tables: [], curves: [], events: [])
        report.trends = [
            EN50160.trend(
                "Voltage THD, 10-min values", unit: "%", input.tenMinute, names: phases.map { "thd.voltage.\($0)" },
                limits: [("limit", v.thd)])
        ].filter { $0.lines.contains { !$0.values.isEmpty } }
        return report
    }

    /// `YYYY-MM-DD` of `date` in `calendar`'s time zone.
    static func date(_ date: Date, _ calendar: Calendar) -> String {
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    /// The daily statistic over the 3-s values, day by day (the site's calendar days, `input.timeZone`, within
    /// the period); the worst day shown. One pass over the sorted values.
    static func dailyWorst(
        _ parameter: String, clause: String, basis: String, input: ReportInput, value: (IntervalValues) -> Double?,
        percent: Double, limit: Double
    ) -> Check {
        guard input.toMs - input.fromMs <= ReportInput.threeSecondPeriodMs else {
            var c = EN50160.information(
                parameter, clause: clause, count: 0, basis: "\(basis): for periods of up to 8 days (report a week)")
            c.verdict = .inconclusive
            return c
        }
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = input.timeZone
        var checks: [Check] = []
        var start = input.fromMs
        var k = 0
        while start < input.toMs {
            let midnight = calendar.startOfDay(for: Date(timeIntervalSince1970: Double(start) / 1000))
            let next = calendar.date(byAdding: .day, value: 1, to: midnight)!
            let end = min(Int64((next.timeIntervalSince1970 * 1000).rounded()), input.toMs)
            let first = k
            while k < input.threeSecond.count, input.threeSecond[k].endMs <= end { k += 1 }
            let c = Check.percentileCheck(
                "\(parameter) (worst day \(Self.date(midnight, calendar)))", clause: clause, basis: basis,
                intervals: Array(input.threeSecond[first..<k].filter { $0.endMs > start }),
                expected: Int((end - start) / 3000), value: value, percent: percent, limit: limit)
            checks.append(c)
            start = end
        }
        return Check.worst(of: checks) ?? EN50160.information(parameter, clause: clause, count: 0, basis: basis)
    }
}
