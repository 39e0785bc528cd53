import Foundation
import Glibc
import SynxControl
import XCTest

/// The exact text synxctl and synx-analyze print, against golden files in `Tests/EndToEndTests/Golden`: the real
/// binaries, fed fixed inputs — synxctl a stand-in daemon on a Unix socket that answers every request with the
/// response in `NAME.response.json` (as synxd sent it), synx-analyze a recording the test writes. A changed
/// rendering fails here with both texts; `SYNX_UPDATE_GOLDEN=1 swift test --filter GoldenOutputTests` rewrites the
/// golden files, whose diff is then reviewed like code.
final class GoldenOutputTests: XCTestCase {
    private var h: Harness!
    override func setUpWithError() throws { h = try Harness("golden") }
    override func tearDown() { h?.tearDown() }

    static let directory = Harness.repository.appendingPathComponent("Tests/EndToEndTests/Golden")

    /// Compares `text` with golden file `name` (or writes it, with SYNX_UPDATE_GOLDEN=1).
    private func assertGolden(_ text: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws
    {
        let url = GoldenOutputTests.directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["SYNX_UPDATE_GOLDEN"] == "1" {
            try text.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        XCTAssertEqual(text, expected, "\(name) differs; expected:\n\(expected)\ngot:\n\(text)", file: file, line: line)
    }

    /// synxctl `arguments` against a daemon that answers with `NAME.response.json`; its stdout against
    /// `NAME.FORMAT.txt` for each format.
    private func check(_ name: String, _ arguments: [String], formats: [String] = ["table", "csv"]) throws {
        let response = try Data(contentsOf: GoldenOutputTests.directory.appendingPathComponent("\(name).response.json"))
        let daemon = try ScriptedDaemon(path: h.path("\(name).sock"), response: response)
        defer { daemon.stop() }
        for format in formats {
            let (code, out, err) = try h.run(
                "synxctl", arguments + ["--socket", h.path("\(name).sock"), "--format", format])
            XCTAssertEqual(code, 0, err)
            try assertGolden(out, "\(name).\(format).txt")
        }
    }

    func testStatus() throws { try check("status", ["status"]) }
    func testMeters() throws { try check("meters", ["meters"]) }
    func testBuses() throws { try check("buses", ["buses"]) }
    func testLive() throws { try check("live", ["live", "incomer"]) }
    func testQuery() throws {
        try check("query", ["query", "incomer", "voltage.l1n", "--from", "2026-11-29T00:00:00Z"])
    }
    func testQueryOfThe3sTier() throws {
        try check("query-3s", ["query", "incomer", "voltage.l1n", "--from", "2026-11-29T00:00:00Z", "--tier", "3s"])
    }
    func testEvents() throws { try check("events", ["events"]) }
    func testAlerts() throws { try check("alerts", ["alerts"]) }
    func testVerify() throws { try check("verify", ["verify"]) }
    func testReload() throws { try check("reload", ["reload"]) }
    func testRead() throws { try check("read", ["read", "lan", "1", "0", "--input", "--count", "4", "--type", "float32"]) }
    func testReadFailure() throws {
        let response = try Data(contentsOf: GoldenOutputTests.directory.appendingPathComponent("read-failed.response.json"))
        let daemon = try ScriptedDaemon(path: h.path("read-failed.sock"), response: response)
        defer { daemon.stop() }
        let (code, out, _) = try h.run("synxctl", ["read", "lan", "1", "9000", "--socket", h.path("read-failed.sock")])
        XCTAssertEqual(code, 3, "a read the unit refused")
        try assertGolden(out, "read-failed.table.txt")
    }
    func testScan() throws { try check("scan", ["scan", "rs485", "--units", "1-6", "--all"]) }
    func testProfileCheck() throws {
        let profile = try h.write("candidate.toml", "[profile]\nname = \"candidate\"\n")
        try check("profile-check", ["profile", "check", "incomer", profile])
    }

    /// synx-analyze's tables of a 3-s recording with a dip (every section), the recording's path replaced by `REC`.
    func testAnalyzeTables() throws {
        let path = try AnalyzerEndToEndTests.writeRecording(h, "rec", format: .ascii)
        let (code, out, err) = try h.run("synx-analyze", [path])
        XCTAssertEqual(code, 0, err)
        try assertGolden(out.replacingOccurrences(of: path, with: "REC"), "synx-analyze.table.txt")
    }

    /// synx-report's EN 50160 and IEC 61000-2-2 tables and its events report as JSON, of the synthetic week of
    /// `ReportEndToEndTests`.
    func testReportTablesAndEventsJSON() throws {
        let store = h.path("week.sqlite")
        try ReportEndToEndTests.writeWeek(store)
        let period = ["--store", store, "--week", "2026-W47", "--time-zone", "UTC"]
        let (code, table, err) = try h.run("synx-report", ["en50160", "pq"] + period)
        XCTAssertEqual(code, 3, err)
        try assertGolden(table, "synx-report-en50160.table.txt")
        let (iecCode, iec, iecErr) = try h.run("synx-report", ["iec61000-2-2", "pq", "--motor-bus"] + period)
        XCTAssertEqual(iecCode, 3, iecErr)
        try assertGolden(iec, "synx-report-iec61000-2-2.table.txt")
        let (eventsCode, json, eventsErr) = try h.run("synx-report", ["events", "pq", "--format", "json"] + period)
        XCTAssertEqual(eventsCode, 0, eventsErr)
        try assertGolden(json, "synx-report-events.json")
    }
}

/// A stand-in for synxd on a Unix socket: reads each connection's request line and answers it with one fixed
/// response line, then closes the connection. Stopped by shutting the listening socket down.
final class ScriptedDaemon: @unchecked Sendable {
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)

    init(path: String, response: Data) throws {
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = try UnixAddress(path: path)
        guard address.withSockaddr({ bind(listener, $0, $1) }) == 0, listen(listener, 8) == 0 else {
            throw HarnessError("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        self.listener = listener
        let line = response.last == 0x0A ? response : response + Data([0x0A])
        Thread { [done] in
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { break }  // shut down
                while case let n = SocketIO.receive(client, into: &chunk), n > 0, !chunk[0..<n].contains(0x0A) {}
                _ = SocketIO.sendAll(client, line)
                close(client)
            }
            done.signal()
        }.start()
    }

    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        done.wait()
        close(listener)
    }
}

/// The manual pages against the binaries: every option each command's `--help` lists is documented in its page,
/// and every binary prints the one version.
final class ManualPageTests: XCTestCase {
    private var h: Harness!
    override func setUpWithError() throws { h = try Harness("manual") }
    override func tearDown() { h?.tearDown() }

