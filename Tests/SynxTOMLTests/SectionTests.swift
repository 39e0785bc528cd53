import SynxTOML
import XCTest

/// The accessors the configuration and profile loaders use: typed values, messages in TOML's words, and
/// errors at the line of the key or table.
final class SectionTests: XCTestCase {
    private let text = """
        title = "plant"

        [daemon]
        socket = "/run/synx.sock"
        retries = 3
        ratio = 2.5
        whole = 4
        enabled = true
        dirs = ["/a", "/b"]
        mixed = ["/a", 1]
        started = 2026-11-29T12:00:00Z
        limits.low = 1

        [[meter]]
        name = "a"

        [[meter]]
        name = "b"
        [meter.options]
        mode = "fast"
        """

    private func root() throws -> TOMLSection { try TOMLDocument(file: "t.toml", text: text).rootSection }

    private func error(_ body: () throws -> Any?) -> ConfigError? {
        do {
            _ = try body()
            XCTFail("no error")
        } catch {
            return error as? ConfigError
        }
        return nil
    }

    func testTypedValues_areRead() throws {
        let d = try XCTUnwrap(try root().section("daemon"))
        XCTAssertEqual(try d.string("socket"), "/run/synx.sock")
        XCTAssertEqual(try d.requiredInt("retries", in: 0...10), 3)
        XCTAssertEqual(try d.double("ratio", in: 0...10), 2.5)
        XCTAssertEqual(try d.double("whole", in: 0...10), 4, "an integer where a float is expected")
        XCTAssertEqual(try d.bool("enabled"), true)
        XCTAssertEqual(try d.stringArray("dirs"), ["/a", "/b"])
        XCTAssertNil(try d.string("absent"))
        XCTAssertTrue(d.has("limits"))
        XCTAssertEqual(try d.section("limits")?.int("low", in: 0...9), 1)
    }

    func testTypeErrors_nameTOMLsTypes_atTheKeysLine() throws {
        let d = try XCTUnwrap(try root().section("daemon"))
        XCTAssertEqual(
            error { try d.int("socket", in: 0...1) }?.description,
            "t.toml:4: daemon.socket: expected an integer, found a string")
        XCTAssertEqual(error { try d.string("retries") }?.message, "expected a string, found an integer")
        XCTAssertEqual(error { try d.bool("ratio") }?.message, "expected true or false, found a float")
        XCTAssertEqual(error { try d.double("enabled", in: 0...1) }?.message, "expected a number, found a boolean")
        XCTAssertEqual(error { try d.string("started") }?.message, "expected a string, found a datetime")
        XCTAssertEqual(error { try d.string("dirs") }?.message, "expected a string, found an array")
        XCTAssertEqual(error { try d.string("limits") }?.message, "expected a string, found a table")
        XCTAssertEqual(
            error { try d.stringArray("mixed") }?.message, "expected an array of strings, found an integer in it")
        XCTAssertEqual(error { try d.section("socket") }?.message, "expected a table [daemon.socket], found a string")
    }

    func testRanges_requiredKeys_andChoices_areChecked() throws {
        let d = try XCTUnwrap(try root().section("daemon"))
        XCTAssertEqual(error { try d.int("retries", in: 5...9) }?.message, "3 is out of range 5…9")
        XCTAssertEqual(error { try d.requiredString("name") }?.line, 3, "a missing key: the table's header line")
        XCTAssertEqual(error { try d.choice("socket", ["x": 1]) }?.message, "\"/run/synx.sock\" is not one of: x")
        XCTAssertEqual(error { try d.rejectUnknownKeys(["socket"]) }?.key, "daemon.dirs")
    }

    func testArrayOfTables_sections_areNumberedInMessages_andKnowTheirLines() throws {
        let meters = try root().sections("meter")
        XCTAssertEqual(meters.map(\.displayPath), ["meter[1]", "meter[2]"])
        XCTAssertEqual(meters.map { $0.line() }, [14, 17])
        XCTAssertEqual(meters[1].line(of: "name"), 18)
        XCTAssertEqual(meters[1].error("name", "duplicate").description, "t.toml:18: meter[2].name: duplicate")
        let options = try XCTUnwrap(try meters[1].section("options"))
        XCTAssertEqual(options.displayPath, "meter[2].options")
        XCTAssertEqual(options.line(), 19)
        XCTAssertEqual(
            error { try root().sections("title") }?.message, "expected an array of tables [[title]], found a string")
    }

    func testTheRoot_hasNoHeaderLine_butItsKeysHaveTheirs() throws {
        let r = try root()
        XCTAssertNil(r.line())
        XCTAssertEqual(r.line(of: "title"), 1)
        XCTAssertEqual(r.line(of: "meter"), 14, "an array of tables: its first header")
        XCTAssertEqual(r.error(nil, "nothing to poll").description, "t.toml: nothing to poll")
    }

    func testMalformedTOML_isAConfigError_withLineAndColumn() {
        XCTAssertThrowsError(try TOMLDocument(file: "bad.toml", text: "a = 1\n[.a]\n")) { error in
            XCTAssertEqual(
                (error as? ConfigError)?.description, "bad.toml:2: malformed TOML: expected a key, found '.' (column 2)"
            )
        }
    }
}
