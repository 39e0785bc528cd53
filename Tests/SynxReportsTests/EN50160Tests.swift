import Foundation
import SynxStore
import XCTest

@testable import SynxReports

/// EN 50160 verdicts from a synthetic week with known statistics, the boundary cases included: exactly the
/// required share within, flagged intervals left out, 90 % coverage, the 100 % bands, the worst harmonic phase.
final class EN50160Tests: XCTestCase {
    /// Monday 2026-11-16 00:00 UTC.
    static let monday: Int64 = 1_794_787_200_000
    static let week: Int64 = 7 * 86_400_000

    /// A clean LV week: 1008 ten-minute intervals at 230 V, 3 % THD, 4 % 5th harmonic, u2 0.5 %; 84 two-hour Plt of
    /// 0.4; 60 480 ten-second frequencies at 50.02 Hz. `edit` changes interval i's values.
    private func week(
        intervals: Int = 1008, edit: (Int, inout IntervalValues) -> Void = { _, _ in }
    ) -> ReportInput {
        var input = ReportInput(
            meter: "m", fromMs: Self.monday, toMs: Self.monday + Self.week, source: .classA, nominalVoltage: 230,
            nominalFrequency: 50)
        input.tenMinute = (0..<intervals).map { i in
            var values: [String: Double] = ["unbalance.voltage.u2": 0.5]
            for p in ["l1", "l2", "l3"] {
                values["voltage.\(p)n"] = 230
                values["thd.voltage.\(p)"] = 3
                for n in 2...25 { values["harmonic.voltage.\(p).h\(n)"] = n == 5 ? 4 : 0.1 }
            }
            var v = IntervalValues(endMs: Self.monday + Int64(i + 1) * 600_000, values: values)
            edit(i, &v)
            return v
        }
        input.twoHour = (0..<84).map {
            IntervalValues(
                endMs: Self.monday + Int64($0 + 1) * 7_200_000,
                values: ["flicker.plt.l1": 0.4, "flicker.plt.l2": 0.4, "flicker.plt.l3": 0.4])
        }
        input.tenSecond = (0..<60_480).map {
            IntervalValues(endMs: Self.monday + Int64($0 + 1) * 10_000, values: ["frequency": 50.02])
        }
        return input
    }

    private func check(_ report: ComplianceReport, _ parameter: String) throws -> [Check] {
        let found = report.checks.filter { $0.parameter == parameter }
        XCTAssertFalse(found.isEmpty, "no check \(parameter)")
        return found
    }

    func testCleanWeek_passesEveryLimit_andCountsNoEvents() throws {
        let report = EN50160.assess(week(), level: .lv, connection: .interconnected)
        XCTAssertEqual(report.verdict, .pass)
        XCTAssertEqual(report.coveragePercent, 100)
        XCTAssertEqual(report.checks.filter { $0.verdict == .pass }.count, 2 + 6 + 3 + 1 + 3 + 24)
        XCTAssertTrue(report.checks.filter { $0.verdict != .pass }.allSatisfy { $0.verdict == .information })
        let voltage = try check(report, "Supply voltage variations, L1")
        XCTAssertEqual(voltage.map(\.limit), ["within 207 … 253 V", "within 195.50 … 253 V"])
        XCTAssertEqual(voltage.map(\.within), [1008, 1008])
        XCTAssertEqual(try check(report, "Power frequency").map(\.within), [60_480, 60_480])
        XCTAssertEqual(try check(report, "Harmonic 5, L1").first?.worst, 4)
    }

    /// 95 % of 1008 is 957.6 intervals: 50 outside leaves 958 within (pass), 51 leaves 957 (fail).
    func testExactlyAtThe95PercentBoundary() throws {
        for (outside, verdict) in [(50, Verdict.pass), (51, .fail)] {
            let report = EN50160.assess(
                week { i, v in if i < outside { v.values["voltage.l2n"] = 254 } }, level: .lv,
                connection: .interconnected)
            let checks = try check(report, "Supply voltage variations, L2")
            XCTAssertEqual(checks[0].verdict, verdict, "\(outside) intervals outside ±10 %")
            XCTAssertEqual(checks[0].outside, outside)
            XCTAssertEqual(checks[1].verdict, .fail, "254 V is outside the +10 % of the 100 % band too")
            XCTAssertEqual(checks[0].worst, 254)
            XCTAssertEqual(report.verdict, .fail)
        }
    }

