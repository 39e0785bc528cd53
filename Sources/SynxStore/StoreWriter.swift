import CLinux
import Foundation
import Glibc

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
        public var lastError: String?
        public var lastCommit: Date?
        /// Monotonic milliseconds (CLOCK_MONOTONIC) when the writer last finished a round, committing or not:
        /// a writer stuck in the store stops advancing it.
        public var lastRoundMonotonicMs: Int64?
    }

    private let store: SampleStore
    private let batchInterval: TimeInterval
    private let maxQueuedRows: Int
    private let condition = NSCondition()
    private var queue: [SampleRow] = []
    private var records = StoreRecords()
    private var stats = Statistics()
    private var stopping = false
    private var flushRequested = false
    private var flushedGeneration = 0
    private var thread: Thread?
    private var finished = false

    /// What to keep; pruned once an hour on the writer's thread (nil: keep everything).
    private let retention: Retention?
    /// The first prune waits until the daemon has settled.
    private var nextPrune = Date().addingTimeInterval(60)

    public init(store: SampleStore, batchInterval: TimeInterval = 1.0, maxQueuedRows: Int = 2_000_000, retention: Retention? = nil) {
        self.retention = retention
        self.store = store
        self.batchInterval = batchInterval
        self.maxQueuedRows = maxQueuedRows
    }

    /// Starts the writer thread.
    public func start() {
        let t = Thread { [weak self] in self?.run() }
        t.name = "synx-store-writer"
        thread = t
        t.start()
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
        let target = flushedGeneration + 1
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
        synx_name_this_thread("synx-store")
        // On Linux the nice value is per thread, and who = 0 names the calling thread (setpriority(2)).
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        condition.lock()
        while true {
            let deadline = StoreWriter.nextCommit(after: Date(), interval: batchInterval)
            while !flushRequested && !stopping && condition.wait(until: deadline) {}
            let batch = queue, pending = records
            queue.removeAll(keepingCapacity: true)
            records = StoreRecords()
            flushRequested = false
            let stop = stopping
            condition.unlock()

            var failure: String?
            do {
                try store.insert(batch, records: pending)
            } catch {
                failure = "\(error)"
            }

            condition.lock()
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
            if let retention, failure == nil, !stop, Date() >= nextPrune {
                // Pruning runs between batches, outside the lock; rows keep queueing meanwhile.
                nextPrune = Date().addingTimeInterval(3600)
                condition.unlock()
                do {
                    try store.prune(retention, now: Int64(Date().timeIntervalSince1970 * 1000)) { [self] in
                        condition.lock(); stats.lastRoundMonotonicMs = StoreWriter.monotonicMs(); condition.unlock()
                    }
                } catch {
                    failure = "pruning: \(error)"
                }
                condition.lock()
                if let failure { stats.lastError = failure }
            }
            flushedGeneration += 1
            stats.lastRoundMonotonicMs = StoreWriter.monotonicMs()
            condition.broadcast()
            if stop && (queue.isEmpty || failure != nil) { break }
            if failure != nil {
                // Back off a little before retrying a failing disk.
                _ = condition.wait(until: Date().addingTimeInterval(min(batchInterval, 1)))
            }
        }
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    static func monotonicMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// The next instant at half an interval past a multiple of `interval` since the epoch.
    static func nextCommit(after now: Date, interval: TimeInterval) -> Date {
        let t = now.timeIntervalSince1970 - interval / 2
        return Date(timeIntervalSince1970: ((t / interval).rounded(.down) + 1) * interval + interval / 2)
    }
}
