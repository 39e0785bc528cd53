import CSQLite
import Foundation
import SynxSystem

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
    case derived, aggregate, event, configuration
    case clockStep = "clock_step"
    case overlap, prune

    /// The table, the condition that selects chained rows, the key of a link's rows, the column holding their
    /// time and its units per millisecond, and the order of a link's rows.
    private var parts:
        (table: String, condition: String, keys: [String], timeColumn: String, perMs: Int64, order: String)
    {
        switch self {
        case .derived: return ("derived_aggregates", "tier = '10min'", ["meter", "end_ms"], "end_ms", 1, "measurement")
        case .aggregate: return ("pq_aggregates", "tier = '10-min'", ["meter", "end_ms"], "end_ms", 1, "meter")
        case .event: return ("pq_events", "1", ["id"], "start_us", 1000, "id")
        case .configuration: return ("configurations", "1", ["id"], "accepted_ms", 1, "id")
        case .clockStep: return ("clock_steps", "1", ["id"], "detected_ms", 1, "id")
        case .overlap: return ("clock_overlap", "kind <> 'sample'", ["id"], "t", 1, "id")
        case .prune: return ("custody_prunes", "1", ["id"], "at_ms", 1, "id")
        }
    }

    /// The rows one link covers, selected by its key values (?1, ?2), in a fixed order.
    var rowsSQL: String {
        let p = parts
        let match = p.keys.enumerated().map { "\($0.element) = ?\($0.offset + 1)" }.joined(separator: " AND ")
        return
            "SELECT \(p.keys.joined(separator: ", ")), * FROM \(p.table) WHERE \(p.condition) AND \(match) ORDER BY \(p.order)"
    }

    /// Chained rows with a time (UTC ms) in [?1, ?2] that no link covers: key values, time, and the key as a
    /// link's `ref` holds it; oldest first, at most ?3. The time test uses the column as stored, so it can use
    /// an index.
    var unchainedSQL: String {
        // Qualified: inside the subquery, a bare `t` would name the custody table's own.
        let p = parts
        let keys = p.keys.map { "\(p.table).\($0)" }.joined(separator: ", ")
        return """
            SELECT DISTINCT \(keys), \(p.table).\(p.timeColumn) / \(p.perMs) AS row_time, json_array(\(keys)) FROM \(p.table)
            WHERE \(p.condition) AND \(p.table).\(p.timeColumn) BETWEEN ?1 * \(p.perMs) AND ?2 * \(p.perMs) + \(p.perMs - 1)
            AND NOT EXISTS (SELECT 1 FROM custody c WHERE c.kind = '\(rawValue)' AND c.ref = json_array(\(keys)))
            ORDER BY \(p.table).\(p.timeColumn) LIMIT ?3
            """
    }

    /// The earliest time (UTC ms) of a chained row of this kind at or after ?1.
    var nextRowTimeSQL: String {
        let p = parts
        return
            "SELECT min(\(p.timeColumn)) / \(p.perMs) FROM \(p.table) WHERE \(p.condition) AND \(p.timeColumn) >= ?1 * \(p.perMs)"
    }

    var keyCount: Int { parts.keys.count }

    /// The key values of the row `s` holds in its first columns.
    func keys(of s: Statement) -> [CustodyKey] {
        (0..<Int32(keyCount)).map { c in
            sqlite3_column_type(s.stmt, c) == SQLITE_INTEGER ? CustodyKey.integer(s.int(c)) : .text(s.text(c))
        }
    }
}

/// A value of a link's key.
enum CustodyKey: Equatable {
    case text(String)
    case integer(Int64)

    func bind(_ s: Statement, _ index: Int32) {
        switch self {
        case .text(let v): s.bind(index, v)
        case .integer(let v): s.bind(index, v)
        }
    }

    /// The key values of a link's `ref` (a JSON array of strings and integers).
    static func parse(_ ref: String) -> [CustodyKey]? {
        // Not a JSON array: nil, which the verifier reports as an edited link (the error itself says no more).
        guard let array = try? JSONSerialization.jsonObject(with: Data(ref.utf8)) as? [Any] else { return nil }
        var out: [CustodyKey] = []
        for v in array {
            if let s = v as? String {
                out.append(.text(s))
            } else if let n = v as? NSNumber {
                out.append(.integer(n.int64Value))
            } else {
                return nil
            }
        }
        return out
    }
}

