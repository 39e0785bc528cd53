import Foundation
import SynxTOML
import XCTest

@testable import SynxMeters

final class ProfileLoaderTests: XCTestCase {
    func testBuiltinProfiles_allLoad() throws {
        let all = try ProfileLoader.loadAll(directories: [])
        XCTAssertEqual(Set(all.keys), ["synx-sim", "eastron-sdm630", "sunspec"])
        let sdm = all["eastron-sdm630"]!
        XCTAssertEqual(sdm.points.first { $0.measurement.name == "frequency" }?.address, 70)  // 30071 in the manual
        XCTAssertEqual(sdm.points.first { $0.measurement.name == "voltage.l12" }?.address, 200)  // 30201
        XCTAssertTrue(sdm.points.filter { $0.measurement.kind == .counter }.allSatisfy { $0.rate == .slow })
    }

    func testWrongRegisterType_isRejectedWithFileAndLine() {
        let text = """
            [profile]
            name = "x"

            [[register]]
            measurement = "voltage.l1n"
            function = 4
            address = 0
            type = "float16"
            """
        XCTAssertThrowsError(try ProfileLoader.parse(text: text, file: "x.toml")) { error in
            let e = error as! ConfigError
            XCTAssertEqual(e.file, "x.toml")
            XCTAssertEqual(e.line, 8)
            XCTAssertTrue(e.message.contains("unknown register type \"float16\""), e.message)
        }
    }

    func testUnknownMeasurementName_isRejectedWithLine() {
        let text = """
            [profile]
            name = "x"
            [[register]]
            measurement = "voltage.l1n"
            function = 4
            address = 0
            type = "float32"
            [[register]]
            measurement = "volts.phase1"
            function = 4
            address = 2
            type = "float32"
            """
        XCTAssertThrowsError(try ProfileLoader.parse(text: text, file: "p.toml")) { error in
            let e = error as! ConfigError
            XCTAssertEqual(e.line, 9)
            XCTAssertEqual(e.key, "register[2].measurement")
            XCTAssertTrue(
                e.description.hasPrefix("p.toml:9: register[2].measurement: unknown measurement name \"volts.phase1\""),
                e.description)
        }
    }

    func testUnitOtherThanCanonical_isRejected() {
        let text = """
            [profile]
            name = "x"
            [[register]]
            measurement = "power.active.total"
            function = 3
            address = 0
            type = "float32"
            unit = "kW"
            """
        XCTAssertThrowsError(try ProfileLoader.parse(text: text, file: "p.toml")) { error in
            XCTAssertEqual((error as! ConfigError).line, 8)
        }
    }

    func testMalformedTOML_reportsTheParserLine() {
        XCTAssertThrowsError(try ProfileLoader.parse(text: "[profile]\nname = \"x\"\n[[register]\n", file: "bad.toml"))
        { error in
            let e = error as! ConfigError
            XCTAssertEqual(e.line, 3)
            XCTAssertTrue(e.message.hasPrefix("malformed TOML"), e.message)
        }
    }

    func testTableHeaderStartingWithADot_isAFileLineError_notAnAbort() {
        XCTAssertThrowsError(
            try ProfileLoader.parse(text: "[profile]\nname = \"bad\"\n[.register]\n", file: "bad.toml")
        ) { error in
            XCTAssertEqual(
                (error as? ConfigError)?.description, "bad.toml:3: malformed TOML: expected a key, found '.' (column 2)"
            )
        }
    }

    func testUserProfileDirectory_isLoadedWithTheSameLoader() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-profiles-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        [profile]
        name = "acme-pm1"
        word_order = "cdab"
        [[register]]
        measurement = "frequency"
        function = 3
        address = 100
        type = "float32"
        """.write(to: dir.appendingPathComponent("acme.toml"), atomically: true, encoding: .utf8)
        let all = try ProfileLoader.loadAll(directories: [dir.path])
        XCTAssertEqual(all["acme-pm1"]?.points.first?.order, .lowFirst)
        XCTAssertNotNil(all["eastron-sdm630"])
    }
}

final class MeasurementCatalogTests: XCTestCase {
    /// docs/measurements.md and the catalog must list the same names with the same units. "`a.h2` … `a.h50`" lists
    /// every name from the first to the last, the trailing number counting up.
    func testDocumentation_listsEveryCatalogNameWithItsUnit() throws {
        let doc = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs/measurements.md"),
            encoding: .utf8)
        var documented: [String: String] = [:]
        let catalog = doc.components(separatedBy: "\n## Plausibility")[0]  // the name table, not the range table after it
        for line in catalog.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            let unit = cells[1] == "(none)" ? "" : cells[1]
            let names = cells[0].split(separator: "`").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty
            }
            for (i, name) in names.enumerated() where name != "…" {
                documented[name] = unit
                guard i + 2 < names.count, names[i + 1] == "…" else { continue }
                let stem = String(name.reversed().drop(while: \.isNumber).reversed())
                let first = Int(name.dropFirst(stem.count)) ?? 0
                let last = Int(names[i + 2].dropFirst(stem.count)) ?? 0
                for n in first...max(first, last) { documented["\(stem)\(n)"] = unit }
            }
        }
        XCTAssertEqual(documented, Measurement.catalog.mapValues(\.unit))
    }
}
