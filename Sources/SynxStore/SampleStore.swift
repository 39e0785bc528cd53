import CSQLite
import Foundation

/// The writing side of the time-series store: one connection, series ids cached, rows inserted in one
/// transaction per batch. Not thread-safe: `StoreWriter` owns it on its own thread.
///
/// Stored data is never overwritten. Time in a series only moves forward: a sample at or before the last
/// stored time of its series (the wall clock stepped back), and an aggregate whose interval is already stored,
/// go to `clock_overlap` with the whole row, beside what was stored first, and are counted (`overlapRows`).
public final class SampleStore {
    let db: Connection
    private let insertSample: Statement
    private let insertSeries: Statement
    private let findSeries: Statement
    private let lastSampleTime: Statement
    private let insertEvent: Statement
    private let insertAggregate: Statement
    private let insertDerived: Statement
    private let insertOverlap: Statement
    private let insertClockStep: Statement
    private let insertConfiguration: Statement
    /// The custody chain over what this store writes (`Custody.swift`).
    let custody: CustodyChain
    private var seriesIDs: [SeriesKey: Int64] = [:]
    /// Per series, the latest time stored (loaded from the store at the series' first row).
    private var lastTimes: [Int64: Int64] = [:]
    /// Rows put aside in `clock_overlap` since the store was opened.
    public private(set) var overlapRows = 0

    private struct DerivedInterval: Hashable {
        var meter: String
        var endMs: Int64
    }

