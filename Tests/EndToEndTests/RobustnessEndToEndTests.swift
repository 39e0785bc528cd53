import Foundation
import SynxControl
import SynxStore
import XCTest

/// Bad configuration, a kill -9 during writes, and malformed control requests.
final class RobustnessEndToEndTests: XCTestCase {
    var h: Harness!

    override func setUpWithError() throws { h = try Harness(String(name.filter(\.isLetter).suffix(24))) }
    override func tearDown() { h?.tearDown() }

    private func checkConfig(_ text: String) throws -> (Int32, String) {
        let file = try h.write("bad.toml", text)
        let (code, _, err) = try h.run("synxd", ["--config", file, "--check-config"])
        return (code, err.replacingOccurrences(of: h.path(""), with: ""))
    }

    private let base = """
        [daemon]
        profile_directories = []
        [[bus]]
        name = "lan"
        type = "tcp"
        host = "127.0.0.1"
        [[meter]]
        name = "a"
        bus = "lan"
        unit = 1
        profile = "synx-sim"
        """

    func testBadConfigs_exitWithEX_CONFIG_andSayFileLineAndWhat() throws {
        let cases: [(String, String)] = [
            (
                base.replacingOccurrences(of: "bus = \"lan\"", with: "bus = \"lab\""),
                "bad.toml:9: meter[1].bus: no bus named \"lab\""
            ),
            (
                base + "\n[[meter]]\nname = \"a\"\nbus = \"lan\"\nunit = 2\nprofile = \"synx-sim\"",
                "bad.toml:13: meter[2].name: duplicate meter name \"a\""
            ),
            (
                base.replacingOccurrences(
                    of: "type = \"tcp\"\nhost = \"127.0.0.1\"",
                    with: "type = \"rtu\"\ndevice = \"/dev/ttyS0\"\nbaud = 9601"),
                "bad.toml:7: bus[1].baud: 9601 is not a standard baud rate"
            ),
            (
                base.replacingOccurrences(of: "profile = \"synx-sim\"", with: "profile = \"sdm120\""),
                "bad.toml:11: meter[1].profile: unknown profile \"sdm120\""
            ),
            (base.replacingOccurrences(of: "unit = 1", with: "unit = [1"), "bad.toml:11: malformed TOML"),
            // Table headers that start with a dot used to abort synxd (an assertion inside toml++, the library
            // synx used before its own parser).
            (base + "\n[.", "bad.toml:12: malformed TOML: expected a key, found '.'"),
            (base + "\n[.a]\n", "bad.toml:12: malformed TOML: expected a key, found '.'"),
            (base + "\n[[.", "bad.toml:12: malformed TOML: expected a key, found '.'"),
        ]
        for (text, expected) in cases {
            let (code, err) = try checkConfig(text)
            XCTAssertEqual(code, 78, err)
            XCTAssertTrue(err.contains(expected), "expected «\(expected)» in «\(err)»")
        }
        let good = try checkConfig(base)
        XCTAssertEqual(good.0, 0, good.1)
    }

