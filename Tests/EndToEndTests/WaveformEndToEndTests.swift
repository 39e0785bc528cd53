import Foundation
import SynxComtrade
import SynxControl
import XCTest

/// A waveform meter end to end: synx-sim samples a three-phase system and serves it through the waveform
/// register interface over Modbus/TCP; synxd streams it into the IEC 61000-4-30 engine; synxctl shows the
/// live 10-cycle values, the stored 150-cycle values and the events.
final class WaveformEndToEndTests: XCTestCase {
    var h: Harness!
    override func setUpWithError() throws { h = try Harness(String(name.filter(\.isLetter).suffix(24))) }
    override func tearDown() { h?.tearDown() }

    /// Starts synx-sim with `scenario` and synxd with its unit 5 as the waveform meter "pqm".
    private func startWaveformMeter(scenario: String) throws {
        let port = try h.startSimulator(scenario: scenario)
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("pq", port: port)
                + h.meter("pqm", bus: "pq", unit: 5, profile: "waveform"))
    }

    /// Unit 5: a waveform meter at 6400 S/s with a 4 % 5th harmonic, and a dip of L2 to 60 % for 0.1 s at 5 s.
    static let dipScenario = """
        [[waveform]]
        id = 5
        sample_rate = 6400
        current = 20
        harmonics = "5:4"
        [[waveform_change]]
        id = 5
        phase = 2
        from_s = 5
        duration_s = 0.1
        factor = 0.6
        """

    func testDipAndHarmonic_fromTheSimulatedWaveform_reachEventsLiveAndStore() throws {
        try startWaveformMeter(scenario: Self.dipScenario)

        var events: [EventRecord] = []
        h.waitUntil("the dip in synxctl events", timeout: 30) {
            let (code, out, _) = try h.synxctl(["events", "--meter", "pqm", "--json"])
            guard code == 0 else { return false }
            events = try JSONDecoder().decode([EventRecord].self, from: Data(out.utf8))
            return !events.isEmpty
        }
        XCTAssertEqual(events.map(\.kind), [.dip])
        let dip = try XCTUnwrap(events.first)
        let residual = (pow(230 * 0.6, 2) + pow(230 * 0.04, 2)).squareRoot()
        XCTAssertEqual(dip.magnitude, residual, accuracy: 0.002 * 230, "Class A: ±0.2 % of Udin")
        XCTAssertEqual(Double(dip.durationMicroseconds) / 1e6, 0.1, accuracy: 0.02, "Class A: ±1 cycle")
        XCTAssertEqual(dip.worstPhase, "l2")
        XCTAssertEqual(try XCTUnwrap(dip.perPhase["l1"]), (230 * 230 + 9.2 * 9.2).squareRoot(), accuracy: 0.46)

        let (lcode, lout, lerr) = try h.synxctl(["live", "pqm", "--json"])
        XCTAssertEqual(lcode, 0, lerr)
        let live = try JSONDecoder().decode(LiveValues.self, from: Data(lout.utf8))
        let value = { (name: String) in live.values.first { $0.measurement == name }?.value }
        XCTAssertEqual(try XCTUnwrap(value("voltage.l1n")), (230 * 230 + 9.2 * 9.2).squareRoot(), accuracy: 0.23)
        XCTAssertEqual(try XCTUnwrap(value("thd.voltage.l3")), 4, accuracy: 0.2)
        XCTAssertEqual(try XCTUnwrap(value("frequency")), 50, accuracy: 0.01)
        XCTAssertEqual(try XCTUnwrap(value("current.l1")), 20 * (1 + 0.0016).squareRoot(), accuracy: 0.05)

        h.waitUntil("150-cycle values stored", timeout: 15) {
            let (code, out, _) = try h.synxctl(["query", "pqm", "voltage.l2n", "--from", "1h", "--json"])
            guard code == 0 else { return false }
            return try JSONDecoder().decode(QueryResult.self, from: Data(out.utf8)).samples.count >= 2
        }
        let (_, qout, _) = try h.synxctl(["query", "pqm", "voltage.l1n", "--from", "1h", "--json"])
        let samples = try JSONDecoder().decode(QueryResult.self, from: Data(qout.utf8)).samples
        // 150 cycles at 50 Hz, except around a UTC 10-min tick, where the block restarts (§4.6).
        for (a, b) in zip(samples, samples.dropFirst())
        where a.time / 600_000 == b.time / 600_000 && b.time % 600_000 > 3500 {
            XCTAssertEqual(Double(b.time - a.time), 3000, accuracy: 20, "150 cycles at 50 Hz")
        }
        XCTAssertEqual(try XCTUnwrap(samples.last?.value), (230 * 230 + 9.2 * 9.2).squareRoot(), accuracy: 0.23)
        XCTAssertEqual(try h.meter("pqm").state, .online)

        // The event's waveform, exported as COMTRADE from the samples synxd still holds.
        let (ecode, eout, eerr) = try h.synxctl(["export", "pqm", String(dip.startMicroseconds)])
        XCTAssertEqual(ecode, 0, eerr)
        let exported = try ComtradeReader.read(cfgPath: eout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(exported.configuration.analog.map(\.id), ["UL1", "UL2", "UL3", "IL1", "IL2", "IL3"])
        XCTAssertEqual(exported.configuration.sampleRates.first?.rate, 6400)
        XCTAssertEqual(Double(exported.sampleCount) / 6400, 1 + Double(dip.durationMicroseconds) / 1e6, accuracy: 0.02)
        let times = exported.sampleTimes()
        let t0 = exported.configuration.startTimeUTC
        func rms(_ from: Double, _ to: Double) -> Double {
            let v = zip(times, exported.analog[1]).filter { t0 + $0.0 >= from && t0 + $0.0 < to }.map(\.1)
            return (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot()
        }
        let start = Double(dip.startMicroseconds) / 1e6
        XCTAssertEqual(
            rms(start + 0.03, start + 0.07), residual, accuracy: 1.5, "L2 inside the dip, from the exported samples")
        XCTAssertEqual(rms(start - 0.4, start - 0.2), 230 * (1 + 0.0016).squareRoot(), accuracy: 1)

        // synxctl watch redraws the 10-cycle values five times a second until stopped.
        let watch = try h.start("synxctl", ["watch", "pqm", "--socket", h.socketPath], name: "watch")
        h.waitUntil("three redraws") { h.output("watch.out").components(separatedBy: "Ctrl-C to stop").count > 3 }
        kill(watch.processIdentifier, SIGINT)
        let frames = h.output("watch.out").components(separatedBy: "Ctrl-C to stop").dropFirst()
        XCTAssertTrue(frames.allSatisfy { $0.contains("voltage.l1n") })
        XCTAssertGreaterThan(
            Set(frames.map { $0.split(separator: "\n").filter { $0.contains("voltage.l1n") }.joined() }).count, 1,
            "the values move from frame to frame")
    }

    func testTenMinuteAggregate_isStoredAtTheTick_withTheHarmonicSpectrum_flaggedByTheDip() throws {
        // The meter's clock starts 9 s before a UTC 10-min boundary, so the interval closes during the test.
        try startWaveformMeter(
            scenario: """
                [[waveform]]
                id = 5
                sample_rate = 6400
                harmonics = "5:4"
                seconds_before_10min_tick = 9
                [[waveform_change]]
                id = 5
                phase = 1
                from_s = 5
                duration_s = 0.06
                factor = 0.7
                """)
        let db = h.path("state/synx.sqlite")
        h.waitUntil("the 10-min aggregate stored", timeout: 30) {
            (try? h.sqlite(db, "SELECT count(*) FROM pq_aggregates WHERE tier = '10-min'")) == "1"
        }
        let end = Int64(try h.sqlite(db, "SELECT end_ms FROM pq_aggregates WHERE tier = '10-min'"))!
        XCTAssertEqual(end % 600_000, 0, "tagged with the UTC 10-min tick")
        let quality = try h.sqlite(db, "SELECT quality FROM pq_aggregates WHERE tier = '10-min'")
        XCTAssertTrue(quality.contains("flagged"), "the dip flags it: \(quality)")
        XCTAssertTrue(quality.contains("incomplete"), "it started mid-interval: \(quality)")
        let json = try h.sqlite(db, "SELECT \"values\" FROM pq_aggregates WHERE tier = '10-min'")
        let values = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let channels = try XCTUnwrap(values["channels"] as? [[String: Any]])
        let spectrum = try XCTUnwrap((channels[1]["harmonics"] as? [String: Any])?["subgroups"] as? [Double])
        XCTAssertEqual(spectrum.count, 51)
        XCTAssertEqual(
            spectrum[5] / spectrum[1] * 100, 4, accuracy: 0.2, "the 5th harmonic in the stored 10-min spectrum")
        let blocks = Int(try h.sqlite(db, "SELECT count(*) FROM pq_aggregates WHERE tier = '150/180-cycle'"))!
        XCTAssertGreaterThanOrEqual(blocks, 2)
        XCTAssertEqual(
            try h.sqlite(
                db,
                "SELECT count(*) FROM pq_aggregates WHERE tier = '150/180-cycle' AND start_ms < \(end) AND end_ms >= \(end)"
            ), "1",
            "a 150-cycle block ends with the window that straddles the tick (and the next starts at it)")

        // synxctl query --tier 10min: the Class A aggregate under its canonical names, with its flags.
        let span = ["--from", String(end - 600_000), "--to", String(end + 1), "--json"]
        let (code, out, err) = try h.synxctl(["query", "pqm", "harmonic.voltage.l2.h5", "--tier", "10min"] + span)
        XCTAssertEqual(code, 0, err)
        let q = try JSONDecoder().decode(QueryResult.self, from: Data(out.utf8))
        XCTAssertEqual(q.unit, "%")
        XCTAssertTrue(q.derivation?.contains("IEC 61000-4-30 Class A 10-min aggregates") == true, q.derivation ?? "-")
        XCTAssertEqual(q.samples.map(\.time), [end])
        XCTAssertEqual(try XCTUnwrap(q.samples.first?.value), 4, accuracy: 0.2)
        XCTAssertTrue(q.samples.first?.notes?.contains("flagged") == true, "\(q.samples)")
        // A range without a Class A aggregate is an empty Class A answer, not a meter-derived one.
        let (_, none, _) = try h.synxctl(
            ["query", "pqm", "voltage.l1n", "--tier", "2h", "--from", String(end - 600_000), "--to", String(end - 1), "--json"])
        let empty = try JSONDecoder().decode(QueryResult.self, from: Data(none.utf8))
        XCTAssertEqual(empty.samples, [])
        XCTAssertTrue(empty.derivation?.contains("Class A") == true, empty.derivation ?? "-")
        let (tableCode, table, _) = try h.synxctl(["query", "pqm", "voltage.l1n", "--tier", "10min"] + span.dropLast())
        XCTAssertEqual(tableCode, 0)
        XCTAssertTrue(table.contains("flagged,incomplete"), table)
    }

    /// Flicker end to end (issue 12): synx-sim's rectangular modulation of Table 5's 110 changes a minute at
    /// 0.722 % (Pst = 1.00) → the waveform interface → synxd's engine → live Pinst, and the stored Pst series and
    /// 10-min aggregate. The meter's clock starts 45 s before a 10-min tick, so the stored Pst is of the ~40 s of
    /// settled Pinst before it (marked incomplete); a periodic fluctuation's Pinst distribution over whole
    /// periods is that of the full 10 minutes, so the value is Table 5's within its ±5 %.
    func testFlicker_ofATable5Row_reachesLivePinst_andTheStoredPst() throws {
        try startWaveformMeter(
            scenario: """
                [[waveform]]
                id = 5
                sample_rate = 6400
                modulation_hz = 0.9166667
                modulation_percent = 0.722
                modulation_shape = "rectangular"
                seconds_before_10min_tick = 45
                """)
        h.waitUntil("live Pinst", timeout: 30) {
            let (code, out, _) = try h.synxctl(["live", "pqm", "--json"])
            guard code == 0 else { return false }
            return try JSONDecoder().decode(LiveValues.self, from: Data(out.utf8)).values.contains {
                $0.measurement == "flicker.pinst.l1" && $0.value ?? 0 > 0.1
            }
        }
        let db = h.path("state/synx.sqlite")
        h.waitUntil("the 10-min aggregate stored", timeout: 90) {
            (try? h.sqlite(db, "SELECT count(*) FROM pq_aggregates WHERE tier = '10-min'")) == "1"
        }
        let json = try h.sqlite(db, "SELECT \"values\" FROM pq_aggregates WHERE tier = '10-min'")
        let values = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let flicker = try XCTUnwrap(values["flicker"] as? [String: Any], json)
        XCTAssertEqual(flicker["quality"] as? [String], ["incomplete"], "the interval began before the meter did")
        let pst = try XCTUnwrap(flicker["pst"] as? [String: Double])
        for phase in ["l1", "l2", "l3"] {
            XCTAssertEqual(try XCTUnwrap(pst[phase]), 1, accuracy: 0.05, "Table 5, 110 changes/min, \(phase)")
        }
        XCTAssertGreaterThan(try XCTUnwrap(flicker["count"] as? Int), 3000, "over 30 s of Pinst")
        // The meter's clock may run up to 10 minutes ahead of ours: ask for an hour either side.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let span = ["--from", String(now - 3_600_000), "--to", String(now + 3_600_000), "--json"]
        h.waitUntil("the Pst series", timeout: 15) {
            let (code, out, _) = try h.synxctl(["query", "pqm", "flicker.pst.l1"] + span)
            guard code == 0 else { return false }
            return try JSONDecoder().decode(QueryResult.self, from: Data(out.utf8)).samples.count == 1
        }
        let (_, qout, _) = try h.synxctl(["query", "pqm", "flicker.pst.l1"] + span)
        let series = try JSONDecoder().decode(QueryResult.self, from: Data(qout.utf8))
        XCTAssertEqual(
            try XCTUnwrap(series.samples.first?.value), try XCTUnwrap(pst["l1"]), accuracy: 1e-12,
            "the series holds the aggregate's Pst")
        XCTAssertEqual((series.samples.first?.time ?? 1) % 600_000, 0, "at the UTC 10-min tick")
    }

    /// A compliance report from live data: synx-sim's waveform meter with a 5th harmonic and a dip → synxd's
    /// engine → the store → synx-report, run on the store while synxd writes it, as HTML. The meter's clock starts
    /// 40 s before a 10-min tick; the report covers the interval that tick ends.
    func testReportFromLiveData_hasTheDipAndTheHarmonic_inItsHTML() throws {
        try startWaveformMeter(
            scenario: """
                [[waveform]]
                id = 5
                sample_rate = 6400
                harmonics = "5:4"
                seconds_before_10min_tick = 40
                [[waveform_change]]
                id = 5
                phase = 2
                from_s = 20
                duration_s = 0.1
                factor = 0.6
                """)
        let db = h.path("state/synx.sqlite")
        h.waitUntil("the 10-min aggregate stored", timeout: 90) {
            (try? h.sqlite(db, "SELECT count(*) FROM pq_aggregates WHERE tier = '10-min'")) == "1"
        }
        let end = try XCTUnwrap(Int64(try h.sqlite(db, "SELECT end_ms FROM pq_aggregates WHERE tier = '10-min'")))
        let iso = { (ms: Int64) in ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(ms) / 1000)) }
        let page = h.path("live.html")
        let period = ["--store", db, "--from", iso(end - 600_000), "--to", iso(end)]
        let (code, _, err) = try h.run("synx-report", ["en50160", "pqm", "--format", "html", "-o", page] + period)
        XCTAssertEqual(code, 4, "40 s of a 10-min interval: inconclusive, not a pass. \(err)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertTrue(html.contains("Class A: IEC 61000-4-30"), "the source is named")
        XCTAssertTrue(html.contains("<td>dip</td>"), "the dip is listed")
        let (_, json, _) = try h.run("synx-report", ["en50160", "pqm", "--format", "json"] + period)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json)
        // The dip flags the interval (IEC 61000-4-30 §4.7): EN 50160 leaves it out of every statistic, and the
        // trends mark it.
        let checks = try XCTUnwrap(doc["checks"] as? [[String: Any]])
        let voltage = try XCTUnwrap(checks.first { $0["parameter"] as? String == "Supply voltage variations, L1" })
        XCTAssertEqual(voltage["flagged"] as? Int, 1)
        XCTAssertEqual(voltage["within"] as? Int, 0)
        XCTAssertEqual(voltage["verdict"] as? String, "inconclusive")
        XCTAssertTrue(html.contains("<rect class=\"flagged\""), "the flagged interval is marked in the trends")
        let trends = try XCTUnwrap(doc["trends"] as? [[String: Any]])
        let thd = try XCTUnwrap(trends.first { ($0["title"] as? String)?.hasPrefix("Voltage THD") == true })
        let line = try XCTUnwrap((thd["lines"] as? [[String: Any]])?.first)
        XCTAssertEqual(try XCTUnwrap((line["values"] as? [Double])?.first), 4, accuracy: 0.2, "the simulated 5th harmonic")
        let events = try XCTUnwrap(doc["events"] as? [[String: Any]])
        let dip = try XCTUnwrap(events.first { $0["kind"] as? String == "dip" })
        XCTAssertEqual(try XCTUnwrap(dip["percent_of_reference"] as? Double), 60, accuracy: 1, "residual 60 %")
        XCTAssertEqual(dip["worst_phase"] as? String, "l2")

        // The same report through the running synxd (`synxctl report`), from the same code.
        let span = ["--from", String(end - 600_000), "--to", String(end)]
        let (ctlCode, ctlJSON, ctlErr) = try h.synxctl(["report", "en50160", "pqm", "--format", "json"] + span)
        XCTAssertEqual(ctlCode, 4, "inconclusive: exit 4. \(ctlErr)")
        let ctlDoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(ctlJSON.utf8)) as? [String: Any], ctlJSON)
        XCTAssertEqual(ctlDoc["checks"] as? NSArray, doc["checks"] as? NSArray, "the same checks as synx-report's")
        let ctlPage = h.path("ctl.html")
        let (htmlCode, _, htmlErr) = try h.synxctl(["report", "events", "pqm", "--format", "html", "-o", ctlPage] + span)
        XCTAssertEqual(htmlCode, 0, htmlErr)
        XCTAssertTrue(try String(contentsOfFile: ctlPage, encoding: .utf8).contains("<td>dip</td>"))
        let (badCode, _, badErr) = try h.synxctl(["report", "en50160", "nosuch"])
        XCTAssertEqual(badCode, 1)
        XCTAssertTrue(badErr.contains("noSuchMeter"), badErr)
    }

    func testOverrun_marksWindowsInvalid_andInventsNothing() throws {
        // A FIFO of 0.1 s and a meter that answers 120 ms late: the reader falls behind and blocks are lost.
        try startWaveformMeter(
            scenario: """
                [[waveform]]
                id = 5
                sample_rate = 6400
                fifo_seconds = 0.1
                [[fault]]
                unit = 5
                kind = "delay"
                delay_ms = 120
                from_s = 4
                until_s = 5
                """)
        let db = h.path("state/synx.sqlite")
        h.waitUntil("an aggregate with invalid windows", timeout: 30) {
            Int(
                (try? h.sqlite(
                    db, "SELECT count(*) FROM pq_aggregates WHERE tier = '150/180-cycle' AND invalid_count > 0")) ?? "0"
            ) ?? 0 >= 1
        }
        h.waitUntil("the overrun logged") { h.output("synxd.err").contains("waveform overrun") }
        // Every valid window still measures the signal the simulator made: nothing invented across the gap.
        let (_, out, _) = try h.synxctl(["query", "pqm", "voltage.l1n", "--from", "1h", "--json"])
        for s in try JSONDecoder().decode(QueryResult.self, from: Data(out.utf8)).samples {
            XCTAssertEqual(try XCTUnwrap(s.value), 230, accuracy: 0.23)
        }
    }

    func testReplayedRecording_givesTheSameEventAsTheOfflineAnalyser() throws {
        // 8 s at 6.4 kS/s: 230 V, 50 Hz, 5 % 3rd harmonic; L1 dips to 50 % for 150 ms at 4.0123 s.
        let fs = 6_400.0
        let n = 51_200
        let analog: [[Double]] = (0..<3).map { c in
            (0..<n).map { k in
                let t = Double(k) / fs
                let shift = -Double(c) * 2 * .pi / 3
                let w = 2 * Double.pi * 50 * t
                let factor = c == 0 && t >= 4.0123 && t < 4.1623 ? 0.5 : 1.0
                return 230 * 2.0.squareRoot() * (factor * sin(w + shift) + 0.05 * sin(3 * (w + shift)))
            }
        }
        let config = ComtradeConfiguration(
            stationName: "replay", deviceID: "synx-test",
            analog: ["UA", "UB", "UC"].enumerated().map {
                ComtradeAnalogChannel(index: $0 + 1, id: $1, phase: ["A", "B", "C"][$0], unit: "V")
            },
            lineFrequency: 50, sampleRates: [ComtradeSampleRate(rate: fs, lastSample: n)],
            firstSample: ComtradeTimestamp(secondsSinceEpochLocal: 1_795_000_000.5), format: .float32, sampleCount: n)
        let recording = h.path("rec.cfg")
        try ComtradeWriter.write(
            ComtradeRecording(
                configuration: config, sampleNumbers: Array(1...n),
                timestamps: Array(repeating: nil, count: n), analog: analog, digital: []),
            cfgPath: recording, format: .float32)

        let (code, out, err) = try h.run("synx-analyze", [recording, "--format", "json"])
        XCTAssertEqual(code, 0, err)
        let offline = try XCTUnwrap(
            ((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["events"] as? [[String: Any]])?
                .first)
        XCTAssertEqual(offline["kind"] as? String, "dip")

        let port = try h.startSimulator(scenario: "[[waveform]]\nid = 7\nreplay = \"\(recording)\"\n")
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("pq", port: port)
                + h.meter("replayed", bus: "pq", unit: 7, profile: "waveform"))
        var live: EventRecord?
        h.waitUntil("the replayed dip", timeout: 30) {
            live = (try? h.request(Request(command: .events, meter: "replayed")))?.events?.last
            return live != nil
        }
        let dip = try XCTUnwrap(live)
        XCTAssertEqual(dip.kind, .dip)
        XCTAssertEqual(dip.worstPhase, offline["worst_phase"] as? String)
        XCTAssertEqual(dip.magnitude, try XCTUnwrap(offline["magnitude_v"] as? Double), accuracy: 0.002 * 230)
        XCTAssertEqual(
            Double(dip.durationMicroseconds) / 1e6, try XCTUnwrap(offline["duration_s"] as? Double), accuracy: 0.02)
        // synx-analyze writes microseconds ("…:05.512300Z"); ISO8601DateFormatter reads milliseconds.
        let offlineStart = try XCTUnwrap(offline["start"] as? String)
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let offlineTime = try XCTUnwrap(parser.date(from: String(offlineStart.dropLast(4)) + "Z"), offlineStart)
            .timeIntervalSince1970
        // The simulator serves the recording (8 s, in a loop) from its own block-0 time, which it prints.
        let epochLine = try XCTUnwrap(
            h.output("sim.out").split(separator: "\n").first { $0.hasPrefix("waveform 7 epoch_us ") })
        let epoch = Double(try XCTUnwrap(Int64(epochLine.split(separator: " ").last!))) / 1e6
        let intoLoop = (Double(dip.startMicroseconds) / 1e6 - epoch).truncatingRemainder(dividingBy: Double(n) / fs)
        XCTAssertEqual(
            intoLoop, offlineTime - config.firstSample.secondsSinceEpochLocal, accuracy: 0.02,
            "the same start into the recording, to within a cycle")
    }
}
