import Foundation
import SynxComtrade
import XCTest

/// synx-analyze, the real binary, over COMTRADE recordings written by the project.
final class AnalyzerEndToEndTests: XCTestCase {
    private var h: Harness!
    override func setUpWithError() throws { h = try Harness("analyze") }
    override func tearDown() { h?.tearDown() }

    private func writeRecording(_ name: String, format: ComtradeDataFormat) throws -> String {
        try AnalyzerEndToEndTests.writeRecording(h, name, format: format)
    }

    /// 3 s of a 230 V / 50 Hz system at 10 kS/s, voltages in kV: 4 % 5th harmonic, and from 1.2037 s a 100 ms dip
    /// of L2 to 60 %; currents of 20 A lagging 30°, written in `h`'s directory.
    static func writeRecording(_ h: Harness, _ name: String, format: ComtradeDataFormat) throws -> String {
        let fs = 10_000.0
        let n = 30_000
        let analog: [[Double]] = (0..<6).map { c in
            (0..<n).map { k in
                let t = Double(k) / fs
                let phase = -Double(c % 3) * 2 * .pi / 3
                let w = 2 * Double.pi * 50 * t
                if c < 3 {
                    let factor = c == 1 && t >= 1.2037 && t < 1.3037 ? 0.6 : 1.0
                    return 230 * 2.0.squareRoot() * (factor * sin(w + phase) + 0.04 * sin(5 * (w + phase))) / 1000
                }
                return 20 * 2.0.squareRoot() * sin(w + phase - .pi / 6)
            }
        }
        let ids = ["VA", "VB", "VC", "IA", "IB", "IC"]
        let channels = ids.enumerated().map { i, id in
            ComtradeAnalogChannel(index: i + 1, id: id, phase: ["A", "B", "C"][i % 3], unit: i < 3 ? "kV" : "A")
        }
        let config = ComtradeConfiguration(
            stationName: "Test bay", deviceID: "synx-test", analog: channels, lineFrequency: 50,
            sampleRates: [ComtradeSampleRate(rate: fs, lastSample: n)],
            firstSample: ComtradeTimestamp(secondsSinceEpochLocal: 1_800_000_000),
            format: format, sampleCount: n)
        let path = h.path("\(name).cfg")
        try ComtradeWriter.write(
            ComtradeRecording(
                configuration: config, sampleNumbers: Array(1...n),
                timestamps: Array(repeating: nil, count: n), analog: analog, digital: []),
            cfgPath: path, format: format)
        return path
    }

