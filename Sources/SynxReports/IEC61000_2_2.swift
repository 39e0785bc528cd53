import Foundation

/// IEC 61000-2-2:2002 (+A1:2017, +A2:2018), "Compatibility levels for low-frequency conducted disturbances and
/// signalling in public low-voltage power supply systems": one meter's 10-min values against the compatibility
/// levels for harmonic voltages (Table 1, orders 2–50, and THD) and voltage unbalance, with the supply voltage
/// against IEC 60038's ±10 % band (slow voltage variation is not an IEC 61000-2-2 level) and, on a motor bus, NEMA
/// MG 1's line-voltage unbalance with the motor derating factor (`docs/reports.md`).
///
/// A compatibility level is a reference level that, by IEC's convention, has about a 95 % probability of not being
/// exceeded system-wide; it is not a per-site limit. synx holds the 95th percentile of the period's 10-min values
/// to it, with EN 50160's rule that missing data never passes (`Check.statistic`). The table's values come from
/// secondary sources (`../shared/reference/pq-methods.md`, the note of issue 13): orders 41–50 are the 2002
/// edition's, which the consolidated edition may have cut to order 40.
public enum IEC61000_2_2 {
    /// The compatibility level for harmonic voltage `order` (2…50), % of the fundamental (Table 1).
    public static func compatibilityLevel(order h: Int) -> Double {
        let n = Double(h)
        switch h {
        case 2: return 2
        case 4: return 1
        case 6, 8: return 0.5
        case _ where h % 2 == 0: return 0.25 * 10 / n + 0.25
        case 3: return 5
        case 9: return 1.5
        case 15: return 0.4
        case 21: return 0.3
        case _ where h % 3 == 0: return 0.2
        case 5: return 6
        case 7: return 5
        case 11: return 3.5
        case 13: return 3
        default: return 2.27 * 17 / n - 0.27
        }
    }

    /// The compatibility level for the total harmonic distortion, % (Table 1).
    public static let thdLevel = 8.0
    /// The compatibility level for voltage unbalance, negative-sequence ratio u2, %.
    public static let unbalanceLevel = 2.0
    /// IEC 60038's band for the supply voltage at the supply terminals, ± fraction of the nominal voltage.
    public static let supplyVoltageBand = 0.10

    /// The assessment of `input`; with `motorBus`, also NEMA MG 1's unbalance and derating.
    public static func assess(_ input: ReportInput, motorBus: Bool) -> ComplianceReport {
        let un = input.nominalVoltage
        let tenMinutes = input.expectedIntervals(600_000)
        let phases = ReportInput.phases(input.tenMinute)
        let basis = "10-min values, 95th percentile"
        var checks: [Check] = []

        for p in phases {
            checks.append(
                EN50160.check(
                    "Supply voltage, \(p.uppercased())", clause: "IEC 60038 (not an IEC 61000-2-2 level)",
                    basis: "10-min mean RMS, 95 % of the period", intervals: input.tenMinute, expected: tenMinutes,
                    name: "voltage.\(p)n", required: 95, low: un * (1 - supplyVoltageBand),
                    high: un * (1 + supplyVoltageBand), unit: "V", nominal: un))
        }
        for p in phases {
            checks.append(
                Check.percentileCheck(
                    "THD, \(p.uppercased())", clause: "Table 1", basis: basis, intervals: input.tenMinute,
                    expected: tenMinutes, value: { $0.values["thd.voltage.\(p)"] }, percent: 95, limit: thdLevel))
        }
        for order in 2...50 {
            let perPhase = phases.map { p in
                Check.percentileCheck(
                    "Harmonic \(order), \(p.uppercased())", clause: order > 40 ? "Table 1 (2002 edition)" : "Table 1",
                    basis: basis, intervals: input.tenMinute, expected: tenMinutes,
                    value: { $0.values["harmonic.voltage.\(p).h\(order)"] }, percent: 95,
                    limit: compatibilityLevel(order: order))
            }
            if let worst = Check.worst(of: perPhase) { checks.append(worst) }
        }
        checks.append(
            Check.percentileCheck(
                "Voltage unbalance u2", clause: "clause 4, voltage unbalance", basis: basis, intervals: input.tenMinute,
                expected: tenMinutes, value: { $0.values["unbalance.voltage.u2"] }, percent: 95,
                limit: unbalanceLevel))
        var settings = ["nominal_voltage_v": EN50160.format(un), "motor_bus": motorBus ? "yes" : "no"]
        var unbalanceLines = ["unbalance.voltage.u2"]
        // On a motor bus each interval also holds its line-voltage unbalance, for the checks and the trend.
        let intervals = motorBus ? NEMAMG1.withLineVoltageUnbalance(input.tenMinute) : input.tenMinute
        if motorBus {
            checks += NEMAMG1.checks(intervals, expected: tenMinutes)
            settings["nema_derating_curve"] = "approximate reading of NEMA MG 1 Figure 14-1"
            unbalanceLines.append(NEMAMG1.name)
        }

        var report = ComplianceReport(
            standard: "IEC 61000-2-2:2002+A1:2017+A2:2018", meter: input.meter, fromMs: input.fromMs,
            toMs: input.toMs, source: input.source, settings: settings,
            coveragePercent: input.tenMinuteCoveragePercent,
            checks: checks, tables: [], curves: [], events: [])
        let band = [("+10 %", un * (1 + supplyVoltageBand)), ("−10 %", un * (1 - supplyVoltageBand))]
        report.trends = [
            EN50160.trend(
                "Supply voltage, 10-min mean", unit: "V", input.tenMinute, names: phases.map { "voltage.\($0)n" },
                limits: band),
            EN50160.trend(
                "Voltage THD, 10-min mean", unit: "%", input.tenMinute, names: phases.map { "thd.voltage.\($0)" },
                limits: [("\(EN50160.format(thdLevel)) %", thdLevel)]),
            EN50160.trend(
                "Voltage unbalance, 10-min mean", unit: "%", intervals, names: unbalanceLines,
                limits: [("u2 2 %", unbalanceLevel)] + (motorBus ? [("NEMA 1 %", NEMAMG1.ratedLoadPercent)] : [])),
        ].filter { $0.lines.contains { !$0.values.isEmpty } }
        report.spectrum = EN50160.spectrum(input.tenMinute, phases: phases, orders: 2...50) { compatibilityLevel(order: $0) }
        return report
    }
}