    /// The long options in a `--help` text.
    private func options(_ help: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: #"(?<![\w-])--[a-z][a-z0-9-]*"#)
        return Set(
            pattern.matches(in: help, range: NSRange(help.startIndex..., in: help)).map {
                String(help[Range($0.range, in: help)!])
            }
        )
        .subtracting(["--help", "--version"])
    }

    /// `--help` of `binary` (and each of `subcommands`), whose options must all be in `page`, where roff writes a
    /// dash as `\-`.
    private func check(_ binary: String, page: String, subcommands: [[String]] = [[]]) throws {
        let text = try String(
            contentsOf: Harness.repository.appendingPathComponent("docs/man/\(page)"), encoding: .utf8
        )
        .replacingOccurrences(of: "\\-", with: "-").replacingOccurrences(of: "\\fB", with: "").replacingOccurrences(
            of: "\\fR", with: "")
        for sub in subcommands {
            let (code, out, err) = try h.run(binary, sub + ["--help"])
            XCTAssertEqual(code, 0, err)
            for option in options(out).sorted() {
                XCTAssertTrue(
                    text.contains(option),
                    "\(binary) \(sub.joined(separator: " ")): \(option) is not in docs/man/\(page)")
            }
        }
    }

    func testSynxctlPage_documentsEveryOptionOfEverySubcommand() throws {
        try check(
            "synxctl", page: "synxctl.1",
            subcommands: [
                ["status"], ["meters"], ["buses"], ["live"], ["watch"], ["query"], ["events"],
                ["export"], ["alerts"], ["alert", "test"], ["reload"], ["verify"], ["report"], ["read"], ["scan"],
                ["profile", "check"],
            ])
    }

    func testSynxdPage_documentsEveryOption() throws { try check("synxd", page: "synxd.8") }
    func testSynxAnalyzePage_documentsEveryOption() throws { try check("synx-analyze", page: "synx-analyze.1") }
    func testSynxReportPage_documentsEveryOption() throws { try check("synx-report", page: "synx-report.1") }

    func testEveryBinary_printsTheSameVersion() throws {
        var versions: Set<String> = []
        for binary in ["synxd", "synxctl", "synx-sim", "synx-analyze", "synx-report"] {
            let (code, out, err) = try h.run(binary, ["--version"])
            XCTAssertEqual(code, 0, err)
            versions.insert(out.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        XCTAssertEqual(versions.count, 1, "\(versions)")
        XCTAssertFalse(versions.first?.isEmpty ?? true)
    }
}
