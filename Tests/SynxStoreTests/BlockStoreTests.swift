import Foundation
import XCTest

@testable import SynxStore

/// The block codec: every point comes back bit for bit, a damaged block is an error, and a meter's 1-s series
/// takes the few bytes a point the store's figures promise.
final class SeriesBlockCodecTests: XCTestCase {
    /// Points compare bit for bit (a NaN's payload too).
    private func assertSame(_ a: [SeriesPoint], _ b: [SeriesPoint], file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) {
            XCTAssertEqual(x.time, y.time, file: file, line: line)
            XCTAssertEqual(x.value?.bitPattern, y.value?.bitPattern, "at \(x.time)", file: file, line: line)
            XCTAssertEqual(x.flags, y.flags, file: file, line: line)
            XCTAssertEqual(x.count, y.count, file: file, line: line)
            XCTAssertEqual(x.expected, y.expected, file: file, line: line)
        }
    }

    private func encode(_ points: [SeriesPoint], counts: Bool) -> [UInt8] {
        var e = SeriesBlockEncoder(hasCounts: counts)
        points.forEach { e.append($0) }
        return e.encoded
    }

    func testEdgeValues_andTimes_comeBackBitForBit() throws {
        let odd: [Double?] = [
            0, -0.0, .infinity, -.infinity, .nan, Double(bitPattern: 0x7FF4_0000_0000_0001), .greatestFiniteMagnitude,
            .leastNonzeroMagnitude, nil, 230.1, nil, nil, 1e300, -1e-300, 230.1, 230.1,
        ]
        let times: [Int64] = [
            .min, .min + 1, -1, 0, 1, 1000, 2000, 3000, 3001, 1_800_000_000_000, .max - 1, .max, .max, .max, .max, .max,
        ]
        var points: [SeriesPoint] = []
        var t = Int64.min
        for (i, v) in odd.enumerated() {
            t = max(t, times[i])
            points.append(
                SeriesPoint(
                    time: times[i], value: v, flags: UInt8(i % 32), count: Int64(i % 3 == 0 ? .max : i),
                    expected: i % 4 == 0 ? .min : 3))
        }
        assertSame(try SeriesBlockDecoder.decode(encode(points, counts: true)), points)
        var noCounts = points
        for i in noCounts.indices {
            noCounts[i].count = 0
            noCounts[i].expected = 0
        }
        assertSame(try SeriesBlockDecoder.decode(encode(noCounts, counts: false)), noCounts)
    }

    func testRandomSeries_roundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var t = Int64.random(in: 0...2_000_000_000_000, using: &rng)
            var points: [SeriesPoint] = []
            for _ in 0..<Int.random(in: 1...700, using: &rng) {
                t += [1000, 1000, 1000, 999, 1003, 60_000, Int64.random(in: 1...100_000_000, using: &rng)]
                    .randomElement(using: &rng)!
                let value: Double? =
                    Bool.random(using: &rng) && Bool.random(using: &rng)
                    ? nil
                    : [
                        Double(Float(230 + Double.random(in: -2...2, using: &rng))),
                        Double.random(in: -1e9...1e9, using: &rng), 50, 0,
                    ]
                    .randomElement(using: &rng)!
                points.append(
                    SeriesPoint(
                        time: t, value: value, flags: UInt8.random(in: 0...2, using: &rng),
                        count: Int64.random(in: 0...3, using: &rng), expected: 3))
            }
            assertSame(try SeriesBlockDecoder.decode(encode(points, counts: true)), points)
        }
    }

    func testDamagedBlocks_areErrors_neverCrashes() throws {
        let points = (0..<300).map {
            SeriesPoint(time: 1_800_000_000_000 + Int64($0) * 1000, value: 230 + Double($0 % 7) * 0.1, flags: 0)
        }
        let block = encode(points, counts: false)
        for n in 0..<block.count {
            XCTAssertThrowsError(try SeriesBlockDecoder.decode(Array(block.prefix(n))), "cut at \(n)")
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var b = block
            b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            _ = try? SeriesBlockDecoder.decode(b)  // an error or some points; neither a crash nor a hang
        }
        XCTAssertThrowsError(
            try SeriesBlockDecoder.decode([1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]), "a count beyond the bound")
        XCTAssertThrowsError(try HeadBatch.decode([1, 5]), "a head batch cut short")
        XCTAssertThrowsError(try HeadBatch.decode([2]), "an unknown head batch version")
    }

    /// A float32 meter reading at 1 s with noise in its last digits, as synx-sim and real meters give: the
    /// store's figure is ≤ 4 bytes a point on disk.
    func testAOneSecondFloat32Series_takesUnderFourBytesAPoint() throws {
        var rng = SystemRandomNumberGenerator()
        var v = 230.0
        let points: [SeriesPoint] = (0..<600).map { i in
            v += Double.random(in: -0.05...0.05, using: &rng)
            return SeriesPoint(time: 1_800_000_000_000 + Int64(i) * 1000, value: Double(Float(v)), flags: 0)
        }
        let size = encode(points, counts: false).count
        XCTAssertLessThanOrEqual(Double(size) / 600, 4.0, "\(size) bytes")
        let constant = (0..<600).map { SeriesPoint(time: Int64($0) * 1000, value: 50, flags: 0) }
        XCTAssertLessThanOrEqual(
            encode(constant, counts: false).count, 250,
            "an unchanged value on schedule is 3 bits a point, after the first")
    }

    func testHeadBatches_roundTrip() throws {
        let rows = [
            HeadRow(series: 1, point: SeriesPoint(time: 1_800_000_000_000, value: 230.25, flags: 0), hasCounts: false),
            HeadRow(series: 2, point: SeriesPoint(time: 1_800_000_000_000, value: 0.1, flags: 2), hasCounts: false),
            HeadRow(series: 16_777_215, point: SeriesPoint(time: 5, value: nil, flags: 1), hasCounts: false),
            HeadRow(
                series: 3, point: SeriesPoint(time: .min, value: Double(bitPattern: 0x7FF8_0000_0000_0042), flags: 2),
                hasCounts: false),
            HeadRow(
                series: 4, point: SeriesPoint(time: .max, value: 231, flags: 0x09, count: 3, expected: -1),
                hasCounts: true),
        ]
        let back = try HeadBatch.decode(HeadBatch.encode(rows))
        XCTAssertEqual(back.map(\.series), rows.map(\.series))
        XCTAssertEqual(back.map(\.hasCounts), rows.map(\.hasCounts))
        assertSame(back.map(\.point), rows.map(\.point))
    }
}

