import SynxModbus
import XCTest

@testable import SynxMeters

final class ReadPlanTests: XCTestCase {
    private func point(_ address: Int, _ type: RegisterType = .float32, table: RegisterTable = .input) -> RegisterPoint
    {
        RegisterPoint(measurement: Measurement.named("frequency")!, table: table, address: address, type: type)
    }

    func testAdjacentRegisters_mergeIntoOneRead() {
        let plan = ReadPlan(points: [point(0), point(2), point(4)], mergeGap: 0)
        XCTAssertEqual(plan.blocks, [.init(table: .input, address: 0, count: 6)])
    }

    func testGapBeyondMergeGap_splitsTheRead() {
        XCTAssertEqual(ReadPlan(points: [point(0), point(10)], mergeGap: 0).blocks.count, 2)
        XCTAssertEqual(
            ReadPlan(points: [point(0), point(10)], mergeGap: 8).blocks, [.init(table: .input, address: 0, count: 12)])
    }

    func testReads_neverExceed125Registers() {
        let plan = ReadPlan(points: stride(from: 0, to: 300, by: 2).map { point($0) }, mergeGap: 0)
        XCTAssertTrue(plan.blocks.allSatisfy { $0.count <= 125 })
        XCTAssertEqual(plan.blocks.map(\.count).reduce(0, +), 300)
        XCTAssertEqual(plan.blocks.count, 3)
    }

    func testTables_areNeverMerged() {
        XCTAssertEqual(
            ReadPlan(points: [point(0, table: .holding), point(2, table: .input)], mergeGap: 100).blocks.count, 2)
    }

    func testScaleFactorRegister_isReadWithItsValue() {
        var p = point(5, .int16, table: .holding)
        p.scaleFactorAddress = 9
        XCTAssertEqual(ReadPlan(points: [p], mergeGap: 125).blocks, [.init(table: .holding, address: 5, count: 5)])
    }

    func testSDM630_fastAndSlowPlans_areFewReads() throws {
        let sdm = try ProfileLoader.loadAll(directories: [])["eastron-sdm630"]!
        let fast = ReadPlan(points: sdm.points.filter { $0.rate == .fast }, mergeGap: sdm.mergeGap)
        let slow = ReadPlan(points: sdm.points.filter { $0.rate == .slow }, mergeGap: sdm.mergeGap)
        XCTAssertEqual(fast.blocks.count, 2)  // 30001–30072 and 30201–30246
        XCTAssertEqual(slow.blocks.count, 1)
    }
}
