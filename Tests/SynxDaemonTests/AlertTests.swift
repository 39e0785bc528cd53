import Foundation
import Logging
import XCTest

@testable import SynxDaemon

/// Alert bookkeeping (dedup, hold-off, counts), threshold rules and the catalog that explains the entries.
final class AlertTests: XCTestCase {
    /// Collects what the alert center logs.
    final class Capture: LogHandler, @unchecked Sendable {
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        private(set) var entries: [(String, Logger.Metadata)] = []
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
            file: String, function: String, line: UInt
        ) {
            entries.append(("\(message)", metadata ?? [:]))
        }
    }

    func testEveryAlertKind_hasCatalogEntriesForRaisedAndCleared() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let catalog = try String(contentsOf: root.appendingPathComponent("systemd/synx.catalog"), encoding: .utf8)
        let ids = Set(catalog.split(separator: "\n").filter { $0.hasPrefix("-- ") }.map { String($0.dropFirst(3)) })
        for kind in AlertKind.allCases {
            XCTAssertTrue(ids.contains(kind.raisedID), "\(kind) raised")
            XCTAssertTrue(ids.contains(kind.clearedID), "\(kind) cleared")
        }
        for (kind, id) in AlertCenter.eventIDs { XCTAssertTrue(ids.contains(id), "event \(kind)") }
    }

    func testStaleMeters_answerButHaveNoNewData() {
        let registry = MeterRegistry()
        let config = try! DaemonConfig.parse(
            text:
                "[[bus]]\nname = \"b\"\ntype = \"tcp\"\nhost = \"h\"\n[[meter]]\nname = \"m\"\nbus = \"b\"\nunit = 1\nprofile = \"synx-sim\"\n",
            file: "t")
        registry.register(meter: config.meters[0])
        // Ages are monotonic time (a step of the wall clock, `time`, makes nothing stale).
        registry.recordPoll(
            meter: "m", state: .online, error: nil, values: [], time: 1_000_000, model: nil, received: 50_000)
        XCTAssertTrue(registry.staleMeters(monotonicNow: 54_000).isEmpty, "4 s: fresh (threshold max(3 × 1 s, 5 s))")
        XCTAssertEqual(registry.staleMeters(monotonicNow: 56_000).map(\.name), ["m"])
        registry.recordPoll(
            meter: "m", state: .online, error: nil, values: [], time: 1_000_000 + 94_608_000_000, model: nil,
            received: 57_000)
        XCTAssertTrue(registry.staleMeters(monotonicNow: 58_000).isEmpty, "fresh again, whatever the wall clock says")
        registry.recordPoll(
            meter: "m", state: .offline, error: "timeout", values: [], time: 1_007_000, model: nil, received: 58_000)
        XCTAssertTrue(registry.staleMeters(monotonicNow: 70_000).isEmpty, "an offline meter is offline, not stale")
    }

    func testRepeatedRaise_isOneEntry_andFlappingWithinTheHoldoffIsCountedNotLogged() {
        let capture = Capture()
        let alerts = AlertCenter(logger: Logger(label: "t") { _ in capture }, holdoffSeconds: 3600, rules: [])
        alerts.raise(.meterOffline, key: "m", message: "m offline")
        alerts.raise(.meterOffline, key: "m", message: "m offline")
        XCTAssertEqual(capture.entries.count, 1)
        for _ in 0..<5 {
            alerts.clear(.meterOffline, key: "m", message: "m online")
            alerts.raise(.meterOffline, key: "m", message: "m offline")
        }
        alerts.clear(.meterOffline, key: "m", message: "m online")
        XCTAssertEqual(
            capture.entries.map { "\($0.1["alert_state"]!)" }, ["raised", "cleared"],
            "the first clear at once; the re-raises within the hold-off held back with their clears")
        XCTAssertEqual(alerts.list().first?.active, false)
        let none = AlertCenter(logger: Logger(label: "t") { _ in capture }, holdoffSeconds: 0, rules: [])
        none.raise(.store, key: "s", message: "down")
        none.clear(.store, key: "s", message: "up")
        XCTAssertEqual(capture.entries.suffix(2).map { "\($0.1["alert_state"]!)" }, ["raised", "cleared"])
        XCTAssertEqual(
            capture.entries.suffix(2).map { "\($0.1["message_id"]!)" },
            [AlertKind.store.raisedID, AlertKind.store.clearedID])
    }

    func testHeldBackRaise_isWrittenByTickWithTheCount_andItsClearFollows() throws {
        let capture = Capture()
        let alerts = AlertCenter(logger: Logger(label: "t") { _ in capture }, holdoffSeconds: 0.2, rules: [])
        alerts.raise(.meterOffline, key: "m", message: "off")
        alerts.clear(.meterOffline, key: "m", message: "on")
        alerts.raise(.meterOffline, key: "m", message: "off")
        alerts.clear(.meterOffline, key: "m", message: "on")
        alerts.raise(.meterOffline, key: "m", message: "off")
        XCTAssertEqual(capture.entries.count, 2)
        // The hold-off ends 0.2 s after the first entry; each evaluation of the condition is a tick.
        let written = XCTNSPredicateExpectation(
            predicate: NSPredicate { _, _ in
                alerts.tick()
                return capture.entries.count >= 3
            }, object: nil)
        wait(for: [written], timeout: 5)
        let raised = try XCTUnwrap(capture.entries.last)
        XCTAssertEqual("\(raised.1["alert_state"]!)", "raised")
        XCTAssertEqual("\(raised.1["alert_count"]!)", "3", "three changes since the cleared entry")
        alerts.clear(.meterOffline, key: "m", message: "on")
        XCTAssertEqual("\(capture.entries.last!.1["alert_state"]!)", "cleared")
    }

    func testThresholdRule_percentOfNominal_andGlobs() throws {
        let text = """
            [[bus]]
            name = "b"
            type = "tcp"
            host = "127.0.0.1"
            [[meter]]
            name = "m1"
            bus = "b"
            unit = 1
            profile = "synx-sim"
            nominal_voltage = 230
            [[alert]]
            measurement = "voltage.l?n"
            percent_of_nominal = 10
            for_s = 60
            [[alert]]
            name = "ll"
            measurement = "voltage.l1l2"
            meter = "m*"
            percent_of_nominal = 10
            """
        let config = try DaemonConfig.parse(text: text, file: "t.toml")
        let meter = config.meters[0]
        let ln = try XCTUnwrap(config.rules[0].limits(meter: meter, measurement: "voltage.l2n"))
        XCTAssertEqual(ln.below!, 207, accuracy: 1e-9)
        XCTAssertEqual(ln.above!, 253, accuracy: 1e-9)
        XCTAssertNil(config.rules[0].limits(meter: meter, measurement: "voltage.l1l2"))
        XCTAssertEqual(config.rules[0].name, "rule-1")
        XCTAssertEqual(config.rules[0].forSeconds, 60)
        XCTAssertEqual(
            try XCTUnwrap(config.rules[1].limits(meter: meter, measurement: "voltage.l1l2")).above!,
            230 * 3.0.squareRoot() * 1.1, accuracy: 1e-9)
        XCTAssertThrowsError(
            try DaemonConfig.parse(
                text: text + "\n[[alert]]\nmeasurement = \"power.total\"\npercent_of_nominal = 5\n", file: "t.toml")
        ) {
            XCTAssertTrue("\($0)".hasPrefix("t.toml:22: alert[3].percent_of_nominal:"), "\($0)")
        }
        XCTAssertThrowsError(
            try DaemonConfig.parse(
                text: text + "\n[[alert]]\nmeasurement = \"frequency\"\nbelow = 51\nabove = 49\n", file: "t.toml")
        ) {
            XCTAssertTrue("\($0)".contains("below (51.0) must be less than above (49.0)"), "\($0)")
        }
    }
}
