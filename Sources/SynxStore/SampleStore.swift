import CSQLite
import Foundation

/// The writing side of the time-series store: one connection, series ids cached, rows inserted in one
/// transaction per batch. Not thread-safe: `StoreWriter` owns it on its own thread.
///
/// Polled samples and the 3-s meter-derived tier go to the head: one `sample_head` row per commit, appended in
/// time order, and `head` in memory. Compaction (`Compaction.swift`) moves the head into one compressed block
/// per series every 10 minutes (`docs/design.md`, "The store").
///
/// Stored data is never overwritten. Time in a series only moves forward: a sample at or before the last
/// stored time of its series (the wall clock stepped back), and an aggregate whose interval is already stored,
/// go to `clock_overlap` with the whole row, beside what was stored first, and are counted (`overlapRows`).
public final class SampleStore {
    let db: Connection
    private let insertHead: Statement
    private let insertSeries: Statement
    private let findSeries: Statement
    private let insertEvent: Statement
    private let insertAggregate: Statement
    private let insertDerived: Statement
    private let insertOverlap: Statement
    private let insertClockStep: Statement
    private let insertConfiguration: Statement
    /// The custody chain over what this store writes (`Custody.swift`).
    let custody: CustodyChain
    /// The points committed since the last compaction; queries read it too (`StoreReader(path:head:)`).
    public let head = StoreHead()
    var seriesIDs: [SeriesKey: Int64] = [:]
    /// Per series, the latest time stored (loaded from the store at the series' first row).
    var lastTimes: [Int64: Int64] = [:]
    /// The last `sample_head` row committed (0: none).
    var lastHeadID: Int64 = 0
    /// The compaction under way, if one was started and not finished.
    var pendingCut: PendingCut?
    /// The 10-min window (UTC) of the last compaction, or of the store's opening.
    var lastCutWindow: Int64
    /// Whether rows of schema version 7 still wait to be moved into blocks.
    var conversionPending: Bool
    /// Rows put aside in `clock_overlap` since the store was opened.
    public private(set) var overlapRows = 0

    private struct DerivedInterval: Hashable {
        var meter: String
        var endMs: Int64
    }

