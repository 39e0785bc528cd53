import Foundation
import SynxModbus
import SynxSystem

/// Polls one serial (Modbus/RTU) bus on a thread of its own, one blocking libmodbus request at a time.
final class SerialBusPoller: @unchecked Sendable {
    private let state: BusState
    private let bus: ModbusBus
    private let condition = MonotonicCondition()
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    /// Monotonic ms when the request in progress began (nil between requests), for the watchdog.
    private var busySince: Int64?
    private let busyLock = NSLock()
    /// Commissioning reads waiting for room between polls (under `condition`'s lock).
    private var jobs = CommissioningQueue()

    init(state: BusState, transport: ModbusTransport) {
        self.state = state
        bus = ModbusBus(transport: transport, timing: state.config.timing)
    }

    func start() {
        startThread(named: "synx-bus-\(state.config.name)") { [self] in
            run()
            bus.transport.disconnect()
            finished.signal()
        }
    }

    /// Stops after the request in progress and waits for the thread to end.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
    }

    /// The bus, when its request in progress began, and how long a request may take at most (every retry
    /// timing out, the gaps, reopening the port) before the thread counts as stuck.
    func busyFor() -> (bus: String, since: Int64, limitMs: Int64)? {
        let t = state.config.timing
        let limit = Int64(5000 + 3 * (t.timeoutMilliseconds + t.frameGapMilliseconds) * (t.retries + 1))
        return busyLock.withLock { busySince.map { (state.config.name, $0, limit) } }
    }

    /// Queues commissioning reads, done between polls (`CommissioningJob`).
    func commission(_ job: CommissioningJob) {
        condition.withLock {
            jobs.append(job)
            condition.broadcast()
        }
    }

    /// Does one commissioning read if one is waiting and fits before `due`; whether it did.
    private func commissionOne(before due: Int64?) -> Bool {
        guard let job = condition.withLock({ jobs.current() }), let read = job.nextRead(on: state, before: due) else {
            return false
        }
        busyLock.withLock { busySince = monotonicMilliseconds() }
        let result = Result {
            try bus.read(read.table, unit: read.unit, address: read.address, count: read.count, retries: 0)
        }.mapError { $0 as? ModbusError ?? ModbusError(.garbage("\($0)"), function: "read") }
        busyLock.withLock { busySince = nil }
        // A late reply to it dropped meanwhile is the commissioning read's, not a second master on the line.
        _ = bus.transport.takeStrayFrames()
        job.record(result)
        return true
    }

    private func run() {
        while true {
            state.followClock()
            let m = state.nextMeter
            if commissionOne(before: m?.nextDue) { continue }
            // Waits on the monotonic clock, at most a second at a time, then looks at the wall clock again: a step
            // of it (an hour back) must not stretch the wait. A bus without meters waits for commissioning reads.
            guard let m else {
                if condition.withLock({
                    if !stopping && jobs.isEmpty { condition.wait(milliseconds: 1000) }
                    return stopping
                }) { return }
                continue
            }
            let wait = m.nextDue - wallClockNow()
            let stop = condition.withLock {
                if wait > 0 && !stopping { condition.wait(milliseconds: min(wait, 1000)) }
                return stopping
            }
            if stop { return }
            if wallClockNow() < m.nextDue { continue }
            guard let cycle = state.begin(m) else { continue }  // an isolated meter's slot skipped, or the clock stepped
            while let r = cycle.nextRead {
                busyLock.withLock { busySince = monotonicMilliseconds() }
                cycle.complete(
                    Result {
                        // A serial probe always has the bus's whole timeout (BusState.probeTimeout).
                        try bus.read(
                            r.table, unit: m.config.unit, address: r.address, count: r.count, retries: cycle.retries)
                    }.mapError { $0 as? ModbusError ?? ModbusError(.garbage("\($0)"), function: "read") })
                busyLock.withLock { busySince = nil }
            }
            state.finish(cycle, strayFrames: bus.transport.takeStrayFrames())
        }
    }
}