    func testReload_ofAFileThatUsedToAbortTheParser_isRejected_andTheDaemonGoesOn() throws {
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\n")
        let config = h.daemonSection + h.tcpBus("lan", port: port) + h.meter("m1", bus: "lan", unit: 1)
        let daemon = try h.startDaemon(config: config)
        _ = try h.write("synxd.toml", config + "\n[[.")
        let (code, _, err) = try h.synxctl(["reload"])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("malformed TOML: expected a key, found '.'"), err)
        XCTAssertTrue(daemon.isRunning)
        XCTAssertEqual(try h.request(Request(command: .status)).status, .ok)
        // A profile file with the same defect is an error with its file and line, at reload as at start.
        try FileManager.default.createDirectory(atPath: h.path("profiles"), withIntermediateDirectories: true)
        _ = try h.write("profiles/bad.toml", "[profile]\nname = \"bad\"\n[.register]\n")
        _ = try h.write("synxd.toml", config)
        let (profileCode, _, profileErr) = try h.synxctl(["reload"])
        XCTAssertEqual(profileCode, 1)
        XCTAssertTrue(profileErr.contains("profiles/bad.toml:3: malformed TOML: expected a key, found '.'"), profileErr)
        XCTAssertTrue(daemon.isRunning)
    }

    func testShippedConfigurations_areValid() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let (code, out, err) = try h.run(
            "synxd", ["--config", repo.appendingPathComponent("etc/synxd.toml").path, "--check-config"])
        XCTAssertEqual(code, 0, err)
        XCTAssertTrue(out.contains("ok (2 buses, 2 meters)"), out)
        let demo = try String(contentsOf: repo.appendingPathComponent("etc/demo.toml.in"), encoding: .utf8)
            .replacingOccurrences(of: "@RUN@", with: h.path("run")).replacingOccurrences(of: "@PORT@", with: "1502")
        let (demoCode, _, demoErr) = try h.run("synxd", ["--config", try h.write("demo.toml", demo), "--check-config"])
        XCTAssertEqual(demoCode, 0, demoErr)
    }

    func testBadUserProfile_isRejectedWithItsFileAndLine() throws {
        try FileManager.default.createDirectory(atPath: h.path("profiles"), withIntermediateDirectories: true)
        _ = try h.write(
            "profiles/acme.toml",
            "[profile]\nname = \"acme\"\n[[register]]\nmeasurement = \"voltage.l1n\"\nfunction = 4\naddress = 0\ntype = \"float24\"\n"
        )
        let file = try h.write(
            "synxd.toml",
            base.replacingOccurrences(
                of: "profile_directories = []", with: "profile_directories = [\"\(h.path("profiles"))\"]"))
        let (code, _, err) = try h.run("synxd", ["--config", file, "--check-config"])
        XCTAssertEqual(code, 78)
        XCTAssertTrue(err.contains("profiles/acme.toml:7: register[1].type: unknown register type \"float24\""), err)
    }

    func testKill9WhileWriting_keepsEveryCommittedRow_andTheStoreIntact() throws {
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\n[[unit]]\nid = 2\n[[unit]]\nid = 3\n")
        let config =
            h.daemonSection + h.tcpBus("lan", port: port)
            + (1...3).map { h.meter("m\($0)", bus: "lan", unit: $0, extra: "poll_interval_ms = 200\n") }.joined()
        let daemon = try h.startDaemon(config: config)
        h.waitUntil("500 rows committed") { try h.status().store.committedRows >= 500 }
        let committed = try h.status().store.committedRows
        kill(daemon.processIdentifier, SIGKILL)
        daemon.waitUntilExit()

        let db = h.path("state/synx.sqlite")
        XCTAssertEqual(try h.sqlite(db, "PRAGMA integrity_check"), "ok")
        XCTAssertGreaterThanOrEqual(try StoreReader(path: db).storedPointCount(), committed)

        // It starts again on the same store and goes on writing.
        let before = try StoreReader(path: db).storedPointCount()
        try h.startDaemon(config: config)
        h.waitUntil("new rows after restart") { try StoreReader(path: db).storedPointCount() > before }
    }

    func testControlSocket_validatesSizeFramingVersionAndCommand() throws {
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\n")
        try h.startDaemon(config: h.daemonSection + h.tcpBus("lan", port: port) + h.meter("m1", bus: "lan", unit: 1))
        var st = stat()
        XCTAssertEqual(stat(h.socketPath, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o660, "socket must not be world-writable")

        XCTAssertEqual(try raw("this is not json\n").status, .invalidRequest)
        XCTAssertEqual(try raw("{\"version\":99,\"command\":\"status\"}\n").status, .badVersion)
        XCTAssertEqual(try raw("{\"version\":1,\"command\":\"reboot\"}\n").status, .unknownCommand)
        XCTAssertEqual(try raw(String(repeating: "x", count: 70_000)).status, .tooLarge)
        // A closed-set field with a value outside its set is named with the values it takes.
        let spike = try raw(#"{"version":2,"command":"events","kind":"spike"}"# + "\n")
        XCTAssertEqual(spike.status, .invalidRequest)
        XCTAssertEqual(spike.message, "\"kind\" must be one of: dip, swell, interruption, rvc, threshold")
        let tier = try raw(
            #"{"version":2,"command":"query","meter":"m1","measurement":"voltage.l1n","tier":"1h"}"# + "\n")
        XCTAssertEqual(tier.message, "\"tier\" must be one of: 3s, 10min, 2h")
        XCTAssertEqual(try h.request(Request(command: .live, meter: "nope")).status, .noSuchMeter)
        XCTAssertEqual(
            try h.request(Request(command: .query, meter: "m1", measurement: "volts")).status, .noSuchMeasurement)
        // Numbers at the ends of Int64 are refused before anything is computed with them (they used to trap).
        for line in [
            #"{"version":1,"command":"events","from":9223372036854775807}"#,
            #"{"version":1,"command":"events","from":-9223372036854775808}"#,
            #"{"version":1,"command":"query","meter":"m1","measurement":"voltage.l1n","to":-9223372036854775808}"#,
            #"{"version":1,"command":"query","meter":"m1","measurement":"voltage.l1n","from":9223372036854775807}"#,
            #"{"version":1,"command":"exportEvent","meter":"m1","event":9223372036854775807}"#,
            #"{"version":1,"command":"query","meter":"m1","measurement":"voltage.l1n","limit":-5}"#,
            #"{"version":2,"command":"report","meter":"m1","report":"en50160","from":9223372036854775807}"#,
            #"{"version":2,"command":"report","meter":"m1","report":"iec61000-2-2","to":-9223372036854775808}"#,
            #"{"version":2,"command":"report","meter":"m1","report":"events","from":-2,"to":9223372036854775807}"#,
        ] {
            let r = try raw(line + "\n")
            XCTAssertEqual(r.status, .invalidRequest, line)
        }
        for arguments in [
            ["events", "--since", "9999999999999999"], ["query", "m1", "voltage.l1n", "--from", "999999999999999d"],
            ["query", "m1", "voltage.l1n", "--to=-9223372036854775808"],
        ] {
            let (code, _, err) = try h.synxctl(arguments)
            XCTAssertEqual(code, 64, "\(arguments): \(err)")
            XCTAssertTrue(err.contains("is not between 1970 and 9999"), err)
        }
        // And after all that it still answers.
        XCTAssertEqual(try h.request(Request(command: .status)).status, .ok)

        let (code, out, err) = try h.synxctl(["live", "nope"])
        XCTAssertEqual(code, 1)
        XCTAssertEqual(out, "")
        XCTAssertEqual(err, "synxctl: noSuchMeter: no meter named \"nope\"\n")
        let (down, _, downErr) = try h.run("synxctl", ["status", "--socket", h.path("absent.sock")])
        XCTAssertEqual(down, 69)
        XCTAssertTrue(downErr.contains("is synxd running?"), downErr)
    }

    func testBusyDaemon_isReportedAsBusy_notUnreachable() throws {
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\n")
        try h.startDaemon(config: h.daemonSection + h.tcpBus("lan", port: port) + h.meter("m1", bus: "lan", unit: 1))
        // Clients that connect and say nothing take every slot.
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        let connectIdle = {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = try UnixAddress(path: self.h.socketPath)
            XCTAssertEqual(addr.withSockaddr { connect(fd, $0, $1) }, 0)
            idle.append(fd)
        }
        for _ in 0..<40 { try connectIdle() }
        h.waitUntil("the slots taken") { h.output("synxd.err").contains("control client refused: too many clients") }
        // A slot the harness's own earlier connection held is freed once synxd has seen it close; one more idle
        // client takes it, so every attempt below finds the slots full.
        var last = (code: Int32(0), err: "")
        h.waitUntil("synxctl status refused as busy") {
            try connectIdle()
            let (code, _, err) = try h.synxctl(["status"])
            last = (code, err)
            return code == 1
        }
        XCTAssertEqual(last.code, 1, last.err)
        XCTAssertTrue(last.err.contains("busy"), last.err)
    }

    func testControlUnderAbuse_slowAndNonReadingClientsAreDropped_memoryStaysBounded_rootAlwaysGetsStatus() throws {
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\n")
        let config = h.daemonSection + h.tcpBus("lan", port: port) + h.meter("m1", bus: "lan", unit: 1)
        // 30 000 samples of one series in the last three hours, written into the store before synxd starts.
        let db = h.path("state/synx.sqlite")
        try FileManager.default.createDirectory(atPath: h.path("state"), withIntermediateDirectories: true)
        let start = Int64(Date().timeIntervalSince1970 * 1000) - 3 * 3_600_000
        try SampleStore(path: db).insert(
            (0..<30_000).map {
                SampleRow(
                    meter: "m1", measurement: "voltage.l1n", unit: "V", time: start + Int64($0) * 300,
                    value: Double(230 + $0 % 7), quality: .good)
            })
        let daemon = try h.startDaemon(config: config)

        // Pages: synxctl gets all 30 000 through responses of at most 20 000.
        let (code, out, err) = try h.synxctl([
            "query", "m1", "voltage.l1n", "--from", "4h", "--limit", "40000", "--format", "csv",
        ])
        XCTAssertEqual(code, 0, err)
        XCTAssertGreaterThanOrEqual(out.split(separator: "\n").count - 1, 30_000)

        let before = h.resources(of: daemon).rssKiB
        // As an unprivileged user: 20 clients that ask for 20 000 samples and never read, 40 that send a byte a
        // second and never finish their request.
        let big =
            "{\"version\":1,\"command\":\"query\",\"meter\":\"m1\",\"measurement\":\"voltage.l1n\",\"from\":\(start),\"limit\":20000}"
        let abuser = try h.copyForOtherUsers(Harness.repository.appendingPathComponent("Tests/peers/control_abuser.py"))
        try h.start(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=0", "--clear-groups", "/usr/bin/python3", abuser, h.socketPath,
                "--slow", "40", "--nonreaders", "20", "--request", big, "--seconds", "14",
            ], name: "abuser")
        h.waitUntil("the abusers connected") { h.output("abuser.out").contains("ready") }
        var latencies: [Double] = []
        let until = Date().addingTimeInterval(13)
        while Date() < until {
            let t0 = Date()
            XCTAssertEqual(
                try ControlClient(socketPath: h.socketPath, timeoutSeconds: 5).send(Request(command: .status)).status,
                .ok)
            latencies.append(Date().timeIntervalSince(t0) * 1000)
            h.waitUntil("the next round", timeout: 1) { Date().timeIntervalSince(t0) >= 0.1 }
        }
        latencies.sort()
        let p99 = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))]
        print("status for root under abuse: \(latencies.count) requests, p99 \(p99) ms, max \(latencies.last ?? 0) ms")
        XCTAssertLessThanOrEqual(p99, 50, "status p99 for root (ms)")
        let after = h.resources(of: daemon).rssKiB
        print("synxd RSS with 60 abusive clients: \(before) → \(after) KiB")
        XCTAssertLessThan(
            after - before, 120 * 1024, "synxd's memory with 60 abusive clients: \(before) → \(after) KiB")
        XCTAssertTrue(h.output("synxd.err").contains("control client dropped: no complete request within 5 s"))
        XCTAssertTrue(
            h.output("synxd.err").contains("control client dropped: it did not take its response within 10 s"))
        // Everyone else gets in again once the abusers are gone.
        let asNobody = [
            "--reuid=65534", "--regid=0", "--clear-groups",
            try h.copyForOtherUsers(Harness.binaries.appendingPathComponent("synxctl")),
        ]
        let (nobodyCode, _, nobodyErr) = try h.run("/usr/bin/setpriv", asNobody + ["status", "--socket", h.socketPath])
        XCTAssertEqual(nobodyCode, 0, nobodyErr)
    }

    func testStateFiles_areNotWorldReadable_whateverTheUmask() throws {
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\n")
        let old = umask(0o022)  // what a root shell usually has; synxd inherits it
        defer { umask(old) }
        try h.startDaemon(config: h.daemonSection + h.tcpBus("lan", port: port) + h.meter("m1", bus: "lan", unit: 1))
        h.waitUntil("rows committed") { try h.status().store.committedRows > 0 }
        func mode(_ p: String) -> mode_t {
            var st = stat()
            return stat(p, &st) == 0 ? st.st_mode & 0o777 : 0o7777
        }
        XCTAssertEqual(mode(h.path("state")), 0o750)
        for suffix in ["", "-wal", "-shm"] { XCTAssertEqual(mode(h.path("state/synx.sqlite") + suffix), 0o640, suffix) }
    }

    /// Sends raw bytes on the control socket and decodes the one response line.
    private func raw(_ text: String) throws -> Response {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = try UnixAddress(path: h.socketPath)
        XCTAssertEqual(addr.withSockaddr { connect(fd, $0, $1) }, 0)
        _ = text.utf8CString.withUnsafeBytes { send(fd, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
        var data = Data()
        var buf = [UInt8](repeating: 0, count: 4096)
        while !data.contains(0x0A) {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return try Framing.decode(Response.self, from: data.prefix { $0 != 0x0A })
    }
}
