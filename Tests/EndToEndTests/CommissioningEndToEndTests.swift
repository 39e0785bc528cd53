import Foundation
import SynxControl
import XCTest

/// Commissioning through the daemon (`synxctl read`, `scan`, `profile check`) against synx-sim over Modbus/TCP and
/// over a socat pty pair: values equal the simulator's, the polled meters keep every slot while a scan of silent
/// unit ids runs, and only root or synxd's user may touch a bus.
final class CommissioningEndToEndTests: XCTestCase {
    private var h: Harness!
    override func setUpWithError() throws { h = try Harness("commissioning") }
    override func tearDown() { h?.tearDown() }

    /// The frozen simulator on TCP and on a pty pair; synxd polls unit 1 on each at 1 s, and an empty bus `spare`
    /// (no meters) on the same TCP port.
    private func start() throws {
        let (simEnd, daemonEnd) = try h.ptyPair()
        let port = try h.startSimulator(scenario: PollingEndToEndTests.frozenScenario, rtu: [simEnd])
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("lan", port: port) + h.rtuBus("rs485", device: daemonEnd, timeoutMs: 200)
                + h.tcpBus("spare", port: port)
                + h.meter("incomer", bus: "lan", unit: 1) + h.meter("feeder", bus: "rs485", unit: 2, profile: "eastron-sdm630"))
        h.waitUntil("both meters online") { try h.meters().allSatisfy { $0.state == .online } }
    }

    func testRead_givesTheSimulatorsRegisters_rawAndDecoded_onTCPAndRTU() throws {
        try start()
        let served = try h.simulatorValues()
        // synx-sim's native map: voltage.l1n is input float32 at 0 (docs/simulator.md).
        let (code, out, err) = try h.synxctl(["read", "lan", "1", "0", "--input", "--type", "float32", "--json"])
        XCTAssertEqual(code, 0, err)
        let read = try JSONDecoder().decode(RegisterRead.self, from: Data(out.utf8))
        XCTAssertEqual(read.words.count, 2)
        XCTAssertEqual(read.decoded?.first ?? nil, served["1"]?["voltage.l1n"])
        XCTAssertNil(read.error)
        // The table: one row per register, the value on the first.
        let (_, table, _) = try h.synxctl(["read", "lan", "1", "0", "--input", "--count", "4", "--type", "float32"])
        let rows = table.split(separator: "\n").filter { $0.first?.isNumber == true }
        XCTAssertEqual(rows.count, 4, table)
        XCTAssertEqual(rows.map { $0.split(separator: " ").first.map(String.init) }, ["0", "1", "2", "3"])
        // Over RTU (the pty pair): the SDM630's voltage L1, input float32 at 0.
        let (rtuCode, rtuOut, rtuErr) = try h.synxctl(["read", "rs485", "2", "0", "--input", "--type", "float32", "--json"])
        XCTAssertEqual(rtuCode, 0, rtuErr)
        XCTAssertEqual(
            try JSONDecoder().decode(RegisterRead.self, from: Data(rtuOut.utf8)).decoded?.first ?? nil,
            served["2"]?["voltage.l1n"])
        // Coils and discrete inputs (functions 1 and 2), over TCP and RTU: the simulator's fixed pattern.
        for (bus, unit) in [("lan", "1"), ("rs485", "2")] {
            let (coilCode, coilOut, coilErr) = try h.synxctl(["read", bus, unit, "0", "--coils", "--count", "16", "--json"])
            XCTAssertEqual(coilCode, 0, coilErr)
            let coils = try JSONDecoder().decode(RegisterRead.self, from: Data(coilOut.utf8))
            XCTAssertEqual(coils.words, (0..<16).map { $0 % 3 == 0 ? 1 : 0 }, bus)
            let (_, inputOut, inputErr) = try h.synxctl(["read", bus, unit, "3", "--discrete-inputs", "--count", "5", "--json"])
            XCTAssertEqual(
                try JSONDecoder().decode(RegisterRead.self, from: Data(inputOut.utf8)).words, [1, 0, 1, 0, 1],
                "\(bus) \(inputErr)")
        }
        let (_, bitTable, _) = try h.synxctl(["read", "lan", "1", "2", "--coils", "--count", "2"])
        XCTAssertTrue(bitTable.hasPrefix("bus lan unit 1 coils 2, 2 bit(s) in "), bitTable)
        XCTAssertEqual(bitTable.split(separator: "\n").dropFirst(), ["ADDRESS  BIT", "2        0", "3        1"])
        // An address the unit does not have: the exception, exit 3.
        let (badCode, badOut, _) = try h.synxctl(["read", "lan", "1", "9000", "--input"])
        XCTAssertEqual(badCode, 3)
        XCTAssertTrue(badOut.contains("exception 2 (illegal data address)"), badOut)
        let (usage, _, usageErr) = try h.synxctl(["read", "lan", "1", "0", "--coils", "--input"])
        XCTAssertEqual(usage, 64, "bad arguments")
        XCTAssertTrue(usageErr.contains("choose one table"), usageErr)
        // Requests outside the bounds are refused before anything is sent.
        for (args, message) in [
            (["read", "lan", "1", "0", "--count", "126"], "\"count\" must be 1–125"),
            (["read", "lan", "0", "0"], "\"unit\" must be 1–247"),
            (["read", "lan", "1", "65535", "--count", "2"], "outside 0–65535"),
            (["read", "nowhere", "1", "0"], "no bus named \"nowhere\""),
            (["read", "lan", "1", "0", "--type", "float16"], "\"decode\" must be one of"),
        ] {
            let (c, _, e) = try h.synxctl(args)
            XCTAssertEqual(c, 1, "\(args)")
            XCTAssertTrue(e.contains(message), "\(args): \(e)")
        }
    }

    func testScan_findsTheUnits_andTheSunSpecOnes_withoutTakingThePolledMetersSlots() throws {
        try start()
        // Behind the TCP "gateway": units 1–4 answer (3 and 4 SunSpec), the others are reported by the gateway
        // (exception 11, target failed to respond): nobody there.
        let (code, out, err) = try h.synxctl(["scan", "lan", "--units", "1-6", "--json"])
        XCTAssertEqual(code, 0, err)
        let probes = try JSONDecoder().decode([UnitProbe].self, from: Data(out.utf8))
        XCTAssertEqual(probes.map(\.unit), Array(1...6))
        XCTAssertEqual(probes.filter { $0.answer != .none }.map(\.unit), [1, 2, 3, 4], out)
        XCTAssertEqual(probes.filter(\.sunspec).map(\.unit), [3, 4], out)
        XCTAssertEqual(probes.first { $0.unit == 1 }?.answer, .exception, "synx-sim's native map has no register 40000")
        XCTAssertEqual(probes.first { $0.unit == 6 }?.detail, "exception 11 (gateway target device failed to respond)")

        // On the serial line, silent ids cost the bus's whole timeout (200 ms here): a read goes only where it and
        // the quiet interval after a timeout fit before the polled meter's next slot, so it misses none.
        let before = try h.meter("feeder")
        let (rtuCode, rtuOut, rtuErr) = try h.synxctl(["scan", "rs485", "--units", "1-8", "--all"])
        XCTAssertEqual(rtuCode, 0, rtuErr)
        XCTAssertTrue(rtuOut.hasPrefix("4 of 8 unit id(s) answered"), rtuOut)
        XCTAssertTrue(rtuOut.contains("timeout"), rtuOut)
        let after = try h.meter("feeder")
        XCTAssertEqual(after.missedPolls ?? [:], before.missedPolls ?? [:], "no slot missed during the scan")
        XCTAssertEqual(after.failedPolls, before.failedPolls)
        XCTAssertGreaterThanOrEqual(after.polls, before.polls + 2, "polling went on through the scan")
        XCTAssertEqual(after.state, .online)

        // A bus without meters can be scanned too (a new line, before any meter is configured on it).
        let (_, table, _) = try h.synxctl(["scan", "spare", "--units", "4-5"])
        XCTAssertTrue(table.hasPrefix("1 of 2 unit id(s) answered"), table)
    }

    func testProfileCheck_decodesACandidateProfile_asAPollWould() throws {
        try start()
        let served = try h.simulatorValues()
        let candidate = try h.write(
            "candidate.toml",
            """
            [profile]
            name = "candidate"
            manufacturer = "test"
            model = "a new meter"

            [[register]]
            measurement = "voltage.l1n"
            function = 4
            address = 0
            type = "float32"

            [[register]]
            measurement = "current.l1"
            function = 4
            address = 12
            type = "float32"
            word_order = "low-first"

            [[register]]
            measurement = "power_factor.total"
            function = 4
            address = 40
            type = "int16"
            scale = 0.001

            """)
        let (code, out, err) = try h.synxctl(["profile", "check", "incomer", candidate, "--json"])
        XCTAssertEqual(code, 0, err)
        let check = try JSONDecoder().decode(ProfileCheck.self, from: Data(out.utf8))
        XCTAssertEqual(check.profile, "candidate")
        XCTAssertEqual(check.failures, [])
        let points = Dictionary(uniqueKeysWithValues: check.points.map { ($0.measurement, $0) })
        XCTAssertEqual(points["voltage.l1n"]?.value, served["1"]?["voltage.l1n"])
        XCTAssertEqual(points["voltage.l1n"]?.raw.split(separator: " ").count, 2)
        XCTAssertEqual(
            try XCTUnwrap(points["power_factor.total"]?.value), try XCTUnwrap(served["1"]?["power_factor.total"]),
            accuracy: 0.0005)
        // The wrong word order: read, but not the simulator's current (garbage or implausible).
        XCTAssertNotEqual(points["current.l1"]?.value, served["1"]?["current.l1"])
        // A profile with an error is refused with the loader's message; a waveform or unknown meter too.
        let broken = try h.write("broken.toml", "[profile]\nname = \"x\"\n[[register]]\nmeasurement = \"voltage.l9n\"\n")
        let (bCode, _, bErr) = try h.synxctl(["profile", "check", "incomer", broken])
        XCTAssertEqual(bCode, 1)
        XCTAssertTrue(bErr.contains("voltage.l9n"), bErr)
        let (uCode, _, uErr) = try h.synxctl(["profile", "check", "nobody", candidate])
        XCTAssertEqual(uCode, 1)
        XCTAssertTrue(uErr.contains("no meter named \"nobody\""), uErr)
    }

    func testABusWithoutRoom_answersBusy_andItsMeterKeepsItsSlots() throws {
        let (simEnd, daemonEnd) = try h.ptyPair()
        _ = try h.startSimulator(scenario: PollingEndToEndTests.frozenScenario, rtu: [simEnd])
        // 1 s polls on a line whose reads need 2 × 500 ms of room (timeout and quiet interval): never room.
        try h.startDaemon(
            config: h.daemonSection + h.rtuBus("rs485", device: daemonEnd, timeoutMs: 500)
                + h.meter("feeder", bus: "rs485", unit: 2, profile: "eastron-sdm630"))
        h.waitUntil("feeder online") { try h.meter("feeder").state == .online }
        let before = try h.meter("feeder")
        let (code, _, err) = try h.synxctl(["read", "rs485", "5", "0"])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("busy: bus \"rs485\" left no room between its polls for a read within 20 s"), err)
        let after = try h.meter("feeder")
        XCTAssertEqual(after.missedPolls ?? [:], before.missedPolls ?? [:])
        XCTAssertGreaterThanOrEqual(after.polls, before.polls + 15)
    }

    func testCommissioning_isRefusedToOtherUsers() throws {
        try start()
        let asNobody = [
            "--reuid=65534", "--regid=0", "--clear-groups",
            try h.copyForOtherUsers(Harness.binaries.appendingPathComponent("synxctl")),
        ]
        let profile = try h.write("p.toml", "[profile]\nname = \"p\"\n")
        for args in [["read", "lan", "1", "0"], ["scan", "lan", "--units", "1"], ["profile", "check", "incomer", profile]] {
            let (code, _, err) = try h.run("/usr/bin/setpriv", asNobody + args + ["--socket", h.socketPath])
            XCTAssertEqual(code, 1, "\(args)")
            XCTAssertTrue(err.contains("unauthorized"), "\(args): \(err)")
        }
    }
}
