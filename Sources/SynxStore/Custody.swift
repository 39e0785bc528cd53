import CSQLite
import Foundation

/// The custody chain: stored 10-min aggregates (Class A and meter-derived), events, accepted configurations,
/// clock steps, rows kept aside after a backward step, and retention's deletions, each covered by a link of a
/// SHA-256 hash chain in the same transaction that stores them (`docs/reliability.md`, "Tamper evidence").
///
/// A link holds the digest of its rows' canonical bytes (`Statement.canonicalRow`, read back from SQLite, so
/// writer and verifier hash the same bytes) and `link = SHA-256(previous link ‖ digest)`. Editing a row changes
/// its digest; deleting it leaves a link without rows; inserting one leaves a row without a link; editing or
/// deleting a link breaks the next one. Retention deletes links with their rows and records the link numbers
/// it deleted in a `prune` link of its own.
enum CustodyKind: String, CaseIterable {
    case derived, aggregate, event, configuration, clockStep = "clock_step", overlap, prune

    /// The table, the condition that selects chained rows, the key of a link's rows and their time (UTC ms).
    private var parts: (table: String, condition: String, keys: [String], time: String, order: String) {
        switch self {
        case .derived: return ("derived_aggregates", "tier = '10min'", ["meter", "end_ms"], "end_ms", "measurement")
        case .aggregate: return ("pq_aggregates", "tier = '10-min'", ["meter", "end_ms"], "end_ms", "meter")
        case .event: return ("pq_events", "1", ["id"], "start_us / 1000", "id")
        case .configuration: return ("configurations", "1", ["id"], "accepted_ms", "id")
        case .clockStep: return ("clock_steps", "1", ["rowid"], "detected_ms", "rowid")
        case .overlap: return ("clock_overlap", "kind <> 'sample'", ["rowid"], "t", "rowid")
        case .prune: return ("custody_prunes", "1", ["id"], "at_ms", "id")
        }
    }

    /// The rows one link covers, selected by its key values (?1, ?2), in a fixed order.
    var rowsSQL: String {
        let p = parts
        let match = p.keys.enumerated().map { "\($0.element) = ?\($0.offset + 1)" }.joined(separator: " AND ")
        return "SELECT \(p.keys.joined(separator: ", ")), * FROM \(p.table) WHERE \(p.condition) AND \(match) ORDER BY \(p.order)"
    }

    /// Chained rows with a time in [?1, ?2] that no link covers: key values, then time, oldest first, at most ?3.
    var unchainedSQL: String {
        // Qualified: inside the subquery, a bare `rowid` or `t` would name the custody table's own.
        let p = parts, keys = p.keys.map { "\(p.table).\($0)" }.joined(separator: ", ")
        return """
            SELECT DISTINCT \(keys), \(p.time) AS row_time FROM \(p.table) WHERE \(p.condition) AND \(p.time) BETWEEN ?1 AND ?2
            AND NOT EXISTS (SELECT 1 FROM custody c WHERE c.kind = '\(rawValue)' AND c.ref = json_array(\(keys)))
            ORDER BY row_time LIMIT ?3
            """
    }

    var keyCount: Int { parts.keys.count }
}

/// A value of a link's key.
enum CustodyKey: Equatable {
    case text(String), integer(Int64)

    func bind(_ s: Statement, _ index: Int32) {
        switch self {
        case .text(let v): s.bind(index, v)
        case .integer(let v): s.bind(index, v)
        }
    }

    /// The key values of a link's `ref` (a JSON array of strings and integers).
    static func parse(_ ref: String) -> [CustodyKey]? {
        guard let array = try? JSONSerialization.jsonObject(with: Data(ref.utf8)) as? [Any] else { return nil }
        var out: [CustodyKey] = []
        for v in array {
            if let s = v as? String { out.append(.text(s)) } else if let n = v as? NSNumber { out.append(.integer(n.int64Value)) } else { return nil }
        }
        return out
    }
}