/// The head and its blocks: a query sees every committed point once, whether it is in the head, in a block, or
/// both (a compaction cut short); every step of a compaction can be the last before a crash.
final class BlockStoreTests: XCTestCase {
    var dir: URL!
    let t0: Int64 = 1_800_000_000_000

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-blocks-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// `series` meters' voltage, one row a second from `start` for `seconds`; every 7th poll missing.
    private func rows(meters: Int, from start: Int, seconds: Int) -> [[SampleRow]] {
        (start..<start + seconds).map { s in
            (0..<meters).map { m in
                let t = t0 + Int64(s) * 1000
                return s % 7 == 0
                    ? SampleRow(
                        meter: "m\(m)", measurement: "voltage.l1n", unit: "V", time: t, value: nil, quality: .missing)
                    : SampleRow(
                        meter: "m\(m)", measurement: "voltage.l1n", unit: "V", time: t,
                        value: Double(Float(230 + Double(s % 50) / 10)),
                        quality: .good)
            }
        }
    }

    private func expected(meter: Int, from start: Int, seconds: Int) -> [StoredSample] {
        rows(meters: meter + 1, from: start, seconds: seconds).map { $0[meter] }.map {
            StoredSample(time: $0.time, value: $0.value, quality: $0.quality)
        }
    }

    private func read(_ path: String, head: StoreHead? = nil, meter: Int = 3) throws -> [StoredSample] {
        try StoreReader(path: path, head: head).samples(
            meter: "m\(meter)", measurement: "voltage.l1n", from: 0, to: .max, limit: 1_000_000)
    }

