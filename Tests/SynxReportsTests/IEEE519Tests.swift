import Foundation
import XCTest

@testable import SynxReports

/// IEEE 519-2022 from a synthetic week: the tables looked up by bus voltage and I_SC/I_L, the percentile
/// statistics at their boundaries, TDD and harmonic currents in percent of I_L.
final class IEEE519Tests: XCTestCase {
    func testTables_byBusVoltage_andShortCircuitRatio() {
        XCTAssertTrue(IEEE519.voltageLimits(busVolts: 400) == (5, 8))
        XCTAssertTrue(IEEE519.voltageLimits(busVolts: 11_000) == (3, 5))
        XCTAssertTrue(IEEE519.voltageLimits(busVolts: 132_000) == (1.5, 2.5))
        XCTAssertTrue(IEEE519.voltageLimits(busVolts: 400_000) == (1, 1.5))
        XCTAssertEqual(IEEE519.currentLimits(busVolts: 400, ratio: 30).bands, [7, 3.5, 2.5, 1, 0.5])
        XCTAssertEqual(IEEE519.currentLimits(busVolts: 400, ratio: 30).tdd, 8)
        XCTAssertEqual(IEEE519.currentLimits(busVolts: 400, ratio: 19.9).tdd, 5)
        XCTAssertEqual(IEEE519.currentLimits(busVolts: 400, ratio: 2000).tdd, 20)
        // On a boundary the next row ("20 < 50" begins at 20); not a number: the strictest.
        XCTAssertEqual(IEEE519.currentLimits(busVolts: 400, ratio: 20).tdd, 8)
        XCTAssertEqual(IEEE519.currentLimits(busVolts: 400, ratio: 1000).tdd, 20)
        XCTAssertEqual(IEEE519.currentLimits(busVolts: 400, ratio: .nan).tdd, 5)
        XCTAssertEqual(IEEE519.currentLimits(busVolts: 132_000, ratio: 60).tdd, 6)
        XCTAssertEqual(IEEE519.currentLimits(busVolts: 230_000, ratio: 30).tdd, 2.5)
        let row = IEEE519.currentLimits(busVolts: 400, ratio: 150).bands
        XCTAssertEqual(IEEE519.currentLimit(order: 2, bandLimits: row), 6, "even orders to 6: half (2022)")
        XCTAssertEqual(IEEE519.currentLimit(order: 8, bandLimits: row), 12)
        XCTAssertEqual(IEEE519.currentLimit(order: 13, bandLimits: row), 5.5)
        XCTAssertEqual(IEEE519.currentLimit(order: 50, bandLimits: row), 1)
    }

    /// A week at 230 V (400 V bus: THD 8 %, individual 5 %): 10-min voltage THD 7.9 % with `highTHD` intervals at
    /// 8.5 %; 3-s THD 7 % with `highDaily` values a day (on the first day) at 12.5 %; current 100 A with 20 % THD
    /// and a 15 % 5th harmonic.
    private func week(highTHD: Int, highDaily: Int) -> ReportInput {
        let monday = EN50160Tests.monday
        var input = ReportInput(
            meter: "m", fromMs: monday, toMs: monday + EN50160Tests.week, source: .classA, nominalVoltage: 230,
            nominalFrequency: 50)
        input.tenMinute = (0..<1008).map { i in
            IntervalValues(
                endMs: monday + Int64(i + 1) * 600_000,
                values: [
                    "voltage.l1n": 230, "thd.voltage.l1": i < highTHD ? 8.5 : 7.9, "harmonic.voltage.l1.h5": 4.5,
                    "current.l1": 100, "thd.current.l1": 20, "harmonic.current.l1.h5": 15, "harmonic.current.l1.h2": 5,
                ])
        }
        input.threeSecond = (0..<201_600).map { i in
            IntervalValues(
                endMs: monday + Int64(i + 1) * 3000,
                values: ["thd.voltage.l1": i < highDaily ? 12.5 : 7, "current.l1": 100, "thd.current.l1": 20])
        }
        return input
    }

