import CSQLite
import Foundation

/// A compaction started and not finished: its cut's number (nil until its first blocks are committed), the last
/// head row it covers, and the series whose blocks are still to be written (ascending, so the cut's blocks are
/// appended in id order).
struct PendingCut {
    var seq: Int64?
    var headID: Int64
    var remaining: ArraySlice<Int64>
    var runs: [Int64: SeriesBlockEncoder]
}

extension SampleStore {
    /// The compaction window: the head is moved into blocks when the wall clock enters a new one (UTC aligned,
    /// like the 10-min aggregates), so a block holds up to 600 points of a 1-s series.
    static let window: Int64 = 600_000

    /// Points the head may hold before it is compacted early (about 4 bytes each in memory): 1,000 meters of 37
    /// values at 1 s fill it in 9 minutes.
    static let maxHeadPoints = 20_000_000

    /// Blocks written per transaction of a compaction: about 2 MB at 600 points a block.
    static let blocksPerTransaction = 1000

    /// Whether a compaction is due at wall-clock `now` (UTC ms): one is unfinished, the clock entered a new
    /// window since the last, or the head passed its size bound.
    public func compactionDue(now: Int64) -> Bool {
        if pendingCut != nil { return true }
        if head.isOpenEmpty { return false }
        return now / SampleStore.window != lastCutWindow || head.size.points >= SampleStore.maxHeadPoints
    }

    /// Does one step of the compaction (starting one if none is under way): writes the next blocks in one
    /// transaction, or, once every block is written, deletes the head rows they came from. Returns true when
    /// the compaction is finished.
    ///
    /// Every step is its own transaction, so a crash between two leaves a store that opens whole: head rows are
    /// deleted only after their points are in blocks, and a point both in a block and in the head is skipped
    /// when the head is replayed (it is not after its series' `last_t`).
    @discardableResult
    public func compactStep(now: Int64) throws -> Bool {
        if pendingCut == nil {
            let runs = head.seal()
            lastCutWindow = now / SampleStore.window
            guard !runs.isEmpty else {
                head.dropSealed()
                return true
            }
            pendingCut = PendingCut(seq: nil, headID: lastHeadID, remaining: ArraySlice(runs.keys.sorted()), runs: runs)
        }
        guard var cut = pendingCut else { return true }
        if cut.remaining.isEmpty {
            let delete = try db.prepare("DELETE FROM sample_head WHERE id <= ?")
            delete.bind(1, cut.headID)
            try transaction { _ = try delete.step() }
            head.dropSealed()
            pendingCut = nil
            try db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return true
        }
        let batch = cut.remaining.prefix(SampleStore.blocksPerTransaction)
        var seq = cut.seq ?? 0
        try transaction {
            if cut.seq == nil {
                // The cut's row goes in with its first blocks.
                let insert = try db.prepare("INSERT INTO block_cuts (first_t, last_t, head_id) VALUES (?, ?, ?)")
                insert.bind(1, cut.runs.values.map(\.firstTime).min() ?? 0)
                insert.bind(2, cut.runs.values.map(\.lastTime).max() ?? 0)
                insert.bind(3, cut.headID)
                try insert.step()
                seq = sqlite3_last_insert_rowid(db.handle)
            }
            for series in batch {
                try writeBlock(cut: seq, series: series, cut.runs[series]!)
            }
        }
        cut.seq = seq
        cut.remaining = cut.remaining.dropFirst(batch.count)
        pendingCut = cut
        return false
    }

    /// Inserts one series' block of one cut and moves the series' `last_t` up to it.
    func writeBlock(cut: Int64, series: Int64, _ run: SeriesBlockEncoder) throws {
        let insert = try db.prepare(
            "INSERT INTO sample_blocks (id, first_t, last_t, count, data) VALUES (?, ?, ?, ?, ?)")
        insert.bind(1, cut * SampleStore.maxSeries + series)
        insert.bind(2, run.firstTime)
        insert.bind(3, run.lastTime)
        insert.bind(4, Int64(run.pointCount))
        insert.bind(5, run.encoded)
        try insert.step()
        let last = try db.prepare("UPDATE series SET last_t = max(coalesce(last_t, ?1), ?1) WHERE id = ?2")
        last.bind(1, run.lastTime)
        last.bind(2, series)
        try last.step()
    }

    /// Runs `body` in one write transaction: committed if it returns, rolled back if it throws.
    func transaction(_ body: () throws -> Void) throws { try db.transaction("BEGIN IMMEDIATE", body) }