    private struct SeriesKey: Hashable {
        var meter: String
        var measurement: String
    }

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema. A store of an
    /// older synxd gets its custody chain over what it holds, 10 000 rows per transaction, with `progress`
    /// called after each (so a service manager can be told the start takes longer).
    public init(path: String, progress: () -> Void = {}) throws {
        db = try Connection(path: path, readOnly: false)
        try Schema.configureWriter(db)
        try Schema.migrate(db)
        insertSample = try db.prepare("INSERT INTO samples (series, t, value, quality) VALUES (?, ?, ?, ?)")
        insertSeries = try db.prepare("INSERT INTO series (meter, measurement, unit) VALUES (?, ?, ?)")
        findSeries = try db.prepare("SELECT id FROM series WHERE meter = ? AND measurement = ?")
        lastSampleTime = try db.prepare("SELECT max(t) FROM samples WHERE series = ?")
        insertEvent = try db.prepare("""
            INSERT INTO pq_events (meter, kind, start_us, duration_us, magnitude, reference, delta_uss, worst_phase,
                                   per_phase, incomplete, resolution_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertAggregate = try db.prepare("""
            INSERT INTO pq_aggregates (meter, tier, end_ms, start_ms, count, invalid_count, quality, "values")
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """)
        insertDerived = try db.prepare("""
            INSERT INTO derived_aggregates (meter, measurement, tier, end_ms, value, method, count, expected, notes)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """)
        insertOverlap = try db.prepare("INSERT INTO clock_overlap (kind, meter, name, t, row) VALUES (?, ?, ?, ?, ?)")
        insertClockStep = try db.prepare("INSERT INTO clock_steps (detected_ms, step_ms) VALUES (?, ?)")
        insertConfiguration = try db.prepare("""
            INSERT INTO configurations (accepted_ms, path, sha256, profiles, requested_by) VALUES (?, ?, ?, ?, ?)
            """)
        custody = try CustodyChain(db)
        try custody.chainRowsStoredBefore(progress: progress)
    }

    /// The last link of the custody chain: its number and value (hex), or nil before the first.
    public var custodyHead: (seq: Int64, link: String)? { custody.head.seq == 0 ? nil : (custody.head.seq, custody.head.link.hex) }

    /// Writes `rows` and `records` in one transaction: all of them or none.
    public func insert(_ rows: [SampleRow], records: StoreRecords = StoreRecords()) throws {
        guard !rows.isEmpty || !records.isEmpty else { return }
        let statements = [insertSample, insertSeries, findSeries, lastSampleTime, insertEvent, insertAggregate, insertDerived,
                          insertOverlap, insertClockStep, insertConfiguration]
        let knownTimes = lastTimes, knownOverlap = overlapRows, knownHead = custody.head
        try db.execute("BEGIN IMMEDIATE")
        do {
            var derivedIntervals = Set<DerivedInterval>()
            for d in records.derived {
                // A 10-min interval already chained stays as chained: a row that would join it later (an aggregator
                // that restarted, a clock that stepped back) is kept aside instead.
                if d.tier == "10min", !derivedIntervals.contains(DerivedInterval(meter: d.meter, endMs: d.endMs)),
                   try custody.isLinked(.derived, meter: d.meter, endMs: d.endMs) {
                    try putAside("derived", d.meter, d.measurement, d.endMs, d)
                    continue
                }
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
                if sqlite3_changes(db.handle) == 0 {
                    try putAside("derived", d.meter, d.measurement, d.endMs, d)
                } else if d.tier == "10min" {
                    derivedIntervals.insert(DerivedInterval(meter: d.meter, endMs: d.endMs))
                }
            }
            // One link per meter and 10-min interval: its rows are all closed together (`DerivedAggregator`).
            for i in derivedIntervals.sorted(by: { ($0.endMs, $0.meter) < ($1.endMs, $1.meter) }) {
                try custody.append(.derived, [.text(i.meter), .integer(i.endMs)], time: i.endMs)
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
                if sqlite3_changes(db.handle) == 0 {
                    try putAside("aggregate", a.meter, a.tier, a.endMs, a)
                } else if a.tier == "10-min" {
                    try custody.append(.aggregate, [.text(a.meter), .integer(a.endMs)], time: a.endMs)
                }
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
                try custody.append(.event, [.integer(sqlite3_last_insert_rowid(db.handle))], time: e.startMicroseconds / 1000)
            }
            for c in records.clockSteps {
                insertClockStep.bind(1, c.detectedMs)
                insertClockStep.bind(2, c.stepMs)
                try insertClockStep.step()
                insertClockStep.reset()
                try custody.append(.clockStep, [.integer(sqlite3_last_insert_rowid(db.handle))], time: c.detectedMs)
            }
            for c in records.configurations {
                insertConfiguration.bind(1, c.acceptedMs)
                insertConfiguration.bind(2, c.path)
                insertConfiguration.bind(3, c.sha256)
                insertConfiguration.bind(4, String(decoding: try JSONEncoder.sorted.encode(c.profiles), as: UTF8.self))
                insertConfiguration.bind(5, c.requestedBy)
                try insertConfiguration.step()
                insertConfiguration.reset()
                try custody.append(.configuration, [.integer(sqlite3_last_insert_rowid(db.handle))], time: c.acceptedMs)
            }
            for row in rows {
                let series = try seriesID(row)
                let last = try lastTime(series)
                guard row.time > last else {
                    try putAside("sample", row.meter, row.measurement, row.time, row)
                    continue
                }
                insertSample.bind(1, series)
                insertSample.bind(2, row.time)
                insertSample.bind(3, row.value)
                insertSample.bind(4, Int64(row.quality.rawValue))
                try insertSample.step()
                insertSample.reset()
                lastTimes[series] = row.time
            }
            try db.execute("COMMIT")
        } catch {
            // Every statement back to its start, whichever failed; the cached state as before the transaction.
            statements.forEach { $0.reset() }
            try? db.execute("ROLLBACK")
            seriesIDs.removeAll()  // series created in the failed transaction are gone too
            lastTimes = knownTimes  // what the rolled-back rows set is undone
            overlapRows = knownOverlap
            custody.rewind(to: knownHead)
            throw error
        }
    }

    /// Keeps a row that would repeat a stored time (or interval) of its series, beside the stored one.
    private func putAside<Row: Encodable>(_ kind: String, _ meter: String, _ name: String, _ time: Int64, _ row: Row) throws {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        insertOverlap.bind(1, kind)
        insertOverlap.bind(2, meter)
        insertOverlap.bind(3, name)
        insertOverlap.bind(4, time)
        insertOverlap.bind(5, String(decoding: try encoder.encode(row), as: UTF8.self))
        try insertOverlap.step()
        insertOverlap.reset()
        overlapRows += 1
        if kind != "sample" { try custody.append(.overlap, [.integer(sqlite3_last_insert_rowid(db.handle))], time: time) }
    }

    /// The latest stored time of `series` (Int64.min if none).
    private func lastTime(_ series: Int64) throws -> Int64 {
        if let t = lastTimes[series] { return t }
        defer { lastSampleTime.reset() }
        lastSampleTime.bind(1, series)
        let t = try lastSampleTime.step() && lastSampleTime.double(0) != nil ? lastSampleTime.int(0) : Int64.min
        lastTimes[series] = t
        return t
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

extension JSONEncoder {
    /// An encoder whose objects have their keys sorted: the same value gives the same bytes.
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
