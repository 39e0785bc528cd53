import Foundation

/// The reading side of the store, on its own read-only connection (WAL lets it read while the writer
/// commits). Not thread-safe: open one per thread.
public final class StoreReader {
    let db: Connection

    public init(path: String) throws {
        db = try Connection(path: path, readOnly: true)
    }

    /// Samples of one series with `from <= t < to`, oldest first, at most `limit`.
    public func samples(meter: String, measurement: String, from: Int64, to: Int64, limit: Int) throws -> [StoredSample] {
        let s = try db.prepare("""
            SELECT t, value, quality FROM samples
            WHERE series = (SELECT id FROM series WHERE meter = ? AND measurement = ?) AND t >= ? AND t < ?
            ORDER BY t LIMIT ?
            """)
        s.bind(1, meter)
        s.bind(2, measurement)
        s.bind(3, from)
        s.bind(4, to)
        s.bind(5, Int64(limit))
        var out: [StoredSample] = []
        while try s.step() {
            out.append(StoredSample(time: s.int(0), value: s.double(1), quality: SampleQuality(rawValue: Int(s.int(2))) ?? .invalid))
        }
        return out
    }

    /// Stored voltage events, newest first: of one meter and kind when given, starting at or after `since`
    /// (UTC µs), at most `limit`.
    public func events(meter: String?, kind: String?, since: Int64, limit: Int) throws -> [EventRow] {
        let s = try db.prepare("""
            SELECT meter, kind, start_us, duration_us, magnitude, reference, delta_uss, worst_phase, per_phase, incomplete, resolution_us
            FROM pq_events WHERE (?1 IS NULL OR meter = ?1) AND (?2 IS NULL OR kind = ?2) AND start_us >= ?3
            ORDER BY start_us DESC LIMIT ?4
            """)
        if let meter { s.bind(1, meter) }
        if let kind { s.bind(2, kind) }
        s.bind(3, since)
        s.bind(4, Int64(limit))
        var out: [EventRow] = []
        while try s.step() {
            let perPhase = (try? JSONDecoder().decode([String: Double].self, from: Data(s.text(8).utf8))) ?? [:]
            out.append(EventRow(meter: s.text(0), kind: s.text(1), startMicroseconds: s.int(2), durationMicroseconds: s.int(3),
                                magnitude: s.double(4) ?? .nan, reference: s.double(5) ?? .nan, steadyStateChange: s.double(6),
                                worstPhase: s.text(7), perPhase: perPhase, incomplete: s.int(9) != 0, resolutionMicroseconds: s.int(10)))
        }
        return out
    }

    /// Meter-derived aggregates of one measurement and tier with `from <= end < to`, oldest first.
    public func derived(meter: String, measurement: String, tier: String, from: Int64, to: Int64, limit: Int) throws -> [DerivedRow] {
        let s = try db.prepare("""
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
            out.append(DerivedRow(meter: meter, measurement: measurement, unit: "", tier: tier, endMs: s.int(0), value: s.double(1) ?? .nan,
                                  method: DerivedMethod(rawValue: s.text(2)) ?? .mean, count: Int(s.int(3)), expected: Int(s.int(4)),
                                  notes: s.text(5).split(separator: ",").map(String.init)))
        }
        return out
    }

    /// The unit of a stored series, or nil if the series does not exist.
    public func unit(meter: String, measurement: String) throws -> String? {
        let s = try db.prepare("SELECT unit FROM series WHERE meter = ? AND measurement = ?")
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
