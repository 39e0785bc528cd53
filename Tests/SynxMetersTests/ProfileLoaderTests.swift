import Foundation
import SynxTOML
import XCTest

@testable import SynxMeters

final class ProfileLoaderTests: XCTestCase {
    func testBuiltinProfiles_allLoad() throws {
        let all = try ProfileLoader.loadAll(directories: [])
        XCTAssertEqual(Set(all.keys), ["synx-sim", "synx-sim-pq", "eastron-sdm630", "sunspec", "janitza-umg512pro"])
        XCTAssertEqual(all["synx-sim-pq"]?.points.filter { $0.measurement.name.hasPrefix("harmonic.") }.count, 6 * 49)
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

/// `[[register_array]]`: one value per harmonic order in a block of registers.
final class RegisterArrayTests: XCTestCase {
    private let head = "[profile]\nname = \"pq\"\n"

    func testArray_expandsToOneRegisterPerOrder_withItsStride() throws {
        let p = try ProfileLoader.parse(
            text: head
                + "[[register_array]]\nmeasurement = \"harmonic.voltage.l2.h{n}\"\nfirst_order = 2\nlast_order = 31\n"
                + "function = 3\naddress = 1000\ntype = \"int16\"\nstride = 1\nscale = 0.01\n"
                + "[[register_array]]\nmeasurement = \"harmonic.current.l1.h{n}\"\nfirst_order = 3\nlast_order = 5\n"
                + "function = 4\naddress = 10\ntype = \"float32\"\nstride = 4\n",
            file: "pq.toml")
        XCTAssertEqual(p.points.count, 30 + 3)
        let h5 = try XCTUnwrap(p.points.first { $0.measurement.name == "harmonic.voltage.l2.h5" })
        XCTAssertEqual(h5.address, 1003)
        XCTAssertEqual(h5.scale, 0.01)
        XCTAssertEqual(h5.table, .holding)
        XCTAssertEqual(p.points.first { $0.measurement.name == "harmonic.voltage.l2.h31" }?.address, 1029)
        XCTAssertEqual(
            p.points.filter { $0.measurement.name.hasPrefix("harmonic.current") }.map(\.address), [10, 14, 18])
        XCTAssertEqual(p.points.first { $0.measurement.name == "harmonic.current.l1.h4" }?.measurement.unit, "%")
    }

    func testArrayMistakes_areFileLineErrors() {
        let array = "[[register_array]]\nfunction = 4\ntype = \"float32\"\n"
        for (body, message) in [
            ("measurement = \"harmonic.voltage.l1.h5\"\nfirst_order = 2\nlast_order = 3\naddress = 0\n", "{n}"),
            ("measurement = \"harmonic.voltage.l1.h{n}\"\nfirst_order = 2\nlast_order = 51\naddress = 0\n", "last_order"),
            ("measurement = \"harmonic.voltage.l1.h{n}\"\nfirst_order = 2\nlast_order = 50\naddress = 65500\n", "past register 65535"),
            ("measurement = \"voltage.l{n}n\"\nfirst_order = 1\nlast_order = 4\naddress = 0\n", "unknown measurement name \"voltage.l4n\""),
            ("measurement = \"harmonic.voltage.l1.h{n}\"\nfirst_order = 2\nlast_order = 3\naddress = 0\nstride = 1\n", "stride"),
        ] {
            XCTAssertThrowsError(try ProfileLoader.parse(text: head + array + body, file: "pq.toml")) {
                XCTAssertTrue("\($0)".hasPrefix("pq.toml:"), "\($0)")
                XCTAssertTrue("\($0)".contains(message), "\(message): \($0)")
            }
        }
        let duplicate =
            head + "[[register]]\nmeasurement = \"harmonic.voltage.l1.h3\"\nfunction = 4\naddress = 0\ntype = \"float32\"\n"
            + array + "measurement = \"harmonic.voltage.l1.h{n}\"\nfirst_order = 2\nlast_order = 5\naddress = 10\n"
        XCTAssertThrowsError(try ProfileLoader.parse(text: duplicate, file: "pq.toml")) {
            XCTAssertTrue("\($0)".contains("\"harmonic.voltage.l1.h3\" is already mapped at line 4"), "\($0)")
        }
    }

    /// Janitza UMG 512-PRO: harmonic voltages in volts, made % of the fundamental read with them (Janitza's
    /// Modbus-address list, Dok. Nr. 1.054.016.3.l: L2's orders from 517, two registers apart).
    func testHarmonicsInVolts_areDividedByTheFundamental_readInTheSamePlan() throws {
        let p = try XCTUnwrap(try ProfileLoader.loadAll(directories: [])["janitza-umg512pro"])
        let h5 = try XCTUnwrap(p.points.first { $0.measurement.name == "harmonic.voltage.l2.h5" })
        XCTAssertEqual(h5.address, 525)
        XCTAssertEqual(h5.fundamentalAddress, 517)
        XCTAssertEqual(h5.table, .holding)
        XCTAssertEqual(p.points.first { $0.measurement.name == "voltage.l1n" }?.address, 19000)
        XCTAssertEqual(p.points.first { $0.measurement.name == "flicker.plt.l3" }?.address, 4173)
        let plan = ReadPlan(points: p.points.filter { $0.measurement.name.hasPrefix("harmonic.voltage.l2") }, mergeGap: 0)
        XCTAssertEqual(plan.blocks.map(\.address), [517], "the fundamental and orders 2–50: one read of 100 registers")
        var image = RegisterImage()
        image.store(RegisterCodec.encode(230, as: .float32, order: .highFirst), table: .holding, address: 517)
        image.store(RegisterCodec.encode(11.5, as: .float32, order: .highFirst), table: .holding, address: 525)
        XCTAssertEqual(image.reading(of: h5, plausible: 0...1000), .value(5))
        image.store(RegisterCodec.encode(0, as: .float32, order: .highFirst), table: .holding, address: 517)
        XCTAssertEqual(image.reading(of: h5, plausible: 0...1000), .notImplemented, "a dead phase has no ratio")
        XCTAssertThrowsError(
            try ProfileLoader.parse(
                text: head
                    + "[[register_array]]\nmeasurement = \"harmonic.voltage.l1.h{n}\"\nfirst_order = 2\nlast_order = 5\n"
                    + "function = 3\naddress = 2\ntype = \"float32\"\nfundamental_address = 0\n",
                file: "pq.toml")
        ) { XCTAssertTrue("\($0)".contains("unit = \"V\" or \"A\""), "\($0)") }
    }
}