    func testJSON_reportsTheDip_theHarmonic_andEveryTier() throws {
        let path = try writeRecording("rec", format: .binary32)
        let (status, out, err) = try h.run("synx-analyze", [path, "--format", "json", "--udin", "230"])
        XCTAssertEqual(status, 0, err)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], out)
        XCTAssertEqual(doc["format_version"] as? Int, 1)
        let recording = try XCTUnwrap(doc["recording"] as? [String: Any])
        XCTAssertEqual(recording["sample_rate_hz"] as? Double, 10_000)
        XCTAssertEqual(
            (recording["channels"] as? [[String: Any]])?.map { $0["phase"] as? String },
            ["l1", "l2", "l3", "l1", "l2", "l3"])
        let events = try XCTUnwrap(doc["events"] as? [[String: Any]])
        XCTAssertEqual(events.count, 1, "\(events)")
        let dip = try XCTUnwrap(events.first)
        XCTAssertEqual(dip["kind"] as? String, "dip")
        XCTAssertEqual(dip["worst_phase"] as? String, "l2")
        let residual = (pow(138.0, 2) + pow(9.2, 2)).squareRoot()
        XCTAssertEqual(try XCTUnwrap(dip["magnitude_v"] as? Double), residual, accuracy: 0.46)
        XCTAssertEqual(try XCTUnwrap(dip["duration_s"] as? Double), 0.1, accuracy: 0.02)
        let start = try XCTUnwrap(dip["start"] as? String)
        XCTAssertTrue(start.hasPrefix("2027-01-15T08:00:01."), start)
        XCTAssertEqual(try XCTUnwrap(Double("0" + start.dropFirst(19).dropLast())), 0.2037, accuracy: 0.02, start)
        let basic = try XCTUnwrap(doc["basic"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(basic.count, 13)
        let clean = basic.filter { ($0["quality"] as? [String])?.isEmpty == true }
        XCTAssertGreaterThan(clean.count, 5)
        for w in clean {
            let channels = try XCTUnwrap((w["values"] as? [String: Any])?["channels"] as? [[String: Any]])
            XCTAssertEqual(
                try XCTUnwrap(channels[0]["rms"] as? Double), 230 * (1 + 0.0016).squareRoot(), accuracy: 0.23)
            let h = try XCTUnwrap((channels[0]["harmonics"] as? [String: Any])?["subgroups"] as? [Double])
            XCTAssertEqual(h[5] / h[1] * 100, 4, accuracy: 0.2)
            let p = try XCTUnwrap(
                ((w["values"] as? [String: Any])?["total_power"] as? [String: Any])?["p_w"] as? Double)
            XCTAssertEqual(p, 3 * 230 * 20 * cos(Double.pi / 6), accuracy: 0.005 * 3 * 230 * 20)
            // The same values under the canonical names synxd stores a waveform meter's values by.
            let named = try XCTUnwrap(w["measurements"] as? [String: Double])
            XCTAssertEqual(named["voltage.l1n"], channels[0]["rms"] as? Double)
            XCTAssertEqual(named["current.l3"], channels[5]["rms"] as? Double)
            XCTAssertEqual(named["power.active.total"], p)
            XCTAssertEqual(
                Set(named.keys),
                [
                    "voltage.l1n", "voltage.l2n", "voltage.l3n", "current.l1", "current.l2", "current.l3",
                    "thd.voltage.l1",
                    "thd.voltage.l2", "thd.voltage.l3", "thd.current.l1", "thd.current.l2", "thd.current.l3",
                    "unbalance.voltage.u2", "unbalance.voltage.u0", "unbalance.voltage.nema", "frequency",
                    "power.active.total", "power.reactive.total", "power_factor.total",
                ])
        }
        XCTAssertTrue(basic.contains { ($0["quality"] as? [String])?.contains("flagged") == true })
        let aggregates = try XCTUnwrap(doc["aggregates"] as? [String: [[String: Any]]])
        XCTAssertGreaterThanOrEqual(aggregates["150/180-cycle"]?.count ?? 0, 1)
        XCTAssertNotNil(aggregates["10-min"])
        XCTAssertNotNil(doc["frequency_10s"] as? [[String: Any]])
    }

    /// The `flicker` section (issue 12): 20 s of 230 V / 50 Hz whose L1 fluctuates sinusoidally at 8.8 Hz by
    /// 0.250 % (Table 1's Pinst,max = 1 row) and L3 by twice that (Pinst quadratic: 4), L2 steady. One Pst and one Plt,
    /// both incomplete; the 120 V lamp weighs the same fluctuation by (0.250 / 0.321)²; `--flicker off` has none.
    func testFlicker_pinstMaxFollowsTable1_perPhase_andTheLampOption() throws {
        let fs = 6_400.0
        let n = Int(20 * fs)
        let depth = [0.0025, 0, 0.005]
        let analog: [[Double]] = (0..<3).map { c in
            (0..<n).map { k in
                let t = Double(k) / fs
                let carrier = sin(2 * .pi * 50 * t - Double(c) * 2 * .pi / 3)
                return 230 * 2.0.squareRoot() * carrier * (1 + depth[c] / 2 * sin(2 * .pi * 8.8 * t))
            }
        }
        let config = ComtradeConfiguration(
            stationName: "Flicker bay", deviceID: "synx-test",
            analog: (0..<3).map { ComtradeAnalogChannel(index: $0 + 1, id: "V\($0 + 1)", phase: ["A", "B", "C"][$0], unit: "V") },
            lineFrequency: 50, sampleRates: [ComtradeSampleRate(rate: fs, lastSample: n)],
            firstSample: ComtradeTimestamp(secondsSinceEpochLocal: 1_800_000_000), format: .binary32, sampleCount: n)
        let path = h.path("flicker.cfg")
        try ComtradeWriter.write(
            ComtradeRecording(
                configuration: config, sampleNumbers: Array(1...n), timestamps: Array(repeating: nil, count: n),
                analog: analog, digital: []),
            cfgPath: path, format: .binary32)
        func flicker(_ options: [String]) throws -> (lamp: String?, pst: [[String: Any]], plt: [[String: Any]]) {
            let (status, out, err) = try h.run("synx-analyze", [path, "--format", "json"] + options)
            XCTAssertEqual(status, 0, err)
            let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
            let section = try XCTUnwrap(doc["flicker"] as? [String: [[String: Any]]], out)
            let settings = try XCTUnwrap(doc["settings"] as? [String: Any])
            XCTAssertEqual(settings["flicker_lamp"] == nil, options.contains("off"), "the lamp, absent with flicker off")
            return (settings["flicker_lamp"] as? String, section["pst"] ?? [], section["plt"] ?? [])
        }
        let europe = try flicker([])
        XCTAssertEqual(europe.lamp, "230v")
        XCTAssertEqual(europe.pst.count, 1)
        XCTAssertEqual(europe.plt.count, 1)
        let pst = try XCTUnwrap(europe.pst.first)
        XCTAssertEqual(pst["quality"] as? [String], ["incomplete"])
        XCTAssertEqual(try XCTUnwrap(pst["count"] as? Int), 1500, accuracy: 5, "15 s of Pinst after 5 s settling")
        let peak = try XCTUnwrap(pst["pinst_max"] as? [String: Double])
        XCTAssertEqual(try XCTUnwrap(peak["l1"]), 1, accuracy: 0.08, "Table 1: 8.8 Hz, 0.250 %")
        XCTAssertEqual(try XCTUnwrap(peak["l3"]), 4, accuracy: 0.32, "twice the fluctuation, four times Pinst")
        XCTAssertLessThan(try XCTUnwrap(peak["l2"]), 0.01)
        let values = try XCTUnwrap(pst["value"] as? [String: Double])
        XCTAssertGreaterThan(try XCTUnwrap(values["l3"]), try XCTUnwrap(values["l1"]))
        XCTAssertEqual(europe.plt.first?["quality"] as? [String], ["incomplete"])
        let america = try flicker(["--flicker", "120v"])
        XCTAssertEqual(america.lamp, "120v")
        let peak120 = try XCTUnwrap(america.pst.first?["pinst_max"] as? [String: Double])
        XCTAssertEqual(try XCTUnwrap(peak120["l1"]), pow(0.250 / 0.321, 2), accuracy: 0.08 * pow(0.250 / 0.321, 2))
        let off = try flicker(["--flicker", "off"])
        XCTAssertNil(off.lamp)
        XCTAssertTrue(off.pst.isEmpty && off.plt.isEmpty)
    }

    func testTable_listsEverySection() throws {
        let path = try writeRecording("rec", format: .ascii)
        let (status, out, err) = try h.run("synx-analyze", [path])
        XCTAssertEqual(status, 0, err)
        for section in [
            "Events (1)", "Flicker (IEC 61000-4-15, 230v lamp)", "10-s power frequency", "150/180-cycle aggregates", "10-min aggregates",
            "2-h aggregates", "10-cycle values", "Harmonic subgroups",
        ] {
            XCTAssertTrue(out.contains(section), "missing \(section) in:\n\(out)")
        }
        XCTAssertTrue(out.contains("dip"))
        XCTAssertTrue(err.isEmpty, "no progress bar when stderr is not a terminal: \(err)")
    }

    func testMalformedRecording_isAPreciseErrorAndExit65() throws {
        let path = try writeRecording("bad", format: .binary)
        var cfg = try String(contentsOfFile: path, encoding: .utf8)
        cfg = cfg.replacingOccurrences(of: "1,VA,A,,kV,", with: "1,VA,A,,kV,x")
        try cfg.write(toFile: path, atomically: true, encoding: .utf8)
        let (status, _, err) = try h.run("synx-analyze", [path])
        XCTAssertEqual(status, 65)
        XCTAssertTrue(err.contains("bad.cfg:3: multiplier a 'x"), err)
    }

    func testNumbersAtTheEndsOfTheRange_areLocatedErrors_exit65_notTraps() throws {
        for (from, to, expected) in [
            ("10000,30000", "10000,9223372036854775807", "bad.cfg:11: sample rate"),
            ("\n50\r\n", "\n1e308\r\n", "bad.cfg:9: line frequency 1e308 Hz is out of range"),
        ] {
            let path = try writeRecording("bad", format: .binary)
            let cfg = try String(contentsOfFile: path, encoding: .utf8)
            XCTAssertTrue(cfg.contains(from), cfg)
            try cfg.replacingOccurrences(of: from, with: to).write(toFile: path, atomically: true, encoding: .utf8)
            let (status, _, err) = try h.run("synx-analyze", [path])
            XCTAssertEqual(status, 65, err)
            XCTAssertTrue(err.contains(expected), err)
        }
    }

    func testTimestampsWithoutRateSections_roundedToTheMicrosecond_giveTheTrueRate_noPhantomGaps_andTheDip() throws {
        // 6 s at 6400 S/s (156.25 µs a sample: the stamps say 156 or 157), FLOAT32, nrates = 0: a 60 % dip of every
        // phase for 110 ms at 3.0 s.
        let fs = 6400.0
        let n = 38_400
        let analog: [[Double]] = (0..<3).map { c in
            (0..<n).map { k in
                let t = Double(k) / fs
                let factor = t >= 3.0 && t < 3.11 ? 0.6 : 1.0
                return 230 * 2.0.squareRoot() * factor * sin(2 * .pi * 50 * t - Double(c) * 2 * .pi / 3)
            }
        }
        let channels = ["VA", "VB", "VC"].enumerated().map { i, id in
            ComtradeAnalogChannel(index: i + 1, id: id, phase: ["A", "B", "C"][i], unit: "V")
        }
        let config = ComtradeConfiguration(
            stationName: "rounded", deviceID: "synx-test", revision: .r2013, analog: channels,
            lineFrequency: 50, sampleRates: [],
            firstSample: ComtradeTimestamp(secondsSinceEpochLocal: 1_800_000_000),
            format: .float32, sampleCount: n)
        let path = h.path("rounded.cfg")
        try ComtradeWriter.write(
            ComtradeRecording(
                configuration: config, sampleNumbers: Array(1...n),
                timestamps: (0..<n).map { (Double($0) * 1e6 / fs).rounded() }, analog: analog,
                digital: []),
            cfgPath: path, format: .float32)
        let (status, out, err) = try h.run("synx-analyze", [path, "--format", "json", "--udin", "230"])
        XCTAssertEqual(status, 0, err)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], out)
        let recording = try XCTUnwrap(doc["recording"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(recording["sample_rate_hz"] as? Double), 6400, accuracy: 0.05)
        let events = try XCTUnwrap(doc["events"] as? [[String: Any]])
        let dip = try XCTUnwrap(events.first { $0["kind"] as? String == "dip" }, "\(events)")
        XCTAssertEqual(try XCTUnwrap(dip["magnitude_v"] as? Double), 138, accuracy: 1.5)
        XCTAssertEqual(try XCTUnwrap(dip["duration_s"] as? Double), 0.11, accuracy: 0.02)
        let issues = try XCTUnwrap(doc["input_issues"] as? [[String: Any]])
        XCTAssertTrue(issues.filter { $0["kind"] as? String == "gap" }.isEmpty, "no phantom gaps: \(issues.prefix(3))")
        let basic = try XCTUnwrap(doc["basic"] as? [[String: Any]])
        XCTAssertFalse(
            basic.contains { (($0["quality"] as? [String]) ?? []).contains("gap") }, "no window flagged for a gap")
    }

    func testUnknownChannel_isAnOptionError() throws {
        let path = try writeRecording("rec", format: .float32)
        let (status, _, err) = try h.run("synx-analyze", [path, "--voltage", "VA,VX,VC"])
        XCTAssertEqual(status, 64)
        XCTAssertTrue(err.contains("no analog channel 'VX'"), err)
    }
}
