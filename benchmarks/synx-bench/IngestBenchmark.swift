import ArgumentParser
import CSQLite
import Foundation
import SynxStore

/// Store ingest: rows/s through synx's StoreWriter (queue → writer thread → one transaction per batch)
/// against the ceiling of a raw sqlite3 prepared-statement loop on the same schema and settings.
struct IngestBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ingest", abstract: "Store ingest against a raw sqlite3 loop.")

    @Option(help: "Rows per run.") var rows = 1_000_000
    @Option(help: "Distinct series (meter × measurement).") var series = 1000
    @Option(help: "Rows per batch (one transaction each; a 1 Hz poll of 1000 meters × 30 values is 30 000).") var batch = 30_000
    @Option(help: "Repetitions; the best of each is kept.") var repetitions = 3

    func run() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-ingest-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = (0..<rows).map { i in
            SampleRow(meter: "meter-\(i % series / 30)", measurement: "m\(i % series % 30)", unit: "V",
                      time: 1_800_000_000_000 + Int64(i / series) * 1000, value: Double(i) * 0.5, quality: .good)
        }
        var best = (synx: 0.0, raw: 0.0)
        for r in 0..<repetitions {
            let raw = try rawLoop(path: dir.appendingPathComponent("raw-\(r).sqlite").path, data: data)
            let synx = try writer(path: dir.appendingPathComponent("synx-\(r).sqlite").path, data: data)
            best = (max(best.synx, synx), max(best.raw, raw))
        }
        print(String(format: "ingest: %d rows, %d series, batches of %d", rows, series, batch))
        print(String(format: "  raw sqlite3 loop (baseline): %10.0f rows/s", best.raw))
        print(String(format: "  synx StoreWriter:            %10.0f rows/s", best.synx))
        print(String(format: "  ratio synx / raw: %.2f (target >= 0.50)", best.synx / best.raw))
    }

    private func writer(path: String, data: [SampleRow]) throws -> Double {
        let writer = StoreWriter(store: try SampleStore(path: path), batchInterval: 3600)
        writer.start()
        let start = Date()
        for chunk in stride(from: 0, to: data.count, by: batch) {
            writer.enqueue(Array(data[chunk..<min(chunk + batch, data.count)]))
            writer.flush()
        }
        let elapsed = Date().timeIntervalSince(start)
        precondition(writer.statistics.committedRows == data.count, "writer lost rows: \(writer.statistics)")
        writer.stop()
        return Double(data.count) / elapsed
    }

    /// The ceiling: the same schema (created by SampleStore, so identical), the same pragmas, series ids
    /// known in advance, one prepared INSERT bound and stepped per row, one transaction per batch.
    private func rawLoop(path: String, data: [SampleRow]) throws -> Double {
        _ = try SampleStore(path: path)
        var db: OpaquePointer?
        sqlite3_open(path, &db)
        defer { sqlite3_close(db) }
        sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL", nil, nil, nil)
        var ids: [String: Int64] = [:]
        var addSeries: OpaquePointer?
        sqlite3_prepare_v2(db, "INSERT INTO series (meter, measurement, unit) VALUES (?, ?, 'V')", -1, &addSeries, nil)
        for row in data.prefix(series) {
            sqlite3_bind_text(addSeries, 1, row.meter, -1, synx_sqlite_transient())
            sqlite3_bind_text(addSeries, 2, row.measurement, -1, synx_sqlite_transient())
            sqlite3_step(addSeries)
            sqlite3_reset(addSeries)
            ids[row.meter + "/" + row.measurement] = sqlite3_last_insert_rowid(db)
        }
        sqlite3_finalize(addSeries)
        let seriesIDs = data.map { ids[$0.meter + "/" + $0.measurement]! }
        var stmt: OpaquePointer?
        sqlite3_prepare_v2(db, "INSERT INTO samples (series, t, value, quality) VALUES (?, ?, ?, ?)", -1, &stmt, nil)
        defer { sqlite3_finalize(stmt) }
        let start = Date()
        for chunk in stride(from: 0, to: data.count, by: batch) {
            sqlite3_exec(db, "BEGIN", nil, nil, nil)
            for i in chunk..<min(chunk + batch, data.count) {
                sqlite3_bind_int64(stmt, 1, seriesIDs[i])
                sqlite3_bind_int64(stmt, 2, data[i].time)
                sqlite3_bind_double(stmt, 3, data[i].value!)
                sqlite3_bind_int64(stmt, 4, 0)
                guard sqlite3_step(stmt) == SQLITE_DONE else { throw ValidationError(String(cString: sqlite3_errmsg(db))) }
                sqlite3_reset(stmt)
            }
            sqlite3_exec(db, "COMMIT", nil, nil, nil)
        }
        return Double(data.count) / Date().timeIntervalSince(start)
    }
}