/// NEMA MG 1 (Part 14): a polyphase motor runs at rated load with up to 1 % line-voltage unbalance, is derated
/// above it along Figure 14-1, and should not run above 5 %. The unbalance is NEMA's LVUR: the largest deviation
/// of a line-to-line voltage from the mean of the three, in percent of the mean (`Unbalance.nemaPercent`).
public enum NEMAMG1 {
    /// The canonical name of the line-voltage unbalance (`docs/measurements.md`).
    public static let name = "unbalance.voltage.nema"
    /// Up to this unbalance (%) a motor runs at rated load (MG 1 Part 14; Condensed MG 1-2011 §9.10).
    public static let ratedLoadPercent = 1.0
    /// Above this unbalance (%) operation is not recommended.
    public static let maximumPercent = 5.0
    /// Figure 14-1 as points (unbalance %, derating factor): a reading of NEMA's graph that published readings
    /// agree with to about ±0.01 (the curve is printed, not tabulated).
    public static let deratingCurve: [(percent: Double, factor: Double)] = [
        (0, 1), (1, 1), (2, 0.95), (3, 0.88), (4, 0.82), (5, 0.75),
    ]

    /// The derating factor for `unbalance` (%), linear between the curve's points; nil above 5 % (operation not
    /// recommended) or for a value that is not a number.
    public static func deratingFactor(unbalancePercent u: Double) -> Double? {
        guard u.isFinite, u <= maximumPercent else { return nil }
        guard u > 0 else { return 1 }
        guard let i = deratingCurve.firstIndex(where: { $0.percent >= u }), i > 0 else { return nil }
        let (a, b) = (deratingCurve[i - 1], deratingCurve[i])
        return a.factor + (b.factor - a.factor) * (u - a.percent) / (b.percent - a.percent)
    }

    /// `intervals` with the line-voltage unbalance under `name`: the meter's own (a Class A aggregate holds it), or
    /// computed from the interval's three line-to-line voltages (a polled meter's 10-min means; from means of the
    /// magnitudes, which is how a meter without LVUR can be assessed at all). The formula is
    /// `SynxDSP.Unbalance.nemaPercent`'s, repeated here because reports do not link the engine.
    static func withLineVoltageUnbalance(_ intervals: [IntervalValues]) -> [IntervalValues] {
        intervals.map { x in
            guard x.values[name] == nil else { return x }
            let ll = ["voltage.l12", "voltage.l23", "voltage.l31"].compactMap { x.values[$0] }
            guard ll.count == 3 else { return x }
            let mean = ll.reduce(0, +) / 3
            guard mean > 0 else { return x }
            var y = x
            y.values[name] = ll.map { abs($0 - mean) }.max()! / mean * 100
            return y
        }
    }

    /// The checks of a motor bus, over 10-min `intervals` that hold their LVUR (`withLineVoltageUnbalance`): the
    /// 95th percentile at or below 1 % (rated load), and the derating factor at that percentile and at the worst
    /// interval, for information (in the check's `worst`).
    static func checks(_ intervals: [IntervalValues], expected: Int) -> [Check] {
        let check = Check.percentileCheck(
            "Line-voltage unbalance (NEMA LVUR)", clause: "NEMA MG 1 Part 14", basis: "10-min values, 95th percentile",
            intervals: intervals, expected: expected, value: { $0.values[name] }, percent: 95,
            limit: ratedLoadPercent)
        var out = [check]
        guard check.percentile != nil else { return out }
        for (label, value) in [("95th percentile", check.percentile), ("worst 10-min value", check.worst)] {
            guard let value else { continue }
            let factor = deratingFactor(unbalancePercent: value)
            out.append(
                Check(
                    parameter: "Motor derating factor at the \(label)", clause: "NEMA MG 1 Figure 14-1 (approximate)",
                    basis: factor == nil
                        ? String(format: "LVUR %.2f %%: above 5 %%, operation not recommended", value)
                        : String(format: "LVUR %.2f %%: multiply the motor's rated power by this factor", value),
                    limit: "-", requiredPercent: nil, measuredPercent: nil, worst: factor, within: 0, outside: 0,
                    flagged: 0, missing: 0, verdict: .information))
        }
        return out
    }
}