    func testQueries_readBlocksAndHead_fromMemoryOrTheTable_alike() throws {
        let path = dir.appendingPathComponent("q.sqlite").path
        let store = try SampleStore(path: path)
        for (i, batch) in rows(meters: 5, from: 0, seconds: 1500).enumerated() {
            try store.insert(batch)
            if i % 600 == 599 { try compact(store, now: batch[0].time) }
        }
        let want = expected(meter: 3, from: 0, seconds: 1500)
        XCTAssertEqual(try read(path, head: store.head), want)
        XCTAssertEqual(try read(path), want)
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM sample_blocks"), 10, "two cuts of five series")
        let part = try StoreReader(path: path, head: store.head).samples(
            meter: "m3", measurement: "voltage.l1n", from: t0 + 599_500,
            to: t0 + 1_200_001, limit: 3)
        XCTAssertEqual(part.map(\.time), [t0 + 600_000, t0 + 601_000, t0 + 602_000], "across a block's end, limited")
        // Reopened, the head is replayed from its table.
        let reopened = try SampleStore(path: path)
        XCTAssertEqual(try read(path, head: reopened.head), want)
        XCTAssertEqual(reopened.head.size.points, 300 * 5)
        XCTAssertEqual(try StoreReader(path: path).storedPointCount(), 1500 * 5)
    }

    func testACompactionCutShortAtAnyStep_losesNothing_andDuplicatesNothing() throws {
        let meters = 2500  // three transactions of blocks, then the head's deletion
        for stop in 0..<5 {
            let path = dir.appendingPathComponent("c\(stop).sqlite").path
            let store = try SampleStore(path: path)
            for batch in rows(meters: meters, from: 0, seconds: 30) { try store.insert(batch) }
            for _ in 0..<stop { try store.compactStep(now: t0) }
            // The process dies here (every step is committed or not at all; a kill inside one is SQLite's to undo).
            let reopened = try SampleStore(path: path)
            for batch in rows(meters: meters, from: 30, seconds: 5) { try reopened.insert(batch) }
            XCTAssertEqual(
                try read(path, head: reopened.head), expected(meter: 3, from: 0, seconds: 35),
                "stopped after \(stop) steps")
            XCTAssertEqual(try read(path, head: reopened.head, meter: meters - 1).count, 35)
            try compact(reopened, now: t0 + 40_000)
            XCTAssertEqual(try read(path, head: reopened.head), expected(meter: 3, from: 0, seconds: 35))
            XCTAssertEqual(try reopened.db.scalarInt("SELECT count(*) FROM sample_head"), 0)
            XCTAssertEqual(try StoreReader(path: path).storedPointCount(), 35 * meters)
            XCTAssertEqual(try StoreReader(path: path).integrityCheck(), "ok")
        }
    }

