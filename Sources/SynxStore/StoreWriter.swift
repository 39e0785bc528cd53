import CLinux
import Foundation
import Glibc
import SynxSystem

/// The single writer of the store: rows are queued from any thread and committed on the writer's own
/// thread in batches, one transaction every `batchInterval` (and at once when `flush` is called).
///
/// Polls start on whole seconds; the writer commits half-way between them, at a lower scheduling priority
/// (nice +10), so storing never competes with the start of a poll for the CPU.
///
/// A failed commit (disk full, I/O error) keeps the rows queued, in order, and retries them; the queue is
/// bounded by `maxQueuedRows`, past which the oldest rows are dropped and counted — memory is the one thing
/// a gateway cannot lose.
public final class StoreWriter: @unchecked Sendable {
    /// What the writer has done, for status displays.
    public struct Statistics: Sendable {
        public var committedRows: Int = 0
        public var queuedRows: Int = 0
        public var droppedRows: Int = 0
        /// Rows kept aside in `clock_overlap` because their time repeated stored ones (the clock stepped back).
        public var overlapRows: Int = 0
        public var lastError: String?
        public var lastCommit: Date?
        /// Monotonic milliseconds (CLOCK_MONOTONIC) when the writer last finished a round, committing or not:
        /// a writer stuck in the store stops advancing it.
        public var lastRoundMonotonicMs: Int64?
        /// The custody chain's last link: its number and value (hex); nil before the first.
        public var custodyHead: (seq: Int64, link: String)?
    }

    private let store: SampleStore
    private let batchInterval: TimeInterval
    private let maxQueuedRows: Int
    private let condition = MonotonicCondition()
    private var queue: [SampleRow] = []
    private var records = StoreRecords()
    private var stats = Statistics()
    private var stopping = false
    private var flushRequested = false
    /// Rounds (take the queue, commit, upkeep) begun and finished; they run one after the other.
    private var roundsStarted = 0
    private var flushedGeneration = 0
    private var finished = false

    /// What to keep; pruned once an hour on the writer's thread (nil: keep everything).
    private let retention: Retention?
    /// Monotonic ms of the next prune; the first waits until the daemon has settled (a step of the wall clock
    /// moves neither).
    private var nextPrune = monotonicMilliseconds() + 60_000

    /// A writer of `store`, committing every `batchInterval` seconds, queueing at most `maxQueuedRows` rows, pruning by
    /// `retention`.
    public init(
        store: SampleStore, batchInterval: TimeInterval = 1.0, maxQueuedRows: Int = 2_000_000,
        retention: Retention? = nil
    ) {
        self.retention = retention
        self.store = store
        self.batchInterval = batchInterval
        self.maxQueuedRows = maxQueuedRows
    }

    /// The store's head, for readers in this process (`StoreReader(path:head:)`).
    public var head: StoreHead { store.head }

    /// Starts the writer thread.
    public func start() {
        startThread(named: "synx-store", nice: 10) { [weak self] in self?.run() }
    }

    /// Queues rows for the next batch.
    public func enqueue(_ rows: [SampleRow]) {
        condition.lock()
        queue.append(contentsOf: rows)
        if queue.count > maxQueuedRows {
            let excess = queue.count - maxQueuedRows
            queue.removeFirst(excess)
            stats.droppedRows += excess
        }
        condition.unlock()
    }

    /// Queues events and aggregates for the next batch (never dropped: they are few and they matter).
    public func enqueue(records new: StoreRecords) {
        condition.lock()
        records.append(new)
        condition.unlock()
    }

    /// Commits everything queued so far and waits until it is on disk (or the attempt failed).
    public func flush() {
        condition.lock()
        // A round under way may have taken the queue before these rows were in it: wait for one that begins now.
        let target = roundsStarted + 1
        flushRequested = true
        condition.broadcast()
        while flushedGeneration < target && !finished { condition.wait() }
        condition.unlock()
    }

