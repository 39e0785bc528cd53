@testable import SynxMeters
import Foundation
import XCTest

final class SunSpecTests: XCTestCase {
    /// A device's holding registers: the marker at `base`, a common model, then `model`, then the end.
    private func device(base: Int, model: Int) -> [Int: UInt16] {
        var regs: [Int: UInt16] = [:]
        var a = base
        func put(_ w: [UInt16]) { for x in w { regs[a] = x; a += 1 } }
        put(SunSpec.marker)
        put([1, 66]); put([UInt16](repeating: 0, count: 66))
        put([UInt16(model), UInt16(SunSpec.expectedLength(model))]); put([UInt16](repeating: 0, count: SunSpec.expectedLength(model)))
        put([0xFFFF, 0])
        return regs
    }

    private func reader(_ regs: [Int: UInt16]) -> SunSpec.Reader {
        { address, count in
            try (address..<(address + count)).map { a in
                guard let w = regs[a] else { throw NSError(domain: "exception 2", code: 2) }
                return w
            }
        }
    }

    func testDiscovery_findsMarkerAt40000_andWalksToTheMeterModel() throws {
        let found = try SunSpec.discover(read: reader(device(base: 40000, model: 203)))
        XCTAssertEqual(found, .init(id: 203, dataAddress: 40000 + 2 + 68 + 2, length: 105))
    }

    func testDiscovery_findsMarkerAtZero_andFloatModels() throws {
        let found = try SunSpec.discover(read: reader(device(base: 0, model: 213)))
        XCTAssertEqual(found.id, 213)
        XCTAssertEqual(found.dataAddress, 72)
    }

    func testDiscovery_withoutMarker_saysSo() {
        XCTAssertThrowsError(try SunSpec.discover(read: reader([:]))) { XCTAssertEqual($0 as? SunSpec.DiscoveryError, .noMarker) }
    }

    func testModel203Profile_readsValuesWithTheirScaleFactorsInOneRequestPerRate() {
        let profile = SunSpec.profile(for: .init(id: 203, dataAddress: 40072, length: 105))
        let fast = ReadPlan(points: profile.points.filter { $0.rate == .fast }, mergeGap: profile.mergeGap)
        XCTAssertEqual(fast.blocks.count, 1)
        let v = profile.points.first { $0.measurement.name == "voltage.l1n" }!
        XCTAssertEqual(v.address, 40072 + 6)        // PhVphA
        XCTAssertEqual(v.scaleFactorAddress, 40072 + 13)  // V_SF
        let e = profile.points.first { $0.measurement.name == "energy.active.import" }!
        XCTAssertEqual(e.address, 40072 + 44)       // TotWhImp
        XCTAssertEqual(e.scaleFactorAddress, 40072 + 52)  // TotWh_SF
    }
}
