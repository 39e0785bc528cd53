import Foundation
import SynxModbus

/// Polls every Modbus/TCP and RTU-over-TCP bus on one thread, through the epoll reactor: at each meter's
/// slot its poll cycle is started, and each completed read sends the next, so hundreds of gateways are
/// served without a thread each.
final class NetworkPoller: @unchecked Sendable {
    let reactor: ModbusTCPReactor
    private var buses: [(state: BusState, connection: ConnectionID)] = []
    private let finished = DispatchSemaphore(value: 0)

    init(reactor: ModbusTCPReactor) {
        self.reactor = reactor
    }

    /// Adds a bus; call before `start`.
    func add(_ state: BusState, connection: ConnectionID) {
        buses.append((state, connection))
    }

    var busCount: Int { buses.count }

    func start() {
        for i in buses.indices { reactor.post { [self] in scheduleNext(i) } }
        let thread = Thread { [self] in
            reactor.run()
            finished.signal()
        }
        thread.name = "synx-tcp-reactor"
        thread.start()
    }

    func stop() {
        reactor.stop()
        finished.wait()
    }

    private func scheduleNext(_ i: Int) {
        guard let m = buses[i].state.nextMeter else { return }
        reactor.schedule(atWallClock: m.nextDue) { [self] in pump(i, buses[i].state.begin(m)) }
    }

    private func pump(_ i: Int, _ cycle: PollCycle) {
        guard let r = cycle.nextRead else {
            buses[i].state.finish(cycle)
            return scheduleNext(i)
        }
        reactor.submit(buses[i].connection, r.table, unit: cycle.meter.config.unit, address: r.address, count: r.count) { [self] result in
            cycle.complete(result)
            pump(i, cycle)
        }
    }
}