/// The digest of the rows a link covers, or nil when there are none.
func custodyDigest(
    _ db: Connection, _ kind: CustodyKind, _ keys: [CustodyKey], cache: inout [CustodyKind: Statement]
) throws -> [UInt8]? {
    let s = try cache[kind] ?? db.prepare(kind.rowsSQL)
    cache[kind] = s
    defer { s.reset() }
    for (i, k) in keys.enumerated() { k.bind(s, Int32(i + 1)) }
    var hash = SHA256()
    var rows = 0
    hash.update(Array(kind.rawValue.utf8) + [0x1D])
    while try s.step() {
        hash.update(s.canonicalRow())
        rows += 1
    }
    return rows == 0 ? nil : hash.finish()
}

/// The writing end of the chain, used inside `SampleStore`'s transactions.
final class CustodyChain {
    private let db: Connection
    /// By number of key values: the link's `ref` is built by SQLite's `json_array`, as the verifier builds it.
    private let insertLink: [Int: Statement]
    private let findLink: Statement
    private var digests: [CustodyKind: Statement] = [:]
    /// The last link: its number and value (32 zero bytes before the first).
    private(set) var head: (seq: Int64, link: [UInt8])

    init(_ db: Connection) throws {
        self.db = db
        insertLink = try Dictionary(
            uniqueKeysWithValues: Set(CustodyKind.allCases.map(\.keyCount)).map { n in
                let keys = (0..<n).map { "?\($0 + 7)" }.joined(separator: ", ")
                return (
                    n,
                    try db.prepare(
                        """
                        INSERT INTO custody (seq, kind, t, digest, prev, link, ref) VALUES (?1, ?2, ?3, ?4, ?5, ?6, json_array(\(keys)))
                        ON CONFLICT DO NOTHING
                        """)
                )
            })
        findLink = try db.prepare("SELECT 1 FROM custody WHERE kind = ?1 AND ref = json_array(?2, ?3)")
        let last = try db.prepare("SELECT seq, link FROM custody ORDER BY seq DESC LIMIT 1")
        head = try last.step() ? (last.int(0), last.blob(1)) : (0, [UInt8](repeating: 0, count: 32))
    }

    /// Restores the head after a rolled-back transaction.
    func rewind(to head: (seq: Int64, link: [UInt8])) { self.head = head }

    /// Whether a link already covers the rows of a two-value key (a meter and an interval end).
    func isLinked(_ kind: CustodyKind, meter: String, endMs: Int64) throws -> Bool {
        defer { findLink.reset() }
        findLink.bind(1, kind.rawValue)
        findLink.bind(2, meter)
        findLink.bind(3, endMs)
        return try findLink.step()
    }

    /// Appends a link covering the rows of `kind` with `keys` (already written in this transaction). Returns
    /// false when there is nothing to link (no such rows, or they already have their link).
    @discardableResult
    func append(_ kind: CustodyKind, _ keys: [CustodyKey], time: Int64) throws -> Bool {
        guard let digest = try custodyDigest(db, kind, keys, cache: &digests),
            let insert = insertLink[keys.count]
        else { return false }
        let link = SHA256.hash(head.link + digest)
        defer { insert.reset() }
        insert.bind(1, head.seq + 1)
        insert.bind(2, kind.rawValue)
        insert.bind(3, time)
        insert.bind(4, digest)
        insert.bind(5, head.link)
        insert.bind(6, link)
        for (i, k) in keys.enumerated() { k.bind(insert, Int32(i + 7)) }
        try insert.step()
        guard sqlite3_changes(db.handle) == 1 else { return false }
        head = (head.seq + 1, link)
        return true
    }

    /// Links the rows stored before the chain existed (what an older synxd stored), oldest first, 10 000 per
    /// transaction, calling `progress` after each; the `custody_genesis` row says this is still to do, so an
    /// interrupted run goes on where it stopped at the next start.
    func chainRowsStoredBefore(progress: () -> Void) throws {
        guard try db.scalarInt("SELECT count(*) FROM custody_genesis") > 0 else { return }
        for kind in CustodyKind.allCases {
            let s = try db.prepare(kind.unchainedSQL)
            var since = Int64.min / 1000
            while true {
                s.bind(1, since)
                s.bind(2, Int64.max / 1000)
                s.bind(3, 10_000)
                var found: [([CustodyKey], Int64)] = []
                while try s.step() { found.append((kind.keys(of: s), s.int(Int32(kind.keyCount)))) }
                s.reset()
                guard let last = found.last else { break }
                let before = head
                try db.execute("BEGIN IMMEDIATE")
                var linked = 0
                do {
                    for (keys, t) in found where try append(kind, keys, time: t) { linked += 1 }
                    try db.execute("COMMIT")
                } catch {
                    // The batch's own error is the one thrown; a failed ROLLBACK leaves nothing committed either.
                    try? db.execute("ROLLBACK")
                    rewind(to: before)
                    throw error
                }
                progress()
                if linked == 0 { break }  // nothing this batch could link: verify will name those rows
                since = last.1  // rows at that time not yet linked are found again; linked ones are not
            }
        }
        try db.execute("DELETE FROM custody_genesis")
    }
}

