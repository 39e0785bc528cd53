import Foundation
import SynxStore
import XCTest

/// The store under a real synxd: a kill -9 in the middle of a compaction loses and duplicates nothing.
final class StoreEndToEndTests: XCTestCase {
    var h: Harness!

    override func setUpWithError() throws { h = try Harness(String(name.filter(\.isLetter).suffix(24))) }
    override func tearDown() { h?.tearDown() }

    func testKill9DuringCompaction_losesNothing_duplicatesNothing_andTheStoreStaysWhole() throws {
        // A store whose head holds 20 000 series × 20 points from two hours ago, as a synxd that stopped before
        // compacting leaves it: the next synxd compacts it at once, in 20 transactions of 1000 blocks.
        let db = h.path("state/synx.sqlite")
        try FileManager.default.createDirectory(atPath: h.path("state"), withIntermediateDirectories: true)
        let series = 20_000
        let points = 20
        let start = (Int64(Date().timeIntervalSince1970 * 1000) - 7_200_000) / 1000 * 1000
        do {
            let store = try SampleStore(path: db)
            for p in 0..<points {
                try store.insert(
                    (0..<series).map {
                        SampleRow(
                            meter: "old-\($0 / 10)", measurement: "value-\($0 % 10)", unit: "V",
                            time: start + Int64(p) * 1000,
                            value: Double(Float($0) + Float(p) / 8), quality: .good)
                    })
            }
        }
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\n")
        let config = h.daemonSection + h.tcpBus("lan", port: port) + h.meter("m1", bus: "lan", unit: 1)
        let daemon = try h.startDaemon(config: config)
        // Killed once the compaction has committed some blocks and not yet deleted the head they came from.
        let t0 = Date()
        h.waitUntil("a compaction half done", timeout: 60, interval: 0.002) {
            let blocks = Int(try h.sqlite(db, "SELECT count(*) FROM sample_blocks")) ?? 0
            return blocks > 0 && blocks < series - 2000
        }
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()
        print("killed \(Date().timeIntervalSince(t0)) s after start")
        let blocksAtKill = Int(try h.sqlite(db, "SELECT count(*) FROM sample_blocks"))!
        XCTAssertGreaterThan(blocksAtKill, 0)
        XCTAssertLessThan(blocksAtKill, series, "killed before the compaction finished")
        XCTAssertGreaterThan(
            Int(try h.sqlite(db, "SELECT count(*) FROM sample_head"))!, 0, "the head it was compacting is still there")
        XCTAssertEqual(try h.sqlite(db, "PRAGMA integrity_check"), "ok")
        try checkEverySeries(db, series: series, points: points, start: start)

        // The next synxd finishes it, and the old points are each stored once.
        try h.startDaemon(config: config)
        h.waitUntil("the compaction finished", timeout: 60) {
            Int(
                try h.sqlite(
                    db,
                    "SELECT count(*) FROM series WHERE meter LIKE 'old-%' AND last_t = \(start + Int64(points - 1) * 1000)"
                )) == series
        }
        try checkEverySeries(db, series: series, points: points, start: start)
        h.waitUntil("m1 online") { try h.meter("m1").state == .online }
    }

    /// Every pre-filled series reads back its points, once each, from whatever mix of blocks and head holds them.
    private func checkEverySeries(_ db: String, series: Int, points: Int, start: Int64) throws {
        let reader = try StoreReader(path: db)
        for s in stride(from: 0, to: series, by: 2857) + [series - 1] {
            let got = try reader.samples(
                meter: "old-\(s / 10)", measurement: "value-\(s % 10)", from: 0, to: .max, limit: 1000)
            XCTAssertEqual(got.map(\.time), (0..<points).map { start + Int64($0) * 1000 }, "series \(s)")
            XCTAssertEqual(got.map(\.value), (0..<points).map { Double(Float(s) + Float($0) / 8) }, "series \(s)")
        }
        XCTAssertGreaterThanOrEqual(try reader.storedPointCount(), series * points)
    }
}