    /// Flagged intervals (a dip in them) are left out of the statistic and counted, even when out of limits.
    func testFlaggedIntervals_areLeftOut_andCounted() throws {
        let report = EN50160.assess(
            week { i, v in
                if i < 100 {
                    v.values["voltage.l3n"] = 150
                    v.flags = ["flagged"]
                }
            }, level: .lv, connection: .interconnected)
        for c in try check(report, "Supply voltage variations, L3") {
            XCTAssertEqual(c.verdict, .pass)
            XCTAssertEqual(c.flagged, 100)
            XCTAssertEqual(c.within, 908)
            XCTAssertEqual(c.missing, 0)
        }
    }

    /// 90 % coverage, every value within: a pass cannot be claimed (the missing 10 % could be outside), nor a
    /// fail: inconclusive. With 10 % missing and 6 % of the week outside, the limit is broken whatever is missing.
    func testNinetyPercentCoverage_isInconclusive_notAPass() throws {
        let sparse = EN50160.assess(week(intervals: 907), level: .lv, connection: .interconnected)
        XCTAssertEqual(sparse.coveragePercent, 907.0 / 1008 * 100, accuracy: 1e-9)
        let voltage = try check(sparse, "Supply voltage variations, L1")
        XCTAssertEqual(voltage.map(\.verdict), [.inconclusive, .inconclusive])
        XCTAssertEqual(voltage[0].missing, 101)
        XCTAssertEqual(voltage[0].measuredPercent, 100)
        XCTAssertEqual(sparse.verdict, .inconclusive)
        let broken = EN50160.assess(
            week(intervals: 907) { i, v in if i < 61 { v.values["thd.voltage.l1"] = 9 } }, level: .lv,
            connection: .interconnected)
        XCTAssertEqual(try check(broken, "THD, L1").first?.verdict, .fail)
    }

    /// The MV bands: ±10 % for 99 %, ±15 % for 100 %; 190 V (−17 %) once breaks the LV 100 % band (+10/−15 %)
    /// and the MV one.
    func testMediumVoltageBands_andThe100PercentBand() throws {
        let input = week { i, v in if i == 7 { v.values["voltage.l1n"] = 190 } }
        let lv = try check(EN50160.assess(input, level: .lv, connection: .interconnected), "Supply voltage variations, L1")
        XCTAssertEqual(lv.map(\.verdict), [.pass, .fail])
        let mv = try check(EN50160.assess(input, level: .mv, connection: .interconnected), "Supply voltage variations, L1")
        XCTAssertEqual(mv.map(\.requiredPercent), [99, 100])
        XCTAssertEqual(mv.map(\.verdict), [.pass, .fail])
    }

    /// Each harmonic order is assessed per phase and the worst phase reported; frequency on an island network has
    /// the ±2 % / ±15 % bands.
    func testHarmonics_worstPhase_andIslandFrequency() throws {
        let input = week { i, v in
            if i < 60 { v.values["harmonic.voltage.l2.h5"] = 6.5 }
            if i < 30 { v.values["harmonic.voltage.l3.h5"] = 6.5 }
        }
        let h5 = try check(EN50160.assess(input, level: .lv, connection: .interconnected), "Harmonic 5, L2")
        XCTAssertEqual(h5.first?.verdict, .fail, "60 of 1008 above 6 %: 94.0 % within")
        XCTAssertEqual(h5.first?.limit, "≤ 6 %")
        var island = week()
        island.tenSecond = island.tenSecond.enumerated().map { i, v in
            var v = v
            if i % 20 == 0 { v.values["frequency"] = 51.5 }  // 5 % of the values at +3 %
            return v
        }
        let frequency = try check(EN50160.assess(island, level: .lv, connection: .island), "Power frequency")
        XCTAssertEqual(frequency.map(\.limit), ["within 49 … 51 Hz", "within 42.50 … 57.50 Hz"])
        XCTAssertEqual(frequency.map(\.verdict), [.pass, .pass], "exactly 95 % within ±2 %")
        let interconnected = try check(EN50160.assess(island, level: .lv, connection: .interconnected), "Power frequency")
        XCTAssertEqual(interconnected.map(\.verdict), [.fail, .pass])
    }

