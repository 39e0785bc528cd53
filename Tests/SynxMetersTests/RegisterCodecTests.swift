import XCTest

@testable import SynxMeters

final class RegisterCodecTests: XCTestCase {
    func testFloat32_highWordFirst_decodesIEEE754() {
        // 230.0 = 0x43660000; 49.98 as float32 = 0x4247EB85.
        XCTAssertEqual(RegisterCodec.decode([0x4366, 0x0000], as: .float32, order: .highFirst), 230)
        XCTAssertEqual(RegisterCodec.decode([0x4247, 0xEB85], as: .float32, order: .highFirst), Double(Float(49.98)))
    }

    func testFloat32_wordSwapped_decodesTheSameValue() {
        XCTAssertEqual(RegisterCodec.decode([0x0000, 0x4366], as: .float32, order: .lowFirst), 230)
    }

    func testIntegerTypes_signAndWidth() {
        XCTAssertEqual(RegisterCodec.decode([0xFFFF], as: .int16, order: .highFirst), -1)
        XCTAssertEqual(RegisterCodec.decode([0xFFFF], as: .uint16, order: .highFirst), 65535)
        XCTAssertEqual(RegisterCodec.decode([0xFFFF, 0xFFFE], as: .int32, order: .highFirst), -2)
        XCTAssertEqual(RegisterCodec.decode([0x0001, 0x0000], as: .uint32, order: .highFirst), 65536)
        XCTAssertEqual(RegisterCodec.decode([0x0000, 0x0001], as: .acc32, order: .lowFirst), 65536)
    }

    func testFloat64_roundTrips() {
        for order in [WordOrder.highFirst, .lowFirst] {
            let w = RegisterCodec.encode(12345.678901234, as: .float64, order: order)
            XCTAssertEqual(w.count, 4)
            XCTAssertEqual(RegisterCodec.decode(w[...], as: .float64, order: order), 12345.678901234)
        }
    }

    func testEveryType_encodeThenDecode_isIdentityOnRepresentableValues() {
        for type in RegisterType.allCases {
            for order in [WordOrder.highFirst, .lowFirst] {
                let v: Double = type == .int16 || type == .int32 ? -1234 : 4321
                let w = RegisterCodec.encode(v, as: type, order: order)
                XCTAssertEqual(w.count, type.wordCount, "\(type)")
                XCTAssertEqual(RegisterCodec.decode(w[...], as: type, order: order), v, "\(type) \(order)")
            }
        }
    }

    func testSunSpecNotImplementedMarkers() {
        XCTAssertTrue(RegisterCodec.isSunSpecNotImplemented([0x8000], as: .int16))
        XCTAssertTrue(RegisterCodec.isSunSpecNotImplemented([0xFFFF], as: .uint16))
        XCTAssertTrue(RegisterCodec.isSunSpecNotImplemented([0, 0], as: .acc32))
        XCTAssertTrue(RegisterCodec.isSunSpecNotImplemented([0x7FC0, 0], as: .float32))
        XCTAssertFalse(RegisterCodec.isSunSpecNotImplemented([0x4366, 0], as: .float32))
    }

    func testScaleFactorRegister_appliesPowerOfTen() {
        let v = Measurement.named("voltage.l1n")!
        let p = RegisterPoint(
            measurement: v, table: .holding, address: 10, type: .int16, scaleFactorAddress: 11,
            honoursNotImplemented: true)
        var image = RegisterImage()
        image.store([2301, UInt16(bitPattern: -1)], table: .holding, address: 10)
        XCTAssertEqual(image.reading(of: p, plausible: Plausibility(nominalVoltage: 230).range(of: p)), .value(230.1))
        image.store([0x8000], table: .holding, address: 10)
        XCTAssertEqual(image.reading(of: p, plausible: Plausibility(nominalVoltage: 230).range(of: p)), .notImplemented)
        XCTAssertEqual(
            RegisterImage().reading(of: p, plausible: Plausibility(nominalVoltage: 230).range(of: p)), .unread)
    }

    func testDecimalScale_isCorrectlyRounded() {
        let p = RegisterPoint(
            measurement: Measurement.named("energy.active.import")!, table: .input, address: 0, type: .uint32,
            scale: 0.001)
        var image = RegisterImage()
        image.store([0x0006, 0x4772], table: .input, address: 0)  // 411506 Wh
        XCTAssertEqual(image.reading(of: p, plausible: Plausibility(nominalVoltage: 230).range(of: p)), .value(411.506))
    }
}
