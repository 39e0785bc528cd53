import Foundation
import SynxControl
import XCTest

/// synxd's alerts as real journal entries: synxd runs under a private journald (Tests/support/with-journald),
/// and the entries are read back with journalctl.
final class JournalEndToEndTests: XCTestCase {
    var h: Harness!
    override func setUpWithError() throws { h = try Harness(String(name.filter(\.isLetter).suffix(24))) }
    override func tearDown() { h?.tearDown() }

    private var withJournald: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("support/with-journald").path
    }

    /// Every synxd entry of the journal in `dir`, as JSON objects.
    private func entries(_ dir: String) throws -> [[String: Any]] {
        let (code, out, err) = try h.run(
            "/usr/bin/journalctl", ["-D", dir, "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=synxd"])
        XCTAssertEqual(code, 0, err)
        return out.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    func testAlerts_offlineOnline_threshold_rejectedReload_test_andAFlappingMeterIsRateLimited() throws {
        guard getuid() == 0 else { return XCTFail("journal tests need root (a private journald in a mount namespace)") }
        let simulatorStart = Date()
        let port = try h.startSimulator(
            scenario: """
                [[unit]]
                id = 1
                profile = "synx-sim"
                [[unit]]
                id = 2
                profile = "synx-sim"
                [[unit]]
                id = 3
                profile = "synx-sim"
                [[fault]]
                unit = 2
                kind = "silent"
                from_s = 0
                until_s = 1
                [[fault]]
                unit = 2
                kind = "silent"
                from_s = 2
                until_s = 3
                [[fault]]
                unit = 2
                kind = "silent"
                from_s = 4
                until_s = 5
                [[fault]]
                unit = 2
                kind = "silent"
                from_s = 6
                until_s = 7
                [[fault]]
                unit = 2
                kind = "silent"
                from_s = 8
                until_s = 9
                [[fault]]
                unit = 3
                kind = "silent"
                until_s = 3
                """)
        let meters =
            h.tcpBus("line", port: port, timeoutMs: 200, retries: 0) + h.meter("incomer", bus: "line", unit: 1)
            + h.meter("flappy", bus: "line", unit: 2) + h.meter("feeder", bus: "line", unit: 3)
        func config(limit: Double) -> String {
            h.daemonSection
                + "[alerts]\nholdoff_s = 4\n\n[[alert]]\nname = \"hot\"\nmeasurement = \"freq*\"\nmeter = \"incomer\"\nabove = \(limit)\n"
                + meters
        }
        let file = try h.write("synxd.toml", config(limit: 1))
        let journal = h.path("journal")
        let wrapper = try h.start(
            withJournald,
            [
                journal, Harness.binaries.appendingPathComponent("synxd").path,
                "--config", file, "--log-target", "journal",
            ], name: "synxd")
        h.waitUntil("synxd answering") { (try? h.status()) != nil }
        let pid = try h.status().pid
        h.waitUntil("the threshold alert is active", timeout: 10) {
            (try? h.request(Request(command: .alerts)).alerts)?.contains { $0.kind == "threshold" && $0.active } == true
        }

        _ = try h.write("synxd.toml", config(limit: 1000))
        XCTAssertEqual(try h.synxctl(["reload"]).0, 0)
        _ = try h.write(
            "synxd.toml",
            config(limit: 1000) + "\n[[meter]]\nname = \"x\"\nbus = \"nowhere\"\nunit = 9\nprofile = \"synx-sim\"\n")
        XCTAssertEqual(try h.synxctl(["reload"]).0, 1)
        XCTAssertEqual(try h.synxctl(["alert", "test"]).0, 0)
        // Past the simulator's fault windows (9 s) every meter answers; after the 4-s hold-off every alert is cleared.
        h.waitUntil("the faults over, every meter online, no meter alert active", timeout: 30) {
            guard Date() > simulatorStart.addingTimeInterval(9.5),
                let list = try? h.request(Request(command: .alerts)).alerts
            else { return false }
            return (try? h.meters().allSatisfy { $0.state == .online }) == true
                && !list.contains { $0.kind == "meter_offline" && $0.active }
        }
        h.waitUntil("the held-back cleared entries written", timeout: 15) {
            Date() > simulatorStart.addingTimeInterval(15)
        }
        let excursions = try XCTUnwrap(h.request(Request(command: .events, kind: .threshold)).events)
        let (acode, aout, _) = try h.synxctl(["alerts"])
        XCTAssertEqual(acode, 0)
        XCTAssertTrue(aout.contains("reload_rejected"), aout)
        kill(pid, SIGTERM)
        h.waitUntil("synxd and its journald end") { !wrapper.isRunning }
        XCTAssertEqual(wrapper.terminationStatus, 0)

        let all = try entries(journal)
        func alert(_ id: String) -> [[String: Any]] { all.filter { $0["MESSAGE_ID"] as? String == id } }
        XCTAssertTrue(all.allSatisfy { $0["CODE_FILE"] != nil && $0["CODE_LINE"] != nil && $0["PRIORITY"] != nil })

        let offline = alert("b983c5c047b048fc8b5063054b7e0578")
        let online = alert("a37e2ef963434460aec29d1c90f4d98b")
        let feederDown = try XCTUnwrap(
            offline.first { $0["SYNX_METER"] as? String == "feeder" }, "\(all.map { $0["MESSAGE"] ?? "" })")
        XCTAssertEqual(feederDown["PRIORITY"] as? String, "4")
        XCTAssertEqual(feederDown["SYNX_BUS"] as? String, "line")
        XCTAssertTrue((feederDown["SYNX_REASON"] as? String)?.contains("timeout") == true, "\(feederDown)")
        XCTAssertTrue(online.contains { $0["SYNX_METER"] as? String == "feeder" })

        let threshold = try XCTUnwrap(alert("ffe8de2a5b314ea08439857fd01286fc").first)
        XCTAssertEqual(threshold["SYNX_METER"] as? String, "incomer")
        XCTAssertEqual(threshold["SYNX_MEASUREMENT"] as? String, "frequency")
        XCTAssertEqual(threshold["SYNX_LIMIT"] as? String, "1.0")
        XCTAssertNotNil(Double(threshold["SYNX_VALUE"] as? String ?? ""))
        XCTAssertEqual(threshold["PRIORITY"] as? String, "4")
        XCTAssertEqual(alert("f78b539dfe7f426f999aef0091b40af1").count, 1, "cleared once the reload raised the limit")
        XCTAssertEqual(excursions.count, 1, "the excursion is an event, its time resolution the poll interval")
        XCTAssertEqual(excursions.first?.resolutionMicroseconds, 1_000_000)
        XCTAssertEqual(excursions.first?.reference, 1)
        XCTAssertEqual(excursions.first?.worstPhase, "frequency")

        let rejected = try XCTUnwrap(alert("c7689707fdfd4e40affa3d269285a8b4").first)
        XCTAssertTrue((rejected["SYNX_ERROR"] as? String)?.contains("synxd.toml:") == true, "\(rejected)")
        XCTAssertEqual(
            alert("ff38c73fc3df438b85edc03ca1e0783c").compactMap { $0["SYNX_ALERT_STATE"] as? String },
            ["raised", "cleared"],
            "test alert raised and cleared: \(alert("ff38c73fc3df438b85edc03ca1e0783c"))")

        // The flapping meter: a handful of entries with counts, each raised one cleared.
        let flapRaised = offline.filter { $0["SYNX_METER"] as? String == "flappy" }
        let flapCleared = online.filter { $0["SYNX_METER"] as? String == "flappy" }
        XCTAssertGreaterThanOrEqual(flapRaised.count, 1)
        XCTAssertLessThanOrEqual(
            flapRaised.count, 3, "rate limited: \(flapRaised.count) raised entries for 9 s of flapping")
        XCTAssertEqual(flapRaised.count, flapCleared.count)
        // One poll a second alternates between a silent and an answering second: ~10 changes, held back and counted.
        XCTAssertTrue(
            (flapRaised + flapCleared).contains { Int($0["SYNX_ALERT_COUNT"] as? String ?? "") ?? 0 > 1 },
            "\((flapRaised + flapCleared).map { ($0["SYNX_ALERT_STATE"] ?? "", $0["SYNX_ALERT_COUNT"] ?? "") })")
    }

    func testDipOfAWaveformMeter_isAJournalEntryWithItsFields() throws {
        guard getuid() == 0 else { return XCTFail("journal tests need root (a private journald in a mount namespace)") }
        let port = try h.startSimulator(
            scenario: """
                [[waveform]]
                id = 5
                sample_rate = 6400
                [[waveform_change]]
                id = 5
                phase = 3
                from_s = 4
                duration_s = 0.2
                factor = 0.5
                """)
        let file = try h.write(
            "synxd.toml",
            h.daemonSection + h.tcpBus("pq", port: port) + h.meter("pqm", bus: "pq", unit: 5, profile: "waveform"))
        let journal = h.path("journal")
        let wrapper = try h.start(
            withJournald,
            [
                journal, Harness.binaries.appendingPathComponent("synxd").path,
                "--config", file, "--log-target", "journal",
            ], name: "synxd")
        h.waitUntil("synxd answering") { (try? h.status()) != nil }
        let pid = try h.status().pid
        h.waitUntil("the dip recorded", timeout: 30) {
            (try? h.request(Request(command: .events)).events?.isEmpty) == false
        }
        kill(pid, SIGTERM)
        h.waitUntil("synxd and its journald end") { !wrapper.isRunning }
        let dips = try entries(journal).filter { $0["MESSAGE_ID"] as? String == "5b1f0e4b8a6c4f0c9e2d7a3b6c1d8e90" }
        XCTAssertEqual(dips.count, 1)
        let dip = try XCTUnwrap(dips.first)
        XCTAssertEqual(dip["PRIORITY"] as? String, "4")
        XCTAssertEqual(dip["SYNX_METER"] as? String, "pqm")
        XCTAssertEqual(dip["SYNX_PHASE"] as? String, "l3")
        XCTAssertEqual(dip["SYNX_EVENT"] as? String, "dip")
        XCTAssertNotNil(dip["SYNX_EVENT_ID"])
        XCTAssertEqual(try XCTUnwrap(Double(dip["SYNX_VALUE"] as? String ?? "")), 115, accuracy: 0.46)
        XCTAssertEqual(try XCTUnwrap(Double(dip["SYNX_DURATION_S"] as? String ?? "")), 0.2, accuracy: 0.02)
        XCTAssertEqual(try XCTUnwrap(Double(dip["SYNX_REFERENCE"] as? String ?? "")), 230)
    }
}