    /// A period without any value is assessed, and inconclusive, not left out (nor called a pass).
    func testEmptyPeriod_isInconclusive_forEveryPhase() throws {
        let empty = ReportInput(
            meter: "m", fromMs: Self.monday, toMs: Self.monday + Self.week, source: .classA, nominalVoltage: 230,
            nominalFrequency: 50)
        let report = EN50160.assess(empty, level: .lv, connection: .interconnected)
        XCTAssertEqual(report.verdict, .inconclusive)
        XCTAssertEqual(report.checks.filter { $0.parameter.hasPrefix("Supply voltage variations") }.count, 6)
        XCTAssertEqual(try check(report, "Supply voltage variations, L3").first?.missing, 1008)
        XCTAssertEqual(IEEE519.assess(empty, isc: nil, il: nil).verdict, .inconclusive)
    }

    /// A meter that does not measure a parameter gets no verdict on it, rather than a pass.
    func testUnmeasuredParameter_isInformation() throws {
        let report = EN50160.assess(
            week { _, v in v.values["unbalance.voltage.u2"] = nil }, level: .lv, connection: .interconnected)
        let u2 = try check(report, "Supply voltage unbalance u2")
        XCTAssertEqual(u2.first?.verdict, .information)
        XCTAssertEqual(u2.first?.basis, "not measured by this meter")
    }
}

/// The event tables and the equipment tolerance curves, at their boundaries.
final class EventCurveTests: XCTestCase {
    private func event(_ kind: String, _ seconds: Double, _ percent: Double) -> ReportEvent {
        ReportEvent(kind: kind, startMs: 0, durationSeconds: seconds, percent: percent, worstPhase: "l1")
    }

    func testDipAndSwellTables_putEachEventInItsCell() {
        let events = [
            event("dip", 0.1, 85), event("dip", 0.2, 80), event("dip", 0.3, 79.9), event("interruption", 2, 0),
            event("dip", 70, 50), event("swell", 0.05, 120), event("swell", 0.6, 115), event("rvc", 1, 4),
        ]
        let dips = EventCurves.dipTable(events)
        XCTAssertEqual(dips.columns, ["10–200 ms", "0.2–0.5 s", "0.5–1 s", "1–5 s", "5–60 s"])
        XCTAssertEqual(dips.counts[0], [2, 0, 0, 0, 0], "80 % is the lower bound of the first row; 200 ms is in the first column")
        XCTAssertEqual(dips.counts[1], [0, 1, 0, 0, 0])
        XCTAssertEqual(dips.counts[4], [0, 0, 0, 1, 0], "the interruption in the u < 5 row")
        XCTAssertEqual(dips.counts.joined().reduce(0, +), 4, "the 70-s dip is beyond the table")
        let swells = EventCurves.swellTable(events)
        XCTAssertEqual(swells.columns, ["10–500 ms", "0.5–5 s", "5–60 s"])
        XCTAssertEqual(swells.counts, [[1, 0, 0], [0, 1, 0]])
    }

