import Foundation
import SynxModbus
import XCTest

@testable import SynxMeters

final class SunSpecTests: XCTestCase {
    /// A device's holding registers: the marker at `base`, a common model, then `model`, then the end.
    private func device(base: Int, model: Int) -> [Int: UInt16] {
        var regs: [Int: UInt16] = [:]
        var a = base
        func put(_ w: [UInt16]) {
            for x in w {
                regs[a] = x
                a += 1
            }
        }
        put(SunSpec.marker)
        put([1, 66])
        put([UInt16](repeating: 0, count: 66))
        put([UInt16(model), UInt16(SunSpec.expectedLength(model))])
        put([UInt16](repeating: 0, count: SunSpec.expectedLength(model)))
        put([0xFFFF, 0])
        return regs
    }

    /// Runs discovery against a register map; an unmapped register answers exception 2.
    private func discover(_ regs: [Int: UInt16]) throws -> SunSpec.FoundModel {
        var d = SunSpec.Discovery()
        var reads = 0
        while let r = d.nextRead {
            reads += 1
            let words = (r.address..<(r.address + r.count)).map { regs[$0] }
            d.feed(
                words.contains(nil)
                    ? .failure(ModbusError(.exception(2), function: "read_registers")) : .success(words.map { $0! }))
        }
        XCTAssertLessThan(reads, 10)
        return try d.result!.get()
    }

    func testDiscovery_findsMarkerAt40000_andWalksToTheMeterModel() throws {
        let found = try discover(device(base: 40000, model: 203))
        XCTAssertEqual(found, .init(id: 203, dataAddress: 40000 + 2 + 68 + 2, length: 105))
    }

    func testDiscovery_findsMarkerAtZero_andFloatModels() throws {
        let found = try discover(device(base: 0, model: 213))
        XCTAssertEqual(found.id, 213)
        XCTAssertEqual(found.dataAddress, 72)
    }

    func testDiscovery_modelWhoseDataRunsPast65535_isRejectedNotRead() {
        // SunS at 40000, model 1 whose length puts the next header at 65535, where "model 203 length 105" would
        // start its data at 65537: the map is bad; no read may go past the register space.
        var regs: [Int: UInt16] = [40000: 0x5375, 40001: 0x6E53, 40002: 1, 40003: UInt16(65535 - 40004), 65535: 203]
        regs[65536] = 105  // what a lying device answers for the second register of the header
        var d = SunSpec.Discovery()
        while let r = d.nextRead {
            XCTAssertLessThanOrEqual(r.address + r.count - 1, 0xFFFF, "read at \(r.address) of \(r.count)")
            let words = (r.address..<(r.address + r.count)).map { regs[$0] }
            d.feed(
                words.contains(nil)
                    ? .failure(ModbusError(.exception(2), function: "read_registers")) : .success(words.map { $0! }))
        }
        guard case .failure(let e as SunSpec.DiscoveryError) = d.result, case .badModel(let why) = e else {
            return XCTFail("\(String(describing: d.result))")
        }
        XCTAssertTrue(why.contains("past register 65535"), why)
    }

    func testDiscovery_meterModelEndingPast65535_isRejected() {
        // A model 203 header at 65430: its 105 data registers would end at 65536.
        let regs: [Int: UInt16] = [
            40000: 0x5375, 40001: 0x6E53, 40002: 1, 40003: UInt16(65430 - 40004), 65430: 203, 65431: 105,
        ]
        var d = SunSpec.Discovery()
        while let r = d.nextRead {
            let words = (r.address..<(r.address + r.count)).map { regs[$0] }
            d.feed(
                words.contains(nil)
                    ? .failure(ModbusError(.exception(2), function: "read_registers")) : .success(words.map { $0! }))
        }
        XCTAssertEqual(d.result.map { (try? $0.get()) == nil }, true)
        if case .failure(let e) = d.result { XCTAssertTrue("\(e)".contains("runs past register 65535"), "\(e)") }
    }

    func testDiscovery_withoutMarker_saysSo() {
        XCTAssertThrowsError(try discover([:])) { XCTAssertEqual($0 as? SunSpec.DiscoveryError, .noMarker) }
    }

    func testDiscovery_ofASilentDevice_stopsAtTheFirstTimeout() {
        var d = SunSpec.Discovery()
        d.feed(.failure(ModbusError(.timeout, function: "read_registers")))
        XCTAssertNil(d.nextRead)
        XCTAssertThrowsError(try d.result!.get()) { XCTAssertEqual(($0 as? ModbusError)?.kind, .timeout) }
    }

    func testModel203Profile_readsValuesWithTheirScaleFactorsInOneRequestPerRate() {
        let profile = SunSpec.profile(for: .init(id: 203, dataAddress: 40072, length: 105))
        let fast = ReadPlan(points: profile.points.filter { $0.rate == .fast }, mergeGap: profile.mergeGap)
        XCTAssertEqual(fast.blocks.count, 1)
        let v = profile.points.first { $0.measurement.name == "voltage.l1n" }!
        XCTAssertEqual(v.address, 40072 + 6)  // PhVphA
        XCTAssertEqual(v.scaleFactorAddress, 40072 + 13)  // V_SF
        let e = profile.points.first { $0.measurement.name == "energy.active.import" }!
        XCTAssertEqual(e.address, 40072 + 44)  // TotWhImp
        XCTAssertEqual(e.scaleFactorAddress, 40072 + 52)  // TotWh_SF
    }
}
