import CSQLite
import Foundation
import XCTest

@testable import SynxStore

final class StoreTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-store-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func row(_ t: Int64, _ v: Double?, meter: String = "m1", q: SampleQuality = .good) -> SampleRow {
        SampleRow(meter: meter, measurement: "voltage.l1n", unit: "V", time: t, value: v, quality: q)
    }

    func testInsertedRows_readBackInOrderWithQuality() throws {
        let path = dir.appendingPathComponent("s.sqlite").path
        let store = try SampleStore(path: path)
        try store.insert([row(1000, 230.25), row(2000, 231.5), row(3000, nil, q: .missing), row(1000, 7, meter: "m2")])
        let reader = try StoreReader(path: path)
        let got = try reader.samples(meter: "m1", measurement: "voltage.l1n", from: 0, to: 10_000, limit: 10)
        XCTAssertEqual(
            got,
            [
                StoredSample(time: 1000, value: 230.25, quality: .good),
                StoredSample(time: 2000, value: 231.5, quality: .good),
                StoredSample(time: 3000, value: nil, quality: .missing),
            ])
        XCTAssertEqual(
            try reader.samples(meter: "m1", measurement: "voltage.l1n", from: 1500, to: 3000, limit: 10).map(\.time),
            [2000])
        XCTAssertEqual(try reader.unit(meter: "m2", measurement: "voltage.l1n"), "V")
        XCTAssertNil(try reader.unit(meter: "m3", measurement: "voltage.l1n"))
    }

    func testPrune_deletesWhatIsOlderThanEachRetention_andKeepsTheRest() throws {
        let path = dir.appendingPathComponent("p.sqlite").path
        let store = try SampleStore(path: path)
        let day: Int64 = 86_400_000
        let now: Int64 = 1_800_000_000_000
        let old = now - 20 * day
        let recent = now - day
        let event = { (t: Int64) in
            EventRow(
                meter: "m1", kind: "dip", startMicroseconds: t * 1000, durationMicroseconds: 100_000, magnitude: 138,
                reference: 230, steadyStateChange: nil, worstPhase: "l2", perPhase: ["l2": 138], incomplete: false,
                resolutionMicroseconds: 10_000)
        }
        let derived = { (tier: String, t: Int64) in
            DerivedRow(
                meter: "m1", measurement: "voltage.l1n", unit: "V", tier: tier, endMs: t,
                value: 230, method: .rms, count: 3, expected: 3, notes: [])
        }
        let aggregate = { (tier: String, t: Int64) in
            AggregateRow(
                meter: "m1", tier: tier, startMs: t - 3000, endMs: t, count: 15,
                invalidCount: 0, quality: [], valuesJSON: "{}")
        }
        try store.insert(
            [row(old, 1), row(old, 3, meter: "m2")],
            records: StoreRecords(
                events: [event(old), event(recent)],
                aggregates: [
                    aggregate("150/180-cycle", old), aggregate("150/180-cycle", recent), aggregate("10-min", old),
                ],
                derived: [derived("3s", old), derived("10min", old)]))
        try compact(store, now: old)
        try store.insert([row(recent, 2)], records: StoreRecords(derived: [derived("3s", recent)]))
        try compact(store, now: recent)
        var retention = Retention()
        retention.eventsDays = 10
        let deleted = try store.prune(retention, now: now)
        XCTAssertEqual(
            deleted, 5,
            "the blocks of the two old samples and of the old 3-s aggregate, the old 150-cycle aggregate, the old event"
        )
        let reader = try StoreReader(path: path)
        XCTAssertEqual(
            try reader.samples(meter: "m1", measurement: "voltage.l1n", from: 0, to: now, limit: 10).map(\.time),
            [recent])
        XCTAssertEqual(
            try reader.events(meter: nil, kind: nil, since: 0, limit: 10).map(\.startMicroseconds), [recent * 1000])
        XCTAssertEqual(
            try reader.derived(meter: "m1", measurement: "voltage.l1n", tier: "10min", from: 0, to: now, limit: 10)
                .count, 1,
            "10-min values are kept 400 days")
        XCTAssertEqual(
            try reader.derived(meter: "m1", measurement: "voltage.l1n", tier: "3s", from: 0, to: now, limit: 10).map(
                \.endMs), [recent])
    }

    func testSchema_isVersionedAndWAL() throws {
        let path = dir.appendingPathComponent("s.sqlite").path
        _ = try SampleStore(path: path)
        let db = try Connection(path: path, readOnly: true)
        XCTAssertEqual(try db.scalarInt("PRAGMA user_version"), Int64(Schema.currentVersion))
        let s = try db.prepare("PRAGMA journal_mode")
        XCTAssertTrue(try s.step())
        XCTAssertEqual(s.text(0), "wal")
        // Reopening an up-to-date store migrates nothing and keeps data.
        try SampleStore(path: path).insert([row(1, 1)])
        XCTAssertEqual(try StoreReader(path: path).storedPointCount(), 1)
    }

    func testNewerSchema_isRefused() throws {
        let path = dir.appendingPathComponent("s.sqlite").path
        _ = try SampleStore(path: path)
        try Connection(path: path, readOnly: false).execute("PRAGMA user_version = 99")
        XCTAssertThrowsError(try SampleStore(path: path)) { XCTAssertTrue("\($0)".contains("newer"), "\($0)") }
    }

    func testWriter_flushCommitsEverythingQueued() throws {
        let path = dir.appendingPathComponent("s.sqlite").path
        let writer = StoreWriter(store: try SampleStore(path: path), batchInterval: 60)
        writer.start()
        writer.enqueue((0..<5000).map { row(Int64($0), Double($0)) })
        writer.flush()
        XCTAssertEqual(writer.statistics.committedRows, 5000)
        XCTAssertEqual(
            try StoreReader(path: path).samples(
                meter: "m1", measurement: "voltage.l1n", from: 0, to: 10_000, limit: 10_000
            ).count, 5000)
        writer.stop()
    }

    func testFullDatabase_keepsRowsQueuedAndWritesThemWhenSpaceReturns() throws {
        let path = dir.appendingPathComponent("s.sqlite").path
        let store = try SampleStore(path: path)
        // SQLite's page-count ceiling stands in for a full disk: inserts fail with SQLITE_FULL.
        let pages = try store.db.scalarInt("PRAGMA page_count")
        try store.db.execute("PRAGMA max_page_count = \(pages + 2)")
        let writer = StoreWriter(store: store, batchInterval: 0.05)
        writer.start()
        writer.enqueue((0..<20_000).map { row(Int64($0), Double($0)) })
        writer.flush()
        let full = writer.statistics
        XCTAssertEqual(full.committedRows, 0)
        XCTAssertEqual(full.queuedRows, 20_000)
        XCTAssertTrue(full.lastError?.contains("full") ?? false, full.lastError ?? "no error")
        try store.db.execute("PRAGMA max_page_count = 1073741823")
        writer.flush()
        writer.flush()
        XCTAssertEqual(writer.statistics.committedRows, 20_000)
        XCTAssertNil(writer.statistics.lastError)
        writer.stop()
        XCTAssertEqual(try StoreReader(path: path).integrityCheck(), "ok")
    }
}

