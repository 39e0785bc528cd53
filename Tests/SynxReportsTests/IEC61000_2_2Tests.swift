import Foundation
import XCTest

@testable import SynxReports

/// IEC 61000-2-2 compatibility levels and NEMA MG 1's unbalance derating, on a synthetic week with known
/// percentiles: the harmonic table against the values the public sources agree on, the 95th percentile exactly at
/// a level, the IEC 60038 supply-voltage band, LVUR from line-to-line voltages, and the derating curve.
final class IEC61000_2_2Tests: XCTestCase {
    /// Monday 2026-11-16 00:00 UTC.
    static let monday: Int64 = 1_794_787_200_000

    /// A clean week of 1008 ten-minute intervals: 230 V, THD 3 %, every harmonic order 2–50 at half its level,
    /// u2 0.5 %, line-to-line voltages 398.4 V each. `edit` changes interval i's values.
    private func week(edit: (Int, inout IntervalValues) -> Void = { _, _ in }) -> ReportInput {
        var input = ReportInput(
            meter: "m", fromMs: Self.monday, toMs: Self.monday + 7 * 86_400_000, source: .classA, nominalVoltage: 230,
            nominalFrequency: 50)
        input.tenMinute = (0..<1008).map { i in
            var values: [String: Double] = ["unbalance.voltage.u2": 0.5]
            for p in ["l1", "l2", "l3"] {
                values["voltage.\(p)n"] = 230
                values["thd.voltage.\(p)"] = 3
                for n in 2...50 { values["harmonic.voltage.\(p).h\(n)"] = IEC61000_2_2.compatibilityLevel(order: n) / 2 }
            }
            for ll in ["l12", "l23", "l31"] { values["voltage.\(ll)"] = 398.4 }
            var v = IntervalValues(endMs: Self.monday + Int64(i + 1) * 600_000, values: values)
            edit(i, &v)
            return v
        }
        return input
    }

    private func check(_ report: ComplianceReport, _ parameter: String) throws -> Check {
        try XCTUnwrap(report.checks.first { $0.parameter == parameter }, "no check \(parameter)")
    }

    /// Table 1 as the secondary sources agree on it (`../shared/reference/pq-methods.md`, issue 13's note):
    /// 8 on its own row at 0.5, the even formula from 10, the odd formula from 17, 0.2 for triplens above 21.
    func testCompatibilityLevels_matchTheTable() {
        let expected: [Int: Double] = [
            2: 2, 3: 5, 4: 1, 5: 6, 6: 0.5, 7: 5, 8: 0.5, 9: 1.5, 10: 0.5, 11: 3.5, 12: 0.458, 13: 3, 14: 0.429,
            15: 0.4, 16: 0.406, 17: 2, 18: 0.389, 19: 1.761, 20: 0.375, 21: 0.3, 22: 0.364, 23: 1.408, 24: 0.354,
            25: 1.274, 26: 0.346, 27: 0.2, 28: 0.339, 29: 1.061, 30: 0.333, 31: 0.975, 32: 0.328, 33: 0.2, 34: 0.324,
            35: 0.833, 36: 0.319, 37: 0.773, 38: 0.316, 39: 0.2, 40: 0.312, 41: 0.671, 42: 0.310, 43: 0.627,
            44: 0.307, 45: 0.2, 46: 0.304, 47: 0.551, 48: 0.302, 49: 0.518, 50: 0.3,
        ]
        for (order, level) in expected {
            XCTAssertEqual(IEC61000_2_2.compatibilityLevel(order: order), level, accuracy: 0.0006, "order \(order)")
        }
    }

    func testCleanWeek_isWithinEveryLevel() throws {
        let report = IEC61000_2_2.assess(week(), motorBus: false)
        XCTAssertEqual(report.verdict, .pass)
        XCTAssertEqual(report.checks.count, 3 + 3 + 49 + 1, "voltage and THD per phase, orders 2–50, u2")
        XCTAssertEqual(try check(report, "Harmonic 5, L1").limitValue, 6)
        XCTAssertEqual(try check(report, "Harmonic 19, L1").limit, "≤ 1.76 %")
        XCTAssertEqual(try check(report, "Harmonic 45, L1").clause, "Table 1 (2002 edition)")
        XCTAssertEqual(report.spectrum.count, 49)
        XCTAssertEqual(report.spectrum.first { $0.order == 8 }?.limit, 0.5)
        XCTAssertEqual(report.settings["motor_bus"], "no")
        XCTAssertNil(report.checks.first { $0.parameter.hasPrefix("Line-voltage unbalance") })
    }

