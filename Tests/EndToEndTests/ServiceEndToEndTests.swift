import Foundation
import SynxControl
import XCTest

/// synxd as a systemd service: the sd_notify sequence on a NOTIFY_SOCKET the test owns, the watchdog, and
/// configuration reloads (SIGHUP and synxctl) that keep healthy buses polling.
final class ServiceEndToEndTests: XCTestCase {
    var h: Harness!
    override func setUpWithError() throws { h = try Harness(String(name.filter(\.isLetter).suffix(24))) }
    override func tearDown() { h?.tearDown() }

    static let scenario = """
        [[unit]]
        id = 1
        profile = "synx-sim"
        [[unit]]
        id = 2
        profile = "eastron-sdm630"
        """

    /// A datagram socket standing in for systemd's notification socket.
    final class NotifySocket {
        let path: String
        private let fd: Int32
        private(set) var messages: [String] = []

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buf in
                for (i, b) in path.utf8.enumerated() where i < buf.count - 1 { buf[i] = b }
            }
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard fd >= 0, rc == 0 else {
                throw HarnessError("cannot bind \(path): \(String(cString: strerror(errno)))")
            }
            var tv = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// Reads what has arrived; returns the messages received so far.
        @discardableResult
        func poll() -> [String] {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                guard n > 0 else { break }
                messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
            }
            return messages
        }

        /// Index of the first message at or after `from` containing `text`.
        func index(of text: String, from: Int = 0) -> Int? {
            poll()
            return messages.indices.first { $0 >= from && messages[$0].contains(text) }
        }
    }

    func testNotify_readyStatusWatchdog_thenReloadingReady_thenStopping() throws {
        let port = try h.startSimulator(scenario: Self.scenario)
        let notify = try NotifySocket(path: h.path("notify.sock"))
        let config = h.daemonSection + h.tcpBus("line", port: port) + h.meter("incomer", bus: "line", unit: 1)
        let daemon = try h.startDaemon(
            config: config, environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"])

        h.waitUntil("READY=1") { notify.index(of: "READY=1") != nil }
        let ready = notify.index(of: "READY=1")!
        XCTAssertTrue(notify.messages[ready].contains("STATUS=polling 1 meter on 1 bus"), notify.messages[ready])
        XCTAssertNil(notify.messages[..<ready].first { $0.contains("WATCHDOG=1") }, "no watchdog ping before READY")
        h.waitUntil("three watchdog pings") { notify.poll().filter { $0.contains("WATCHDOG=1") }.count >= 3 }
        h.waitUntil("status shows the meter online") { (try? h.meter("incomer").state) == .online }

        kill(daemon.processIdentifier, SIGHUP)
        h.waitUntil("RELOADING=1") { notify.index(of: "RELOADING=1", from: ready + 1) != nil }
        let reloading = notify.index(of: "RELOADING=1", from: ready + 1)!
        XCTAssertNotNil(
            notify.messages[reloading].range(of: #"MONOTONIC_USEC=\d+"#, options: .regularExpression),
            notify.messages[reloading])
        h.waitUntil("READY=1 after the reload") { notify.index(of: "READY=1", from: reloading + 1) != nil }
        let count = notify.poll().count
        h.waitUntil("pings go on after the reload") { notify.poll()[count...].contains { $0.contains("WATCHDOG=1") } }

        kill(daemon.processIdentifier, SIGTERM)
        h.waitUntil("STOPPING=1") { notify.index(of: "STOPPING=1", from: reloading) != nil }
        h.waitUntil("synxd exits") { !daemon.isRunning }
        XCTAssertEqual(daemon.terminationStatus, 0)
        let stopping = notify.index(of: "STOPPING=1", from: reloading)!
        XCTAssertFalse(
            notify.poll()[(stopping + 1)...].contains { $0.contains("WATCHDOG=1") }, "no ping after STOPPING=1")
    }

    func testWatchdogPings_stopWhenABusThreadHangs() throws {
        let port = try h.startSimulator(scenario: Self.scenario)
        let notify = try NotifySocket(path: h.path("notify.sock"))
        let config = h.daemonSection + h.tcpBus("line", port: port) + h.meter("incomer", bus: "line", unit: 1)
        // The bus's connect() never returns: a hung driver call, injected from outside synxd by a preloaded library.
        let shim = h.path("stall_connect.so")
        let (cc, ccOut, ccErr) = try h.run(
            "/usr/bin/env",
            [
                "clang", "-shared", "-fPIC", "-o", shim,
                Harness.repository.appendingPathComponent("Tests/peers/stall_connect.c").path, "-ldl",
            ])
        XCTAssertEqual(cc, 0, ccOut + ccErr)
        let daemon = try h.startDaemon(
            config: config,
            environment: [
                "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "2000000", "LD_PRELOAD": shim,
                "SYNX_STALL_CONNECT_PORT": "\(port)",
            ])
        h.waitUntil("READY=1") { notify.index(of: "READY=1") != nil }
        h.waitUntil("the stall is noticed", timeout: 10) {
            h.output("synxd.err").contains("watchdog: the TCP reactor has not run")
        }
        let seen = notify.poll().filter { $0.contains("WATCHDOG=1") }.count
        let quietUntil = Date().addingTimeInterval(3)
        h.waitUntil("3 s without pings", timeout: 5) { Date() > quietUntil }
        XCTAssertEqual(
            notify.poll().filter { $0.contains("WATCHDOG=1") }.count, seen, "no WATCHDOG=1 while the bus hangs")
        XCTAssertTrue(daemon.isRunning, "synxd itself does not exit: systemd's watchdog restarts it")
        XCTAssertEqual((try? h.status())?.pid, daemon.processIdentifier, "the control socket still answers")
    }

    func testReload_addsABus_healthyMeterKeepsItsCadence_andAnInvalidConfigIsRejected() throws {
        let port = try h.startSimulator(scenario: Self.scenario)
        let base = h.daemonSection + h.tcpBus("line", port: port) + h.meter("incomer", bus: "line", unit: 1)
        let notify = try NotifySocket(path: h.path("notify.sock"))
        let daemon = try h.startDaemon(config: base, environment: ["NOTIFY_SOCKET": notify.path])
        h.waitUntil("incomer online") { (try? h.meter("incomer").state) == .online }
        func storedTimes() throws -> [Int64] {
            let (code, out, err) = try h.synxctl(["query", "incomer", "frequency", "--from", "1h", "--json"])
            guard code == 0 else { throw HarnessError(err) }
            return try JSONDecoder().decode(QueryResult.self, from: Data(out.utf8)).samples.map(\.time)
        }
        h.waitUntil("some history before the reload") { try storedTimes().count >= 3 }
        let reloadedAt = Int64(Date().timeIntervalSince1970 * 1000)

        _ = try h.write(
            "synxd.toml",
            base + h.tcpBus("second", port: port) + h.meter("feeder", bus: "second", unit: 2, profile: "eastron-sdm630")
        )
        let (code, out, err) = try h.synxctl(["reload", "--json"])
        XCTAssertEqual(code, 0, err)
        let result = try JSONDecoder().decode(ReloadResult.self, from: Data(out.utf8))
        XCTAssertEqual(result.kept, ["line"])
        XCTAssertEqual(result.started, ["second"])
        XCTAssertEqual(result.stopped, [])
        h.waitUntil("the new meter online") { (try? h.meter("feeder").state) == .online }
        h.waitUntil("the healthy meter's polls stored past the reload") {
            try storedTimes().contains { $0 > reloadedAt + 2000 }
        }

        // The healthy meter's samples run on at 1 s across the reload: no gap.
        let times = try storedTimes()
        XCTAssertTrue(times.contains { $0 < reloadedAt - 1000 } && times.contains { $0 > reloadedAt + 1500 })
        for (a, b) in zip(times, times.dropFirst()) {
            XCTAssertLessThanOrEqual(b - a, 1500, "gap around \(a) (reload at \(reloadedAt))")
        }

        // An invalid configuration is rejected with its line; the running one stays.
        _ = try h.write(
            "synxd.toml", base + "\n[[meter]]\nname = \"broken\"\nbus = \"nowhere\"\nunit = 3\nprofile = \"synx-sim\"\n"
        )
        let (badCode, _, badErr) = try h.synxctl(["reload"])
        XCTAssertEqual(badCode, 1)
        XCTAssertTrue(badErr.contains("synxd.toml:"), badErr)
        XCTAssertTrue(badErr.contains("running one is kept"), badErr)
        h.waitUntil("the log tells the reload was rejected") { h.output("synxd.err").contains("reload rejected") }
        // A rejected reload ends with READY=1 again (the running configuration stays): wait for the SIGHUP's.
        let ready = { notify.poll().filter { $0.contains("READY=1") }.count }
        let before = ready()
        kill(daemon.processIdentifier, SIGHUP)
        h.waitUntil("READY=1 after the SIGHUP's rejected reload") { ready() > before }
        XCTAssertTrue(daemon.isRunning)
        let names = try h.meters().map(\.name)
        XCTAssertEqual(names.sorted(), ["feeder", "incomer"])
    }

    func testReload_isRefusedToOtherUsers_whoMayStillRead() throws {
        let port = try h.startSimulator(scenario: Self.scenario)
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("line", port: port) + h.meter("incomer", bus: "line", unit: 1))
        // uid 65534 in the socket's group (0): may connect (socket 0660), may read, may not reload.
        let asNobody = [
            "--reuid=65534", "--regid=0", "--clear-groups",
            try h.copyForOtherUsers(Harness.binaries.appendingPathComponent("synxctl")),
        ]
        let (statusCode, _, statusErr) = try h.run("/usr/bin/setpriv", asNobody + ["status", "--socket", h.socketPath])
        XCTAssertEqual(statusCode, 0, statusErr)
        let (code, _, err) = try h.run("/usr/bin/setpriv", asNobody + ["reload", "--socket", h.socketPath])
        XCTAssertEqual(code, 1)
        XCTAssertTrue(err.contains("unauthorized"), err)
        // The refusal names what the user typed, and is logged with who asked.
        let (testCode, _, testErr) = try h.run(
            "/usr/bin/setpriv", asNobody + ["alert", "test", "--socket", h.socketPath])
        XCTAssertEqual(testCode, 1)
        XCTAssertTrue(testErr.contains("unauthorized: alert test needs root"), testErr)
        h.waitUntil("refusals logged") {
            h.output("synxd.err").contains("refused reload: uid 65534")
                && h.output("synxd.err").contains("refused alert test: uid 65534")
        }
        let (rootCode, _, rootErr) = try h.synxctl(["reload"])
        XCTAssertEqual(rootCode, 0, rootErr)
    }

    func testVerify_walksTheCustodyChain_publishesItsHead_andNamesAnEditedConfigurationRecord() throws {
        let port = try h.startSimulator(scenario: Self.scenario)
        try h.startDaemon(
            config: h.daemonSection + h.tcpBus("line", port: port) + h.meter("incomer", bus: "line", unit: 1))
        let (reloadCode, _, reloadErr) = try h.synxctl(["reload"])
        XCTAssertEqual(reloadCode, 0, reloadErr)
        h.waitUntil("both accepted configurations chained") {
            (try? self.h.status().store.custodyHead)??.hasPrefix("2:") == true
        }
        let (code, out, err) = try h.synxctl(["verify", "--json"])
        XCTAssertEqual(code, 0, err)
        let v = try JSONDecoder().decode(CustodyVerification.self, from: Data(out.utf8))
        XCTAssertEqual(v.checked, 2)
        XCTAssertNil(v.broken)
        XCTAssertEqual("\(v.headSeq):\(v.headLink)", try h.status().store.custodyHead)
        h.waitUntil("the head published to the journal") {
            self.h.output("synxd.err").contains("custody chain head: link")
        }

        // What was recorded: the file's SHA-256 (as sha256sum computes it) and who asked for each.
        let db = h.path("state/synx.sqlite")
        let (_, sum, _) = try h.run("/usr/bin/sha256sum", [h.path("synxd.toml")])
        XCTAssertEqual(try h.sqlite(db, "SELECT sha256 FROM configurations WHERE id = 1"), String(sum.prefix(64)))
        XCTAssertEqual(try h.sqlite(db, "SELECT requested_by FROM configurations WHERE id = 1"), "start")
        XCTAssertTrue(
            try h.sqlite(db, "SELECT requested_by FROM configurations WHERE id = 2").hasPrefix("synxctl by uid 0, pid ")
        )

        // Someone with write access to the store rewrites who reloaded: the link names it.
        let (edit, _, editErr) = try h.run(
            "/usr/bin/sqlite3", [db, "UPDATE configurations SET requested_by = 'start' WHERE id = 2"])
        XCTAssertEqual(edit, 0, editErr)
        let (broken, brokenOut, _) = try h.synxctl(["verify"])
        XCTAssertEqual(broken, 65, "EX_DATAERR")
        let head = v.headLink
        XCTAssertEqual(
            brokenOut,
            """
            LINKS CHECKED  HEAD  HEAD LINK\(String(repeating: " ", count: 64 - 9))  VERDICT
            2              2     \(head)  BROKEN at link 2 (configuration [2]): its rows were changed after they were stored

            """)
    }
}