    /// ITIC (2000): 0 % to 20 ms, 70 % to 0.5 s, 80 % to 10 s, 90 % after; swells 120 % to 0.5 s, 110 % after.
    /// SEMI F47-0706: 50 % for 50–200 ms, 70 % to 0.5 s, 80 % to 1 s; nothing said outside 50 ms…1 s.
    func testITICandSEMIF47_atTheirCorners() {
        XCTAssertEqual(EventCurves.insideITIC(event("interruption", 0.02, 0)), true)
        XCTAssertEqual(EventCurves.insideITIC(event("interruption", 0.021, 0)), false)
        XCTAssertEqual(EventCurves.insideITIC(event("dip", 0.5, 70)), true, "on the curve is inside")
        XCTAssertEqual(EventCurves.insideITIC(event("dip", 0.5, 69.9)), false)
        XCTAssertEqual(EventCurves.insideITIC(event("dip", 5, 79)), false)
        XCTAssertEqual(EventCurves.insideITIC(event("dip", 20, 89)), false)
        XCTAssertEqual(EventCurves.insideITIC(event("swell", 0.4, 120)), true)
        XCTAssertEqual(EventCurves.insideITIC(event("swell", 0.6, 115)), false)
        XCTAssertNil(EventCurves.insideITIC(event("rvc", 1, 4)))
        XCTAssertEqual(EventCurves.insideSEMIF47(event("dip", 0.2, 50)), true)
        XCTAssertEqual(EventCurves.insideSEMIF47(event("dip", 0.3, 60)), false)
        XCTAssertEqual(EventCurves.insideSEMIF47(event("dip", 0.9, 80)), true)
        XCTAssertNil(EventCurves.insideSEMIF47(event("dip", 0.04, 0)), "below 50 ms: not specified")
        XCTAssertNil(EventCurves.insideSEMIF47(event("dip", 2, 85)), "beyond 1 s: not specified")
        XCTAssertNil(EventCurves.insideSEMIF47(event("swell", 0.1, 115)))
        let counts = EventCurves.curveCounts([event("dip", 0.1, 60), event("dip", 0.3, 60), event("swell", 1, 112)])
        XCTAssertEqual(counts.map(\.inside), [0, 1])
        XCTAssertEqual(counts.map(\.outside), [3, 1])
        XCTAssertEqual(counts.map(\.notCovered), [0, 1])
    }
}

/// Report periods: ISO weeks in the site's time zone, the last complete week, explicit times.
final class ReportPeriodTests: XCTestCase {
    func testWeeks_startOnMondayMidnightInTheSitesZone() throws {
        let berlin = try XCTUnwrap(TimeZone(identifier: "Europe/Berlin"))
        let (from, to) = try ReportPeriod.resolve(from: nil, to: nil, week: "2026-W47", timeZone: berlin, now: Date())
        XCTAssertEqual(from, EN50160Tests.monday - 3_600_000, "Monday 16 November 2026, 00:00 CET")
        XCTAssertEqual(to - from, EN50160Tests.week)
        // On Wednesday 25 November the last complete week is W47.
        let utc = try XCTUnwrap(TimeZone(identifier: "UTC"))
        let wednesday = Date(timeIntervalSince1970: Double(EN50160Tests.monday) / 1000 + 9 * 86_400 + 3600)
        let last = try ReportPeriod.resolve(from: nil, to: nil, week: nil, timeZone: utc, now: wednesday)
        XCTAssertEqual(last.0, EN50160Tests.monday)
        XCTAssertEqual(last.1, EN50160Tests.monday + EN50160Tests.week)
        XCTAssertEqual(
            try ReportPeriod.resolve(from: "2026-11-16T00:00:00Z", to: "2026-11-17T00:00:00Z", week: nil, timeZone: utc, now: Date()).1,
            EN50160Tests.monday + 86_400_000)
        for bad in ["2026-47", "2026-W54", "W47", "99999-W01"] {
            XCTAssertThrowsError(try ReportPeriod.resolve(from: nil, to: nil, week: bad, timeZone: utc, now: Date()), bad)
        }
        XCTAssertThrowsError(
            try ReportPeriod.resolve(from: "2026-11-17", to: "2026-11-16", week: nil, timeZone: utc, now: Date()))
        // At most 35 days, whichever way the period is given; a week and a period together are refused.
        XCTAssertNoThrow(try ReportPeriod.resolve(from: "2026-11-01", to: "2026-12-06", week: nil, timeZone: utc, now: Date()))
        XCTAssertThrowsError(try ReportPeriod.resolve(from: "2026-11-01", to: "2026-12-07", week: nil, timeZone: utc, now: Date()))
        XCTAssertThrowsError(try ReportPeriod.resolve(fromMs: 0, toMs: 253_402_300_799_999, week: nil, timeZone: utc, now: Date()))
        XCTAssertThrowsError(try ReportPeriod.resolve(fromMs: 0, toMs: nil, week: "2026-W47", timeZone: utc, now: Date()))
        XCTAssertEqual(
            try ReportPeriod.resolve(fromMs: EN50160Tests.monday, toMs: nil, week: nil, timeZone: utc, now: Date()).1,
            EN50160Tests.monday + EN50160Tests.week)
        // `from` alone an hour ago: up to now, not a week into the future.
        let tuesday = Date(timeIntervalSince1970: Double(EN50160Tests.monday) / 1000 + 86_400)
        XCTAssertEqual(
            try ReportPeriod.resolve(fromMs: EN50160Tests.monday + 82_800_000, toMs: nil, week: nil, timeZone: utc, now: tuesday).1,
            EN50160Tests.monday + 86_400_000)
        XCTAssertEqual(
            try ReportPeriod.resolve(from: "2026-11-16T23:00:00Z", to: nil, week: nil, timeZone: utc, now: tuesday).1,
            EN50160Tests.monday + 86_400_000)
    }
}

