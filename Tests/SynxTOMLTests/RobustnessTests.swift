import Foundation
import Glibc
import XCTest

@testable import SynxTOML

/// Hostile input: nothing may trap or abort (why TOMLKit was replaced), nesting is bounded, errors say
/// where, and parsing stays linear.
final class RobustnessTests: XCTestCase {
    func testHeadersStartingWithADot_areLocatedErrors_notAborts() {
        // toml++ (under TOMLKit) asserted on these in parse_key and aborted the process.
        for text in ["[.", "[.a]\n", "[[.", "[[.a]]\n", "a = 1\n[.\n"] {
            let e = Parsing.error(text)
            XCTAssertEqual(e?.message, "expected a key, found '.'", text)
            XCTAssertEqual(e?.line, text.hasPrefix("a") ? 2 : 1, text)
        }
    }

    func testErrors_carryLineAndColumnInCharacters() {
        let e = Parsing.error("ok = 1\nnäme = 2\n")
        XCTAssertEqual(e?.line, 2)
        XCTAssertEqual(e?.column, 2)
        XCTAssertEqual(e?.message, "expected '=' after the key, found 'ä' (U+00E4)")
    }

    func testNesting_deeperThan128_isRefused_andUpTo128Accepted() throws {
        let limit = TOMLParser.maximumDepth
        // The root's value at depth 1, so `limit` brackets are the deepest accepted.
        XCTAssertNoThrow(
            try Parsing.root("a = " + String(repeating: "[", count: limit) + String(repeating: "]", count: limit)))
        let hostile = [
            "a = " + String(repeating: "[", count: 100_000),
            "a = " + String(repeating: "{b = ", count: 100_000),
            "[" + Array(repeating: "t", count: 100_000).joined(separator: ".") + "]",
            Array(repeating: "k", count: 100_000).joined(separator: ".") + " = 1",
            "a = [" + String(repeating: "{b = [", count: 50_000),
        ]
        for text in hostile {
            XCTAssertTrue(
                Parsing.error(text)?.message.contains("nested deeper than 128 levels") ?? false, String(text.prefix(12))
            )
        }
    }

    func testInvalidUTF8_isAnError_atItsLine() {
        XCTAssertThrowsError(try TOMLParser.parse(Array("a = 1\nb = '".utf8) + [0xC3, 0x28] + Array("'\n".utf8))) {
            error in
            XCTAssertEqual((error as? TOMLSyntaxError)?.line, 2)
        }
        for bad: [UInt8] in [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            XCTAssertNotNil(UTF8Validation.firstInvalidByte(in: bad), "\(bad)")
        }
        XCTAssertNil(UTF8Validation.firstInvalidByte(in: Array("é€😀".utf8)))
    }

    func testAByteOrderMark_isAllowedAtTheStartOnly() throws {
        XCTAssertNotNil(try TOMLParser.parse([0xEF, 0xBB, 0xBF] + Array("a = 1\n".utf8))["a"])
        XCTAssertNotNil(Parsing.error("a = 1\n\u{FEFF}b = 2\n"))
    }

    func testTruncatedDocuments_atEveryByte_areErrorsOrValues_neverTraps() {
        let text = """
            [daemon] # c
            s = "a\\u00e9\\"" ; t = '''x
            y''' ; n = [1, 0x1F, -2.5e3, inf, {k.j = 1979-05-27T07:32:00.5-07:00}]

            [[meter]]
            name = "m"
            """.replacingOccurrences(of: " ; ", with: "\n")
        let bytes = Array(text.utf8)
        for end in 0...bytes.count {
            _ = try? TOMLParser.parse(Array(bytes[..<end]))
        }
    }

    func testAHundredMeterConfiguration_parsesInWellUnder50ms() throws {
        var text = "[daemon]\nstate_directory = \"/var/lib/synx\"\nprofile_directories = [\"/etc/synx/profiles\"]\n\n"
        for bus in 1...10 {
            text += "[[bus]]\nname = \"bus\(bus)\"\ntype = \"rtu\"\ndevice = \"/dev/ttyUSB\(bus)\"\nbaud = 19200\n\n"
        }
        for meter in 1...100 {
            text += """
                # Meter \(meter): feeder \(meter % 7), panel \(meter / 10) — commissioned 2026-03-01.
                [[meter]]
                name = "feeder-\(meter)"
                bus = "bus\(meter % 10 + 1)"
                unit = \(meter % 247 + 1)
                profile = "sdm630"
                poll_interval_ms = 1_000
                nominal_voltage = 230.0
                nominal_frequency = 50
                tags = ["building-\(meter / 20)", "floor-\(meter % 5)", 'panel "\(meter)"', "phase-rotation-checked"]
                location = { site = "plant", room = "R\(meter)", position.x = \(meter), position.y = -\(meter) }
                notes = \"\"\"
                Installed by the electrical contractor; CT ratio 400/5, checked against the utility meter.
                Readings compared on commissioning day: within 0.5 % on all three phases.\\
                \"\"\"

                [[meter.alert]]
                measurement = "voltage.l1n"
                below = 207.0
                above = 253.0


                """
        }
        XCTAssertGreaterThan(text.utf8.count, 60_000)
        let clock = ContinuousClock()
        var root: TOMLTable?
        var elapsed = Duration.seconds(1)
        // The best of five runs: the parser's own time, not a busy machine's.
        for _ in 0..<5 { elapsed = min(elapsed, try clock.measure { root = try Parsing.root(text) }) }
        XCTAssertEqual(Parsing.array(root?["meter"])?.items.count, 100)
        print("a \(text.utf8.count)-byte configuration of 100 meters parsed in \(elapsed)")
        // scripts/test also runs the unit tests under ThreadSanitizer, which makes every memory access several
        // times slower (about 3.5 × here); the 50 ms are for a plain debug build.
        let underThreadSanitizer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__tsan_init") != nil
        XCTAssertLessThan(elapsed, .milliseconds(underThreadSanitizer ? 200 : 50))
    }

    func testParsingTime_growsLinearly_withTheNumberOfTables() throws {
        func seconds(_ count: Int) throws -> Double {
            let text = (0..<count).map { "[[t]]\nk\($0 % 10) = [\($0), 'x']\n[t.sub]\nv = \($0)\n" }.joined()
            let clock = ContinuousClock()
            let elapsed = try clock.measure { _ = try Parsing.root(text) }
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        _ = try seconds(1_000)
        let small = try seconds(4_000)
        let large = try seconds(16_000)
        // Four times the input: about four times the time; quadratic would be sixteen.
        XCTAssertLessThan(large / small, 8, "\(small) s for 4 000 tables, \(large) s for 16 000")
    }
}
