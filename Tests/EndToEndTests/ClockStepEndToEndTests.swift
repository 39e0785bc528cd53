import Foundation
import SynxControl
import XCTest

/// Steps of the wall clock under libfaketime (only synxd's wall clock moves; its monotonic clock runs on, as
/// a real step leaves it): polling goes on at every meter's cadence, nothing stored is overwritten, the step is
/// reported, and uptime stays true.
final class ClockStepEndToEndTests: XCTestCase {
    var h: Harness!

    override func setUpWithError() throws { h = try Harness(String(name.filter(\.isLetter).suffix(24))) }
    override func tearDown() { h?.tearDown() }

    /// Debian's libfaketime (package faketime, installed by scripts/install-deps), for this machine's architecture.
    static let libfaketime: String = {
        let lib = "/usr/lib"
        let arch = (try? FileManager.default.contentsOfDirectory(atPath: lib))?.first {
            FileManager.default.fileExists(atPath: "\(lib)/\($0)/faketime/libfaketimeMT.so.1")
        }
        return "\(lib)/\(arch ?? "x86_64-linux-gnu")/faketime/libfaketimeMT.so.1"
    }()
    static let meters = ["m1", "m2", "m3"]

    /// Every stored row of each meter's voltage, whatever the clock said.
    private func rows() throws -> [String: [QuerySample]] {
        var out: [String: [QuerySample]] = [:]
        for m in Self.meters {
            let r = try h.request(
                Request(
                    command: .query, meter: m, measurement: "voltage.l1n", from: 0, to: requestTimes.upperBound,
                    limit: 100_000))
            out[m] = r.query?.samples ?? []
        }
        return out
    }

    /// Starts synxd with its wall clock offset by the seconds in a file, polls three meters on one bus at 1 Hz,
    /// steps the clock by `seconds`, and checks what an engineer relies on.
    /// The real wall clock (UTC ms) when the step was written: rows closed before it were tagged by the real clock.
    private var stepWrittenMs: Int64 = 0

