import Foundation

/// The reading side of the store, on its own read-only connection (WAL lets it read while the writer
/// commits). Not thread-safe: open one per thread.
public final class StoreReader {
    let db: Connection
    /// The writer's head, when the reader is in the writer's process: its points are read from memory. Without
    /// it they are read from `sample_head` (slower, as that means decoding every commit since the last compaction).
    private let head: StoreHead?

    /// A reader of the store at `path`; `head` is the writer's (`SampleStore.head`) when there is one in this
    /// process.
    public init(path: String, head: StoreHead? = nil) throws {
        db = try Connection(path: path, readOnly: true)
        self.head = head
    }

    /// Samples of one series with `from <= t < to`, oldest first, at most `limit`.
    public func samples(meter: String, measurement: String, from: Int64, to: Int64, limit: Int) throws -> [StoredSample]
    {
        try points(meter: meter, measurement: measurement, tier: "", from: from, to: to, limit: limit).map {
            StoredSample(time: $0.time, value: $0.value, quality: SampleQuality(rawValue: Int($0.flags)) ?? .invalid)
        }
    }

    /// The points of one series (`tier` '' for samples, '3s' for the 3-s aggregates) with `from <= t < to`,
    /// oldest first, at most `limit`: from its blocks, the head, and rows of schema version 7 not yet converted.
    ///
    /// The head is copied before the store is read, in one read transaction: a point the writer moved into a
    /// block meanwhile is then in both, and the head's copy is dropped (it is not after the series' `last_t`).
    func points(
        meter: String, measurement: String, tier: String, from: Int64, to: Int64, limit: Int
    ) throws -> [SeriesPoint] {
        let find = try db.prepare("SELECT id FROM series WHERE meter = ? AND measurement = ? AND tier = ?")
        find.bind(1, meter)
        find.bind(2, measurement)
        find.bind(3, tier)
        // A series keeps its id for good; a 3-s series of schema version 7 has none until its rows are converted.
        let series = try find.step() ? find.int(0) : -1
        find.reset()
        let memory = head?.runs(of: series)
        return try readTransaction {
            let blockLast = try db.scalarInt(
                "SELECT coalesce(max(last_t), -9223372036854775808) FROM series WHERE id = \(series)")
            var out: [SeriesPoint] = []
            let inRange = { (p: SeriesPoint) in p.time >= from && p.time < to }
            let cuts = try db.prepare("SELECT seq FROM block_cuts WHERE last_t >= ? AND first_t < ? ORDER BY first_t")
            cuts.bind(1, from)
            cuts.bind(2, to)
            let block = try db.prepare("SELECT first_t, last_t, data FROM sample_blocks WHERE id = ?")
            while series >= 0, try cuts.step() {
                block.bind(1, cuts.int(0) * SampleStore.maxSeries + series)
                if try block.step() {
                    let points = try SeriesBlockDecoder.decode(block.blob(2))
                    out += block.int(0) >= from && block.int(1) < to ? points : points.filter(inRange)
                }
                block.reset()
            }
            let fresh = { (p: SeriesPoint) in p.time > blockLast && inRange(p) }
            if series < 0 {
                // No series yet: only rows of version 7 not yet converted.
            } else if let memory {
                for run in memory { out += try SeriesBlockDecoder.decode(run).filter(fresh) }
            } else {
                let batches = try db.prepare("SELECT data FROM sample_head ORDER BY id")
                while try batches.step() {
                    out += try HeadBatch.decode(batches.blob(0)).lazy.filter { $0.series == series }.map(\.point)
                        .filter(fresh)
                }
            }
            out += try unconverted(
                series: series, meter: meter, measurement: measurement, tier: tier, from: from, to: to)
            // Blocks come in their cuts' order and the head after them: sorted already, unless the clock stepped.
            if zip(out, out.dropFirst()).contains(where: { $0.time > $1.time }) { out.sort { $0.time < $1.time } }
            return Array(out.prefix(limit))
        }
    }