    /// Checkpoints the WAL into the database and truncates it to zero bytes: at a clean stop, so what is left
    /// on disk is the database alone.
    public func checkpoint() throws {
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Moves up to `windows` 10-min windows of schema version 7's rows (`samples_v7`, and the 3-s tier of
    /// `derived_aggregates`) into blocks, in one transaction that also deletes them, so a conversion cut short
    /// goes on where it stopped. Returns true when nothing is left to convert.
    @discardableResult
    public func convertStep(windows: Int = 20) throws -> Bool {
        guard conversionPending else { return true }
        var converted = 0
        try transaction {
            while converted < windows, let source = try nextUnconverted() {
                try convert(source)
                converted += 1
            }
        }
        if converted == 0 {
            try transaction { try db.execute("DROP TABLE IF EXISTS samples_v7; DROP INDEX IF EXISTS derived_3s_v7") }
            conversionPending = false
        }
        return !conversionPending
    }

    /// Rows of version 7 waiting for conversion: one series' window.
    private struct Unconverted {
        var series: Int64
        var windowStart: Int64
        var derived: (meter: String, measurement: String)?
    }

    private func nextUnconverted() throws -> Unconverted? {
        if try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'samples_v7'") > 0 {
            let s = try db.prepare("SELECT series, t FROM samples_v7 LIMIT 1")
            if try s.step() {
                return Unconverted(series: s.int(0), windowStart: floorWindow(s.int(1)), derived: nil)
            }
        }
        let d = try db.prepare(
            """
            SELECT meter, measurement, end_ms FROM derived_aggregates WHERE tier = '3s' ORDER BY meter, measurement, end_ms LIMIT 1
            """)
        guard try d.step() else { return nil }
        let unit = try db.prepare("SELECT unit FROM series WHERE meter = ? AND measurement = ? AND tier = ''")
        unit.bind(1, d.text(0))
        unit.bind(2, d.text(1))
        let series = try seriesID(
            SeriesKey(meter: d.text(0), measurement: d.text(1), tier: "3s"), unit: try unit.step() ? unit.text(0) : "")
        return Unconverted(series: series, windowStart: floorWindow(d.int(2)), derived: (d.text(0), d.text(1)))
    }

    private func floorWindow(_ t: Int64) -> Int64 {
        let w = SampleStore.window
        return (t >= 0 ? t / w : (t - w + 1) / w) * w
    }

    /// Converts one series' window: a block in the conversion cut of that window, the rows deleted.
    private func convert(_ u: Unconverted) throws {
        let end = u.windowStart.addingReportingOverflow(SampleStore.window).partialValue
        var run = SeriesBlockEncoder(hasCounts: u.derived != nil)
        let read: Statement
        let delete: Statement
        if let d = u.derived {
            read = try db.prepare(
                """
                SELECT end_ms, value, method, count, expected, notes FROM derived_aggregates
                WHERE meter = ?1 AND measurement = ?2 AND tier = '3s' AND end_ms >= ?3 AND end_ms < ?4 ORDER BY end_ms
                """)
            delete = try db.prepare(
                "DELETE FROM derived_aggregates WHERE meter = ?1 AND measurement = ?2 AND tier = '3s' AND end_ms >= ?3 AND end_ms < ?4"
            )
            for s in [read, delete] {
                s.bind(1, d.meter)
                s.bind(2, d.measurement)
                s.bind(3, u.windowStart)
                s.bind(4, end)
            }
            while try read.step() {
                run.append(
                    SeriesPoint(
                        derived: DerivedRow(
                            meter: d.meter, measurement: d.measurement, unit: "", tier: "3s", endMs: read.int(0),
                            value: read.double(1) ?? .nan,
                            method: DerivedMethod(rawValue: read.text(2)) ?? .mean, count: Int(read.int(3)),
                            expected: Int(read.int(4)),
                            notes: read.text(5).split(separator: ",").map(String.init))))
            }
        } else {
            read = try db.prepare(
                "SELECT t, value, quality FROM samples_v7 WHERE series = ?1 AND t >= ?2 AND t < ?3 ORDER BY t")
            delete = try db.prepare("DELETE FROM samples_v7 WHERE series = ?1 AND t >= ?2 AND t < ?3")
            for s in [read, delete] {
                s.bind(1, u.series)
                s.bind(2, u.windowStart)
                s.bind(3, end)
            }
            while try read.step() {
                run.append(
                    SeriesPoint(time: read.int(0), value: read.double(1), flags: UInt8(clamping: read.int(2)) & 0x1F))
            }
        }
        _ = try delete.step()
        guard run.pointCount > 0 else { return }
        try writeBlock(cut: try conversionCut(windowStart: u.windowStart, end: end - 1), series: u.series, run)
    }

    /// The cut that holds converted blocks of the window starting at `windowStart`, made on first use.
    private func conversionCut(windowStart: Int64, end: Int64) throws -> Int64 {
        let find = try db.prepare("SELECT seq FROM block_cuts WHERE first_t = ? AND head_id = -1")
        find.bind(1, windowStart)
        if try find.step() { return find.int(0) }
        let make = try db.prepare("INSERT INTO block_cuts (first_t, last_t, head_id) VALUES (?, ?, -1)")
        make.bind(1, windowStart)
        make.bind(2, end)
        try make.step()
        return sqlite3_last_insert_rowid(db.handle)
    }
}
