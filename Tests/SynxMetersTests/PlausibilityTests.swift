import SynxModbus
import XCTest

@testable import SynxMeters

/// Values no meter can measure are `invalid` with a reason that names the rule, never a value.
final class PlausibilityTests: XCTestCase {
    private let limits = Plausibility(nominalVoltage: 230)

    private func reading(
        _ name: String, float value: Float, _ p: (inout RegisterPoint) -> Void = { _ in }
    ) -> RegisterImage.Reading {
        var point = RegisterPoint(measurement: Measurement.named(name)!, table: .input, address: 0, type: .float32)
        p(&point)
        var image = RegisterImage()
        image.store(RegisterCodec.encode(Double(value), as: .float32, order: .highFirst), table: .input, address: 0)
        return image.reading(of: point, plausible: limits.range(of: point))
    }

    func testAbsurdFloats_areInvalidWithTheRule() {
        XCTAssertEqual(reading("voltage.l1n", float: 3.4e38), .invalid("voltage.l1n outside 0…2300 V"))
        XCTAssertEqual(reading("voltage.l1n", float: -3.4e38), .invalid("voltage.l1n outside 0…2300 V"))
        XCTAssertEqual(reading("frequency", float: 1e30), .invalid("frequency outside 10…100 Hz"))
        XCTAssertEqual(reading("frequency", float: 1.4e-45), .invalid("frequency outside 10…100 Hz"))
        XCTAssertEqual(reading("current.l1", float: 6.55e24), .invalid("current.l1 outside -1e+06…1e+06 A"))
        XCTAssertEqual(reading("power_factor.total", float: 1.5), .invalid("power_factor.total outside -1.02…1.02"))
        XCTAssertEqual(reading("voltage.l1n", float: .nan), .invalid("voltage.l1n not a number"))
        XCTAssertEqual(reading("voltage.l1n", float: .infinity), .invalid("voltage.l1n infinite"))
    }

    func testRealValues_includingDisturbances_areGood() {
        XCTAssertEqual(reading("voltage.l1n", float: 0), .value(0))  // an interruption
        XCTAssertEqual(reading("voltage.l1n", float: 460), .value(460))  // a swell to 200 %
        XCTAssertEqual(reading("voltage.l12", float: 3900), .value(3900))  // line-to-line: 10 × √3 × 230 = 3984
        XCTAssertEqual(reading("frequency", float: 16.5), .value(16.5))
        XCTAssertEqual(reading("power_factor.total", float: -1.001), .value(Double(Float(-1.001))))
        XCTAssertEqual(reading("thd.current.l1", float: 250), .value(250))
    }

    func testProfileBounds_overrideTheDefaults() {
        XCTAssertEqual(
            reading("voltage.l1n", float: 5000) {
                $0.plausibleMin = 0
                $0.plausibleMax = 40_000
            }, .value(5000))
        XCTAssertEqual(
            reading("frequency", float: 5) {
                $0.plausibleMin = 1
                $0.plausibleMax = 100
            }, .value(5))
        XCTAssertEqual(
            reading("frequency", float: 500) {
                $0.plausibleMin = 1
                $0.plausibleMax = 100
            }, .invalid("frequency outside 1…100 Hz"))
    }

    func testSunSpecScaleFactors_beyondTen_areInvalid_andTenItselfIsJudgedByItsValue() {
        let p = RegisterPoint(
            measurement: Measurement.named("frequency")!, table: .holding, address: 0, type: .int16,
            scaleFactorAddress: 1)
        var image = RegisterImage()
        image.store([5000, UInt16(bitPattern: 11)], table: .holding, address: 0)
        XCTAssertEqual(
            image.reading(of: p, plausible: limits.range(of: p)), .invalid("frequency scale factor outside -10…10"))
        image.store([5000, UInt16(bitPattern: 10)], table: .holding, address: 0)
        XCTAssertEqual(image.reading(of: p, plausible: limits.range(of: p)), .invalid("frequency outside 10…100 Hz"))  // 5e13 Hz
        image.store([5000, UInt16(bitPattern: -2)], table: .holding, address: 0)
        XCTAssertEqual(image.reading(of: p, plausible: limits.range(of: p)), .value(50))
    }

    func testProfileLoader_readsPlausibleBounds_andRejectsAnEmptyRange() throws {
        let head =
            "[profile]\nname = \"x\"\n[[register]]\nmeasurement = \"voltage.l1n\"\nfunction = 4\naddress = 0\ntype = \"float32\"\n"
        let p = try ProfileLoader.parse(text: head + "plausible_min = 0\nplausible_max = 40000\n", file: "x.toml")
        XCTAssertEqual(p.points[0].plausibleMax, 40_000)
        XCTAssertThrowsError(try ProfileLoader.parse(text: head + "plausible_max = 40000\n", file: "x.toml")) {
            XCTAssertTrue("\($0)".contains("give plausible_min and plausible_max together"), "\($0)")
        }
        XCTAssertThrowsError(
            try ProfileLoader.parse(text: head + "plausible_min = 10\nplausible_max = 5\n", file: "x.toml")
        ) {
            XCTAssertTrue("\($0)".contains("x.toml:9: register[1].plausible_max: must be above plausible_min"), "\($0)")
        }
    }
}