    func testAVersion7Store_isConverted_resumably_andReadsTheSameThroughout() throws {
        let path = dir.appendingPathComponent("v7.sqlite").path
        do {
            let db = try Connection(path: path, readOnly: false)
            for step in 0..<7 { try db.execute(Schema.migrations[step]) }
            try db.execute("PRAGMA user_version = 7")
            try db.execute("INSERT INTO series (id, meter, measurement, unit) VALUES (1, 'm3', 'voltage.l1n', 'V')")
            try db.execute("INSERT INTO series (id, meter, measurement, unit) VALUES (2, 'm3', 'energy', 'kWh')")
            let insert = try db.prepare("INSERT INTO samples (series, t, value, quality) VALUES (?, ?, ?, ?)")
            for s in expected(meter: 3, from: 0, seconds: 3000) {
                insert.bind(1, 1)
                insert.bind(2, s.time)
                insert.bind(3, s.value)
                insert.bind(4, Int64(s.quality.rawValue))
                try insert.step()
                insert.reset()
            }
            try db.execute("INSERT INTO samples VALUES (2, \(t0), 12.5, 0)")
            let derived = try db.prepare(
                """
                INSERT INTO derived_aggregates (meter, measurement, tier, end_ms, value, method, count, expected, notes)
                VALUES ('m3', 'energy', ?, ?, ?, 'increase', 3, 3, ?)
                """)
            for i in 0..<1000 {
                derived.bind(1, "3s")
                derived.bind(2, t0 + Int64(i) * 3000)
                derived.bind(3, Double(i))
                derived.bind(4, i == 500 ? "rollover" : "")
                try derived.step()
                derived.reset()
            }
            derived.bind(1, "10min")
            derived.bind(2, t0 + 600_000)
            derived.bind(3, 7)
            derived.bind(4, "")
            try derived.step()
        }
        let want = expected(meter: 3, from: 0, seconds: 3000)
        var store = try SampleStore(path: path)
        XCTAssertTrue(store.conversionPending)
        let derivedWant = try StoreReader(path: path).derived(
            meter: "m3", measurement: "energy", tier: "3s", from: 0, to: .max, limit: 5000)
        XCTAssertEqual(derivedWant.count, 1000)
        XCTAssertEqual(derivedWant.map(\.endMs), (0..<1000).map { t0 + Int64($0) * 3000 })
        XCTAssertEqual(derivedWant[500].notes, ["rollover"])
        XCTAssertEqual(try read(path, head: store.head), want, "before any conversion")
        try store.convertStep(windows: 2)
        store = try SampleStore(path: path)  // stopped after the first step, started again
        XCTAssertEqual(try read(path, head: store.head), want, "half converted")
        try store.insert([
            SampleRow(
                meter: "m3", measurement: "voltage.l1n", unit: "V", time: t0 + 2_999_000, value: 1, quality: .good),
            SampleRow(
                meter: "m3", measurement: "voltage.l1n", unit: "V", time: t0 + 3_000_000, value: 2, quality: .good),
        ])
        XCTAssertEqual(store.overlapRows, 1, "the last converted time is still known")
        while try !store.convertStep() {}
        XCTAssertFalse(store.conversionPending)
        let converted = try StoreReader(path: path, head: store.head)
        XCTAssertEqual(
            try converted.samples(meter: "m3", measurement: "voltage.l1n", from: 0, to: .max, limit: 10_000),
            want + [StoredSample(time: t0 + 3_000_000, value: 2, quality: .good)])
        XCTAssertEqual(
            try converted.samples(meter: "m3", measurement: "energy", from: 0, to: .max, limit: 10).map(\.value), [12.5]
        )
        XCTAssertEqual(
            try converted.derived(meter: "m3", measurement: "energy", tier: "3s", from: 0, to: .max, limit: 5000),
            derivedWant)
        XCTAssertEqual(
            try converted.derived(meter: "m3", measurement: "energy", tier: "10min", from: 0, to: .max, limit: 10).map(
                \.value), [7])
        XCTAssertEqual(
            try store.db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name IN ('samples_v7', 'derived_3s_v7')"),
            0)
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM derived_aggregates WHERE tier = '3s'"), 0)
        XCTAssertEqual(try converted.integrityCheck(), "ok")
    }

    func testRetention_deletesWholeBlocks_andTheirCuts() throws {
        let path = dir.appendingPathComponent("r.sqlite").path
        let store = try SampleStore(path: path)
        let day: Int64 = 86_400_000
        for d in 0..<3 {
            try store.insert([
                SampleRow(
                    meter: "m1", measurement: "v", unit: "V", time: t0 + Int64(d) * day, value: Double(d),
                    quality: .good),
                SampleRow(
                    meter: "m1", measurement: "v", unit: "V", time: t0 + Int64(d) * day + 1000, value: Double(d),
                    quality: .good),
            ])
            try compact(store, now: t0 + Int64(d) * day)
        }
        var retention = Retention()
        retention.samplesDays = 1.5
        XCTAssertEqual(try store.prune(retention, now: t0 + 2 * day + 1000), 1, "the first day's block")
        XCTAssertEqual(try store.db.scalarInt("SELECT count(*) FROM block_cuts"), 2)
        XCTAssertEqual(
            try StoreReader(path: path).samples(meter: "m1", measurement: "v", from: 0, to: .max, limit: 10).map(
                \.value), [1, 1, 2, 2])
    }

    func testAStoppedWriter_leavesNoWAL() throws {
        let path = dir.appendingPathComponent("w.sqlite").path
        let writer = StoreWriter(store: try SampleStore(path: path), batchInterval: 0.05)
        writer.start()
        for batch in rows(meters: 50, from: 0, seconds: 100) { writer.enqueue(batch) }
        writer.flush()
        XCTAssertGreaterThan((try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0, 0)
        writer.stop()
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int, 0)
        XCTAssertEqual(try StoreReader(path: path).storedPointCount(), 5000)
    }
}