    /// Commits what is queued and stops the thread.
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    public var statistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        var s = stats
        s.queuedRows = queue.count
        return s
    }

    private func run() {
        condition.lock()
        while true {
            // Half-way between wall-clock seconds, waited for on the monotonic clock (a step moves the phase once).
            let deadline =
                monotonicMilliseconds()
                + StoreWriter.millisecondsToNextCommit(after: wallClockNow(), interval: batchInterval)
            while !flushRequested && !stopping && condition.wait(milliseconds: deadline - monotonicMilliseconds()) {}
            flushRequested = false
            roundsStarted += 1
            let stop = stopping
            condition.unlock()
            var failure = commitQueued()
            condition.lock()
            if failure == nil, !stop {
                condition.unlock()
                failure = maintain()
                condition.lock()
                if let failure { stats.lastError = failure }
                stats.custodyHead = store.custodyHead
            }
            flushedGeneration += 1
            stats.lastRoundMonotonicMs = monotonicMilliseconds()
            condition.broadcast()
            if stop && (queue.isEmpty || failure != nil) { break }
            if failure != nil {
                // Back off a little before retrying a failing disk.
                condition.wait(milliseconds: Int64(min(batchInterval, 1) * 1000))
            }
        }
        // A clean stop leaves the database alone on disk, the WAL checkpointed into it and truncated.
        do { try store.checkpoint() } catch { stats.lastError = "checkpoint at stop: \(error)" }
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The store's upkeep between batches, outside the lock: compaction when the wall clock entered a new 10-min
    /// window, a slice (200 ms) of converting a version-7 store, retention once an hour. Each runs in short
    /// transactions; between them what was queued meanwhile is committed at the batch interval, so a kill during
    /// upkeep loses no more than a kill at any other time. Returns the failure.
    private func maintain() -> String? {
        var lastCommit = monotonicMilliseconds()
        let between = { [self] in
            if monotonicMilliseconds() - lastCommit >= Int64(batchInterval * 1000) {
                _ = commitQueued()
                lastCommit = monotonicMilliseconds()
            }
            condition.withLock { stats.lastRoundMonotonicMs = monotonicMilliseconds() }
        }
        do {
            let now = wallClockNow()
            if store.compactionDue(now: now) {
                while try !store.compactStep(now: now) { between() }
            }
            if store.conversionPending {
                let until = monotonicMilliseconds() + 200
                while monotonicMilliseconds() < until, try !store.convertStep() { between() }
            }
        } catch {
            return "compacting: \(error)"
        }
        guard let retention, monotonicMilliseconds() >= nextPrune else { return nil }
        nextPrune = monotonicMilliseconds() + 3_600_000
        do {
            try store.prune(retention, now: wallClockNow(), progress: between)
        } catch {
            return "pruning: \(error)"
        }
        return nil
    }

    /// Takes what is queued and commits it, on the writer's thread outside the lock; a failed batch goes back to the
    /// front of the queue, in order, to be retried. Returns the failure.
    private func commitQueued() -> String? {
        condition.lock()
        let batch = queue
        let pending = records
        queue.removeAll(keepingCapacity: true)
        records = StoreRecords()
        condition.unlock()
        var failure: String?
        do {
            try store.insert(batch, records: pending)
        } catch {
            failure = "\(error)"
        }
        condition.lock()
        defer { condition.unlock() }
        if let failure {
            queue.insert(contentsOf: batch, at: 0)  // keep order; retried next round
            var retry = pending
            retry.append(records)
            records = retry
            stats.lastError = failure
        } else if !batch.isEmpty {
            stats.committedRows += batch.count
            stats.lastCommit = Date()
            stats.lastError = nil
        }
        stats.overlapRows = store.overlapRows
        stats.custodyHead = store.custodyHead
        return failure
    }

    /// Milliseconds from wall-clock `now` (UTC ms) to the next instant half an interval past a multiple of
    /// `interval` since the epoch.
    static func millisecondsToNextCommit(after now: Int64, interval: TimeInterval) -> Int64 {
        let ms = max(Int64(interval * 1000), 1)
        let phase = (now - ms / 2) % ms
        return ms - (phase < 0 ? phase + ms : phase)
    }
}
