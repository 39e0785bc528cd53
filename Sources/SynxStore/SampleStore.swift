import CSQLite
import Foundation

/// The writing side of the time-series store: one connection, series ids cached, rows inserted in one
/// transaction per batch. Not thread-safe: `StoreWriter` owns it on its own thread.
public final class SampleStore {
    let db: Connection
    private let insertSample: Statement
    private let insertSeries: Statement
    private let findSeries: Statement
    private let insertEvent: Statement
    private let insertAggregate: Statement
    private let insertDerived: Statement
    private var seriesIDs: [SeriesKey: Int64] = [:]

    private struct SeriesKey: Hashable {
        var meter: String
        var measurement: String
    }

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    public init(path: String) throws {
        db = try Connection(path: path, readOnly: false)
        try Schema.configureWriter(db)
        try Schema.migrate(db)
        insertSample = try db.prepare("INSERT OR REPLACE INTO samples (series, t, value, quality) VALUES (?, ?, ?, ?)")
        insertSeries = try db.prepare("INSERT INTO series (meter, measurement, unit) VALUES (?, ?, ?)")
        findSeries = try db.prepare("SELECT id FROM series WHERE meter = ? AND measurement = ?")
        insertEvent = try db.prepare("""
            INSERT INTO pq_events (meter, kind, start_us, duration_us, magnitude, reference, delta_uss, worst_phase,
                                   per_phase, incomplete, resolution_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertAggregate = try db.prepare("""
            INSERT OR REPLACE INTO pq_aggregates (meter, tier, end_ms, start_ms, count, invalid_count, quality, "values")
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertDerived = try db.prepare("""
            INSERT OR REPLACE INTO derived_aggregates (meter, measurement, tier, end_ms, value, method, count, expected, notes)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
    }

    /// Writes `rows` and `records` in one transaction: all of them or none.
    public func insert(_ rows: [SampleRow], records: StoreRecords = StoreRecords()) throws {
        guard !rows.isEmpty || !records.isEmpty else { return }
        try db.execute("BEGIN IMMEDIATE")
        do {
            for d in records.derived {
                insertDerived.bind(1, d.meter)
                insertDerived.bind(2, d.measurement)
                insertDerived.bind(3, d.tier)
                insertDerived.bind(4, d.endMs)
                insertDerived.bind(5, d.value)
                insertDerived.bind(6, d.method.rawValue)
                insertDerived.bind(7, Int64(d.count))
                insertDerived.bind(8, Int64(d.expected))
                insertDerived.bind(9, d.notes.joined(separator: ","))
                try insertDerived.step()
                insertDerived.reset()
            }
            for a in records.aggregates {
                insertAggregate.bind(1, a.meter)
                insertAggregate.bind(2, a.tier)
                insertAggregate.bind(3, a.endMs)
                insertAggregate.bind(4, a.startMs)
                insertAggregate.bind(5, Int64(a.count))
                insertAggregate.bind(6, Int64(a.invalidCount))
                insertAggregate.bind(7, a.quality.joined(separator: ","))
                if let json = a.valuesJSON { insertAggregate.bind(8, json) } else { insertAggregate.bind(8, nil as Double?) }
                try insertAggregate.step()
                insertAggregate.reset()
            insertDerived.reset()
            }
            for e in records.events {
                insertEvent.bind(1, e.meter)
                insertEvent.bind(2, e.kind)
                insertEvent.bind(3, e.startMicroseconds)
                insertEvent.bind(4, e.durationMicroseconds)
                insertEvent.bind(5, e.magnitude)
                insertEvent.bind(6, e.reference)
                insertEvent.bind(7, e.steadyStateChange)
                insertEvent.bind(8, e.worstPhase)
                insertEvent.bind(9, String(decoding: try JSONEncoder().encode(e.perPhase), as: UTF8.self))
                insertEvent.bind(10, Int64(e.incomplete ? 1 : 0))
                insertEvent.bind(11, e.resolutionMicroseconds)
                try insertEvent.step()
                insertEvent.reset()
            insertAggregate.reset()
            }
            for row in rows {
                let series = try seriesID(row)
                insertSample.bind(1, series)
                insertSample.bind(2, row.time)
                insertSample.bind(3, row.value)
                insertSample.bind(4, Int64(row.quality.rawValue))
                try insertSample.step()
                insertSample.reset()
            }
            try db.execute("COMMIT")
        } catch {
            insertSample.reset()
            insertEvent.reset()
            try? db.execute("ROLLBACK")
            // Series created in the failed transaction are gone too.
            seriesIDs.removeAll()
            throw error
        }
    }

    private func seriesID(_ row: SampleRow) throws -> Int64 {
        let key = SeriesKey(meter: row.meter, measurement: row.measurement)
        if let id = seriesIDs[key] { return id }
        defer { findSeries.reset(); insertSeries.reset() }
        findSeries.bind(1, row.meter)
        findSeries.bind(2, row.measurement)
        let id: Int64
        if try findSeries.step() {
            id = findSeries.int(0)
        } else {
            insertSeries.bind(1, row.meter)
            insertSeries.bind(2, row.measurement)
            insertSeries.bind(3, row.unit)
            try insertSeries.step()
            id = sqlite3_last_insert_rowid(db.handle)
        }
        seriesIDs[key] = id
        return id
    }
}