/// The digest of the rows a link covers, or nil when there are none.
func custodyDigest(_ db: Connection, _ kind: CustodyKind, _ keys: [CustodyKey], cache: inout [CustodyKind: Statement]) throws -> [UInt8]? {
    let s = try cache[kind] ?? db.prepare(kind.rowsSQL)
    cache[kind] = s
    defer { s.reset() }
    for (i, k) in keys.enumerated() { k.bind(s, Int32(i + 1)) }
    var hash = SHA256(), rows = 0
    hash.update(Array(kind.rawValue.utf8) + [0x1D])
    while try s.step() { hash.update(s.canonicalRow()); rows += 1 }
    return rows == 0 ? nil : hash.finish()
}

/// The writing end of the chain, used inside `SampleStore`'s transactions.
final class CustodyChain {
    private let db: Connection
    /// By number of key values: the link's `ref` is built by SQLite's `json_array`, as the verifier builds it.
    private let insertLink: [Int: Statement]
    private var digests: [CustodyKind: Statement] = [:]
    /// The last link: its number and value (32 zero bytes before the first).
    private(set) var head: (seq: Int64, link: [UInt8])

    init(_ db: Connection) throws {
        self.db = db
        insertLink = try Dictionary(uniqueKeysWithValues: Set(CustodyKind.allCases.map(\.keyCount)).map { n in
            let keys = (0..<n).map { "?\($0 + 7)" }.joined(separator: ", ")
            return (n, try db.prepare("INSERT INTO custody (seq, kind, t, digest, prev, link, ref) VALUES (?1, ?2, ?3, ?4, ?5, ?6, json_array(\(keys)))"))
        })
        let last = try db.prepare("SELECT seq, link FROM custody ORDER BY seq DESC LIMIT 1")
        head = try last.step() ? (last.int(0), last.blob(1)) : (0, [UInt8](repeating: 0, count: 32))
    }

    /// Restores the head after a rolled-back transaction.
    func rewind(to head: (seq: Int64, link: [UInt8])) { self.head = head }

    /// Appends a link covering the rows of `kind` with `keys` (already written in this transaction).
    func append(_ kind: CustodyKind, _ keys: [CustodyKey], time: Int64) throws {
        guard let digest = try custodyDigest(db, kind, keys, cache: &digests) else { return }
        let link = SHA256.hash(head.link + digest)
        guard let insert = insertLink[keys.count] else { preconditionFailure("no link statement for \(keys.count) keys") }
        defer { insert.reset() }
        insert.bind(1, head.seq + 1)
        insert.bind(2, kind.rawValue)
        insert.bind(3, time)
        insert.bind(4, digest)
        insert.bind(5, head.link)
        insert.bind(6, link)
        for (i, k) in keys.enumerated() { k.bind(insert, Int32(i + 7)) }
        try insert.step()
        head = (head.seq + 1, link)
    }

    /// Links every chained row that has none (run once, when the chain is created, for what was stored before),
    /// oldest first, in batches of 10 000, so a large store does not need its keys in memory at once.
    func chainExistingRows() throws {
        for kind in CustodyKind.allCases {
            let s = try db.prepare(kind.unchainedSQL)
            var since = Int64.min
            while true {
                s.bind(1, since)
                s.bind(2, Int64.max)
                s.bind(3, 10_000)
                var found: [([CustodyKey], Int64)] = []
                while try s.step() {
                    let keys = (0..<Int32(kind.keyCount)).map { c in
                        sqlite3_column_type(s.stmt, c) == SQLITE_INTEGER ? CustodyKey.integer(s.int(c)) : .text(s.text(c))
                    }
                    found.append((keys, s.int(Int32(kind.keyCount))))
                }
                s.reset()
                guard let last = found.last else { break }
                for (keys, t) in found { try append(kind, keys, time: t) }
                since = last.1  // rows at that time not yet linked are found again; linked ones are not
            }
        }
    }
}

/// The link numbers retention deleted, as the `custody_prunes.seqs` text: ascending ranges, "3-7,9".
enum CustodyPrunes {
    static func ranges(_ seqs: [Int64]) -> String {
        var runs: [ClosedRange<Int64>] = []
        for s in seqs.sorted() {
            if let last = runs.last, s == last.upperBound + 1 { runs[runs.count - 1] = last.lowerBound...s } else { runs.append(s...s) }
        }
        return runs.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ",")
    }

    static func parse(_ text: String) -> [ClosedRange<Int64>] {
        text.split(separator: ",").compactMap { part in
            let ends = part.split(separator: "-").compactMap { Int64($0) }
            guard let lo = ends.first, let hi = ends.last, lo <= hi else { return nil }
            return lo...hi
        }
    }
}

