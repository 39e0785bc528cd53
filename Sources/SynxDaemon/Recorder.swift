import Foundation
import SynxSystem

/// A serial queue on a thread of its own at a lower scheduling priority (nice +10): decoding and recording
/// polls is throughput work and must never hold up the start of a poll. (A Dispatch queue would run at the
/// polling threads' priority.) Work queued before `start` runs once it starts; `stop` runs what is queued, then
/// ends the thread.
final class Recorder: DaemonPart, @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [() -> Void] = []
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    var partName: String { "recorder" }

    func start() {
        startThread(named: "synx-recorder", nice: 10) { [self] in
            run()
            finished.signal()
        }
    }

    /// Runs what is queued, then ends the thread.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
    }

    func async(_ item: @escaping () -> Void) {
        condition.lock()
        work.append(item)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while work.isEmpty && !stopping { condition.wait() }
            if work.isEmpty {
                condition.unlock()
                return
            }  // stopping, and everything queued has run
            let batch = work
            work.removeAll(keepingCapacity: true)
            condition.unlock()
            batch.forEach { $0() }
        }
    }
}
