import Foundation
import XCTest

@testable import SynxComtrade

/// COMTRADE reading and writing, checked by round trips in every format and by an independent reader.
final class ComtradeTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "synx-comtrade-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// 400 samples of a 50 Hz three-phase voltage and a current at 4 kS/s, two status channels.
    private func sampleRecording() -> ComtradeRecording {
        let n = 400
        let fs = 4_000.0
        let analog: [[Double]] = (0..<4).map { c in
            (0..<n).map { k in
                let t = Double(k) / fs
                return c < 3
                    ? 325.27 * sin(2 * .pi * 50 * t - Double(c) * 2 * .pi / 3)
                    : 14.1 * sin(2 * .pi * 50 * t - 0.5) + 0.3
            }
        }
        let digital: [[Bool]] = [(0..<n).map { $0 >= 200 }, (0..<n).map { $0 % 7 == 0 }]
        let channels = ["UL1", "UL2", "UL3", "IL1"].enumerated().map { i, id in
            ComtradeAnalogChannel(
                index: i + 1, id: id, phase: i < 3 ? "L\(i + 1)" : "L1", unit: i < 3 ? "V" : "A",
                primary: i < 3 ? 20_000 : 400, secondary: i < 3 ? 100 : 1, scaling: .primary)
        }
        let config = ComtradeConfiguration(
            stationName: "Substation 7", deviceID: "synx", analog: channels,
            digital: [ComtradeDigitalChannel(index: 1, id: "CB open"), ComtradeDigitalChannel(index: 2, id: "Trip")],
            lineFrequency: 50, sampleRates: [ComtradeSampleRate(rate: fs, lastSample: n)],
            firstSample: ComtradeTimestamp(secondsSinceEpochLocal: 1_700_000_123.25), format: .binary, sampleCount: n)
        return ComtradeRecording(
            configuration: config, sampleNumbers: Array(1...n), timestamps: Array(repeating: nil, count: n),
            analog: analog, digital: digital)
    }

    /// Largest error the format's quantisation allows for channel values spanning `span`.
    private func step(_ format: ComtradeDataFormat, span: Double) -> Double {
        switch format {
        case .ascii: span / 199_996
        case .binary: span / 65_534
        case .binary32: span / 4_294_967_294
        case .float32: 1e-5 * 400
        }
    }

    func testRoundTrip_inEveryFormat_keepsChannelsScalingTimesAndSamples() throws {
        let original = sampleRecording()
        for format in ComtradeDataFormat.allCases {
            let path = "\(directory!)/rt-\(format.rawValue).cfg"
            try ComtradeWriter.write(original, cfgPath: path, format: format)
            let back = try ComtradeReader.read(cfgPath: path)
            XCTAssertEqual(back.configuration.format, format)
            XCTAssertEqual(back.configuration.analog.map(\.id), ["UL1", "UL2", "UL3", "IL1"])
            XCTAssertEqual(back.configuration.analog.map(\.unit), ["V", "V", "V", "A"])
            XCTAssertEqual(back.configuration.analog[0].toPrimary, 1)
            XCTAssertEqual(back.configuration.startTimeUTC, 1_700_000_123.25, accuracy: 1e-6)
            XCTAssertEqual(back.sampleCount, 400)
            XCTAssertEqual(back.digital, original.digital, "\(format)")
            XCTAssertEqual(back.sampleTimes()[399], 399 / 4_000, accuracy: 1e-9)
            for c in 0..<4 {
                let span = (original.analog[c].max()! - original.analog[c].min()!)
                for k in 0..<400 {
                    XCTAssertEqual(
                        back.analog[c][k], original.analog[c][k], accuracy: step(format, span: span) * 0.51 + 1e-9,
                        "\(format) channel \(c) sample \(k)")
                }
            }
        }
    }

    func testWrittenFiles_readByTheIndependentPythonReader_giveTheSameChannelsScalingAndSamples() throws {
        let python = try peerPython()
        let original = sampleRecording()
        for format in ComtradeDataFormat.allCases {
            let path = "\(directory!)/peer-\(format.rawValue).cfg"
            try ComtradeWriter.write(original, cfgPath: path, format: format)
            let ours = try ComtradeReader.read(cfgPath: path)
            let json = try run(python, [peerScript("comtrade_read.py"), path])
            let theirs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            XCTAssertEqual(theirs["station"] as? String, "Substation 7")
            XCTAssertEqual(theirs["rev_year"] as? String, "2013")
            XCTAssertEqual(theirs["ft"] as? String, format.rawValue)
            XCTAssertEqual(theirs["analog_ids"] as? [String], ["UL1", "UL2", "UL3", "IL1"])
            XCTAssertEqual(theirs["units"] as? [String], ["V", "V", "V", "A"])
            XCTAssertEqual(theirs["digital_ids"] as? [String], ["CB open", "Trip"])
            XCTAssertEqual(theirs["frequency"] as? Double, 50)
            XCTAssertEqual(theirs["total_samples"] as? Int, 400)
            XCTAssertEqual(theirs["start"] as? String, "2023-11-14T22:15:23.250000")
            let a = try XCTUnwrap(theirs["a"] as? [Double])
            let b = try XCTUnwrap(theirs["b"] as? [Double])
            // The same scaling (to the last few bits: JSON number parsing is not always correctly rounded).
            for (x, y) in zip(a, ours.configuration.analog.map(\.a)) { XCTAssertEqual(x, y, accuracy: 1e-12 * abs(y)) }
            for (x, y) in zip(b, ours.configuration.analog.map(\.b)) {
                XCTAssertEqual(x, y, accuracy: 1e-12 * max(1, abs(y)))
            }
            XCTAssertEqual(a.count, 4)
            let times = try XCTUnwrap(theirs["time"] as? [Double])
            for (t, u) in zip(times, ours.sampleTimes()) { XCTAssertEqual(t, u, accuracy: 1e-6) }
            let analog = try XCTUnwrap(theirs["analog"] as? [[Double]])
            for c in 0..<4 {
                for k in 0..<400 {
                    XCTAssertEqual(
                        analog[c][k], ours.analog[c][k], accuracy: 1e-6 * max(1, abs(ours.analog[c][k])),
                        "\(format) channel \(c) sample \(k)")
                }
            }
            let digital = try XCTUnwrap(theirs["digital"] as? [[Int]])
            XCTAssertEqual(digital.map { $0.map { $0 == 1 } }, original.digital)
        }
    }

    func testSecondaryValues_areConvertedToPrimary_andTimeCodeGivesUTC() throws {
        let cfg = """
            Feeder 3,PQ-1,2013
            1,1A,0D
            1,UL1,A,,kV,0.01,0,0,-32767,32767,20,0.1,S
            50
            2
            1000,10
            2000,20
            01/02/2024,10:30:00.000000
            01/02/2024,10:30:00.005000
            ASCII
            1
            +2h30,+2h30
            0,0

            """
        let c = try ComtradeReader.parseConfiguration(cfg, file: "f.cfg")
        XCTAssertEqual(c.analog[0].toPrimary, 200)
        XCTAssertEqual(c.startTimeUTC, 1_706_783_400 - 9_000, "10:30 at +2h30 is 08:00 UTC")
        let dat = (1...20).map { "\($0),,\($0 * 10)" }.joined(separator: "\n")
        let r = try ComtradeReader.parseData(Data(dat.utf8), configuration: c, file: "f.dat")
        XCTAssertEqual(r.primaryValues(0)[2], 30 * 0.01 * 200, accuracy: 1e-9)
        let t = r.sampleTimes()
        XCTAssertEqual(t[9], 9.0 / 1000, accuracy: 1e-12)
        XCTAssertEqual(t[10], 9.0 / 1000 + 1.0 / 2000, accuracy: 1e-12, "the second section runs at 2 kS/s")
    }

    func testMalformedConfiguration_isReportedWithFileAndLine() {
        let good =
            "S,D,1999\n1,1A,0D\n1,U,,,V,1,0,0,-1,1,1,1,P\n50\n1\n1000,2\n01/01/2024,00:00:00.0\n01/01/2024,00:00:00.0\nASCII\n1\n"
        XCTAssertNoThrow(try ComtradeReader.parseConfiguration(good, file: "ok.cfg"))
        let cases: [(String, String, String)] = [
            (good.replacingOccurrences(of: "1999", with: "2042"), "x.cfg:1:", "rev_year"),
            (good.replacingOccurrences(of: "1,1A,0D", with: "2,1A,0D"), "x.cfg:2:", "total 2"),
            (
                good.replacingOccurrences(of: "1,U,,,V,1,0,0,-1,1,1,1,P", with: "1,U,,,V,abc,0,0,-1,1,1,1,P"),
                "x.cfg:3:", "multiplier a 'abc'"
            ),
            (good.replacingOccurrences(of: ",1,1,P", with: ",1,1,Q"), "x.cfg:3:", "PS 'Q'"),
            (good.replacingOccurrences(of: "1000,2", with: "1000"), "x.cfg:6:", "samp,endsamp"),
            (
                good.replacingOccurrences(of: "01/01/2024,00:00:00.0\nASCII", with: "32/01/2024,00:00:00.0\nASCII"),
                "x.cfg:8:", "trigger time"
            ),
            (good.replacingOccurrences(of: "ASCII", with: "FLOAT32"), "x.cfg:9:", "needs rev_year 2013"),
            ("S,D,1999\n1,1A,0D\n", "x.cfg:3:", "file ends where analog channel 1"),
            // Numbers at the ends of the range used to trap the reader (or what came after it).
            (
                good.replacingOccurrences(of: "1000,2", with: "1000,9223372036854775807"), "x.cfg:6:",
                "beyond what synx reads"
            ),
            (good.replacingOccurrences(of: "1000,2", with: "1e300,2"), "x.cfg:6:", "beyond what synx reads"),
            (
                good.replacingOccurrences(of: "\n50\n", with: "\n1e308\n"), "x.cfg:4:",
                "line frequency 1e308 Hz is out of range"
            ),
            (
                good.replacingOccurrences(
                    of: "01/01/2024,00:00:00.0\n01/01/2024", with: "01/01/9223372036854775807,00:00:00.0\n01/01/2024"),
                "x.cfg:7:", "first sample's time"
            ),
            (
                good.replacingOccurrences(of: "01/01/2024,00:00:00.0\nASCII", with: "01/01/99999,00:00:00.0\nASCII"),
                "x.cfg:8:", "trigger time"
            ),
        ]
        for (text, location, message) in cases {
            XCTAssertThrowsError(try ComtradeReader.parseConfiguration(text, file: "x.cfg")) { error in
                XCTAssertTrue("\(error)".hasPrefix(location), "\(error)")
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
    }

    func testMalformedData_isReportedWithLineOrByteOffset() throws {
        let original = sampleRecording()
        let (cfgText, _) = ComtradeWriter.encode(original, format: .ascii)
        let ascii = try ComtradeReader.parseConfiguration(cfgText, file: "r.cfg")
        let bad = "1,0,1,2,3,4,0,0\n2,250,1,2,x,4,0,1\n"
        XCTAssertThrowsError(try ComtradeReader.parseData(Data(bad.utf8), configuration: ascii, file: "r.dat")) {
            XCTAssertEqual("\($0)", "r.dat:2: analog channel 3 value 'x' is not a number")
        }
        XCTAssertThrowsError(try ComtradeReader.parseData(Data("1,0,1,2\n".utf8), configuration: ascii, file: "r.dat"))
        {
            XCTAssertTrue("\($0)".hasPrefix("r.dat:1: 4 fields, expected 8"), "\($0)")
        }
        var binary = ascii
        binary.format = .binary
        let record = 8 + 4 * 2 + 2
        XCTAssertThrowsError(
            try ComtradeReader.parseData(Data(count: record * 3 + 5), configuration: binary, file: "r.dat")
        ) {
            XCTAssertTrue("\($0)".hasPrefix("r.dat: byte \(record * 3): truncated record"), "\($0)")
        }
        XCTAssertThrowsError(
            try ComtradeReader.parseData(Data(count: record * 3), configuration: binary, file: "r.dat")
        ) {
            XCTAssertTrue("\($0)".contains("holds 3 samples but the configuration declares 400"), "\($0)")
        }
    }

    func testMissingValues_becomeNaN() throws {
        var r = sampleRecording()
        r.analog[1][10] = .nan
        for format in ComtradeDataFormat.allCases {
            let path = "\(directory!)/nan-\(format.rawValue).cfg"
            try ComtradeWriter.write(r, cfgPath: path, format: format)
            let back = try ComtradeReader.read(cfgPath: path)
            XCTAssertTrue(back.analog[1][10].isNaN, "\(format)")
            XCTAssertFalse(back.analog[1][11].isNaN)
        }
    }

    // MARK: - Peer helpers

    private var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    private func peerScript(_ name: String) -> String { packageRoot.appendingPathComponent("Tests/peers/\(name)").path }

    /// The venv interpreter that scripts/test sets up with the peers' PyPI packages.
    private func peerPython() throws -> String {
        let path =
            ProcessInfo.processInfo.environment["SYNX_PYTHON"]
            ?? packageRoot.appendingPathComponent(".venv/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            XCTFail("no Python for the peer tests at \(path): run scripts/test (it creates .venv with the peers)")
            throw CocoaError(.fileNoSuchFile)
        }
        return path
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, errors)
        return String(decoding: data, as: UTF8.self)
    }
}
