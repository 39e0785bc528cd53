import CSQLite
import Foundation

/// The writing side of the time-series store: one connection, series ids cached, rows inserted in one
/// transaction per batch. Not thread-safe: `StoreWriter` owns it on its own thread.
public final class SampleStore {
    let db: Connection
    private let insertSample: Statement
    private let insertSeries: Statement
    private let findSeries: Statement
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
    }

    /// Writes `rows` in one transaction: all of them or none.
    public func insert(_ rows: [SampleRow]) throws {
        guard !rows.isEmpty else { return }
        try db.execute("BEGIN IMMEDIATE")
        do {
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
