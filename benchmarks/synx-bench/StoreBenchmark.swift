import ArgumentParser
import CSQLite
import Foundation
import SynxStore

/// The store at steady state: bytes written per stored value (WAL and checkpoints included, from
/// /proc/self/io), CPU per value, disk per value after compaction, and a one-day query of one series, on a store
/// pre-filled with a day of data; beside the version-7 layout (samples keyed (series, t), one row per value)
/// fed the same rows in the same run.
struct StoreBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "The store at steady state against the version-7 layout.")

    @Option(help: "Meters (each a 1-s series per value).") var meters = 100
    @Option(help: "Values per meter and poll (37: the full SDM630 profile).") var values = 37
    @Option(help: "Hours of data the store holds before measuring.") var prefillHours = 24.0
    @Option(help: "Minutes of data measured, one commit per second of data, compactions included.") var minutes = 30.0
    @Option(help: "Hours of data the version-7 baseline holds before measuring (its cost grows with it).")
    var baselinePrefillHours = 1.0
    @Option(help: "Minutes of data measured on the version-7 baseline.") var baselineMinutes = 2.0
    @Option(help: "A directory on the disk to measure (not a tmpfs).") var directory = "/var/tmp"

    func run() throws {
        let dir = URL(fileURLWithPath: directory).appendingPathComponent("synx-store-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let t0: Int64 = 1_800_000_000_000 - 1_800_000_000_000 % 600_000
        var feed = Feed(meters: meters, values: values)
        print(
            "store: \(meters) meters × \(values) values at 1 s (\(meters * values) series); load average \(Child.loadAverage())"
        )

        // synx: pre-filled through the store itself, 60 s of data per commit, compacted at every window.
        let path = dir.appendingPathComponent("synx.sqlite").path
        let store = try SampleStore(path: path)
        let prefill = Int(prefillHours * 3600)
        let fillStart = Date()
        for minute in stride(from: 0, to: prefill, by: 60) {
            try store.insert((minute..<min(minute + 60, prefill)).flatMap { feed.rows(at: t0 + Int64($0) * 1000) })
            let now = t0 + Int64(minute + 60) * 1000
            if store.compactionDue(now: now) { while try !store.compactStep(now: now) {} }
        }
        print(
            String(
                format: "  pre-filled %.1f h (%.0f M values) in %.0f s", prefillHours,
                Double(prefill * meters * values) / 1e6,
                Date().timeIntervalSince(fillStart)))
        let measured = Int(minutes * 60)
        let synx = try measure(values: measured * meters * values) {
            for s in prefill..<prefill + measured {
                let now = t0 + Int64(s) * 1000
                try store.insert(feed.rows(at: now))
                if store.compactionDue(now: now) { while try !store.compactStep(now: now) {} }
            }
        }
        try store.checkpoint()
        let total = (prefill + measured) * meters * values
        let disk = try usedBytes(path)
        let blobs = try scalar(path, "SELECT sum(length(data)) FROM sample_blocks")

        // A day of one series, through the reader the daemon uses, against reading the same blocks' bytes alone.
        let end = t0 + Int64(prefill + measured) * 1000
        let reader = try StoreReader(path: path, head: store.head)
        var got = 0
        let query = median(20) {
            got =
                (try? reader.samples(
                    meter: "meter-7", measurement: "value-3", from: end - 86_400_000, to: end, limit: 200_000
                ).count) ?? -1
        }
        let raw = try rawBlockRead(
            path, series: try scalar(path, "SELECT id FROM series WHERE meter = 'meter-7' AND measurement = 'value-3'"),
            from: end - 86_400_000, to: end)

        // The version-7 layout, fed the same kind of rows.
        let oldPath = dir.appendingPathComponent("v7.sqlite").path
        var oldFeed = Feed(meters: meters, values: values)
        let old = try Version7Layout(path: oldPath, series: meters * values)
        let oldFill = Int(baselinePrefillHours * 3600)
        for minute in stride(from: 0, to: oldFill, by: 60) {
            try old.insert((minute..<min(minute + 60, oldFill)).flatMap { oldFeed.rows(at: t0 + Int64($0) * 1000) })
        }
        let oldMeasured = Int(baselineMinutes * 60)
        let baseline = try measure(values: oldMeasured * meters * values) {
            for s in oldFill..<oldFill + oldMeasured { try old.insert(oldFeed.rows(at: t0 + Int64(s) * 1000)) }
        }
        old.close()
        let oldDisk = try usedBytes(oldPath)

        print(
            String(
                format:
                    "  synx, %.0f min of data after the pre-fill: %.1f bytes written per value, %.2f µs CPU per value",
                minutes, synx.bytesPerValue, synx.cpuMicrosPerValue))
        print(
            String(
                format:
                    "  version-7 layout, %.0f min after %.1f h: %.0f bytes written per value, %.2f µs CPU per value",
                baselineMinutes, baselinePrefillHours, baseline.bytesPerValue, baseline.cpuMicrosPerValue))
        print(
            String(
                format: "  ratio of bytes written, synx / version 7: %.4f (target: synx ≤ 64 bytes a value)",
                synx.bytesPerValue / baseline.bytesPerValue))
        print(
            String(
                format: "  disk per value: synx %.2f bytes (blocks' data %.2f), version 7 %.1f bytes (target ≤ 4)",
                Double(disk) / Double(total), Double(blobs) / Double(total),
                Double(oldDisk) / Double(oldFill * meters * values + oldMeasured * meters * values)))
        print(
            String(
                format:
                    "  a day of one series (%d points): %.2f ms through StoreReader, its blocks read and decoded alone %.2f ms, ratio %.2f (target ≤ 20 ms, ≤ 2)",
                got, query * 1000, raw * 1000, query / raw))
    }

    /// Runs `body` and returns the bytes the process wrote (/proc/self/io write_bytes) and the CPU it used, per value.
    private func measure(
        values: Int, _ body: () throws -> Void
    ) throws -> (bytesPerValue: Double, cpuMicrosPerValue: Double) {
        let (w0, c0) = (writeBytes(), cpuSeconds())
        try body()
        let (w1, c1) = (writeBytes(), cpuSeconds())
        return (Double(w1 - w0) / Double(values), (c1 - c0) * 1e6 / Double(values))
    }

    private func writeBytes() -> Int {
        let text = (try? String(contentsOfFile: "/proc/self/io", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("write_bytes:") }
        return Int(line?.split(separator: " ").last ?? "0") ?? 0
    }

    private func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// Bytes of the database file in use (pages not on the free list), after a checkpoint.
    private func usedBytes(_ path: String) throws -> Int {
        try scalar(
            path,
            "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count())"
        )
            * scalar(path, "SELECT page_size FROM pragma_page_size()")
    }

    private func scalar(_ path: String, _ sql: String) throws -> Int {
        var db: OpaquePointer?
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil)
        defer { sqlite3_close(db) }
        var s: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &s, nil) == SQLITE_OK else {
            throw ValidationError(String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(s) }
        return sqlite3_step(s) == SQLITE_ROW ? Int(sqlite3_column_int64(s, 0)) : 0
    }

    /// The baseline of a query: the same cuts looked up and the same blocks read and decoded with bare sqlite3
    /// calls, nothing else (no series lookup, snapshot, head, range filter or order check).
    private func rawBlockRead(_ path: String, series: Int, from: Int64, to: Int64) throws -> Double {
        var db: OpaquePointer?
        sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil)
        defer { sqlite3_close(db) }
        var cuts: OpaquePointer?
        var block: OpaquePointer?
        sqlite3_prepare_v2(
            db, "SELECT seq FROM block_cuts WHERE last_t >= ? AND first_t < ? ORDER BY first_t", -1, &cuts, nil)
        sqlite3_prepare_v2(db, "SELECT data FROM sample_blocks WHERE id = ?", -1, &block, nil)
        defer {
            sqlite3_finalize(cuts)
            sqlite3_finalize(block)
        }
        var points = 0
        let t = median(20) {
            sqlite3_exec(db, "BEGIN", nil, nil, nil)
            sqlite3_bind_int64(cuts, 1, from)
            sqlite3_bind_int64(cuts, 2, to)
            while sqlite3_step(cuts) == SQLITE_ROW {
                sqlite3_bind_int64(block, 1, sqlite3_column_int64(cuts, 0) * (1 << 24) + Int64(series))
                if sqlite3_step(block) == SQLITE_ROW, let p = sqlite3_column_blob(block, 0) {
                    let blob = Array(UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(block, 0))))
                    points += (try? StoredSeriesBlock.samples(blob).count) ?? 0
                }
                sqlite3_reset(block)
            }
            sqlite3_reset(cuts)
            sqlite3_exec(db, "COMMIT", nil, nil, nil)
        }
        precondition(points > 0, "no blocks read")
        return t
    }

    private func median(_ n: Int, _ body: () -> Void) -> Double {
        var times: [Double] = []
        for _ in 0..<n {
            let start = Date()
            body()
            times.append(Date().timeIntervalSince(start))
        }
        return times.sorted()[n / 2]
    }
}

