import SynxModbus
import SynxSystem
import XCTest

@testable import SynxDaemon

/// A scripted Modbus link, without sockets: each read is answered by `reply` (registers or a thrown
/// `ModbusError`), and every request is recorded.
final class FakeTransport: ModbusTransport {
    struct Read: Equatable {
        var table: RegisterTable
        var unit: UInt8
        var address: Int
        var count: Int
    }
    private(set) var requests: [Read] = []
    private let reply: (Read, _ attempt: Int) throws -> [UInt16]

    init(reply: @escaping (Read, _ attempt: Int) throws -> [UInt16] = { r, _ in Array(repeating: 0, count: r.count) }) {
        self.reply = reply
    }

    var endpoint: String { "fake" }
    func connect() {}
    func disconnect() {}
    func takeStrayFrames() -> Int { 0 }
    func readRegisters(
        _ table: RegisterTable, unit: UInt8, address: Int, count: Int, timeoutMilliseconds: Int
    ) throws -> [UInt16] {
        let read = Read(table: table, unit: unit, address: address, count: count)
        requests.append(read)
        return try reply(read, requests.filter { $0 == read }.count)
    }
}

/// `PollCycle` (the reads of one poll and what a failure ends) and `MeterSchedule` (slots and backoff), driven
/// through a fake transport as the serial bus thread drives them.
final class PollCycleTests: XCTestCase {
    private func schedule() throws -> MeterSchedule {
        let config = try DaemonConfig.parse(
            text: """
                [daemon]
                profile_directories = []
                [[bus]]
                name = "b"
                type = "rtu"
                device = "/dev/null"
                [[meter]]
                name = "m"
                bus = "b"
                unit = 7
                profile = "eastron-sdm630"
                """, file: "t")
        return MeterSchedule(config: config.meters[0], now: wallClockNow())
    }

    private func cycle(_ m: MeterSchedule, retries: Int = 0, linkDown: ModbusError? = nil) -> PollCycle {
        PollCycle(
            meter: m, start: m.nextDue, slot: m.nextDue, anchor: m.anchor, includesSlow: false,
            timeoutMilliseconds: 100,
            retries: retries, linkDown: linkDown)
    }

    /// Runs `cycle` to its end, one blocking read at a time, as `SerialBusPoller` does.
    private func drive(_ cycle: PollCycle, over transport: FakeTransport, retries: Int = 0) {
        let bus = ModbusBus(
            transport: transport, timing: BusTiming(timeoutMilliseconds: 100, retries: retries, frameGapMilliseconds: 0)
        )
        while let r = cycle.nextRead {
            cycle.complete(
                Result {
                    try bus.read(
                        r.table, unit: cycle.meter.config.unit, address: r.address, count: r.count,
                        retries: cycle.retries)
                }.mapError { $0 as? ModbusError ?? ModbusError(.garbage("\($0)"), function: "read") })
        }
    }

    private func plan(_ m: MeterSchedule) -> [FakeTransport.Read] {
        m.plans!.fast.blocks.map { FakeTransport.Read(table: $0.table, unit: 7, address: $0.address, count: $0.count) }
    }

    func testHealthyMeter_readsEachBlockOfItsPlanOnce_inOrder() throws {
        let m = try schedule()
        let transport = FakeTransport()
        let c = cycle(m)
        drive(c, over: transport)
        XCTAssertGreaterThan(plan(m).count, 1, "the SDM630's fast registers take several reads")
        XCTAssertEqual(transport.requests, plan(m))
        XCTAssertEqual(c.requests, plan(m).count)
        XCTAssertTrue(c.failures.isEmpty)
        XCTAssertFalse(c.image.isEmpty)
    }

    func testException_failsOnlyItsBlock_theOthersAreRead() throws {
        let m = try schedule()
        let first = plan(m)[0]
        let transport = FakeTransport { r, _ in
            if r == first {
                throw ModbusError(.exception(2), function: "read_input_registers", unit: 7, address: r.address)
            }
            return Array(repeating: 0, count: r.count)
        }
        let c = cycle(m)
        drive(c, over: transport)
        XCTAssertEqual(transport.requests, plan(m), "every block still asked for")
        XCTAssertEqual(c.failures.map(\.kind), [.exception(2)])
        XCTAssertFalse(c.image.isEmpty)
    }

    func testTimeout_endsThePoll_withoutAskingForTheOtherBlocks() throws {
        let m = try schedule()
        let transport = FakeTransport { r, _ in
            throw ModbusError(.timeout, function: "read_input_registers", unit: 7, address: r.address)
        }
        let c = cycle(m)
        drive(c, over: transport)
        XCTAssertEqual(
            transport.requests, [plan(m)[0]], "a unit that does not answer costs one timeout, not one per block")
        XCTAssertEqual(c.failures.map(\.kind), [.timeout])
        XCTAssertTrue(c.image.isEmpty)
    }

    func testTimeout_isRetried_andTheRetryAnswers() throws {
        let m = try schedule()
        let transport = FakeTransport { r, attempt in
            if attempt == 1 {
                throw ModbusError(.timeout, function: "read_input_registers", unit: 7, address: r.address)
            }
            return Array(repeating: 0, count: r.count)
        }
        let c = cycle(m, retries: 1)
        drive(c, over: transport, retries: 1)
        XCTAssertEqual(transport.requests.count, 2 * plan(m).count, "each block: the timeout, then its retry")
        XCTAssertTrue(c.failures.isEmpty)
    }

    func testLinkDown_failsAtOnce_sendingNothing() throws {
        let m = try schedule()
        let transport = FakeTransport()
        let down = ModbusError(.connection("no such device"), function: "connect")
        let c = cycle(m, linkDown: down)
        drive(c, over: transport)
        XCTAssertTrue(transport.requests.isEmpty)
        XCTAssertEqual(c.failures, [down])
    }

    func testBackoff_doublesFromTheSecondFailure_upToTenSeconds_andTheSkippedSlotsAreCounted() throws {
        let m = try schedule()
        var slot = alignedAfter(wallClockNow(), interval: 1000) + 60_000  // in the future: the clock cannot overtake
        for (failures, delay) in zip(1..., [1000, 2000, 4000, 8000, 10_000, 10_000] as [Int64]) {
            let missed = m.advance(slot: slot, start: slot, anchor: m.anchor, includesSlow: false, failed: true)
            XCTAssertEqual(m.consecutiveFailures, failures)
            XCTAssertEqual(m.nextDue - slot, delay, "after \(failures) failures")
            XCTAssertEqual(missed.slots, Array(stride(from: slot + 1000, to: slot + delay, by: 1000)))
            if delay > 1000 { XCTAssertEqual(missed.reason, .backoff) }
            slot = m.nextDue
        }
        _ = m.advance(slot: slot, start: slot, anchor: m.anchor, includesSlow: false, failed: false)
        XCTAssertEqual(m.nextDue - slot, 1000, "one good poll ends the backoff")
        XCTAssertFalse(m.isIsolated)
    }

    func testPollThatSpansAClockStep_doesNotMoveTheReanchoredSchedule() throws {
        let m = try schedule()
        let slot = m.nextDue
        let anchor = m.anchor
        m.reanchor(now: wallClockNow())
        let due = m.nextDue
        let missed = m.advance(slot: slot, start: slot, anchor: anchor, includesSlow: false, failed: true)
        XCTAssertEqual(m.nextDue, due)
        XCTAssertTrue(missed.slots.isEmpty)
        XCTAssertEqual(m.consecutiveFailures, 0)
    }
}