/// The link numbers retention deleted, as the `custody_prunes.seqs` text: ascending ranges, "3-7,9".
enum CustodyPrunes {
    static func ranges(_ seqs: [Int64]) -> String {
        var runs: [ClosedRange<Int64>] = []
        for s in seqs.sorted() {
            if let last = runs.last, s == last.upperBound + 1 {
                runs[runs.count - 1] = last.lowerBound...s
            } else {
                runs.append(s...s)
            }
        }
        return runs.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(
            separator: ",")
    }

    static func parse(_ text: String) -> [ClosedRange<Int64>] {
        text.split(separator: ",").compactMap { part in
            let ends = part.split(separator: "-").compactMap { Int64($0) }
            guard let lo = ends.first, let hi = ends.last, lo <= hi else { return nil }
            return lo...hi
        }
    }
}

/// What `StoreReader.verifyCustody` found in one page.
public struct CustodyReport: Sendable, Equatable {
    /// Links checked in this page.
    public var checked: Int
    /// The last link checked, when the walk has more links to go: the next page starts after it.
    public var next: Int64?
    /// When the links are done and the look for rows without a link has more time to go: it goes on from here
    /// (UTC ms).
    public var nextTime: Int64?
    /// The first problem, if any.
    public var problem: CustodyProblem?
    /// The chain's last link: its number.
    public var headSeq: Int64
    /// The chain's last link: its value, hex.
    public var headLink: String
}

/// A break in the custody chain.
public struct CustodyProblem: Sendable, Equatable {
    /// The link's number; 0 for a row that no link covers.
    public var seq: Int64
    /// The kind of rows: derived, aggregate, event, configuration, clock_step, overlap, prune.
    public var kind: String
    /// Their key, as a JSON array.
    public var ref: String
    /// What is wrong, in a few words.
    public var what: String
}

extension StoreReader {
    /// Work one `verifyCustody` call does before it returns a page to continue from (monotonic ms): a page stays
    /// well inside the control socket's 10-s response deadline whatever the store's size.
    static let custodyPageBudgetMs: Int64 = 2000
    /// The time span of rows looked at in one query for rows without a link.
    static let custodyWindowMs: Int64 = 86_400_000

    /// One page of verification, in one read transaction (one snapshot of the store). With `afterTime` nil:
    /// walks the links with a row time in [from, to] and a number above `after`, at most `limit`, recomputing
    /// each from the rows it covers; once they are done, looks for chained rows in [from, to] that no link
    /// covers, a day at a time, from `afterTime` when given. Stops at the first problem, or when the page's
    /// work budget is spent (`next` or `nextTime` says where to go on).
    public func verifyCustody(
        from: Int64, to: Int64, after: Int64, afterTime: Int64? = nil, limit: Int
    ) throws -> CustodyReport {
        try db.execute("BEGIN")
        // Ends a read-only snapshot: nothing to lose if it fails, and the next BEGIN on this connection reports it.
        defer { try? db.execute("COMMIT") }
        let started = monotonicMilliseconds()
        let head = try db.prepare("SELECT seq, link FROM custody ORDER BY seq DESC LIMIT 1")
        var report = CustodyReport(checked: 0, next: nil, nextTime: nil, problem: nil, headSeq: 0, headLink: "")
        if try head.step() {
            report.headSeq = head.int(0)
            report.headLink = head.blob(1).hex
        }
        if afterTime == nil {
            if let stop = try walkLinks(
                from: from, to: to, after: after, limit: limit, started: started, report: &report)
            {
                return stop
            }
        }
        return try findUnchainedRows(from: max(from, afterTime ?? from), to: to, started: started, report: report)
    }

