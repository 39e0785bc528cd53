import Foundation
import Logging
import SynxModbus
import SynxStore
import SynxSystem
import XCTest

@testable import SynxDaemon

/// `BusState`'s decisions for a Modbus/TCP gateway, driven through a fake transport: retries only where they fit,
/// a failing unit isolated and probed only in the room its healthy neighbours leave, its skipped slots counted.
final class BusStateTests: XCTestCase {
    private var directory: URL!
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("busstate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// A bus of `meters` synx-sim units (1 s polls) behind one gateway, timeout 300 ms, one retry.
    private func bus(meters: Int) throws -> (BusState, MeterRegistry, Recorder) {
        var text =
            "[daemon]\nprofile_directories = []\n[[bus]]\nname = \"gw\"\ntype = \"tcp\"\nhost = \"10.0.0.1\"\ntimeout_ms = 300\nretries = 1\n"
        for i in 1...meters {
            text += "[[meter]]\nname = \"m\(i)\"\nbus = \"gw\"\nunit = \(i)\nprofile = \"synx-sim\"\n"
        }
        let config = try DaemonConfig.parse(text: text, file: "t")
        let writer = StoreWriter(store: try SampleStore(path: directory.appendingPathComponent("s.sqlite").path))
        let registry = MeterRegistry()
        let recorder = Recorder()
        let state = BusState(
            config: config.buses[0], endpoint: "tcp 10.0.0.1:502", meters: config.meters, registry: registry,
            writer: writer, recorder: recorder,
            alerts: AlertCenter(
                logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() },
                holdoffSeconds: 60, rules: []),
            logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }, quietAfterTimeout: false)
        return (state, registry, recorder)
    }

    /// Runs a cycle whose every read times out (its retries too), as the reactor would report them, and ends it.
    private func fail(_ state: BusState, _ cycle: PollCycle) {
        while let r = cycle.nextRead {
            cycle.complete(
                .failure(
                    ModbusError(
                        .timeout, function: "read_input_registers", unit: cycle.meter.config.unit, address: r.address)))
        }
        state.finish(cycle, strayFrames: 0)
    }

    func testRetry_goesOutOnlyIfItFitsBeforeTheNextHealthyNeighbour() throws {
        let (alone, _, _) = try bus(meters: 1)
        XCTAssertEqual(alone.begin(alone.schedules[0])?.retries, 1, "no neighbour: the bus's retry")
        let (shared, _, _) = try bus(meters: 2)
        for m in shared.schedules { m.nextDue = wallClockNow() }  // both due now
        XCTAssertEqual(shared.begin(shared.schedules[0])?.retries, 0, "the neighbour is due now: no room for a retry")
        shared.schedules[1].nextDue = wallClockNow() + 10_000
        XCTAssertEqual(shared.begin(shared.schedules[0])?.retries, 1, "10 s of room: the retry fits")
    }

    func testFailingUnit_isIsolated_probedWithTheRoomLeft_andSkippedWhenThereIsNone() throws {
        let (state, registry, recorder) = try bus(meters: 2)
        recorder.start()
        let (m1, m2) = (state.schedules[0], state.schedules[1])
        m1.nextDue = wallClockNow()
        m2.nextDue = wallClockNow() + 10_000
        fail(state, try XCTUnwrap(state.begin(m1)))
        XCTAssertTrue(m1.isIsolated)
        recorder.stop()  // records what is queued: the failed poll
        XCTAssertEqual(registry.meterStatuses().first { $0.name == "m1" }?.state, .offline)

        // Plenty of room before m2: a probe with the bus's whole timeout and no retry.
        m1.nextDue = wallClockNow()
        m1.lastProbe = wallClockNow()  // not yet due for a forced probe
        let probe = try XCTUnwrap(state.begin(m1))
        XCTAssertEqual(probe.retries, 0)
        XCTAssertEqual(probe.timeoutMilliseconds, 300)

        // 60 ms before m2's slot: less than the shortest probe worth sending, so the slot is skipped.
        m1.nextDue = wallClockNow()
        m2.nextDue = wallClockNow() + 60
        let skipped = m1.nextDue
        XCTAssertNil(state.begin(m1))
        XCTAssertGreaterThan(m1.nextDue, skipped, "the skipped slot is passed over")
        // Room between: the probe's timeout shrinks to it (MBAP matches late replies, so a short probe is safe).
        m1.nextDue = wallClockNow()
        m2.nextDue = wallClockNow() + 250
        let short = try XCTUnwrap(state.begin(m1))
        XCTAssertLessThan(short.timeoutMilliseconds, 300)
        XCTAssertGreaterThanOrEqual(short.timeoutMilliseconds, BusState.minimumProbeMs)
    }
}
