import Foundation
import SynxModbus
import SynxSystem

/// One read asked for by commissioning (`synxctl read`, `scan`, `profile check`).
struct CommissioningRead: Equatable {
    var table: RegisterTable
    var unit: UInt8
    var address: Int
    var count: Int
}

/// What one commissioning read gave, and how long it took on the bus.
struct CommissioningOutcome {
    var result: Result<[UInt16], ModbusError>
    var elapsedMs: Double
}

/// Commissioning reads for one bus, done by the bus's own thread (serial) or the reactor (TCP) *between its
/// polls*: one read at a time, each only when it fits before the next meter's slot (`BusState.
/// hasRoomForCommissioning`), without retries. A bus whose polls leave no such gap keeps the job waiting, and its
/// requester takes what was done when its time is up (`wait`), rather than take a slot. There is never a second
/// master on the line: the reads go out through the same connection and timing as the polls.
final class CommissioningJob: @unchecked Sendable {
    let reads: [CommissioningRead]
    private let lock = NSLock()
    private var outcomes: [CommissioningOutcome] = []
    private var abandoned = false
    private var cancelled = false
    private var sentAt: UInt64?
    private let done = DispatchSemaphore(value: 0)

    init(reads: [CommissioningRead]) { self.reads = reads }

    /// Whether reads remain to be sent (false once all are done, or the requester gave up).
    var isWaiting: Bool { lock.withLock { !abandoned && outcomes.count < reads.count } }

    /// The next read, if one remains and fits before `due` on `state`'s bus; its timing starts now.
    func nextRead(on state: BusState, before due: Int64?) -> CommissioningRead? {
        lock.withLock {
            guard !abandoned, outcomes.count < reads.count else { return nil }
            let read = reads[outcomes.count]
            guard state.hasRoomForCommissioning(before: due, now: wallClockNow(), count: read.count, table: read.table)
            else { return nil }
            sentAt = DispatchTime.now().uptimeNanoseconds
            return read
        }
    }

    /// Records the outcome of the read `nextRead` gave.
    func record(_ result: Result<[UInt16], ModbusError>) {
        let finished = lock.withLock {
            let elapsed = sentAt.map { Double(DispatchTime.now().uptimeNanoseconds - $0) / 1e6 } ?? 0
            outcomes.append(CommissioningOutcome(result: result, elapsedMs: elapsed))
            return outcomes.count == reads.count
        }
        if finished { done.signal() }
    }

    /// Ends the job where it stands (synxd is stopping, or its bus went away): the requester gets what was done.
    func cancel() {
        lock.withLock {
            abandoned = true
            cancelled = true
        }
        done.signal()
    }

    /// How waiting for a job ended: the outcomes of the reads done, in order, and whether that is all of them.
    struct Ending {
        var outcomes: [CommissioningOutcome]
        var complete: Bool
        /// The job was cancelled (synxd stopping, the bus removed) rather than out of time.
        var cancelled: Bool
    }

    /// Waits until every read is done, at most `seconds`; then the reads not yet sent are dropped.
    func wait(seconds: Int) -> Ending {
        if !reads.isEmpty { _ = done.wait(timeout: .now() + .seconds(seconds)) }
        return lock.withLock {
            abandoned = true
            return Ending(outcomes: outcomes, complete: outcomes.count == reads.count, cancelled: cancelled)
        }
    }
}

/// The commissioning jobs waiting on one bus, oldest first (used on that bus's thread or the reactor only).
struct CommissioningQueue {
    private var jobs: [CommissioningJob] = []

    /// Adds a job behind the others.
    mutating func append(_ job: CommissioningJob) { jobs.append(job) }

    /// The job whose reads go next, once finished or abandoned ones are dropped.
    mutating func current() -> CommissioningJob? {
        while let first = jobs.first, !first.isWaiting { jobs.removeFirst() }
        return jobs.first
    }

    var isEmpty: Bool { jobs.isEmpty }
}
