import Foundation
import SynxModbus
import SynxSystem

/// Polls every Modbus/TCP and RTU-over-TCP bus on one thread, through the epoll reactor: at each meter's
/// slot its poll cycle is started, and each completed read sends the next, so hundreds of gateways are
/// served without a thread each. A gateway configured with `max_in_flight` > 1 runs that many meters' cycles at
/// once (their requests outstanding together); otherwise one at a time. Buses can be added and removed while it
/// runs (configuration reload); the others are not disturbed.
final class NetworkPoller: @unchecked Sendable {
    let reactor: ModbusTCPReactor
    private final class Bus {
        let state: BusState
        let connection: ConnectionID
        let maxInFlight: Int
        var removed = false
        /// Meters whose poll cycle is under way.
        var running = Set<ObjectIdentifier>()
        /// Bumped each time the next start is scheduled: a timer armed before is stale.
        var armed = 0
        /// Commissioning reads waiting for room between polls, and whether one is out now.
        var jobs = CommissioningQueue()
        var commissioning = false
        init(state: BusState, connection: ConnectionID, maxInFlight: Int) {
            self.state = state
            self.connection = connection
            self.maxInFlight = maxInFlight
        }
    }
    /// Touched only on the reactor's thread once running.
    private var buses: [String: Bus] = [:]
    private var running = false
    private let finished = DispatchSemaphore(value: 0)

    init(reactor: ModbusTCPReactor) {
        self.reactor = reactor
    }

    /// Adds a bus; `makeState` receives the connection's endpoint text. Before `start` or while running.
    func add(
        _ config: BusConfig, host: String, port: Int, framing: ModbusFraming, makeState: @escaping (String) -> BusState
    ) {
        onReactor { [self] in
            let connection = reactor.addConnection(
                host: host, port: port, timing: config.timing, framing: framing,
                maxInFlight: config.maxInFlight)
            let bus = Bus(
                state: makeState(reactor.endpoint(connection)), connection: connection, maxInFlight: config.maxInFlight)
            buses[config.name] = bus
            if running { scheduleNext(bus) }
        }
    }

    /// Removes a bus: its poll in progress is abandoned and its connection closed.
    func remove(_ name: String) {
        onReactor { [self] in
            guard let bus = buses.removeValue(forKey: name) else { return }
            bus.removed = true
            reactor.closeConnection(bus.connection)
        }
    }

    var busCount: Int {
        var n = 0
        onReactor { [self] in n = buses.count }
        return n
    }

    func start() {
        running = true
        for bus in buses.values { reactor.post { [self] in scheduleNext(bus) } }
        startThread(named: "synx-tcp-reactor") { [self] in
            reactor.run()
            finished.signal()
        }
    }

    func stop() {
        reactor.stop()
        finished.wait()
        running = false
    }

    /// Runs `work` on the reactor's thread and waits for it (directly when the reactor is not running).
    private func onReactor(_ work: @escaping () -> Void) {
        guard running else { return work() }
        let done = DispatchSemaphore(value: 0)
        reactor.post {
            work()
            done.signal()
        }
        done.wait()
    }

    /// Arms the start of the next idle meter's cycle, if the bus has room for one more.
    private func scheduleNext(_ bus: Bus) {
        guard !bus.removed, bus.running.count < bus.maxInFlight, let m = bus.state.nextMeter(excluding: bus.running)
        else { return }
        bus.armed += 1
        let token = bus.armed
        reactor.schedule(atWallClock: m.nextDue) { [self] in
            guard !bus.removed, bus.armed == token else { return }
            // nil: an isolated meter's slot skipped, or the clock stepped and the schedules were re-anchored.
            // A probe may take the full timeout when another lane stays free for the healthy meters.
            guard let cycle = bus.state.begin(m, spareLane: bus.running.count + 1 < bus.maxInFlight) else {
                return scheduleNext(bus)
            }
            bus.running.insert(ObjectIdentifier(m))
            pump(bus, cycle)
            scheduleNext(bus)  // with max_in_flight, the next meter may start while this one's reads are out
        }
    }

    /// Queues commissioning reads on bus `name`, done between its polls (`CommissioningJob`); a bus that is gone by
    /// the time the reactor looks cancels the job. Returns at once: the requester waits on the job.
    func commission(_ name: String, _ job: CommissioningJob) {
        reactor.post { [self] in
            guard let bus = buses[name] else { return job.cancel() }
            bus.jobs.append(job)
            commissionNext(bus)
        }
    }

    /// Sends the next commissioning read if none is out, no poll is under way and one fits before the next
    /// meter's slot; otherwise the end of the next poll calls again.
    private func commissionNext(_ bus: Bus) {
        guard !bus.removed, !bus.commissioning, bus.running.isEmpty, let job = bus.jobs.current(),
            let read = job.nextRead(on: bus.state, before: bus.state.nextMeter?.nextDue)
        else { return }
        bus.commissioning = true
        reactor.submit(
            bus.connection, read.table, unit: read.unit, address: read.address, count: read.count, retries: 0
        ) { [self] result in
            bus.commissioning = false
            // A late reply to it dropped meanwhile is the commissioning read's, not a stray of the polls.
            _ = reactor.takeStrayFrames(bus.connection)
            job.record(result)
            commissionNext(bus)
        }
    }

    private func pump(_ bus: Bus, _ cycle: PollCycle) {
        guard !bus.removed else { return }
        guard let r = cycle.nextRead else {
            bus.state.finish(cycle, strayFrames: reactor.takeStrayFrames(bus.connection))
            bus.running.remove(ObjectIdentifier(cycle.meter))
            commissionNext(bus)
            return scheduleNext(bus)
        }
        reactor.submit(
            bus.connection, r.table, unit: cycle.meter.config.unit, address: r.address, count: r.count,
            timeoutMilliseconds: cycle.timeoutMilliseconds, retries: cycle.retries
        ) { [self] result in
            cycle.complete(result)
            pump(bus, cycle)
        }
    }
}
