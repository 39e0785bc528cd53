import Foundation
import Logging
import SynxControl
import SynxModbus
import SynxStore
import XCTest

@testable import SynxDaemon

/// The commissioning commands' handling of what a bus gave, against a stand-in for `PollingPlant.commission` (the
/// reads on real buses are CommissioningEndToEndTests'): pages that ran out of room, gateways' exceptions, the
/// SunSpec marker, decoding, and the unit ids a request may name.
final class CommissioningTests: XCTestCase {
    private var handler: ControlHandler!
    private var given: [CommissioningRead] = []
    /// How many of the reads the stand-in bus does; the rest found no room.
    private var room = Int.max
    private var words: (CommissioningRead) -> Result<[UInt16], ModbusError> = { .success(Array(repeating: 0, count: $0.count)) }

    override func setUpWithError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-commissioning-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try SampleStore(path: dir + "/synx.sqlite")
        let config = try DaemonConfig.parse(
            text: "[daemon]\nprofile_directories = []\n[[bus]]\nname = \"b\"\ntype = \"tcp\"\nhost = \"h\"\n"
                + "[[meter]]\nname = \"m\"\nbus = \"b\"\nunit = 7\nprofile = \"synx-sim\"\n", file: "c.toml")
        let registry = MeterRegistry()
        config.meters.forEach(registry.register(meter:))
        handler = ControlHandler(registry: registry, writer: StoreWriter(store: store), databasePath: dir, startedAt: Date())
        handler.commission = { [unowned self] _, reads in
            given = reads
            let done = reads.prefix(room).map { CommissioningOutcome(result: words($0), elapsedMs: 1) }
            return .success(CommissioningJob.Ending(outcomes: Array(done), complete: done.count == reads.count, cancelled: false))
        }
    }

    private func ask(_ request: Request) -> Response {
        handler.session(peer: PeerCredentials(pid: 1, uid: 0, gid: 0)).answer(try! Framing.encode(request))
    }

    func testScan_aPageOutOfRoom_saysWhereToGoOn_andTellsGatewaysExceptionsFromDevices() {
        room = 5
        words = { r in
            switch r.unit {
            case 2: .success([0x5375, 0x6E53])
            case 3: .failure(ModbusError(.exception(2), function: "read"))
            case 4: .failure(ModbusError(.exception(11), function: "read"))
            case 5: .failure(ModbusError(.timeout, function: "read"))
            default: .success([0, 0])
            }
        }
        let r = ask(Request(command: .scan, bus: "b", unit: 1, lastUnit: 16))
        XCTAssertEqual(r.status, .ok, r.message ?? "")
        XCTAssertEqual(given.map(\.unit), Array(1...16))
        XCTAssertTrue(given.allSatisfy { $0.table == .holding && $0.address == 40000 && $0.count == 2 })
        XCTAssertEqual(r.scan?.map(\.unit), [1, 2, 3, 4, 5])
        XCTAssertEqual(r.nextOffset, 6, "the next page starts at the first id not probed")
        XCTAssertEqual(r.scan?.map(\.answer), [.registers, .registers, .exception, .none, .none])
        XCTAssertEqual(r.scan?.map(\.sunspec), [false, true, false, false, false])
        room = .max
        XCTAssertNil(ask(Request(command: .scan, bus: "b", unit: 1, lastUnit: 16)).nextOffset, "a whole page")
    }

    func testUnitIds_1to247_or255Alone() {
        for (first, last) in [(0, 3), (240, 250), (248, 248), (255, 256), (250, 255), (5, 4), (1, 17)] {
            XCTAssertEqual(ask(Request(command: .scan, bus: "b", unit: first, lastUnit: last)).status, .invalidRequest, "\(first)–\(last)")
        }
        XCTAssertEqual(ask(Request(command: .scan, bus: "b", unit: 255, lastUnit: 255)).status, .ok)
        XCTAssertEqual(ask(Request(command: .scan, bus: "b", unit: 232, lastUnit: 247)).status, .ok)
        XCTAssertEqual(ask(Request(command: .read, bus: "b", unit: 248, table: .holding, address: 0)).status, .invalidRequest)
        XCTAssertEqual(ask(Request(command: .read, bus: "b", unit: 255, table: .holding, address: 0)).status, .ok)
    }

    func testRead_decodesEachValue_andRefusesToDecodeBits() {
        words = { _ in .success([0x4366, 0x3333, 0x7FC0, 0x0000]) }  // 230.2, then a float32 NaN
        let r = ask(Request(command: .read, bus: "b", unit: 1, table: .input, address: 10, count: 4, decode: "float32"))
        XCTAssertEqual(r.registers?.decoded?.count, 2)
        XCTAssertEqual(r.registers?.decoded?[0] ?? nil, Double(Float(230.2)))
        XCTAssertNil(r.registers?.decoded?[1] ?? nil, "NaN is not a number to show")
        XCTAssertEqual(given, [CommissioningRead(table: .input, unit: 1, address: 10, count: 4)])
        XCTAssertEqual(ask(Request(command: .read, bus: "b", unit: 1, table: .holding, address: 0, decode: "float64")).status, .ok)
        XCTAssertEqual(given.first?.count, 4, "without a count, one value of the type")
        XCTAssertEqual(
            ask(Request(command: .read, bus: "b", unit: 1, table: .coils, address: 0, count: 8, decode: "uint16")).status,
            .invalidRequest)
        XCTAssertEqual(ask(Request(command: .read, bus: "b", unit: 1, table: .coils, address: 0, count: 8)).status, .ok)
        XCTAssertEqual(given.first?.table, .coils)
    }

    func testProfileCheck_blocksWithoutRoom_areFailuresAndTheirPointsNotRead() {
        room = 1
        let profile = """
            [profile]
            name = "two-blocks"
            [[register]]
            measurement = "voltage.l1n"
            function = 4
            address = 0
            type = "float32"
            [[register]]
            measurement = "current.l1"
            function = 4
            address = 100
            type = "float32"
            """
        words = { _ in .success([0x4366, 0x3333]) }
        let r = ask(Request(command: .profileCheck, meter: "m", profile: profile))
        XCTAssertEqual(r.status, .ok, r.message ?? "")
        XCTAssertEqual(given.map(\.unit), [7, 7], "the meter's unit")
        XCTAssertEqual(r.profileCheck?.failures.first?.hasPrefix("1 of 2 blocks found no room"), true)
        XCTAssertEqual(r.profileCheck?.points.map(\.note), [nil, "not read"])
        XCTAssertEqual(r.profileCheck?.points.first?.value, Double(Float(230.2)))
    }

    func testOnlyRootOrSynxdsUser_mayTouchABus() {
        let other = handler.session(peer: PeerCredentials(pid: 1, uid: 65534, gid: 65534))
        for request in [
            Request(command: .read, bus: "b", unit: 1, table: .holding, address: 0),
            Request(command: .scan, bus: "b", unit: 1), Request(command: .profileCheck, meter: "m", profile: ""),
        ] {
            XCTAssertEqual(other.answer(try! Framing.encode(request)).status, .unauthorized)
        }
        XCTAssertTrue(given.isEmpty, "nothing reached the bus")
    }
}