/// Stored data is never overwritten: rows whose time repeats (the clock stepped back) are kept aside; a failed
/// transaction leaves nothing half-written; retention counts forward clock steps out of the age of older data.
final class StoreClockAndFailureTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-store-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func row(_ t: Int64, _ v: Double, meter: String = "m1") -> SampleRow {
        SampleRow(meter: meter, measurement: "voltage.l1n", unit: "V", time: t, value: v, quality: .good)
    }

    private func count(_ path: String, _ sql: String) throws -> Int64 {
        let db = try Connection(path: path, readOnly: true)
        return try db.scalarInt(sql)
    }

    func testRepeatedTimes_afterABackwardStep_areKeptAside_neverOverwriteOrInterleave() throws {
        let path = dir.appendingPathComponent("o.sqlite").path
        let store = try SampleStore(path: path)
        try store.insert([row(1000, 231.36), row(2000, 231.5), row(3000, 231.7)])
        // The clock stepped back 2 s: the same seconds again, and one a millisecond off.
        try store.insert([row(2000, 232.29), row(2001, 232.3), row(4000, 232.4)])
        let reader = try StoreReader(path: path)
        let kept = try reader.samples(meter: "m1", measurement: "voltage.l1n", from: 0, to: 10_000, limit: 10)
        XCTAssertEqual(kept.map(\.time), [1000, 2000, 3000, 4000])
        XCTAssertEqual(kept[1].value, 231.5, "the first value of a repeated second is not overwritten")
        XCTAssertEqual(store.overlapRows, 2)
        XCTAssertEqual(
            try count(path, "SELECT count(*) FROM clock_overlap WHERE kind = 'sample' AND t IN (2000, 2001)"), 2)
        // A reopened store knows the last stored time from the file.
        let reopened = try SampleStore(path: path)
        try reopened.insert([row(3500, 1), row(5000, 232.5)])
        XCTAssertEqual(reopened.overlapRows, 1)
        // An aggregate whose interval is already stored is kept aside too.
        let derived = DerivedRow(
            meter: "m1", measurement: "voltage.l1n", unit: "V", tier: "3s", endMs: 3000, value: 230,
            method: .rms, count: 3, expected: 3, notes: [])
        try reopened.insert([], records: StoreRecords(derived: [derived]))
        var again = derived
        again.value = 240
        try reopened.insert([], records: StoreRecords(derived: [again]))
        XCTAssertEqual(
            try reader.derived(meter: "m1", measurement: "voltage.l1n", tier: "3s", from: 0, to: 10_000, limit: 10).map(
                \.value), [230])
        XCTAssertEqual(try count(path, "SELECT count(*) FROM clock_overlap WHERE kind = 'derived'"), 1)
    }

    func testFailedCommit_thenASuccessfulOne_storesEveryRowExactlyOnce() throws {
        let path = dir.appendingPathComponent("f.sqlite").path
        let store = try SampleStore(path: path)
        let other = try Connection(path: path, readOnly: false)
        // The head's row is the last written: refusing it undoes everything before it in the transaction.
        try other.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON sample_head BEGIN SELECT RAISE(ABORT, 'refused'); END")
        let derived = DerivedRow(
            meter: "m1", measurement: "voltage.l1n", unit: "V", tier: "10min", endMs: 600_000, value: 230,
            method: .rms, count: 3, expected: 3, notes: [])
        let aggregate = AggregateRow(
            meter: "m1", tier: "10-min", startMs: 0, endMs: 600_000, count: 1, invalidCount: 0, quality: [],
            valuesJSON: nil)
        let records = StoreRecords(
            aggregates: [aggregate], derived: [derived],
            clockSteps: [ClockStep(detectedMs: 5000, stepMs: -3_600_000)])
        XCTAssertThrowsError(try store.insert([row(1000, 1), row(2000, 2), row(3000, 666)], records: records))
        try other.execute("DROP TRIGGER refuse")
        try store.insert([row(1000, 1), row(2000, 2), row(3000, 3)], records: records)
        XCTAssertEqual(try StoreReader(path: path).storedPointCount(), 3)
        XCTAssertEqual(try count(path, "SELECT count(*) FROM derived_aggregates"), 1)
        XCTAssertEqual(try count(path, "SELECT count(*) FROM pq_aggregates"), 1)
        XCTAssertEqual(try count(path, "SELECT count(*) FROM clock_steps"), 1)
        XCTAssertEqual(
            try count(path, "SELECT count(*) FROM clock_overlap"), 0, "nothing of the failed batch counts as a repeat")
        XCTAssertEqual(store.overlapRows, 0)
    }

    func testPrune_afterAForwardStepOfThreeYears_keepsWhatWasRecordedBeforeIt_forItsRealAge() throws {
        let path = dir.appendingPathComponent("r.sqlite").path
        let store = try SampleStore(path: path)
        let day: Int64 = 86_400_000
        let bootClock: Int64 = 1_700_000_000_000  // a gateway without a battery-backed clock, months off
        let step = 3 * 365 * day
        // Ten days recorded under the wrong clock, then NTP steps it forward by three years.
        for d in 0..<10 {
            try store.insert([row(bootClock + Int64(d) * day, Double(d))])
            try compact(store, now: bootClock + Int64(d) * day)
        }
        let stepAt = bootClock + 10 * day + step
        // Seen by the supervisor up to a second after the step: a row stamped by the new clock before that.
        try store.insert(
            [row(stepAt - 400, 99), row(stepAt + 1000, 100)],
            records: StoreRecords(clockSteps: [ClockStep(detectedMs: stepAt, stepMs: step)]))
        try compact(store, now: stepAt)
        var retention = Retention()
        retention.samplesDays = 14
        // A day after the step: everything is younger than 14 days of real time.
        try store.prune(retention, now: stepAt + day)
        let reader = try StoreReader(path: path)
        XCTAssertEqual(
            try reader.samples(meter: "m1", measurement: "voltage.l1n", from: 0, to: .max, limit: 100).count, 12)
        // Eight days after the step: the first four days recorded before it are 14+ days old.
        try store.prune(retention, now: stepAt + 8 * day)
        let left = try reader.samples(meter: "m1", measurement: "voltage.l1n", from: 0, to: .max, limit: 100)
        XCTAssertEqual(left.map(\.value), [4, 5, 6, 7, 8, 9, 99, 100])
        // Fifteen days after it everything has been kept 14 days, the rows between the step and its detection too.
        try store.prune(retention, now: stepAt + 15 * day)
        XCTAssertEqual(
            try reader.samples(meter: "m1", measurement: "voltage.l1n", from: 0, to: .max, limit: 100).count, 0)
    }
}

/// Runs a compaction of `store`'s head to its end.
func compact(_ store: SampleStore, now: Int64) throws {
    while try !store.compactStep(now: now) {}
}
