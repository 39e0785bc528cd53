import Foundation
import Glibc

/// A serial queue on a thread of its own at a lower scheduling priority (nice +10): decoding and recording
/// polls is throughput work and must never hold up the start of a poll. (A Dispatch queue would run at the
/// polling threads' priority.)
final class Recorder: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [() -> Void] = []
    private var pending = 0

    init() {
        startThread(named: "synx-recorder") { [self] in run() }
    }

    func async(_ item: @escaping () -> Void) {
        condition.lock()
        work.append(item)
        pending += 1
        condition.signal()
        condition.unlock()
    }

    /// Waits until everything queued so far has run.
    func drain() {
        condition.lock()
        while pending > 0 { condition.wait() }
        condition.unlock()
    }

    private func run() {
        // On Linux the nice value is per thread, and who = 0 names the calling thread (setpriority(2)).
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        while true {
            condition.lock()
            while work.isEmpty { condition.wait() }
            let batch = work
            work.removeAll(keepingCapacity: true)
            condition.unlock()
            batch.forEach { $0() }
            condition.lock()
            pending -= batch.count
            condition.broadcast()
            condition.unlock()
        }
    }
}
