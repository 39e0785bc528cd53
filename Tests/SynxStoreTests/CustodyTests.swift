import CSQLite
import Foundation
import XCTest

@testable import SynxStore

final class CustodyTests: XCTestCase {
    var dir: URL!
    var path: String { dir.appendingPathComponent("c.sqlite").path }
    let t0: Int64 = 1_767_225_600_000  // 2026-01-01 UTC

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-custody-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    // MARK: SHA-256

    func testSHA256_matchesFIPS180Examples() {
        XCTAssertEqual(SHA256.hash([UInt8]()).hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(
            SHA256.hash(Array("abc".utf8)).hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hex,
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            SHA256.hash([UInt8](repeating: 0x61, count: 1_000_000)).hex,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA256_agreesWithSha256sumAtEveryPaddingBoundary() throws {
        var bytes: [UInt8] = []
        var generator = SystemRandomNumberGenerator()
        for length in [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000] {
            bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let file = dir.appendingPathComponent("b\(length)")
            try Data(bytes).write(to: file)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
            p.arguments = [file.path]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            p.waitUntilExit()
            let expected = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
            XCTAssertEqual(SHA256.hash(bytes).hex, String(expected), "length \(length)")
        }
    }

    // MARK: The chain

    private func derived(
        _ meter: String, _ measurement: String, end: Int64, tier: String = "10min", value: Double = 230
    ) -> DerivedRow {
        DerivedRow(
            meter: meter, measurement: measurement, unit: "V", tier: tier, endMs: end, value: value, method: .rms,
            count: 600,
            expected: 600, notes: [])
    }

    private func event(_ startMs: Int64) -> EventRow {
        EventRow(
            meter: "m1", kind: "dip", startMicroseconds: startMs * 1000, durationMicroseconds: 100_000, magnitude: 138,
            reference: 230,
            steadyStateChange: nil, worstPhase: "l2", perPhase: ["l2": 138], incomplete: false,
            resolutionMicroseconds: 10_000)
    }

    private func aggregate(_ end: Int64, tier: String = "10-min") -> AggregateRow {
        AggregateRow(
            meter: "w1", tier: tier, startMs: end - 600_000, endMs: end, count: 3000, invalidCount: 0, quality: [],
            valuesJSON: #"{"u_rms":[230.1,229.8,230.4]}"#)
    }

    /// A store with two intervals of two polled meters, Class A aggregates, events, a clock step and a configuration:
    /// 4 derived links (one per meter and interval), 2 aggregate links, 2 events, 1 step, 1 configuration.
    private func filledStore() throws -> SampleStore {
        let store = try SampleStore(path: path)
        for end in [t0 + 600_000, t0 + 1_200_000] {
            try store.insert(
                [],
                records: StoreRecords(
                    events: [event(end - 300_000)], aggregates: [aggregate(end), aggregate(end, tier: "10-s")],
                    derived: ["m1", "m2"].flatMap { m in
                        [
                            derived(m, "voltage.l1n", end: end), derived(m, "frequency", end: end),
                            derived(m, "voltage.l1n", end: end, tier: "3s"),
                        ]
                    }))
        }
        try store.insert(
            [],
            records: StoreRecords(
                clockSteps: [ClockStep(detectedMs: t0 + 1_300_000, stepMs: 60_000)],
                configurations: [
                    AcceptedConfiguration(
                        acceptedMs: t0, path: "/etc/synx/synxd.toml",
                        sha256: String(repeating: "ab", count: 32),
                        profiles: ["/etc/synx/profiles/a.toml": "cd"],
                        requestedBy: "start")
                ]))
        return store
    }

    private func verify(from: Int64 = .min, to: Int64 = .max) throws -> CustodyReport {
        try StoreReader(path: path).verifyCustody(from: from, to: to, after: 0, limit: 1000)
    }

    private func tamper(_ sql: String) throws {
        var db: OpaquePointer?
        XCTAssertEqual(sqlite3_open(path, &db), SQLITE_OK)
        defer { sqlite3_close(db) }
        var message: UnsafeMutablePointer<CChar>?
        XCTAssertEqual(sqlite3_exec(db, sql, nil, nil, &message), SQLITE_OK, message.map { String(cString: $0) } ?? "")
    }

    func testAnUntouchedStore_verifies_andEveryChainedRowHasItsLink() throws {
        let store = try filledStore()
        let report = try verify()
        XCTAssertNil(report.problem)
        XCTAssertEqual(report.checked, 10)
        XCTAssertEqual(report.headSeq, 10)
        XCTAssertEqual(report.headLink, store.custodyHead?.link)
        XCTAssertNil(report.next)
    }

    func testAnEditedValue_isTheFirstBrokenLink() throws {
        _ = try filledStore()
        try tamper(
            "UPDATE derived_aggregates SET value = 231 WHERE meter = 'm2' AND measurement = 'frequency' AND tier = '10min' AND end_ms = \(t0 + 1_200_000)"
        )
        let problem = try XCTUnwrap(try verify().problem)
        XCTAssertEqual(problem.kind, "derived")
        XCTAssertEqual(problem.ref, #"["m2",\#(t0 + 1_200_000)]"#)
        XCTAssertTrue(problem.what.contains("changed"), problem.what)
        XCTAssertGreaterThan(problem.seq, 0)
    }

    func testADeletedEvent_isFound() throws {
        _ = try filledStore()
        try tamper("DELETE FROM pq_events WHERE start_us = \((t0 + 900_000) * 1000)")
        let problem = try XCTUnwrap(try verify().problem)
        XCTAssertEqual(problem.kind, "event")
        XCTAssertTrue(problem.what.contains("deleted"), problem.what)
    }

    func testAnInsertedAggregate_isFoundWithoutALink() throws {
        _ = try filledStore()
        try tamper(
            """
            INSERT INTO pq_aggregates (meter, tier, end_ms, start_ms, count, invalid_count, quality, "values")
            VALUES ('w1', '10-min', \(t0 + 1_800_000), \(t0 + 1_200_000), 3000, 0, '', '{}')
            """)
        let problem = try XCTUnwrap(try verify().problem)
        XCTAssertEqual(problem.seq, 0)
        XCTAssertEqual(problem.kind, "aggregate")
        XCTAssertEqual(problem.ref, #"["w1",\#(t0 + 1_800_000)]"#)
        XCTAssertTrue(problem.what.contains("without a link"), problem.what)
    }

    func testAnEditedOrDeletedLink_breaksTheChainThere() throws {
        _ = try filledStore()
        try tamper("UPDATE configurations SET requested_by = 'uid 0, pid 1'")
        XCTAssertEqual(try verify().problem?.kind, "configuration")
        // Recomputing the edited row's digest without the chain after it: the link value no longer matches.
        try tamper(
            "UPDATE configurations SET requested_by = 'start'; UPDATE custody SET digest = zeroblob(32) WHERE seq = 4")
        XCTAssertEqual(try verify().problem?.seq, 4)
        XCTAssertTrue(try verify().problem?.what.contains("link was edited") == true)
        try tamper("DELETE FROM custody WHERE seq = 4")
        let problem = try XCTUnwrap(try verify().problem)
        XCTAssertEqual(problem.seq, 5)
        XCTAssertTrue(problem.what.contains("link 4 before it is missing"), problem.what)
    }

    func testRetention_deletesLinksWithTheirRows_andRecordsThem() throws {
        let store = try filledStore()
        var retention = Retention()
        retention.derived10minDays = 1
        retention.eventsDays = 1
        let now = t0 + 86_400_000 + 1_000_000  // past 1 day for the first interval only
        try store.prune(retention, now: now)
        let report = try verify()
        XCTAssertNil(report.problem, "\(String(describing: report.problem))")
        XCTAssertEqual(
            report.checked, 10 - 2 - 2 + 2, "2 derived links and 2 events deleted, one prune link per delete")
        XCTAssertEqual(try StoreReader(path: path).db.scalarInt("SELECT count(*) FROM custody_prunes"), 2)
        // A link deleted outside retention is still found.
        try tamper("DELETE FROM custody WHERE kind = 'aggregate' AND t = \(t0 + 1_200_000)")
        XCTAssertNotNil(try verify().problem)
    }

    func testAStoreOfAnOlderSynxd_isChainedWhenTheChainIsCreated_andAnInterruptedRunGoesOn() throws {
        _ = try filledStore()
        // As an older synxd left it: no chain yet, the genesis marker set (what migration 7 leaves).
        try tamper("DELETE FROM custody; INSERT INTO custody_genesis VALUES (0)")
        var batches = 0
        let store = try SampleStore(path: path) { batches += 1 }
        let report = try verify()
        XCTAssertNil(report.problem)
        XCTAssertEqual(report.checked, 10)
        XCTAssertEqual(store.custodyHead?.seq, 10)
        XCTAssertEqual(
            batches, 5, "one transaction per kind that had rows: derived, aggregate, event, configuration, clock step")
        XCTAssertEqual(try StoreReader(path: path).db.scalarInt("SELECT count(*) FROM custody_genesis"), 0)
        // Interrupted after the first kinds' batches (a kill, a service manager's timeout): what was committed
        // stays, and the next start links the rest.
        try tamper(
            "DELETE FROM custody WHERE kind IN ('configuration', 'clock_step'); INSERT INTO custody_genesis VALUES (0)")
        _ = try SampleStore(path: path)
        XCTAssertNil(try verify().problem)
        XCTAssertEqual(try verify().checked, 10)
    }

    func testARowJoiningAChainedInterval_isKeptAside_andTheWriterGoesOn() throws {
        let store = try filledStore()
        // An aggregator that restarted closes an interval already stored, with a measurement it lacked before.
        try store.insert([], records: StoreRecords(derived: [derived("m1", "current.l1", end: t0 + 600_000)]))
        try store.insert([], records: StoreRecords(derived: [derived("m1", "current.l1", end: t0 + 1_800_000)]))
        XCTAssertEqual(store.overlapRows, 1)
        let report = try verify()
        XCTAssertNil(report.problem)
        XCTAssertEqual(report.checked, 10 + 1 + 1, "the row kept aside and the new interval")
    }

    func testAPruneRecordWithoutItsLink_excusesNothing() throws {
        _ = try filledStore()
        try tamper("DELETE FROM pq_events WHERE id = 1; DELETE FROM custody WHERE kind = 'event' AND ref = '[1]'")
        try tamper("INSERT INTO custody_prunes (at_ms, seqs) VALUES (-1, '1-100')")
        let problem = try XCTUnwrap(try verify().problem)
        XCTAssertTrue(problem.what.contains("missing, and retention did not delete it"), problem.what)
        // Nor does one outside the default range of a verify go unseen: a prune row without a link is a row
        // without a link.
        try tamper("INSERT INTO custody_prunes (at_ms, seqs) VALUES (99999999999999, '1')")
        let report = try StoreReader(path: path).verifyCustody(
            from: .min, to: .max, after: 0, afterTime: t0, limit: 1000)
        XCTAssertEqual(report.problem?.kind, "prune", "found in one page: the look skips the empty years between")
        XCTAssertEqual(report.problem?.ref, "[2]")
    }

    func testVerify_ofAnEmptyStore_isOk() throws {
        _ = try SampleStore(path: path)
        let r = try verify()
        XCTAssertNil(r.problem)
        XCTAssertEqual(r.checked, 0)
        XCTAssertEqual(r.headSeq, 0)
    }

    func testPaging_continuesAfterTheLastLinkChecked() throws {
        _ = try filledStore()
        let reader = try StoreReader(path: path)
        var after: Int64 = 0
        var pages = 0
        var checked = 0
        repeat {
            let r = try reader.verifyCustody(from: 0, to: .max, after: after, limit: 5)
            XCTAssertNil(r.problem)
            checked += r.checked
            pages += 1
            guard let next = r.next else { break }
            after = next
        } while pages < 10
        XCTAssertEqual(checked, 10)
        XCTAssertEqual(pages, 3, "two pages of exactly the limit, then one that finds no more links")
    }
}
