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

    /// The defaults of every field (`docs/configuration.md`, "[retention]").
    public init() {}
}

extension SampleStore {
    /// Deletes what is older than the retention allows, relative to `now` (UTC ms), in short transactions (one
    /// per series or tier, one per cut for blocks), calling `progress` after each so a long first prune still
    /// shows the writer alive. Returns the number of rows deleted (a block is one).
    ///
    /// Age is counted in time that passed, not in wall-clock readings: data stored before a forward step of the
    /// wall clock (a gateway that booted without a clock and was set by NTP years later) is older by the step
    /// on the wall clock only, so its cutoff moves back by every forward step after it (`clock_steps`). It is
    /// pruned when it has really been kept as long as the retention says.
    @discardableResult
    public func prune(_ r: Retention, now: Int64, progress: () -> Void = {}) throws -> Int {
        let steps = try forwardSteps()
        /// Time ranges [lo, hi) to delete for a retention of `days`: before each forward step, the cutoff moved
        /// back by the steps after it.
        func ranges(_ days: Double) -> [(Int64, Int64)]? {
            guard days > 0 else { return nil }
            let cutoff = now - Int64(days * 86_400_000)
            var out: [(Int64, Int64)] = []
            var lo = Int64.min
            var shift = steps.reduce(0) { $0 + $1.stepMs }
            for s in steps {
                let from = s.detectedMs - s.stepMs  // the wall clock just before the step (within its detection)
                out.append((lo, min(from, cutoff - shift)))
                lo = from  // contiguous: rows between the step and its detection belong to the newer clock
                shift -= s.stepMs
            }
            out.append((lo, cutoff))
            return out.filter { $0.0 < $0.1 }
        }
        var deleted = 0
        /// Runs one delete in its own transaction; when its rows are chained (`chained`: their kind, and the range
        /// of link times), their links go in the same transaction and a `prune` link records their numbers.
        func run(
            _ sql: String, _ binds: [Any], chained: (kind: CustodyKind, lo: Int64, hi: Int64)? = nil,
            counted: Bool = true
        ) throws {
            let head = custody.head
            try db.execute("BEGIN IMMEDIATE")
            do {
                var links: [Int64] = []
                if let chained {
                    let unlink = try db.prepare("DELETE FROM custody WHERE kind = ? AND t >= ? AND t < ? RETURNING seq")
                    unlink.bind(1, chained.kind.rawValue)
                    unlink.bind(2, chained.lo)
                    unlink.bind(3, chained.hi)
                    while try unlink.step() { links.append(unlink.int(0)) }
                }
                let s = try db.prepare(sql)
                for (i, b) in binds.enumerated() {
                    if let v = b as? Int64 {
                        s.bind(Int32(i + 1), v)
                    } else if let v = b as? String {
                        s.bind(Int32(i + 1), v)
                    }
                }
                _ = try s.step()
                if counted { deleted += Int(sqlite3_changes(db.handle)) }
                if !links.isEmpty {
                    let record = try db.prepare("INSERT INTO custody_prunes (at_ms, seqs) VALUES (?, ?)")
                    record.bind(1, now)
                    record.bind(2, CustodyPrunes.ranges(links))
                    _ = try record.step()
                    try custody.append(.prune, [.integer(sqlite3_last_insert_rowid(db.handle))], time: now)
                }
                try db.execute("COMMIT")
                progress()
            } catch {
                try? db.execute("ROLLBACK")
                custody.rewind(to: head)
                throw error
            }
        }
        // Whole blocks, cut by cut: a block goes when its last point is due; the cut's row when its last block is.
        for (tier, days) in [("", r.samplesDays), ("3s", r.derived3sDays)] {
            for (lo, hi) in ranges(days) ?? [] {
                // Not the cut a compaction is still writing: its row must stay until its last block is in.
                let cuts = try db.prepare("SELECT seq FROM block_cuts WHERE first_t < ? AND seq <> ? ORDER BY seq")
                cuts.bind(1, hi)
                cuts.bind(2, pendingCut?.seq ?? -1)
                var seqs: [Int64] = []
                while try cuts.step() { seqs.append(cuts.int(0)) }
                for seq in seqs {
                    let first = seq * SampleStore.maxSeries
                    let next = (seq + 1) * SampleStore.maxSeries
                    try run(
                        """
                        DELETE FROM sample_blocks WHERE id >= ? AND id < ? AND last_t >= ? AND last_t < ?
                        AND id - ? IN (SELECT id FROM series WHERE tier = ?)
                        """, [first, next, lo, hi, first, tier])
                    try run(
                        "DELETE FROM block_cuts WHERE seq = ? AND NOT EXISTS (SELECT 1 FROM sample_blocks WHERE id >= ? AND id < ?)",
                        [seq, first, next], counted: false)
                }
            }
        }
        if let spans = ranges(r.samplesDays) {
            if try db.scalarInt("SELECT count(*) FROM sqlite_master WHERE name = 'samples_v7'") > 0 {
                // Not yet converted: series by series, so every delete walks the (series, t) primary key.
                let ids = try db.prepare("SELECT id FROM series WHERE tier = ''")
                var series: [Int64] = []
                while try ids.step() { series.append(ids.int(0)) }
                for id in series {
                    for (lo, hi) in spans {
                        try run("DELETE FROM samples_v7 WHERE series = ? AND t >= ? AND t < ?", [id, lo, hi])
                    }
                }
            }
            for (lo, hi) in spans {
                try run("DELETE FROM clock_overlap WHERE kind = 'sample' AND t >= ? AND t < ?", [lo, hi])
            }
        }
        // Aggregates kept aside go with the longest-kept aggregate tier.
        for (lo, hi) in ranges(max(r.derived2hDays, r.classA2hDays, r.derived10minDays, r.classA10minDays)) ?? [] {
            try run(
                "DELETE FROM clock_overlap WHERE kind <> 'sample' AND t >= ? AND t < ?", [lo, hi],
                chained: (.overlap, lo, hi))
        }
        for (tier, days) in [("3s", r.derived3sDays), ("10min", r.derived10minDays), ("2h", r.derived2hDays)] {
            for (lo, hi) in ranges(days) ?? [] {
                try run(
                    "DELETE FROM derived_aggregates WHERE tier = ? AND end_ms >= ? AND end_ms < ?", [tier, lo, hi],
                    chained: tier == "10min" ? (.derived, lo, hi) : nil)
            }
        }
        for (tier, days) in [
            ("150/180-cycle", r.classAShortDays), ("10-s", r.classAShortDays), ("10-min", r.classA10minDays),
            ("2-h", r.classA2hDays),
        ] {
            for (lo, hi) in ranges(days) ?? [] {
                try run(
                    "DELETE FROM pq_aggregates WHERE tier = ? AND end_ms >= ? AND end_ms < ?", [tier, lo, hi],
                    chained: tier == "10-min" ? (.aggregate, lo, hi) : nil)
            }
        }
        for (lo, hi) in ranges(r.eventsDays) ?? [] {
            try run(
                "DELETE FROM pq_events WHERE start_us >= ? AND start_us < ?",
                [lo == .min ? .min : lo * 1000, hi * 1000],
                chained: (.event, lo, hi))
        }
        return deleted
    }

    /// The forward steps of the wall clock the store has recorded, oldest first.
    func forwardSteps() throws -> [ClockStep] {
        let s = try db.prepare("SELECT detected_ms, step_ms FROM clock_steps WHERE step_ms > 0 ORDER BY detected_ms")
        var steps: [ClockStep] = []
        while try s.step() { steps.append(ClockStep(detectedMs: s.int(0), stepMs: s.int(1))) }
        return steps
    }
}