    private func check(_ r: ComplianceReport, _ prefix: String, basis: String) throws -> Check {
        try XCTUnwrap(r.checks.first { $0.parameter.hasPrefix(prefix) && $0.basis.hasPrefix(basis) }, "\(prefix) / \(basis)")
    }

    func testVoltageTHD_weekly95thAndDaily99th_atTheirBoundaries() throws {
        // 95 % of 1008 = 957.6: 50 above leaves 958 (pass), 51 leaves 957 (fail). 99 % of a day's 28 800 3-s values
        // = 28 512: 288 above 1.5 × 8 % passes, 289 fails.
        for (high, verdict) in [(50, Verdict.pass), (51, .fail)] {
            let r = IEEE519.assess(week(highTHD: high, highDaily: 0), isc: nil, il: nil)
            XCTAssertEqual(try check(r, "Voltage THD, L1", basis: "10-min").verdict, verdict, "\(high) above")
        }
        for (high, verdict) in [(288, Verdict.pass), (289, .fail)] {
            let r = IEEE519.assess(week(highTHD: 0, highDaily: high), isc: nil, il: nil)
            let daily = try check(r, "Voltage THD, L1", basis: "3-s")
            XCTAssertEqual(daily.verdict, verdict, "\(high) above 12 % on one day")
            XCTAssertEqual(daily.limit, "≤ 12 %")
            XCTAssertTrue(daily.parameter.contains("worst day 2026-11-16"), daily.parameter)
        }
        let r = IEEE519.assess(week(highTHD: 0, highDaily: 0), isc: nil, il: nil)
        XCTAssertEqual(try check(r, "Voltage THD, L1", basis: "10-min").percentile, 7.9)
        XCTAssertEqual(try check(r, "Individual voltage harmonics", basis: "10-min").verdict, .pass)
        XCTAssertEqual(try check(r, "Current distortion", basis: "not assessed").verdict, .information)
        XCTAssertEqual(r.settings["bus_voltage_v"], "398")
    }

    /// TDD = THD_I × I1 / I_L with I1 = 100 A / √1.04 = 98.06 A: 9.81 % of an I_L of 200 A (limit 15 % at
    /// I_SC/I_L = 100), 19.6 % of 100 A (fail, and the daily 99th of 3-s values under 2 × 15 % still passes).
    func testTDD_andHarmonicCurrents_inPercentOfIL() throws {
        let fundamental = 100 / 1.04.squareRoot()
        let ok = IEEE519.assess(week(highTHD: 0, highDaily: 0), isc: 20_000, il: 200)
        XCTAssertEqual(ok.settings["isc_il_ratio"], "100.0")
        let tdd = try check(ok, "TDD, L1", basis: "10-min values, weekly 95th")
        XCTAssertEqual(try XCTUnwrap(tdd.percentile), 20 * fundamental / 200, accuracy: 1e-9)
        XCTAssertEqual(tdd.verdict, .pass)
        let band = try check(ok, "Current harmonics 2–10", basis: "10-min values, weekly 95th")
        XCTAssertEqual(band.verdict, .pass)
        XCTAssertEqual(try XCTUnwrap(band.worst), 15 * fundamental / 200, accuracy: 1e-9, "the 5th: 7.35 % of I_L")
        let high = IEEE519.assess(week(highTHD: 0, highDaily: 0), isc: 10_000, il: 100)
        XCTAssertEqual(try check(high, "TDD, L1", basis: "10-min values, weekly 95th").verdict, .fail)
        XCTAssertEqual(try check(high, "TDD, L1", basis: "3-s").verdict, .pass, "19.6 % ≤ 2 × 15 %")
        XCTAssertEqual(try check(high, "Current harmonics 2–10", basis: "10-min values, weekly 95th").verdict, .fail, "14.7 % > 12 %")
    }
}