/// Rows as a meter fleet polled at 1 s gives them: float32 readings wandering by a few hundredths, every 50th
/// poll of a meter missing.
private struct Feed {
    let meters: Int, values: Int
    private var level: [Float]
    private var rng = SystemRandomNumberGenerator()
    private let names: [String], measurements: [String]

    init(meters: Int, values: Int) {
        self.meters = meters
        self.values = values
        level = (0..<meters * values).map { Float(1 + $0 % 400) }
        names = (0..<meters).map { "meter-\($0)" }
        measurements = (0..<values).map { "value-\($0)" }
    }

    mutating func rows(at t: Int64) -> [SampleRow] {
        var out: [SampleRow] = []
        out.reserveCapacity(meters * values)
        for m in 0..<meters {
            let missing = (t / 1000 + Int64(m)) % 50 == 0
            for v in 0..<values {
                let i = m * values + v
                level[i] += Float.random(in: -0.02...0.02, using: &rng) * level[i] / 230
                out.append(
                    SampleRow(
                        meter: names[m], measurement: measurements[v], unit: "V", time: t,
                        value: missing ? nil : Double(level[i]), quality: missing ? .missing : .good))
            }
        }
        return out
    }
}

/// The layout synx stored samples in up to schema version 7: one row per value in a table keyed (series, t),
/// one transaction per batch, the same pragmas (WAL, synchronous = FULL, SQLite's checkpoints).
private final class Version7Layout {
    private var db: OpaquePointer?
    private var insert: OpaquePointer?
    private var ids: [String: Int64] = [:]

