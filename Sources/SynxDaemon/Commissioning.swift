import Foundation
import SynxModbus

/// One register read asked for by commissioning (`synxctl read`, `scan`, `profile check`).
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
/// polls*: one read at a time, each only when one attempt (the bus's timeout and frame gap) fits before the next
/// meter's slot, without retries. A poll never waits behind more than one commissioning read, and on a bus whose
/// polls leave no such gap the job waits, and its requester gives up (`wait`), rather than take a slot. There is
/// never a second master on the line: the reads go out through the same connection and timing as the polls.
final class CommissioningJob: @unchecked Sendable {
    let reads: [CommissioningRead]
    private let lock = NSLock()
    private var outcomes: [CommissioningOutcome] = []
    private var abandoned = false
    private let done = DispatchSemaphore(value: 0)

    init(reads: [CommissioningRead]) { self.reads = reads }

    /// The read to do next; nil when all are done or the requester gave up.
    var next: CommissioningRead? {
        lock.withLock { abandoned || outcomes.count >= reads.count ? nil : reads[outcomes.count] }
    }

    /// Records the outcome of the read `next` gave.
    func record(_ result: Result<[UInt16], ModbusError>, elapsedMs: Double) {
        let finished = lock.withLock {
            outcomes.append(CommissioningOutcome(result: result, elapsedMs: elapsedMs))
            return outcomes.count == reads.count
        }
        if finished { done.signal() }
    }

    /// How waiting for a job ended.
    enum Ending {
        case done([CommissioningOutcome])
        /// Time ran out after this many reads; the rest are dropped.
        case timedOut(doneReads: Int)
    }

    /// Waits until every read is done, at most `seconds`.
    func wait(seconds: Int) -> Ending {
        if reads.isEmpty { return .done([]) }
        if done.wait(timeout: .now() + .seconds(seconds)) == .timedOut {
            return lock.withLock {
                guard outcomes.count < reads.count else { return .done(outcomes) }
                abandoned = true
                return .timedOut(doneReads: outcomes.count)
            }
        }
        return lock.withLock { .done(outcomes) }
    }
}
