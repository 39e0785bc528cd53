import Foundation
import SynxControl
import SynxStore
import XCTest

/// synx-report, the real binary, on a store written by the store's own writer: a week of Class A values with
/// known statistics gives the known EN 50160 verdicts in every format, and the HTML page renders in a real
/// headless browser (Debian's chromium) without errors, its plots holding the week's points.
final class ReportEndToEndTests: XCTestCase {
    private var h: Harness!
    override func setUpWithError() throws { h = try Harness("report") }
    override func tearDown() { h?.tearDown() }

    /// Monday 2026-11-16 00:00 UTC.
    static let monday: Int64 = 1_794_787_200_000

    /// A week of a waveform meter "pq" in `path`: 1008 ten-minute aggregates whose L2 exceeds 253 V in the 60
    /// evening intervals (6 days × 10, so its 95 % check fails: 948 of 1008 within), 20 intervals flagged by dips,
    /// NEMA LVUR rising from 0.6 to 1.6 % each day;
    /// 84 Plt of which 3 exceed 1; 60 480 ten-second frequencies within ±0.05 Hz; 12 dips, 2 swells, a 2-s
    /// interruption and 3 RVC.
    static func writeWeek(_ path: String) throws {
        let store = try SampleStore(path: path)
        var aggregates: [AggregateRow] = []
        for i in 0..<1008 {
            let day = i / 144
            let slot = i % 144
            let evening = day < 6 && (108..<118).contains(slot)
            var m: [String: Double] = [
                "unbalance.voltage.u2": 0.3 + 0.5 * Double(slot) / 144,
                "unbalance.voltage.nema": 0.6 + Double(slot) / 144,
            ]
            for (p, base) in [("l1", 229.0), ("l2", evening ? 257.0 : 236.0), ("l3", 231.0)] {
                m["voltage.\(p)n"] = base + 3 * sin(Double(slot) / 144 * 2 * .pi)
                m["thd.voltage.\(p)"] = 3 + 1.5 * sin(Double(slot) / 144 * 2 * .pi)
                for n in 2...50 { m["harmonic.voltage.\(p).h\(n)"] = [3: 2.5, 5: 4 + sin(Double(slot) / 23), 7: 2][n] ?? 0.15 }
            }
            let json = try JSONSerialization.data(withJSONObject: ["measurements": m], options: [.sortedKeys])
            aggregates.append(
                AggregateRow(
                    meter: "pq", tier: "10-min", startMs: monday + Int64(i) * 600_000,
                    endMs: monday + Int64(i + 1) * 600_000, count: 3000, invalidCount: 0,
                    quality: i % 50 == 7 && i < 1000 ? ["flagged"] : [], valuesJSON: String(decoding: json, as: UTF8.self)))
        }
        for i in 0..<84 {
            let plt = [10, 40, 70].contains(i) ? 1.2 : 0.3 + 0.5 * Double(i % 12) / 12
            aggregates.append(
                AggregateRow(
                    meter: "pq", tier: "2-h", startMs: monday + Int64(i) * 7_200_000,
                    endMs: monday + Int64(i + 1) * 7_200_000, count: 12, invalidCount: 0, quality: [],
                    valuesJSON: #"{"measurements":{"flicker.plt.l1":\#(plt),"flicker.plt.l2":0.3,"flicker.plt.l3":0.3}}"#))
        }
        for i in 0..<60_480 {
            aggregates.append(
                AggregateRow(
                    meter: "pq", tier: "10-s", startMs: monday + Int64(i) * 10_000, endMs: monday + Int64(i + 1) * 10_000,
                    count: 500, invalidCount: 0, quality: [],
                    valuesJSON: #"{"frequency_hz":\#(50 + 0.05 * sin(Double(i) / 500))}"#))
        }
        let dips: [(Double, Double)] = [
            (0.08, 85), (0.12, 72), (0.15, 60), (0.3, 65), (0.3, 45), (0.6, 82), (0.9, 75), (1.5, 88), (3, 71),
            (0.05, 30), (0.25, 55), (8, 84),
        ]
        var events = dips.enumerated().map { i, d in
            EventRow(
                meter: "pq", kind: "dip", startMicroseconds: (monday + Int64(i) * 40_000_000 + 4_000_000) * 1000,
                durationMicroseconds: Int64(d.0 * 1e6), magnitude: 2.3 * d.1, reference: 230, steadyStateChange: nil,
                worstPhase: ["l1", "l2", "l3"][i % 3], perPhase: [:], incomplete: false, resolutionMicroseconds: 10_000)
        }
        for (i, s) in [(0.1, 115.0), (0.7, 113.0)].enumerated() {
            events.append(
                EventRow(
                    meter: "pq", kind: "swell", startMicroseconds: (monday + 300_000_000 + Int64(i) * 1000) * 1000,
                    durationMicroseconds: Int64(s.0 * 1e6), magnitude: 2.3 * s.1, reference: 230, steadyStateChange: nil,
                    worstPhase: "l2", perPhase: [:], incomplete: false, resolutionMicroseconds: 10_000))
        }
        events.append(
            EventRow(
                meter: "pq", kind: "interruption", startMicroseconds: (monday + 400_000_000) * 1000,
                durationMicroseconds: 2_000_000, magnitude: 1, reference: 230, steadyStateChange: nil, worstPhase: "l1",
                perPhase: [:], incomplete: false, resolutionMicroseconds: 10_000))
        for i in 0..<3 {
            events.append(
                EventRow(
                    meter: "pq", kind: "rvc", startMicroseconds: (monday + 500_000_000 + Int64(i) * 9_000_000) * 1000,
                    durationMicroseconds: 400_000, magnitude: 9, reference: 230, steadyStateChange: 6, worstPhase: "l1",
                    perPhase: [:], incomplete: false, resolutionMicroseconds: 10_000))
        }
        try store.insert([], records: StoreRecords(events: events, aggregates: aggregates))
    }

    private func report(_ arguments: [String]) throws -> (Int32, String, String) {
        try h.run("synx-report", arguments + ["--store", h.path("week.sqlite"), "--week", "2026-W47", "--time-zone", "UTC"])
    }

    func testEN50160_weekOfClassAValues_givesTheKnownVerdicts_inEveryFormat() throws {
        try Self.writeWeek(h.path("week.sqlite"))
        let (code, out, err) = try report(["en50160", "pq", "--format", "json"])
        XCTAssertEqual(code, 3, "a failed check: exit 3. \(err)")
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], out)
        XCTAssertEqual(doc["format_version"] as? Int, 1)
        XCTAssertEqual(doc["source"] as? String, "class_a")
        XCTAssertEqual(doc["coverage_percent"] as? Double, 100)
        let checks = try XCTUnwrap(doc["checks"] as? [[String: Any]])
        func find(_ parameter: String) -> [[String: Any]] { checks.filter { $0["parameter"] as? String == parameter } }
        let l2 = find("Supply voltage variations, L2")
        XCTAssertEqual(l2.map { $0["verdict"] as? String }, ["fail", "fail"])
        XCTAssertEqual(l2.first?["outside"] as? Int, 59, "the evening intervals but the one flagged")
        XCTAssertEqual(l2.first?["flagged"] as? Int, 20)
        XCTAssertEqual(find("Supply voltage variations, L1").map { $0["verdict"] as? String }, ["pass", "pass"])
        XCTAssertEqual(find("Flicker Plt, L1").first?["verdict"] as? String, "pass", "81 of 84 ≤ 1: 96.4 %")
        XCTAssertEqual(find("Flicker Plt, L1").first?["outside"] as? Int, 3)
        XCTAssertEqual(find("Power frequency").map { $0["verdict"] as? String }, ["pass", "pass"])
        XCTAssertEqual(find("Harmonic 5, L1").first?["verdict"] as? String, "pass")
        XCTAssertEqual(find("Short interruptions (≤ 3 min)").first?["worst"] as? Double, 1)
        XCTAssertEqual(find("Rapid voltage changes").first?["worst"] as? Double, 3)
        let tables = try XCTUnwrap(doc["tables"] as? [[String: Any]])
        XCTAssertEqual(
            tables.first?["counts"] as? [[Int]],
            [[1, 0, 1, 1, 1], [1, 0, 1, 1, 0], [1, 3, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 0]])
        let curves = try XCTUnwrap(doc["curves"] as? [[String: Any]])
        XCTAssertEqual(curves.map { $0["curve"] as? String }, ["ITIC (CBEMA)", "SEMI F47-0706"])
        XCTAssertEqual(curves.map { $0["outside"] as? Int }, [9, 5])
        XCTAssertEqual(curves.map { $0["inside"] as? Int }, [6, 4])

        let (tableCode, table, _) = try report(["en50160", "pq"])
        XCTAssertEqual(tableCode, 3)
        XCTAssertTrue(table.contains("values: Class A (IEC 61000-4-30, synx's engine)"), table)
        XCTAssertTrue(table.contains("verdict: FAIL"), table)

        let (eventsCode, events, _) = try report(["events", "pq", "--format", "json"])
        XCTAssertEqual(eventsCode, 0, "the events report has no limits")
        let eventsDoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(events.utf8)) as? [String: Any])
        XCTAssertEqual((eventsDoc["events"] as? [Any])?.count, 18)
        XCTAssertEqual((eventsDoc["checks"] as? [Any])?.count, 0)

        // IEEE 519 of the same week: the weekly voltage THD passes; the daily statistic has no 3-s values in
        // this store (inconclusive: exit 4); without I_SC and I_L no current check.
        let (ieeeCode, ieee, ieeeErr) = try report(["ieee519", "pq", "--format", "json"])
        XCTAssertEqual(ieeeCode, 4, ieeeErr)
        let ieeeDoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(ieee.utf8)) as? [String: Any])
        XCTAssertEqual(ieeeDoc["standard"] as? String, "IEEE 519-2022")
        let ieeeChecks = try XCTUnwrap(ieeeDoc["checks"] as? [[String: Any]])
        let weekly = try XCTUnwrap(ieeeChecks.first { $0["parameter"] as? String == "Voltage THD, L1" })
        XCTAssertEqual(weekly["verdict"] as? String, "pass")
        XCTAssertEqual(try XCTUnwrap(weekly["percentile"] as? Double), 4.48, accuracy: 0.01, "3 + 1.5 sin: its 95th percentile")
        XCTAssertTrue(ieeeChecks.contains { ($0["parameter"] as? String)?.hasPrefix("Voltage THD, L1 (worst day") == true && $0["verdict"] as? String == "inconclusive" })
        XCTAssertTrue(ieeeChecks.contains { $0["parameter"] as? String == "Current distortion (TDD, individual harmonics)" })

        // IEC 61000-2-2 on a motor bus: harmonics within their levels, L2's evenings outside IEC 60038's band, and
        // the LVUR's 95th percentile (0.6 + 0.95 × 1 % each day) above NEMA's 1 %, with its derating factor.
        let (iecCode, iec, iecErr) = try report(["iec61000-2-2", "pq", "--motor-bus", "--format", "json"])
        XCTAssertEqual(iecCode, 3, iecErr)
        let iecDoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(iec.utf8)) as? [String: Any])
        XCTAssertEqual(iecDoc["standard"] as? String, "IEC 61000-2-2:2002+A1:2017+A2:2018")
        let iecChecks = try XCTUnwrap(iecDoc["checks"] as? [[String: Any]])
        func iecCheck(_ parameter: String) throws -> [String: Any] {
            try XCTUnwrap(iecChecks.first { $0["parameter"] as? String == parameter }, parameter)
        }
        XCTAssertEqual(try iecCheck("Supply voltage, L2")["verdict"] as? String, "fail")
        XCTAssertEqual(try iecCheck("Harmonic 5, L1")["verdict"] as? String, "pass")
        XCTAssertEqual(try iecCheck("Harmonic 50, L1")["limit"] as? String, "≤ 0.30 %")
        let lvur = try iecCheck("Line-voltage unbalance (NEMA LVUR)")
        XCTAssertEqual(lvur["verdict"] as? String, "fail")
        XCTAssertEqual(try XCTUnwrap(lvur["percentile"] as? Double), 1.55, accuracy: 0.01)
        let derating = try iecCheck("Motor derating factor at the 95th percentile")
        XCTAssertEqual(try XCTUnwrap(derating["worst"] as? Double), 1 - 0.05 * 0.55, accuracy: 0.001)
        XCTAssertEqual((iecDoc["spectrum"] as? [Any])?.count, 49)

        let (badCode, _, badErr) = try h.run(
            "synx-report", ["en50160", "pq", "--store", h.path("week.sqlite"), "--week", "2026-W99"])
        XCTAssertEqual(badCode, 64, badErr)
        let (missingCode, _, missingErr) = try h.run("synx-report", ["en50160", "pq", "--store", h.path("none.sqlite")])
        XCTAssertEqual(missingCode, 66, missingErr)
    }

    /// The HTML page in a real headless browser: it loads without a console error, takes a screenshot, and its
    /// rendered DOM holds each plot with the week's points (1008 per phase line) and every event on the curves.
    func testHTMLReport_rendersInChromium_withItsPlotsAndNoErrors() throws {
        try Self.writeWeek(h.path("week.sqlite"))
        let page = h.path("report.html")
        let (code, _, err) = try report(["en50160", "pq", "--format", "html", "-o", page])
        XCTAssertEqual(code, 3, err)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertFalse(html.contains("<script"), "no script")
        XCTAssertFalse(html.contains("http://") && html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http://"), "no external asset")
        let browser = try XCTUnwrap(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "chromium is installed by scripts/install-deps")
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(h.path("chromium"))"]
        let shot = h.path("report.png")
        let (shotCode, _, shotErr) = try h.run(
            browser, flags + ["--enable-logging=stderr", "--v=0", "--window-size=1200,5200", "--screenshot=\(shot)", "file://\(page)"],
            timeout: 120)
        XCTAssertEqual(shotCode, 0, shotErr)
        let console = shotErr.split(separator: "\n").filter { $0.contains("CONSOLE") || $0.contains("Uncaught") }
        XCTAssertEqual(console, [], "console messages")
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG")
        XCTAssertGreaterThan(png.count, 50_000, "a rendered page, not a blank one")
        let (domCode, dom, domErr) = try h.run(browser, flags + ["--dump-dom", "file://\(page)"], timeout: 120)
        XCTAssertEqual(domCode, 0, domErr)
        XCTAssertEqual(dom.components(separatedBy: "<svg class=\"trend\"").count - 1, 4, "voltage, THD, unbalance, Plt")
        XCTAssertEqual(dom.components(separatedBy: "data-points=\"1008\"").count - 1, 3 + 3 + 1, "a line per phase, a week each")
        XCTAssertEqual(dom.components(separatedBy: "<rect class=\"bar\"").count - 1, 24, "harmonic orders 2–25")
        XCTAssertEqual(dom.components(separatedBy: "<rect class=\"cell\"").count - 1, 5 * 5 + 2 * 3)
        XCTAssertEqual(
            dom.components(separatedBy: "class=\"event\"").count - 1, 15 + 9,
            "on ITIC the dips, swells and interruption; on SEMI F47 those of 50 ms to 1 s")
        // The IEC 61000-2-2 page: its three trends (u2 and LVUR on one) and a bar for each order 2–50.
        let iecPage = h.path("iec.html")
        let (iecCode, _, iecErr) = try report(["iec61000-2-2", "pq", "--motor-bus", "--format", "html", "-o", iecPage])
        XCTAssertEqual(iecCode, 3, iecErr)
        let (iecDomCode, iecDom, iecDomErr) = try h.run(browser, flags + ["--dump-dom", "file://\(iecPage)"], timeout: 120)
        XCTAssertEqual(iecDomCode, 0, iecDomErr)
        XCTAssertEqual(iecDom.components(separatedBy: "<svg class=\"trend\"").count - 1, 3, "voltage, THD, unbalance")
        XCTAssertEqual(iecDom.components(separatedBy: "data-points=\"1008\"").count - 1, 3 + 3 + 2)
        XCTAssertEqual(iecDom.components(separatedBy: "<rect class=\"bar\"").count - 1, 49, "harmonic orders 2–50")
        // SYNX_REPORT_SCREENSHOTS=DIR: the screenshots of each report that docs/reports.md shows.
        if let docs = ProcessInfo.processInfo.environment["SYNX_REPORT_SCREENSHOTS"] {
            try png.write(to: URL(fileURLWithPath: "\(docs)/report-en50160.png"))
            for kind in ["ieee519", "iec61000-2-2", "events"] {
                let other = h.path("\(kind).html")
                _ = try report([kind, "pq", "--format", "html", "-o", other] + (kind == "iec61000-2-2" ? ["--motor-bus"] : []))
                let (code, _, err) = try h.run(
                    browser, flags + ["--window-size=1200,\(["events": 1500, "iec61000-2-2": 3700][kind] ?? 1400)", "--screenshot=\(docs)/report-\(kind).png", "file://\(other)"],
                    timeout: 120)
                XCTAssertEqual(code, 0, err)
            }
        }
    }

    /// A report from a polled PQ-capable meter: synx-sim's `synx-sim-pq` map (harmonic arrays, THD, unbalance, its
    /// own Pst and Plt) polled by synxd, whose wall clock (libfaketime) starts 40 s before a UTC 10-min tick, so a
    /// meter-derived 10-min interval closes during the test; then `synxctl report` of that interval: labelled
    /// meter-derived, the harmonic checks on the polled arrays' values, none of it called Class A.
    func testReportFromAPolledPQMeter_isMeterDerived_fromItsHarmonicArrays() throws {
        let now = Int(Date().timeIntervalSince1970)
        var offset = 600 - now % 600 - 40
        if offset < 0 { offset += 600 }
        let clock = try h.write("faketime", "+\(offset)\n")
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\nprofile = \"synx-sim-pq\"\n")
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("lan", port: port)
                + h.meter("pq", bus: "lan", unit: 1, profile: "synx-sim-pq", extra: "isc_a = 20000\nil_a = 400\nmotor_bus = true\n"),
            environment: [
                "LD_PRELOAD": ClockStepEndToEndTests.libfaketime, "FAKETIME_TIMESTAMP_FILE": clock, "FAKETIME_NO_CACHE": "1",
                "DONT_FAKE_MONOTONIC": "1", "FAKETIME_SHARED": "/synx-none-sem /synx-none-shm",
            ])
        let tick = Int64((now + offset + 40) / 600 * 600) * 1000
        h.waitUntil("the meter-derived 10-min value of the 5th harmonic", timeout: 90) {
            let r = try h.request(
                Request(command: .query, meter: "pq", measurement: "harmonic.voltage.l1.h5", from: tick - 1, to: tick + 1, tier: .tenMinutes))
            return r.query?.samples.isEmpty == false
        }
        let span = ["--from", String(tick - 600_000), "--to", String(tick)]
        let (code, json, err) = try h.synxctl(["report", "en50160", "pq", "--format", "json"] + span)
        XCTAssertEqual(code, 4, "40 s of polls in the interval: inconclusive. \(err)")
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json)
        XCTAssertEqual(doc["source"] as? String, "meter_derived")
        let checks = try XCTUnwrap(doc["checks"] as? [[String: Any]])
        // The interval's value comes from 40 s of polls, not half its 600: incomplete, so missing to every check
        // (never a pass), and shown in the trends.
        let h5 = try XCTUnwrap(checks.first { ($0["parameter"] as? String)?.hasPrefix("Harmonic 5") == true })
        XCTAssertEqual(h5["verdict"] as? String, "inconclusive")
        XCTAssertEqual(h5["missing"] as? Int, 1)
        XCTAssertEqual(doc["coverage_percent"] as? Double, 0, "no complete 10-min interval")
        let trends = try XCTUnwrap(doc["trends"] as? [[String: Any]])
        let thdTrend = try XCTUnwrap(trends.first { ($0["title"] as? String)?.hasPrefix("Voltage THD") == true })
        let thdL1 = try XCTUnwrap((thdTrend["lines"] as? [[String: Any]])?.first { $0["name"] as? String == "L1" })
        // synx-sim-pq's voltage harmonics: 3: 1.5, 5: 3.5 ± 0.5, 7: 2, 11: 1, 13: 0.8, the rest 0.1 (odd) / 0.05 (even).
        XCTAssertEqual(try XCTUnwrap((thdL1["values"] as? [Double])?.first), 4.7, accuracy: 0.5, "THD of the polled arrays")
        let frequency = try XCTUnwrap(checks.first { $0["parameter"] as? String == "Power frequency" })
        XCTAssertTrue((frequency["basis"] as? String)?.hasPrefix("3-s mean (meter-derived") == true, "\(frequency)")
        let (_, table, _) = try h.synxctl(["report", "ieee519", "pq"] + span)
        XCTAssertTrue(table.contains("values: meter-derived (not Class A)"), table)
        XCTAssertTrue(table.contains("isc_il_ratio 50.0"), table)
        XCTAssertTrue(table.contains("TDD, L1"), table)

        // IEC 61000-2-2 on the configured motor bus: LVUR from the polled line-to-line voltages (the simulator's
        // are within 1 % of each other), in the unbalance trend; the incomplete interval decides nothing.
        let (iecCode, iec, iecErr) = try h.synxctl(["report", "iec61000-2-2", "pq", "--format", "json"] + span)
        XCTAssertEqual(iecCode, 4, "an incomplete interval only: inconclusive. \(iecErr)")
        let iecDoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(iec.utf8)) as? [String: Any], iecErr)
        XCTAssertEqual(iecDoc["source"] as? String, "meter_derived")
        let iecChecks = try XCTUnwrap(iecDoc["checks"] as? [[String: Any]])
        let lvur = try XCTUnwrap(iecChecks.first { $0["parameter"] as? String == "Line-voltage unbalance (NEMA LVUR)" })
        XCTAssertEqual(lvur["missing"] as? Int, 1, "\(lvur)")
        XCTAssertEqual(lvur["verdict"] as? String, "inconclusive")
        let iecTrends = try XCTUnwrap(iecDoc["trends"] as? [[String: Any]])
        let unbalance = try XCTUnwrap(iecTrends.first { ($0["title"] as? String)?.hasPrefix("Voltage unbalance") == true })
        let nema = try XCTUnwrap((unbalance["lines"] as? [[String: Any]])?.first { $0["name"] as? String == "nema" })
        let nemaValue = try XCTUnwrap((nema["values"] as? [Double])?.first)
        XCTAssertGreaterThan(nemaValue, 0)
        XCTAssertLessThan(nemaValue, 1, "the simulator's line voltages within 1 % of each other")

        // The events report of a polled meter: its own counters' increase over the interval (a dip every 5 s of
        // the simulator's time, so any 10 s of polls see one; a swell every 2 min), for information; none placed
        // on the curves.
        let (eventsCode, events, eventsErr) = try h.synxctl(["report", "events", "pq", "--format", "json"] + span)
        XCTAssertEqual(eventsCode, 0, eventsErr)
        let eventsDoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(events.utf8)) as? [String: Any], events)
        let counted = try XCTUnwrap(eventsDoc["checks"] as? [[String: Any]])
        XCTAssertEqual(counted.map { $0["parameter"] as? String }, [
            "Dips counted by the meter", "Swells counted by the meter", "Interruptions counted by the meter",
        ])
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(counted.first?["worst"] as? Double), 1, "\(counted)")
        XCTAssertEqual(counted.last?["worst"] as? Double, 0)
        XCTAssertEqual((eventsDoc["events"] as? [Any])?.count, 0)
    }
}