    init(path: String, series: Int) throws {
        sqlite3_open(path, &db)
        sqlite3_exec(
            db,
            """
            PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
            CREATE TABLE samples (series INTEGER NOT NULL, t INTEGER NOT NULL, value REAL, quality INTEGER NOT NULL,
                                  PRIMARY KEY (series, t)) WITHOUT ROWID;
            """, nil, nil, nil)
        sqlite3_prepare_v2(db, "INSERT INTO samples (series, t, value, quality) VALUES (?, ?, ?, ?)", -1, &insert, nil)
    }

    func insert(_ rows: [SampleRow]) throws {
        sqlite3_exec(db, "BEGIN", nil, nil, nil)
        for r in rows {
            let key = r.meter + "/" + r.measurement
            let id = ids[key] ?? Int64(ids.count + 1)
            ids[key] = id
            sqlite3_bind_int64(insert, 1, id)
            sqlite3_bind_int64(insert, 2, r.time)
            if let v = r.value { sqlite3_bind_double(insert, 3, v) } else { sqlite3_bind_null(insert, 3) }
            sqlite3_bind_int64(insert, 4, Int64(r.quality.rawValue))
            guard sqlite3_step(insert) == SQLITE_DONE else {
                throw ValidationError(String(cString: sqlite3_errmsg(db)))
            }
            sqlite3_reset(insert)
        }
        sqlite3_exec(db, "COMMIT", nil, nil, nil)
    }

    func close() {
        sqlite3_finalize(insert)
        sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", nil, nil, nil)
        sqlite3_close(db)
    }
}
