import Foundation
import SynxControl
import XCTest

/// synx-sim → Modbus/TCP and Modbus/RTU (socat pty pair) → synxd → store and socket → synxctl.
final class PollingEndToEndTests: XCTestCase {
    var h: Harness!

    override func setUpWithError() throws { h = try Harness(String(name.filter(\.isLetter).suffix(24))) }
    override func tearDown() { h?.tearDown() }

    /// Values frozen at start (update_interval_ms = 0), so the daemon's view can be compared exactly.
    static let frozenScenario = """
        [simulation]
        update_interval_ms = 0
        seed = 3
        [[unit]]
        id = 1
        profile = "synx-sim"
        [[unit]]
        id = 2
        profile = "eastron-sdm630"
        [[unit]]
        id = 3
        profile = "sunspec-203"
        [[unit]]
        id = 4
        profile = "sunspec-213"
        """

    func testLiveValues_ofATCPMeterAndTwoRTUMetersOnOnePtyBus_equalTheSimulatorsValues() throws {
        let (simEnd, daemonEnd) = try h.ptyPair()
        let port = try h.startSimulator(scenario: Self.frozenScenario, rtu: [simEnd])
        let slow = "slow_poll_interval_ms = 1000\n"
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("lan", port: port) + h.rtuBus("rs485", device: daemonEnd)
                + h.meter("incomer", bus: "lan", unit: 1, extra: slow)
                + h.meter("pv-inverter", bus: "lan", unit: 4, profile: "sunspec")
                + h.meter("feeder-a", bus: "rs485", unit: 2, profile: "eastron-sdm630", extra: slow)
                + h.meter("feeder-b", bus: "rs485", unit: 3, profile: "sunspec", extra: slow))
        let meters = ["incomer": "1", "pv-inverter": "4", "feeder-a": "2", "feeder-b": "3"]
        h.waitUntil("all meters online") { try h.meters().allSatisfy { $0.state == .online } }
        let served = try h.simulatorValues()
        // Slow registers (energy) come with the polls that include them; wait until each meter has had one.
        h.waitUntil("every served measurement in the live table") {
            try meters.allSatisfy { meter, unit in
                Set(try h.request(Request(command: .live, meter: meter)).live!.values.map(\.measurement))
                    == Set(served[unit]!.keys)
            }
        }

        for (meter, unit) in meters {
            let (code, out, err) = try h.synxctl(["live", meter, "--json"])
            XCTAssertEqual(code, 0, err)
            let live = try JSONDecoder().decode(LiveValues.self, from: Data(out.utf8))
            let expected = served[unit]!
            XCTAssertEqual(Set(live.values.map(\.measurement)), Set(expected.keys), meter)
            for v in live.values {
                XCTAssertEqual(v.value, expected[v.measurement], "\(meter) \(v.measurement)")  // exact: float32 decoded exactly
            }
        }
        // The discovered SunSpec models are reported.
        XCTAssertEqual(try h.meter("feeder-b").model, "model 203")
        XCTAssertEqual(try h.meter("pv-inverter").model, "model 213")

        // An independent Modbus master (mbpoll) decodes the same float32 registers.
        let (code, out, err) = try h.run(
            "/usr/bin/mbpoll",
            [
                "-m", "tcp", "-p", "\(port)", "-a", "1", "-t", "3:float", "-B",
                "-r", "1", "-c", "3", "-1", "-q", "127.0.0.1",
            ])
        XCTAssertEqual(code, 0, err + out)
        let mbpoll = out.split(separator: "\n").compactMap { line -> Double? in
            line.hasPrefix("[") ? Double(line.split(separator: "\t").last!.trimmingCharacters(in: .whitespaces)) : nil
        }
        let live = try h.request(Request(command: .live, meter: "incomer")).live!
        let daemon = ["voltage.l1n", "voltage.l2n", "voltage.l3n"].map { n in
            live.values.first { $0.measurement == n }!.value
        }
        XCTAssertEqual(mbpoll.count, 3, out)
        for (a, b) in zip(mbpoll, daemon) { XCTAssertEqual(a, b, accuracy: abs(b) * 1e-5) }  // mbpoll prints 6 digits