    /// The link walk; returns the report when the page ends here (a problem, the limit, the budget).
    private func walkLinks(
        from: Int64, to: Int64, after: Int64, limit: Int, started: Int64,
        report: inout CustodyReport
    ) throws -> CustodyReport? {
        let pruned = try trustedPrunes()
        let links = try db.prepare(
            "SELECT seq, kind, ref, digest, prev, link FROM custody WHERE seq > ? AND t BETWEEN ? AND ? ORDER BY seq LIMIT ?"
        )
        links.bind(1, after)
        links.bind(2, from)
        links.bind(3, to)
        links.bind(4, Int64(limit))
        let before = try db.prepare("SELECT link FROM custody WHERE seq = ?")
        var digests: [CustodyKind: Statement] = [:]
        while try links.step() {
            let seq = links.int(0)
            let kindName = links.text(1)
            let ref = links.text(2)
            let digest = links.blob(3)
            let prev = links.blob(4)
            let link = links.blob(5)
            report.checked += 1
            report.next = seq
            func broken(_ what: String) -> CustodyReport {
                report.problem = CustodyProblem(seq: seq, kind: kindName, ref: ref, what: what)
                return report
            }
            before.bind(1, seq - 1)
            let previous = try before.step() ? before.blob(0) : nil
            before.reset()
            if let previous {
                if previous != prev { return broken("it does not follow link \(seq - 1): a link was edited") }
            } else if seq > 1 && !CustodyPrunes.covers(pruned, seq - 1) {
                return broken("link \(seq - 1) before it is missing, and retention did not delete it")
            } else if seq == 1 && prev != [UInt8](repeating: 0, count: 32) {
                return broken("the first link does not start the chain")
            }
            if SHA256.hash(prev + digest) != link {
                return broken("its link value does not match its digest: the link was edited")
            }
            guard let kind = CustodyKind(rawValue: kindName), let keys = CustodyKey.parse(ref),
                keys.count == kind.keyCount
            else {
                return broken("unknown kind or key: the link was edited")
            }
            guard let actual = try custodyDigest(db, kind, keys, cache: &digests) else {
                return broken("its rows were deleted")
            }
            if actual != digest { return broken("its rows were changed after they were stored") }
            if report.checked >= limit || monotonicMilliseconds() - started >= StoreReader.custodyPageBudgetMs {
                return report
            }
        }
        report.next = nil
        return nil
    }

    /// The link numbers retention deleted, from the prune records whose own link holds (a prune record added
    /// without its link excuses nothing), sorted.
    private func trustedPrunes() throws -> [ClosedRange<Int64>] {
        let s = try db.prepare(
            """
            SELECT p.seqs, c.digest, c.prev, c.link, p.id FROM custody_prunes p
            JOIN custody c ON c.kind = 'prune' AND c.ref = json_array(p.id)
            """)
        var digests: [CustodyKind: Statement] = [:]
        var ranges: [ClosedRange<Int64>] = []
        while try s.step() {
            let digest = s.blob(1)
            guard SHA256.hash(s.blob(2) + digest) == s.blob(3),
                try custodyDigest(db, .prune, [.integer(s.int(4))], cache: &digests) == digest
            else { continue }
            ranges += CustodyPrunes.parse(s.text(0))
        }
        return ranges.sorted { $0.lowerBound < $1.lowerBound }
    }

    /// Rows without a link, a window at a time from `from`, within the page's budget. Each window starts at the
    /// next stored row, so empty years in the range (the default range is the whole time line) cost nothing.
    private func findUnchainedRows(
        from: Int64, to: Int64, started: Int64, report: CustodyReport
    ) throws -> CustodyReport {
        var report = report
        let queries = try CustodyKind.allCases.map { ($0, try db.prepare($0.unchainedSQL)) }
        let nextRows = try CustodyKind.allCases.map { try db.prepare($0.nextRowTimeSQL) }
        var t = from
        while true {
            var next: Int64?
            for s in nextRows {
                s.bind(1, t)
                if try s.step(), s.double(0) != nil { next = min(next ?? .max, s.int(0)) }
                s.reset()
            }
            guard let start = next.map({ max($0, t) }), start <= to else { return report }
            // Checked arithmetic: the times come from the store, and a forged row may hold any.
            let (windowEnd, overflow) = start.addingReportingOverflow(StoreReader.custodyWindowMs - 1)
            let end = overflow ? to : min(to, windowEnd)
            for (kind, s) in queries {
                s.bind(1, start)
                s.bind(2, end)
                s.bind(3, 1)
                if try s.step() {
                    report.problem = CustodyProblem(
                        seq: 0, kind: kind.rawValue, ref: s.text(Int32(kind.keyCount + 1)),
                        what: "stored without a link: inserted outside synxd")
                    return report
                }
                s.reset()
            }
            guard end < to else { return report }
            t = end + 1
            if monotonicMilliseconds() - started >= StoreReader.custodyPageBudgetMs {
                report.nextTime = t
                return report
            }
        }
    }
}

extension CustodyPrunes {
    /// Whether `seq` lies in one of `ranges` (sorted by lower bound).
    static func covers(_ ranges: [ClosedRange<Int64>], _ seq: Int64) -> Bool {
        var lo = 0
        var hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].upperBound < seq { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count && ranges[lo].contains(seq)
    }
}