    /// 50 of 1008 intervals above the level is exactly the 95th percentile at it (958 within): within; one more is
    /// above. The worst phase is shown.
    func testHarmonic_exactlyAtThe95thPercentile() throws {
        func report(above: Int) -> ComplianceReport {
            IEC61000_2_2.assess(
                week { i, v in if i < above { v.values["harmonic.voltage.l2.h7"] = 5.5 } }, motorBus: false)
        }
        let at = try check(report(above: 50), "Harmonic 7, L2")
        XCTAssertEqual(at.verdict, .pass)
        XCTAssertEqual(at.within, 958)
        XCTAssertEqual(at.percentile, 2.5)
        let over = try check(report(above: 51), "Harmonic 7, L2")
        XCTAssertEqual(over.verdict, .fail)
        XCTAssertEqual(over.percentile, 5.5)
        XCTAssertEqual(report(above: 51).spectrum.first { $0.order == 7 }?.phase, "l2")
    }

    /// IEC 60038's band (±10 %), labelled as its own: 95 % of the week within it.
    func testSupplyVoltage_againstIEC60038() throws {
        let r = IEC61000_2_2.assess(week { i, v in if i < 60 { v.values["voltage.l3n"] = 254 } }, motorBus: false)
        let l3 = try check(r, "Supply voltage, L3")
        XCTAssertEqual(l3.clause, "IEC 60038 (not an IEC 61000-2-2 level)")
        XCTAssertEqual(l3.limit, "within 207 … 253 V")
        XCTAssertEqual(l3.verdict, .fail, "948 of 1008 is 94.0 %")
        XCTAssertEqual(try check(r, "Supply voltage, L1").verdict, .pass)
    }

    /// Intervals flagged by a dip are left out and counted, whatever they hold.
    func testFlaggedIntervals_areLeftOut() throws {
        let r = IEC61000_2_2.assess(
            week { i, v in
                if i < 60 {
                    v.flags = ["flagged"]
                    v.values["thd.voltage.l1"] = 20
                }
            }, motorBus: true)
        let thd = try check(r, "THD, L1")
        XCTAssertEqual(thd.verdict, .pass)
        XCTAssertEqual(thd.flagged, 60)
        XCTAssertEqual(thd.within, 948)
        XCTAssertEqual(thd.percentile, 3)
        XCTAssertEqual(r.checks.count, 3 + 3 + 49 + 1 + 3, "and on a motor bus LVUR and two derating factors")
    }

    /// An incomplete interval (the engine started inside it; a polled value from under half its polls) is not a
    /// 10-min value: missing to the statistics whatever it holds, and out of the coverage.
    func testIncompleteIntervals_areMissing() throws {
        let r = IEC61000_2_2.assess(
            week { i, v in
                if i < 60 {
                    v.flags = ["incomplete"]
                    v.values["thd.voltage.l1"] = 2
                }
            }, motorBus: false)
        let thd = try check(r, "THD, L1")
        XCTAssertEqual(thd.within, 948)
        XCTAssertEqual(thd.missing, 60)
        XCTAssertEqual(thd.verdict, .inconclusive, "948 of 1008 is below 95 % unless the 60 count")
        XCTAssertEqual(r.coveragePercent, 948.0 / 1008 * 100, accuracy: 1e-9)
    }

    /// 90 % of the week present: a 95th percentile that the missing 10 % could decide is no verdict.
    func testCoverage_missingDataIsNotWithin() throws {
        var input = week()
        input.tenMinute.removeLast(101)
        let r = IEC61000_2_2.assess(input, motorBus: false)
        XCTAssertEqual(try check(r, "THD, L1").verdict, .inconclusive)
        XCTAssertEqual(r.verdict, .inconclusive)
    }