        // The store keeps the history: several good samples, in order, of the frozen value.
        h.waitUntil("three stored samples") {
            try h.request(Request(command: .query, meter: "feeder-a", measurement: "frequency", from: 0)).query?.samples
                .count ?? 0 >= 3
        }
        let (qcode, qout, qerr) = try h.synxctl(["query", "feeder-a", "frequency", "--from", "1h", "--json"])
        XCTAssertEqual(qcode, 0, qerr)
        let q = try JSONDecoder().decode(QueryResult.self, from: Data(qout.utf8))
        XCTAssertEqual(q.unit, "Hz")
        XCTAssertGreaterThanOrEqual(q.samples.count, 3)
        XCTAssertEqual(q.samples.map(\.time), q.samples.map(\.time).sorted())
        XCTAssertTrue(q.samples.allSatisfy { $0.quality == .good && $0.value == served["2"]!["frequency"] })
        XCTAssertTrue(zip(q.samples, q.samples.dropFirst()).allSatisfy { $1.time - $0.time >= 500 }, "1 s schedule")
    }

    func testMeterThatStopsAnswering_goesOfflineWithReason_neighboursKeepTheirRate_andItComesBack() throws {
        let port = try h.startSimulator(
            scenario: """
                [[unit]]
                id = 1
                [[unit]]
                id = 2
                [[unit]]
                id = 3
                [[fault]]
                unit = 3
                kind = "silent"
                from_s = 5
                until_s = 14
                """)
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("gateway", port: port, timeoutMs: 300, retries: 0)
                + (1...3).map { h.meter("m\($0)", bus: "gateway", unit: $0) }.joined())
        h.waitUntil("m1 online") { try h.meter("m1").state == .online }
        h.waitUntil("m3 offline", timeout: 15) { try h.meter("m3").state == .offline }
        let m3 = try h.meter("m3")
        XCTAssertTrue(
            m3.lastError?.contains("unit 3") == true && m3.lastError?.contains("timeout") == true, m3.lastError ?? "-")

        // Meters behind the same gateway keep their 1 s rate while m3 times out.
        let before = try h.meters()
        Thread.sleep(forTimeInterval: 3)  // a measuring window, not a synchronisation
        let after = try h.meters()
        for name in ["m1", "m2"] {
            let polls = after.first { $0.name == name }!.polls - before.first { $0.name == name }!.polls
            XCTAssertGreaterThanOrEqual(polls, 2, "\(name) polled \(polls) times in 3 s")
            XCTAssertEqual(after.first { $0.name == name }!.state, .online)
        }
        let (_, out, _) = try h.synxctl(["status"])
        XCTAssertTrue(out.contains("m3") && out.contains("offline") && out.contains("timeout"), out)
        // The summary counts every meter and lists only the one that is not online; `meters` pages through all.
        XCTAssertTrue(out.contains("\nmeters: 3 (2 online, 1 offline)\n"), out)
        XCTAssertFalse(out.contains("m1 "), out)
        let summary = try h.status()
        XCTAssertEqual(summary.metersByState, ["online": 2, "offline": 1])
        XCTAssertEqual(summary.meters.map(\.name), ["m3"])
        XCTAssertEqual(summary.metersNotShown, 0)
        let first = try h.request(Request(command: .meters, limit: 2))
        XCTAssertEqual(first.meters?.map(\.name), ["m1", "m2"])
        XCTAssertEqual(first.nextOffset, 2)
        let last = try h.request(Request(command: .meters, limit: 2, offset: 2))
        XCTAssertEqual(last.meters?.map(\.name), ["m3"])
        XCTAssertNil(last.nextOffset)
        XCTAssertEqual(try h.request(Request(command: .meters, offset: -1)).status, .invalidRequest)
        XCTAssertEqual(
            try h.request(Request(command: .status, version: 1)).daemon?.meters.map(\.name).sorted(),
            ["m1", "m2", "m3"],
            "a version-1 client still gets every meter")
        let (_, all, _) = try h.synxctl(["meters", "--format", "csv"])
        XCTAssertEqual(all.split(separator: "\n").dropFirst().map { String($0.prefix(3)) }, ["m1,", "m2,", "m3,"], all)

        h.waitUntil("m3 back online", timeout: 30) { try h.meter("m3").state == .online }
        h.waitUntil("the log says so") { h.output("synxd.err").contains("meter m3 back online") }
    }

    func testMisbehavingMeters_reportExceptionCRCAndGarbage_andTheRestKeepPolling() throws {
        let (simEnd, daemonEnd) = try h.ptyPair()
        let port = try h.startSimulator(
            scenario: """
                [[unit]]
                id = 1
                [[unit]]
                id = 2
                profile = "eastron-sdm630"
                [[unit]]
                id = 3
                profile = "eastron-sdm630"
                [[unit]]
                id = 4
                [[fault]]
                unit = 1
                kind = "garbage"
                [[fault]]
                unit = 2
                kind = "crc"
                [[fault]]
                unit = 3
                kind = "exception"
                code = 2
                address = 70
                """, rtu: [simEnd])
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("lan", port: port, timeoutMs: 300, retries: 0)
                + h.rtuBus("rs485", device: daemonEnd, timeoutMs: 300, frameGapMs: 0)
                + h.meter("garbled", bus: "lan", unit: 1) + h.meter("healthy", bus: "lan", unit: 4)
                + h.meter("noisy-line", bus: "rs485", unit: 2, profile: "eastron-sdm630")
                + h.meter("wrong-map", bus: "rs485", unit: 3, profile: "eastron-sdm630"))
        h.waitUntil("garbled offline") { try h.meter("garbled").state == .offline }
        h.waitUntil("noisy-line offline") { try h.meter("noisy-line").state == .offline }
        h.waitUntil("wrong-map degraded") { try h.meter("wrong-map").state == .degraded }
        h.waitUntil("healthy online with polls") {
            let m = try h.meter("healthy")
            return m.state == .online && m.polls >= 3
        }
        let garbled = try h.meter("garbled").lastError ?? "-"
        XCTAssertTrue(garbled.contains("garbage reply"), garbled)
        let noisy = try h.meter("noisy-line").lastError ?? "-"
        XCTAssertTrue(noisy.contains("CRC error"), noisy)
        let wrong = try h.meter("wrong-map").lastError ?? "-"
        XCTAssertTrue(wrong.contains("exception 2 (illegal data address)") && wrong.contains("eastron-sdm630"), wrong)
        // What wrong-map could read is still there: the line-to-line voltages live in the other block.
        let live = try h.request(Request(command: .live, meter: "wrong-map")).live!
        XCTAssertTrue(live.values.contains { $0.measurement == "voltage.l12" })
        XCTAssertFalse(live.values.contains { $0.measurement == "frequency" })
    }

    func testRTUOverTCP_throughATransparentSerialServer_readsTheSameValues() throws {
        let (simEnd, serverEnd) = try h.ptyPair()
        _ = try h.startSimulator(scenario: Self.frozenScenario, rtu: [simEnd])
        // socat plays the serial device server: TCP on one side, the serial line on the other.
        let port = try h.freePort()
        try h.start(
            "/usr/bin/socat", ["TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr", "FILE:\(serverEnd),raw,echo=0"],
            name: "serial-server")
        try h.startDaemon(
            config: h.daemonSection
                + "\n[[bus]]\nname = \"serial-server\"\ntype = \"rtu-over-tcp\"\nhost = \"127.0.0.1\"\nport = \(port)\ntimeout_ms = 500\n"
                + h.meter("feeder-a", bus: "serial-server", unit: 2, profile: "eastron-sdm630"))
        h.waitUntil("feeder-a online") { try h.meter("feeder-a").state == .online }
        let live = try h.request(Request(command: .live, meter: "feeder-a")).live!
        let served = try h.simulatorValues()["2"]!
        XCTAssertFalse(live.values.isEmpty)
        for v in live.values { XCTAssertEqual(v.value, served[v.measurement], v.measurement) }
        XCTAssertTrue(try h.buses()[0].endpoint.hasPrefix("rtu-over-tcp 127.0.0.1:"))
    }

    func testPollSpread_eachMeterPollsAtItsPhase_overTCPAndRTU_andSaysWhichItIs() throws {
        let (simEnd, daemonEnd) = try h.ptyPair()
        let port = try h.startSimulator(scenario: Self.frozenScenario, rtu: [simEnd])
        try h.startDaemon(
            config: h.daemonSection + "poll_spread_ms = 700\n" + h.tcpBus("lan", port: port)
                + h.rtuBus("rs485", device: daemonEnd)
                + h.meter("feeder-a", bus: "lan", unit: 1)
                + h.meter("chiller", bus: "lan", unit: 2, profile: "eastron-sdm630")
                + h.meter("m0", bus: "rs485", unit: 3, profile: "sunspec"))
        // 64-bit FNV-1a of each name modulo 700, computed independently (a few lines of Python).
        let phases: [String: Int64] = ["feeder-a": 476, "chiller": 278, "m0": 340]
        h.waitUntil("every meter online") { try h.meters().allSatisfy { $0.state == .online } }
        for m in try h.meters() { XCTAssertEqual(m.pollPhaseMs.map(Int64.init), phases[m.name], m.name) }
        h.waitUntil("five stored polls of each meter") {
            try phases.keys.allSatisfy {
                try h.request(Request(command: .query, meter: $0, measurement: "frequency", from: 0)).query?.samples
                    .count ?? 0 >= 5
            }
        }
        for (meter, phase) in phases {
            let samples = try XCTUnwrap(
                h.request(Request(command: .query, meter: meter, measurement: "frequency", from: 0)).query
            ).samples
            // Each poll starts at its slot (the whole second plus the phase) or a little after, never before.
            let lateness = samples.dropFirst().map { ($0.time - phase) % 1000 }  // the first may be a discovery's
            XCTAssertTrue(lateness.allSatisfy { $0 >= 0 && $0 < 250 }, "\(meter): \(samples.map(\.time))")
        }
    }

}