    struct SeriesKey: Hashable {
        var meter: String
        var measurement: String
        /// '' for polled samples, '3s' for the 3-s meter-derived tier.
        var tier: String
    }

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema. A store of an
    /// older synxd gets its custody chain over what it holds, 10 000 rows per transaction, with `progress`
    /// called after each (so a service manager can be told the start takes longer).
    public init(path: String, progress: () -> Void = {}) throws {
        db = try Connection(path: path, readOnly: false)
        try Schema.configureWriter(db)
        try Schema.migrate(db)
        insertHead = try db.prepare("INSERT INTO sample_head (rows, data) VALUES (?, ?)")
        insertSeries = try db.prepare("INSERT INTO series (meter, measurement, unit, tier) VALUES (?, ?, ?, ?)")
        findSeries = try db.prepare("SELECT id FROM series WHERE meter = ? AND measurement = ? AND tier = ?")
        insertEvent = try db.prepare(
            """
            INSERT INTO pq_events (meter, kind, start_us, duration_us, magnitude, reference, delta_uss, worst_phase,
                                   per_phase, incomplete, resolution_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertAggregate = try db.prepare(
            """
            INSERT INTO pq_aggregates (meter, tier, end_ms, start_ms, count, invalid_count, quality, "values")
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """)
        insertDerived = try db.prepare(
            """
            INSERT INTO derived_aggregates (meter, measurement, tier, end_ms, value, method, count, expected, notes)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """)
        insertOverlap = try db.prepare("INSERT INTO clock_overlap (kind, meter, name, t, row) VALUES (?, ?, ?, ?, ?)")
        insertClockStep = try db.prepare("INSERT INTO clock_steps (detected_ms, step_ms) VALUES (?, ?)")
        insertConfiguration = try db.prepare(
            """
            INSERT INTO configurations (accepted_ms, path, sha256, profiles, requested_by) VALUES (?, ?, ?, ?, ?)
            """)
        custody = try CustodyChain(db)
        try custody.chainRowsStoredBefore(progress: progress)
        lastCutWindow = 0
        // Version 8 made both; the conversion drops them when it is done.
        conversionPending =
            try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name IN ('samples_v7', 'derived_3s_v7')") > 0
        // A head left from an earlier window (synxd was stopped, or died, before compacting it) is compacted at
        // the writer's first round.
        let oldest = try replayHead(progress: progress)
        lastCutWindow = min(oldest, Int64(Date().timeIntervalSince1970 * 1000)) / SampleStore.window
    }

    /// The last link of the custody chain: its number and value (hex), or nil before the first.
    public var custodyHead: (seq: Int64, link: String)? {
        custody.head.seq == 0 ? nil : (custody.head.seq, custody.head.link.hex)
    }

    /// Writes `rows` and `records` in one transaction: all of them or none.
    public func insert(_ rows: [SampleRow], records: StoreRecords = StoreRecords()) throws {
        guard !rows.isEmpty || !records.isEmpty else { return }
        let statements = [
            insertHead, insertSeries, findSeries, insertEvent, insertAggregate, insertDerived,
            insertOverlap, insertClockStep, insertConfiguration,
        ]
        let knownTimes = lastTimes
        let knownOverlap = overlapRows
        let knownHead = custody.head
        var headRows: [HeadRow] = []
        try db.execute("BEGIN IMMEDIATE")
        do {
            var derivedIntervals = Set<DerivedInterval>()
            for d in records.derived where d.tier == "3s" {
                // The 3-s tier is written every few seconds for every measurement: it goes to the head like samples.
                let series = try seriesID(
                    SeriesKey(meter: d.meter, measurement: d.measurement, tier: "3s"), unit: d.unit)
                guard d.endMs > (try lastTime(series)) else {
                    try putAside("derived", d.meter, d.measurement, d.endMs, d)
                    continue
                }
                headRows.append(HeadRow(series: series, point: SeriesPoint(derived: d), hasCounts: true))
                lastTimes[series] = d.endMs
            }
            for d in records.derived where d.tier != "3s" {
                // A 10-min interval already chained stays as chained: a row that would join it later (an aggregator
                // that restarted, a clock that stepped back) is kept aside instead.
                if d.tier == "10min", !derivedIntervals.contains(DerivedInterval(meter: d.meter, endMs: d.endMs)),
                    try custody.isLinked(.derived, meter: d.meter, endMs: d.endMs)
                {
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
                if let json = a.valuesJSON {
                    insertAggregate.bind(8, json)
                } else {
                    insertAggregate.bind(8, nil as Double?)
                }
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
                try custody.append(
                    .event, [.integer(sqlite3_last_insert_rowid(db.handle))], time: e.startMicroseconds / 1000)
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
                let series = try seriesID(
                    SeriesKey(meter: row.meter, measurement: row.measurement, tier: ""), unit: row.unit)
                guard row.time > (try lastTime(series)) else {
                    try putAside("sample", row.meter, row.measurement, row.time, row)
                    continue
                }
                headRows.append(
                    HeadRow(
                        series: series,
                        point: SeriesPoint(
                            time: row.time, value: row.value,
                            flags: UInt8(row.quality.rawValue)), hasCounts: false))
                lastTimes[series] = row.time
            }
            var headID = lastHeadID
            if !headRows.isEmpty {
                insertHead.bind(1, Int64(headRows.count))
                insertHead.bind(2, HeadBatch.encode(headRows))
                try insertHead.step()
                insertHead.reset()
                headID = sqlite3_last_insert_rowid(db.handle)
            }
            try db.execute("COMMIT")
            lastHeadID = headID
            head.append(headRows)
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
    private func putAside<Row: Encodable>(
        _ kind: String, _ meter: String, _ name: String, _ time: Int64, _ row: Row
    ) throws {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        insertOverlap.bind(1, kind)
        insertOverlap.bind(2, meter)
        insertOverlap.bind(3, name)
        insertOverlap.bind(4, time)
        insertOverlap.bind(5, String(decoding: try encoder.encode(row), as: UTF8.self))
        try insertOverlap.step()
        insertOverlap.reset()
        overlapRows += 1
        if kind != "sample" {
            try custody.append(.overlap, [.integer(sqlite3_last_insert_rowid(db.handle))], time: time)
        }
    }

    /// The latest stored time of `series` (Int64.min if none): in its blocks, or in rows of schema version 7
    /// not yet converted. The head's are in `lastTimes` already (`replayHead`).
    func lastTime(_ series: Int64) throws -> Int64 {
        if let t = lastTimes[series] { return t }
        let s = try db.prepare("SELECT last_t, tier, meter, measurement FROM series WHERE id = ?")
        s.bind(1, series)
        var t = Int64.min
        if try s.step() {
            if s.double(0) != nil { t = s.int(0) }
            if conversionPending {
                let old =
                    s.text(1) == "3s"
                    ? try db.prepare(
                        "SELECT max(end_ms) FROM derived_aggregates WHERE meter = ?1 AND measurement = ?2 AND tier = '3s'"
                    )
                    : try db.prepare("SELECT max(t) FROM samples_v7 WHERE series = ?3")
                if s.text(1) == "3s" {
                    old.bind(1, s.text(2))
                    old.bind(2, s.text(3))
                } else {
                    old.bind(3, series)
                }
                if try old.step(), old.double(0) != nil { t = max(t, old.int(0)) }
            }
        }
        lastTimes[series] = t
        return t
    }

    /// The id of a series, created with `unit` if it is new. Ids stay below 2^24: a block's id holds one.
    func seriesID(_ key: SeriesKey, unit: String) throws -> Int64 {
        if let id = seriesIDs[key] { return id }
        defer {
            findSeries.reset()
            insertSeries.reset()
        }
        findSeries.bind(1, key.meter)
        findSeries.bind(2, key.measurement)
        findSeries.bind(3, key.tier)
        let id: Int64
        if try findSeries.step() {
            id = findSeries.int(0)
        } else {
            insertSeries.bind(1, key.meter)
            insertSeries.bind(2, key.measurement)
            insertSeries.bind(3, unit)
            insertSeries.bind(4, key.tier)
            try insertSeries.step()
            id = sqlite3_last_insert_rowid(db.handle)
            guard id < SampleStore.maxSeries else {
                throw StoreError(code: SQLITE_FULL, message: "more than \(SampleStore.maxSeries - 1) series")
            }
        }
        seriesIDs[key] = id
        return id
    }

    /// Series ids stay below this (a block's id is its cut's number times it, plus the series).
    static let maxSeries: Int64 = 1 << 24

    /// Rebuilds `head` from `sample_head` at opening: every committed point not yet in a block (a compaction cut
    /// short by a crash left some in both), in commit order. Returns the oldest point's time (Int64.max if none).
    private func replayHead(progress: () -> Void) throws -> Int64 {
        let s = try db.prepare("SELECT id, last_t FROM series")
        var blockLast: [Int64: Int64] = [:]
        while try s.step() { blockLast[s.int(0)] = s.double(1) == nil ? .min : s.int(1) }
        let batches = try db.prepare("SELECT id, data FROM sample_head ORDER BY id")
        var replayed = 0
        var oldest = Int64.max
        while try batches.step() {
            lastHeadID = batches.int(0)
            let rows = try HeadBatch.decode(batches.blob(1)).filter { r in
                r.point.time > max(blockLast[r.series] ?? .min, lastTimes[r.series] ?? .min)
            }
            for r in rows {
                lastTimes[r.series] = r.point.time
                oldest = min(oldest, r.point.time)
            }
            head.append(rows)
            replayed += 1
            if replayed % 1000 == 0 { progress() }
        }
        return oldest
    }
}

extension SeriesPoint {
    /// A 3-s aggregate as a point: its method and notes in the flags.
    init(derived d: DerivedRow) {
        var flags = UInt8(DerivedRow.methods.firstIndex(of: d.method) ?? 0)
        for (bit, note) in DerivedRow.noteBits where d.notes.contains(note) { flags |= bit }
        self.init(time: d.endMs, value: d.value, flags: flags, count: Int64(d.count), expected: Int64(d.expected))
    }
}

extension DerivedRow {
    /// The methods in the order a point's flags number them (bits 0–1).
    static let methods: [DerivedMethod] = [.rms, .mean, .increase]
    /// The notes a point's flags hold (bits 2–3).
    static let noteBits: [(UInt8, String)] = [(0x04, "rollover"), (0x08, "reset")]

    /// A 3-s aggregate read back from a point of its series.
    init(meter: String, measurement: String, unit: String, point p: SeriesPoint) {
        let method = DerivedRow.methods[min(Int(p.flags & 0x03), DerivedRow.methods.count - 1)]
        self.init(
            meter: meter, measurement: measurement, unit: unit, tier: "3s", endMs: p.time, value: p.value ?? .nan,
            method: method, count: Int(p.count), expected: Int(p.expected),
            notes: DerivedRow.noteBits.filter { p.flags & $0.0 != 0 }.map(\.1))
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