/// What `StoreReader.verifyCustody` found.
public struct CustodyReport: Sendable, Equatable {
    /// Links checked in this call.
    public var checked: Int
    /// The last link checked (number), to continue after it; nil when the walk reached the end of the range.
    public var next: Int64?
    /// The first problem: the link's number (0 for a row without a link), its kind and key, and what is wrong.
    public var problem: CustodyProblem?
    /// The chain's last link, number and value (hex).
    public var headSeq: Int64
    public var headLink: String
}

/// A break in the custody chain.
public struct CustodyProblem: Sendable, Equatable {
    public var seq: Int64
    public var kind: String
    public var ref: String
    public var what: String
}

extension StoreReader {
    /// Walks the custody chain's links with a row time in [from, to] and a number above `after`, at most `limit`,
    /// recomputing each from the rows it covers; at the end of the range, looks for chained rows in it that no
    /// link covers. Stops at the first problem.
    public func verifyCustody(from: Int64, to: Int64, after: Int64, limit: Int) throws -> CustodyReport {
        let head = try db.prepare("SELECT seq, link FROM custody ORDER BY seq DESC LIMIT 1")
        var report = CustodyReport(checked: 0, next: nil, problem: nil, headSeq: 0, headLink: "")
        if try head.step() { report.headSeq = head.int(0); report.headLink = head.blob(1).hex }
        var pruned: [ClosedRange<Int64>] = []
        let prunes = try db.prepare("SELECT seqs FROM custody_prunes")
        while try prunes.step() { pruned += CustodyPrunes.parse(prunes.text(0)) }
        let links = try db.prepare("SELECT seq, kind, ref, digest, prev, link FROM custody WHERE seq > ? AND t BETWEEN ? AND ? ORDER BY seq LIMIT ?")
        links.bind(1, after)
        links.bind(2, from)
        links.bind(3, to)
        links.bind(4, Int64(limit))
        let before = try db.prepare("SELECT link FROM custody WHERE seq = ?")
        var digests: [CustodyKind: Statement] = [:]
        while try links.step() {
            let seq = links.int(0), kindName = links.text(1), ref = links.text(2)
            let digest = links.blob(3), prev = links.blob(4), link = links.blob(5)
            report.checked += 1
            report.next = seq
            func broken(_ what: String) -> CustodyReport {
                report.problem = CustodyProblem(seq: seq, kind: kindName, ref: ref, what: what)
                return report
            }
            before.bind(1, seq - 1)
            if try before.step() {
                if before.blob(0) != prev { return broken("it does not follow link \(seq - 1): a link was edited") }
            } else if seq > 1 && !pruned.contains(where: { $0.contains(seq - 1) }) {
                return broken("link \(seq - 1) before it is missing, and retention did not delete it")
            } else if seq == 1 && prev != [UInt8](repeating: 0, count: 32) {
                return broken("the first link does not start the chain")
            }
            before.reset()
            if SHA256.hash(prev + digest) != link { return broken("its link value does not match its digest: the link was edited") }
            guard let kind = CustodyKind(rawValue: kindName), let keys = CustodyKey.parse(ref), keys.count == kind.keyCount else {
                return broken("unknown kind or key: the link was edited")
            }
            guard let actual = try custodyDigest(db, kind, keys, cache: &digests) else { return broken("its rows were deleted") }
            if actual != digest { return broken("its rows were changed after they were stored") }
        }
        guard report.checked < limit else { return report }
        report.next = nil
        for kind in CustodyKind.allCases {
            let s = try db.prepare(kind.unchainedSQL)
            s.bind(1, from)
            s.bind(2, to)
            s.bind(3, 1)
            if try s.step() {
                let keys = (0..<Int32(kind.keyCount)).map { c in
                    sqlite3_column_type(s.stmt, c) == SQLITE_INTEGER ? String(s.int(c)) : "\"\(s.text(c))\""
                }
                report.problem = CustodyProblem(seq: 0, kind: kind.rawValue, ref: "[\(keys.joined(separator: ","))]",
                                                what: "stored without a link: inserted outside synxd")
                return report
            }
        }
        return report
    }
}