/// Meter-derived aggregation of a polled meter through the real path: synx-sim → synxd → store → synxctl.
final class DerivedAggregationEndToEndTests: XCTestCase {
    var h: Harness!
    override func setUpWithError() throws { h = try Harness("derived") }
    override func tearDown() { h?.tearDown() }

    func testThreeSecondAggregates_areTheRMSOfThePolls_withCoverage_andTheEnergyCounterRollsOver() throws {
        // 400 A per phase: about 0.07 kWh a second, so the acc32 energy register (Wh) wraps within seconds.
        let port = try h.startSimulator(
            scenario: """
                [simulation]
                update_interval_ms = 200
                [[unit]]
                id = 1
                profile = "synx-sim"
                current = 400
                energy_start_kwh = 4294967.0
                """)
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("line", port: port)
                + h.meter("incomer", bus: "line", unit: 1, extra: "slow_poll_interval_ms = 1000\n"))
        func query(_ measurement: String, tier: String? = nil) throws -> QueryResult {
            let (code, out, err) = try h.synxctl(
                ["query", "incomer", measurement, "--from", "1h", "--json"] + (tier.map { ["--tier", $0] } ?? []))
            guard code == 0 else { throw HarnessError(err) }
            return try JSONDecoder().decode(QueryResult.self, from: Data(out.utf8))
        }
        h.waitUntil("a rollover in the 3-s energy increases", timeout: 40) {
            (try? query("energy.active.import", tier: "3s"))?.samples.contains { $0.notes == ["rollover"] } == true
        }
        let energy = try query("energy.active.import", tier: "3s")
        XCTAssertTrue(energy.derivation?.contains("not IEC 61000-4-30 Class A") == true, energy.derivation ?? "-")
        for s in energy.samples.dropFirst() {
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(s.value), 0, "an increase, never a 4.3 GWh fall")
            XCTAssertLessThan(try XCTUnwrap(s.value), 1)
        }

        let derived = try query("voltage.l1n", tier: "3s")
        let polls = try query("voltage.l1n").samples
        XCTAssertGreaterThanOrEqual(derived.samples.count, 2)
        for d in derived.samples.dropFirst() {  // the first interval began before synxd did
            let inside = polls.filter { $0.time >= d.time - 3000 && $0.time < d.time }.compactMap(\.value)
            XCTAssertEqual(try XCTUnwrap(d.coverage), Double(inside.count) / 3, accuracy: 1e-9)
            let rms = (inside.reduce(0) { $0 + $1 * $1 } / Double(inside.count)).squareRoot()
            XCTAssertEqual(try XCTUnwrap(d.value), rms, accuracy: 1e-9)
            XCTAssertEqual(d.time % 3000, 0, "tagged with the UTC-aligned interval end")
        }
    }
}
