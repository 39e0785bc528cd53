import CSQLite

/// How many days of each kind of data the store keeps (0: forever). The defaults bound the disk: polled
/// samples and the 3-s tiers, which grow with every poll, are kept two weeks; 10-min values (EN 50160's weekly
/// assessments, a year of them) 400 days; 2-h values and events ten years.
public struct Retention: Equatable, Sendable {
    public var samplesDays = 14.0
    public var derived3sDays = 14.0
    public var derived10minDays = 400.0
    public var derived2hDays = 3650.0
    /// Class A 150/180-cycle aggregates and 10-s frequency values.
    public var classAShortDays = 14.0
    public var classA10minDays = 400.0
    public var classA2hDays = 3650.0
    public var eventsDays = 3650.0

    public init() {}
}

extension SampleStore {
    /// Deletes what is older than the retention allows, relative to `now` (UTC ms), in short transactions (one
    /// per series or tier), calling `progress` after each so a long first prune still shows the writer alive.
    /// Returns the number of rows deleted.
    @discardableResult
    public func prune(_ r: Retention, now: Int64, progress: () -> Void = {}) throws -> Int {
        func cutoff(_ days: Double) -> Int64? { days > 0 ? now - Int64(days * 86_400_000) : nil }
        var deleted = 0
        func run(_ sql: String, _ binds: [Any]) throws {
            try db.execute("BEGIN IMMEDIATE")
            do {
                let s = try db.prepare(sql)
                for (i, b) in binds.enumerated() {
                    if let v = b as? Int64 { s.bind(Int32(i + 1), v) } else if let v = b as? String { s.bind(Int32(i + 1), v) }
                }
                _ = try s.step()
                deleted += Int(sqlite3_changes(db.handle))
                try db.execute("COMMIT")
                progress()
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
        if let c = cutoff(r.samplesDays) {
            // Series by series, so every delete walks the (series, t) primary key.
            let ids = try db.prepare("SELECT id FROM series")
            var series: [Int64] = []
            while try ids.step() { series.append(ids.int(0)) }
            for id in series { try run("DELETE FROM samples WHERE series = ? AND t < ?", [id, c]) }
        }
        for (tier, days) in [("3s", r.derived3sDays), ("10min", r.derived10minDays), ("2h", r.derived2hDays)] {
            if let c = cutoff(days) { try run("DELETE FROM derived_aggregates WHERE tier = ? AND end_ms < ?", [tier, c]) }
        }
        for (tier, days) in [("150/180-cycle", r.classAShortDays), ("10-s", r.classAShortDays), ("10-min", r.classA10minDays),
                             ("2-h", r.classA2hDays)] {
            if let c = cutoff(days) { try run("DELETE FROM pq_aggregates WHERE tier = ? AND end_ms < ?", [tier, c]) }
        }
        if let c = cutoff(r.eventsDays) { try run("DELETE FROM pq_events WHERE start_us < ?", [c * 1000]) }
        return deleted
    }
}