    /// NEMA's example 462/463/455 V: 1.087 % LVUR, from the three line-to-line voltages of each interval.
    func testMotorBus_LVURFromLineToLineVoltages_andDerating() throws {
        let r = IEC61000_2_2.assess(
            week { _, v in
                v.values["voltage.l12"] = 462
                v.values["voltage.l23"] = 463
                v.values["voltage.l31"] = 455
            }, motorBus: true)
        let lvur = try check(r, "Line-voltage unbalance (NEMA LVUR)")
        XCTAssertEqual(try XCTUnwrap(lvur.percentile), 100 * (460 - 455) / 460.0, accuracy: 1e-9)
        XCTAssertEqual(lvur.verdict, .fail, "above 1 %: motors derated")
        let factor = try check(r, "Motor derating factor at the 95th percentile")
        XCTAssertEqual(try XCTUnwrap(factor.worst), 1 - 0.05 * (100 * 5 / 460.0 - 1), accuracy: 1e-9)
        XCTAssertEqual(r.settings["motor_bus"], "yes")
        XCTAssertEqual(r.trends.first { $0.title.hasPrefix("Voltage unbalance") }?.lines.count, 2, "u2 and LVUR")

        // A meter's own LVUR (a Class A aggregate) is used as it is.
        let own = IEC61000_2_2.assess(week { _, v in v.values[NEMAMG1.name] = 0.4 }, motorBus: true)
        XCTAssertEqual(try check(own, "Line-voltage unbalance (NEMA LVUR)").verdict, .pass)
        XCTAssertEqual(try check(own, "Motor derating factor at the worst 10-min value").worst, 1)
    }

    func testDeratingCurve_pointsInterpolationAndLimits() throws {
        XCTAssertEqual(NEMAMG1.deratingFactor(unbalancePercent: 0), 1)
        XCTAssertEqual(NEMAMG1.deratingFactor(unbalancePercent: 0.5), 1, "rated load up to 1 %")
        XCTAssertEqual(NEMAMG1.deratingFactor(unbalancePercent: 1), 1)
        XCTAssertEqual(try XCTUnwrap(NEMAMG1.deratingFactor(unbalancePercent: 3.5)), 0.85, accuracy: 1e-12)
        XCTAssertEqual(NEMAMG1.deratingFactor(unbalancePercent: 2), 0.95)
        XCTAssertEqual(try XCTUnwrap(NEMAMG1.deratingFactor(unbalancePercent: 2.5)), 0.915, accuracy: 1e-12)
        XCTAssertEqual(NEMAMG1.deratingFactor(unbalancePercent: 4), 0.82)
        XCTAssertEqual(NEMAMG1.deratingFactor(unbalancePercent: 5), 0.75)
        XCTAssertNil(NEMAMG1.deratingFactor(unbalancePercent: 5.01), "operation not recommended")
        XCTAssertNil(NEMAMG1.deratingFactor(unbalancePercent: .nan))
        XCTAssertEqual(NEMAMG1.deratingFactor(unbalancePercent: -1), 1)
        let r = IEC61000_2_2.assess(week { _, v in v.values[NEMAMG1.name] = 6 }, motorBus: true)
        let worst = try XCTUnwrap(r.checks.first { $0.parameter == "Motor derating factor at the worst 10-min value" })
        XCTAssertNil(worst.worst)
        XCTAssertEqual(worst.basis, "LVUR 6.00 %: above 5 %, operation not recommended")
    }

    /// A motor bus whose meter has neither LVUR nor line-to-line voltages: not measured, no factor.
    func testMotorBus_withoutLineVoltages_isNotMeasured() throws {
        let r = IEC61000_2_2.assess(
            week { _, v in for ll in ["l12", "l23", "l31"] { v.values["voltage.\(ll)"] = nil } }, motorBus: true)
        XCTAssertEqual(try check(r, "Line-voltage unbalance (NEMA LVUR)").basis, "not measured by this meter")
        XCTAssertNil(r.checks.first { $0.parameter.hasPrefix("Motor derating") })
    }
}
