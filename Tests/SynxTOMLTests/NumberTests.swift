import XCTest

@testable import SynxTOML

/// TOML §Integer and §Float: forms, underscores, leading zeros and the 64-bit range.
final class NumberTests: XCTestCase {
    private func integer(_ literal: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int64? {
        Parsing.integer(try Parsing.value(literal, file: file, line: line))
    }

    private func float(_ literal: String, file: StaticString = #filePath, line: UInt = #line) throws -> Double? {
        Parsing.float(try Parsing.value(literal, file: file, line: line))
    }

    func testDecimalIntegers_withSignsAndUnderscores() throws {
        XCTAssertEqual(try integer("+99"), 99)
        XCTAssertEqual(try integer("-17"), -17)
        XCTAssertEqual(try integer("1_000_000"), 1_000_000)
        XCTAssertEqual(try integer("-0"), 0)
    }

    func testHexOctalBinary_areUnsignedAndAcceptUnderscores() throws {
        XCTAssertEqual(try integer("0xDEAD_beef"), 0xDEAD_BEEF)
        XCTAssertEqual(try integer("0o755"), 0o755)
        XCTAssertEqual(try integer("0b1101_0110"), 0b1101_0110)
        XCTAssertTrue(Parsing.error("v = -0x1")?.message.contains("cannot have a sign") ?? false)
        XCTAssertNotNil(Parsing.error("v = 0X1F"))
        XCTAssertNotNil(Parsing.error("v = 0o8"))
        XCTAssertNotNil(Parsing.error("v = 0x"))
    }

    func testInt64Limits_areValues_andOneBeyondIsAnError() throws {
        XCTAssertEqual(try integer("9223372036854775807"), .max)
        XCTAssertEqual(try integer("-9223372036854775808"), .min)
        XCTAssertEqual(try integer("0x7FFFFFFFFFFFFFFF"), .max)
        for beyond in ["9223372036854775808", "-9223372036854775809", "0x8000000000000000", "99999999999999999999999"] {
            XCTAssertTrue(Parsing.error("v = \(beyond)")?.message.contains("beyond the 64-bit range") ?? false, beyond)
        }
    }

    func testUnderscores_mustSitBetweenDigits() {
        for bad in ["_1", "1_", "1__2", "0x_1", "1_.5", "1._5", "1e_5", "1.5_"] {
            XCTAssertNotNil(Parsing.error("v = \(bad)"), bad)
        }
    }

    func testLeadingZeros_areErrors_exceptInTheExponent() throws {
        XCTAssertNotNil(Parsing.error("v = 012"))
        XCTAssertNotNil(Parsing.error("v = -01.5"))
        XCTAssertEqual(try float("1e06"), 1e6)
        XCTAssertEqual(try float("0.5"), 0.5)
    }

    func testFloats_withFractionExponentOrBoth() throws {
        XCTAssertEqual(try float("3.1415"), 3.1415)
        XCTAssertEqual(try float("-0.01"), -0.01)
        XCTAssertEqual(try float("5e+22"), 5e22)
        XCTAssertEqual(try float("1E-2"), 0.01)
        XCTAssertEqual(try float("6.626e-34"), 6.626e-34)
        XCTAssertEqual(try float("9_224_617.445_991"), 9_224_617.445_991)
    }

    func testFloats_needDigitsAroundTheDecimalPoint() {
        for bad in [".5", "5.", "1.e3", "1e", "1e+", "1.2.3", "+.1"] {
            XCTAssertNotNil(Parsing.error("v = \(bad)"), bad)
        }
    }

    func testInfinityAndNaN_inLowerCaseWithOptionalSign() throws {
        XCTAssertEqual(try float("inf"), .infinity)
        XCTAssertEqual(try float("+inf"), .infinity)
        XCTAssertEqual(try float("-inf"), -.infinity)
        XCTAssertTrue(try float("nan")?.isNaN ?? false)
        XCTAssertTrue(try float("-nan")?.isNaN ?? false)
        XCTAssertNotNil(Parsing.error("v = Inf"))
        XCTAssertNotNil(Parsing.error("v = infinity"))
    }

    func testAFloatBeyondBinary64_isAnError_notInfinity() {
        XCTAssertTrue(Parsing.error("v = 1e400")?.message.contains("beyond the 64-bit range") ?? false)
    }
}