    /// Runs `body` in one read transaction: everything it reads is one snapshot of the store.
    private func readTransaction<T>(_ body: () throws -> T) throws -> T { try db.transaction("BEGIN", body) }

    /// Points of schema version 7 the writer has not converted yet.
    private func unconverted(
        series: Int64, meter: String, measurement: String, tier: String, from: Int64, to: Int64
    ) throws -> [SeriesPoint] {
        var out: [SeriesPoint] = []
        if tier == "3s" {
            let s = try db.prepare(
                """
                SELECT end_ms, value, method, count, expected, notes FROM derived_aggregates
                WHERE meter = ? AND measurement = ? AND tier = '3s' AND end_ms >= ? AND end_ms < ?
                """)
            s.bind(1, meter)
            s.bind(2, measurement)
            s.bind(3, from)
            s.bind(4, to)
            while try s.step() {
                out.append(
                    SeriesPoint(
                        derived: DerivedRow(
                            meter: meter, measurement: measurement, unit: "", tier: tier, endMs: s.int(0),
                            value: s.double(1) ?? .nan,
                            method: DerivedMethod(rawValue: s.text(2)) ?? .mean, count: Int(s.int(3)),
                            expected: Int(s.int(4)),
                            notes: s.text(5).split(separator: ",").map(String.init))))
            }
        } else if try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'samples_v7'") > 0 {
            let s = try db.prepare("SELECT t, value, quality FROM samples_v7 WHERE series = ? AND t >= ? AND t < ?")
            s.bind(1, series)
            s.bind(2, from)
            s.bind(3, to)
            while try s.step() {
                out.append(SeriesPoint(time: s.int(0), value: s.double(1), flags: UInt8(clamping: s.int(2)) & 0x1F))
            }
        }
        return out
    }

    /// How many points the store holds in its series (samples and 3-s aggregates): in blocks, in the head and not
    /// yet in a block, and not yet converted from schema version 7. For tests and tools; it reads every commit
    /// since the last compaction.
    public func storedPointCount() throws -> Int {
        try readTransaction {
            var n = Int(try db.scalarInt("SELECT coalesce(sum(count), 0) FROM sample_blocks"))
            let last = try db.prepare("SELECT id, last_t FROM series")
            var blockLast: [Int64: Int64] = [:]
            while try last.step() { blockLast[last.int(0)] = last.double(1) == nil ? .min : last.int(1) }
            let batches = try db.prepare("SELECT data FROM sample_head")
            while try batches.step() {
                n += try HeadBatch.decode(batches.blob(0)).filter {
                    $0.point.time > blockLast[$0.series, default: .min]
                }.count
            }
            if try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'samples_v7'") > 0 {
                n += Int(try db.scalarInt("SELECT count(*) FROM samples_v7"))
            }
            if try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'derived_3s_v7'") > 0 {
                n += Int(try db.scalarInt("SELECT count(*) FROM derived_aggregates WHERE tier = '3s'"))
            }
            return n
        }
    }

    /// Stored voltage events, newest first: of one meter and kind when given, starting at or after `since` and
    /// before `until` (UTC µs), at most `limit`.
    public func events(
        meter: String?, kind: String?, since: Int64, until: Int64 = .max, limit: Int
    ) throws -> [EventRow] {
        let s = try db.prepare(
            """
            SELECT meter, kind, start_us, duration_us, magnitude, reference, delta_uss, worst_phase, per_phase, incomplete, resolution_us
            FROM pq_events WHERE (?1 IS NULL OR meter = ?1) AND (?2 IS NULL OR kind = ?2) AND start_us >= ?3
            AND start_us < ?5 ORDER BY start_us DESC LIMIT ?4
            """)
        if let meter { s.bind(1, meter) }
        if let kind { s.bind(2, kind) }
        s.bind(3, since)
        s.bind(4, Int64(limit))
        s.bind(5, until)
        var out: [EventRow] = []
        while try s.step() {
            let perPhase = (try? JSONDecoder().decode([String: Double].self, from: Data(s.text(8).utf8))) ?? [:]
            out.append(
                EventRow(
                    meter: s.text(0), kind: s.text(1), startMicroseconds: s.int(2), durationMicroseconds: s.int(3),
                    magnitude: s.double(4) ?? .nan, reference: s.double(5) ?? .nan, steadyStateChange: s.double(6),
                    worstPhase: s.text(7), perPhase: perPhase, incomplete: s.int(9) != 0,
                    resolutionMicroseconds: s.int(10)))
        }
        return out
    }

    /// Meter-derived aggregates of one measurement and tier with `from <= end < to`, oldest first.
    public func derived(
        meter: String, measurement: String, tier: String, from: Int64, to: Int64, limit: Int
    ) throws -> [DerivedRow] {
        if tier == "3s" {
            return try points(meter: meter, measurement: measurement, tier: tier, from: from, to: to, limit: limit).map
            {
                DerivedRow(meter: meter, measurement: measurement, unit: "", point: $0)
            }
        }
        let s = try db.prepare(
            """
            SELECT end_ms, value, method, count, expected, notes FROM derived_aggregates
            WHERE meter = ? AND measurement = ? AND tier = ? AND end_ms >= ? AND end_ms < ? ORDER BY end_ms LIMIT ?
            """)
        s.bind(1, meter)
        s.bind(2, measurement)
        s.bind(3, tier)
        s.bind(4, from)
        s.bind(5, to)
        s.bind(6, Int64(limit))
        var out: [DerivedRow] = []
        while try s.step() {
            out.append(
                DerivedRow(
                    meter: meter, measurement: measurement, unit: "", tier: tier, endMs: s.int(0),
                    value: s.double(1) ?? .nan,
                    method: DerivedMethod(rawValue: s.text(2)) ?? .mean, count: Int(s.int(3)), expected: Int(s.int(4)),
                    notes: s.text(5).split(separator: ",").map(String.init)))
        }
        return out
    }

    /// Class A aggregates of one meter and tier (`10-s`, `150/180-cycle`, `10-min`, `2-h`) with `from <= end < to`
    /// (UTC ms), oldest first, at most `limit`.
    public func aggregates(meter: String, tier: String, from: Int64, to: Int64, limit: Int) throws -> [AggregateRow] {
        let s = try db.prepare(
            """
            SELECT end_ms, start_ms, count, invalid_count, quality, "values" FROM pq_aggregates
            WHERE meter = ? AND tier = ? AND end_ms >= ? AND end_ms < ? ORDER BY end_ms LIMIT ?
            """)
        s.bind(1, meter)
        s.bind(2, tier)
        s.bind(3, from)
        s.bind(4, to)
        s.bind(5, Int64(limit))
        var out: [AggregateRow] = []
        while try s.step() {
            out.append(
                AggregateRow(
                    meter: meter, tier: tier, startMs: s.int(1), endMs: s.int(0), count: Int(s.int(2)),
                    invalidCount: Int(s.int(3)), quality: s.text(4).split(separator: ",").map(String.init),
                    valuesJSON: s.isNull(5) ? nil : s.text(5)))
        }
        return out
    }

    /// The unit of a stored series, or nil if the series does not exist.
    public func unit(meter: String, measurement: String) throws -> String? {
        let s = try db.prepare("SELECT unit FROM series WHERE meter = ? AND measurement = ? ORDER BY tier LIMIT 1")
        s.bind(1, meter)
        s.bind(2, measurement)
        return try s.step() ? s.text(0) : nil
    }

    /// `PRAGMA integrity_check`'s verdict ("ok" when sound).
    public func integrityCheck() throws -> String {
        let s = try db.prepare("PRAGMA integrity_check")
        var lines: [String] = []
        while try s.step() { lines.append(s.text(0)) }
        return lines.joined(separator: "\n")
    }
}