    private func step(by seconds: Int64, file: StaticString = #filePath, line: UInt = #line) throws -> DaemonStatus {
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: Self.libfaketime),
            "libfaketime (Debian faketime) is installed by scripts/install-deps")
        let offset = try h.write("faketime", "+0\n")
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\n[[unit]]\nid = 2\n[[unit]]\nid = 3\n")
        let config =
            h.daemonSection + h.tcpBus("lan", port: port)
            + Self.meters.enumerated().map { h.meter($1, bus: "lan", unit: $0 + 1) }.joined()
        try h.startDaemon(
            config: config,
            environment: [
                "LD_PRELOAD": Self.libfaketime, "FAKETIME_TIMESTAMP_FILE": offset, "FAKETIME_NO_CACHE": "1",
                "DONT_FAKE_MONOTONIC": "1",
                // Without it libfaketime's constructor calls setenv(), which moves `environ` before the Swift runtime
                // has found argv next to it, and synxd starts without its arguments. Names that do not exist: no
                // shared state, and nothing to set.
                "FAKETIME_SHARED": "/synx-none-sem /synx-none-shm",
            ])
        h.waitUntil("three polls of every meter", file: file, line: line) {
            try h.meters().allSatisfy { $0.polls >= 3 && $0.state == .online }
        }
        h.waitUntil("rows committed", file: file, line: line) { try rows().values.allSatisfy { $0.count >= 2 } }
        let before = try rows()
        let pollsBefore = Dictionary(uniqueKeysWithValues: try h.meters().map { ($0.name, $0.polls) })

        stepWrittenMs = Int64(Date().timeIntervalSince1970 * 1000)
        try "\(seconds >= 0 ? "+" : "")\(seconds)\n".write(toFile: offset, atomically: true, encoding: .utf8)
        h.waitUntil("the step reported in status", file: file, line: line) { try h.status().lastClockStep != nil }
        let reported = try XCTUnwrap(try h.status().lastClockStep, file: file, line: line)
        XCTAssertEqual(Double(reported.stepMs), Double(seconds * 1000), accuracy: 1500, file: file, line: line)
        // Every meter keeps its cadence across the step: five more polls each, within 8 s.
        let stepSeen = Date()
        h.waitUntil("every meter polled on after the step", timeout: 8, file: file, line: line) {
            try h.meters().allSatisfy { $0.polls >= (pollsBefore[$0.name] ?? 0) + 6 }
        }
        XCTAssertLessThan(Date().timeIntervalSince(stepSeen), 8, file: file, line: line)
        let status = try h.status()
        let meters = try h.meters()
        for m in meters {
            XCTAssertEqual(m.state, .online, "\(m.name): \(m.lastError ?? "")", file: file, line: line)
        }
        // What was stored before the step is still there, unchanged.
        h.waitUntil("rows after the step committed", file: file, line: line) {
            try status.store.committedRows < h.status().store.committedRows
        }
        let after = try rows()
        for m in Self.meters {
            let kept = Dictionary(uniqueKeysWithValues: (after[m] ?? []).map { ($0.time, $0) })
            for r in before[m] ?? [] {
                XCTAssertEqual(kept[r.time], r, "\(m) at \(r.time): stored before the step", file: file, line: line)
            }
        }
        // Reported: in the journal (stderr here) and the recent alerts; uptime from the monotonic clock.
        let direction = seconds > 0 ? "forward" : "back"
        h.waitUntil("the step logged", file: file, line: line) {
            h.output("synxd.err").contains("the wall clock stepped \(direction) by")
        }
        let alerts = try h.request(Request(command: .alerts)).alerts ?? []
        XCTAssertTrue(alerts.contains { $0.kind == "clock_step" }, "\(alerts.map(\.kind))", file: file, line: line)
        XCTAssertGreaterThan(status.uptimeSeconds, 0, file: file, line: line)
        XCTAssertLessThan(status.uptimeSeconds, 120, file: file, line: line)
        let (code, out, _) = try h.synxctl(["status"])
        XCTAssertEqual(code, 0, file: file, line: line)
        XCTAssertTrue(out.contains("wall clock stepped \(direction) by"), out, file: file, line: line)
        return try h.status()
    }

    func testBackwardFiveSeconds_pollingGoesOn_andTheRepeatedSecondsAreKeptAside() throws {
        _ = try step(by: -5)
        h.waitUntil("repeated seconds kept aside") { (try h.status().store.overlapRows ?? 0) > 0 }
    }

    func testBackwardOneHour_pollingGoesOn_nothingIsOverwritten_andNoAggregateIsTaggedAhead() throws {
        _ = try step(by: -3600)
        h.waitUntil("the repeated hour kept aside") { (try h.status().store.overlapRows ?? 0) >= 3 }
        // Meter-derived intervals that the clock left are not closed early, tagged an hour ahead of it. (Intervals
        // that a 10-min tick of the real clock closed before the step are tagged up to the step's time, no later.)
        let db = h.path("state/synx.sqlite")
        let fakeNow = Int64(Date().timeIntervalSince1970 * 1000) - 3_600_000
        let ahead = max(fakeNow + 600_000, stepWrittenMs)
        XCTAssertEqual(
            try h.sqlite(db, "SELECT count(*) FROM derived_aggregates WHERE tier = '10min' AND end_ms > \(ahead)"), "0")
    }

    func testForwardOneHour_pollingGoesOn() throws {
        let status = try step(by: 3600)
        XCTAssertEqual(status.store.overlapRows ?? 0, 0, "a forward step repeats nothing")
    }

    func testForwardThreeYears_theNoRTCBoot_pollingGoesOn_andTheStepIsRecordedForRetention() throws {
        _ = try step(by: 3 * 365 * 86_400)
        let db = h.path("state/synx.sqlite")
        h.waitUntil("the step recorded in the store") {
            (try? h.sqlite(db, "SELECT count(*) FROM clock_steps WHERE step_ms > 94000000000")) == "1"
        }
    }
}