/// The store round trip: aggregates and events written by the store's writer and read back as a report's input.
final class StoredInputTests: XCTestCase {
    func testClassAAggregatesAndEvents_readBackAsTheReportInput() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-report-\(getpid())-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("synx.sqlite").path
        let store = try SampleStore(path: path)
        let monday = EN50160Tests.monday
        let rows = (1...6).map { i in
            AggregateRow(
                meter: "pq", tier: "10-min", startMs: monday + Int64(i - 1) * 600_000, endMs: monday + Int64(i) * 600_000,
                count: 3000, invalidCount: 0, quality: i == 2 ? ["flagged"] : [],
                valuesJSON: #"{"channels":[],"measurements":{"voltage.l1n":231.5,"harmonic.voltage.l1.h5":2.5}}"#)
        }
        let frequency = AggregateRow(
            meter: "pq", tier: "10-s", startMs: monday, endMs: monday + 10_000, count: 500, invalidCount: 0,
            quality: [], valuesJSON: #"{"frequency_hz":49.98}"#)
        let dip = EventRow(
            meter: "pq", kind: "dip", startMicroseconds: (monday + 700_000) * 1000, durationMicroseconds: 120_000,
            magnitude: 138, reference: 230, steadyStateChange: nil, worstPhase: "l2", perPhase: ["l2": 138],
            incomplete: false, resolutionMicroseconds: 10_000)
        let outside = AggregateRow(
            meter: "pq", tier: "10-min", startMs: monday - 600_000, endMs: monday, count: 3000, invalidCount: 0,
            quality: [], valuesJSON: #"{"measurements":{"voltage.l1n":1}}"#)
        try store.insert([], records: StoreRecords(events: [dip], aggregates: rows + [frequency, outside]))
        let input = try ReportInput.load(
            from: StoreReader(path: path), meter: "pq", fromMs: monday, toMs: monday + EN50160Tests.week,
            nominalVoltage: 230, nominalFrequency: 50)
        XCTAssertEqual(input.source, .classA)
        XCTAssertEqual(input.tenMinute.count, 6, "the interval ending at the period's start belongs to the week before")
        XCTAssertEqual(input.tenMinute[1].flags, ["flagged"])
        XCTAssertEqual(input.tenMinute[0].values, ["voltage.l1n": 231.5, "harmonic.voltage.l1.h5": 2.5])
        XCTAssertEqual(input.tenSecond.first?.values["frequency"], 49.98)
        XCTAssertEqual(input.events, [ReportEvent(kind: "dip", startMs: monday + 700_000, durationSeconds: 0.12, percent: 60, worstPhase: "l2")])
        let none = try ReportInput.load(
            from: StoreReader(path: path), meter: "other", fromMs: monday, toMs: monday + EN50160Tests.week,
            nominalVoltage: 230, nominalFrequency: 50)
        XCTAssertEqual(none.source, .meterDerived)
        XCTAssertTrue(none.tenMinute.isEmpty && none.events.isEmpty)
    }
}
