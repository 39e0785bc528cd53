import Foundation
import SynxControl
import XCTest

/// A full disk under the store: synxd keeps polling, keeps the rows in memory, raises the store alert, and
/// writes everything once there is room again.
final class DiskFullEndToEndTests: XCTestCase {
    var h: Harness!
    override func setUpWithError() throws { h = try Harness("diskfull") }
    override func tearDown() { h?.tearDown() }

    func testFullStateFileSystem_raisesTheStoreAlert_losesNothing_andRecovers() throws {
        guard getuid() == 0 else { return XCTFail("this test needs root (a small tmpfs in a private mount namespace)") }
        let port = try h.startSimulator(scenario: "[[unit]]\nid = 1\nprofile = \"synx-sim\"\n")
        let state = h.path("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let config = try h.write(
            "synxd.toml",
            h.daemonSection + "[alerts]\nholdoff_s = 0\n" + h.tcpBus("line", port: port)
                + h.meter("incomer", bus: "line", unit: 1, extra: "poll_interval_ms = 100\n"))
        // synxd's state directory is a 1 MiB tmpfs in a mount namespace of its own, nearly filled.
        let script = """
            mount -t tmpfs -o size=1m tmpfs '\(state)' && dd if=/dev/zero of='\(state)/filler' bs=1k count=800 status=none \
            && exec '\(Harness.binaries.appendingPathComponent("synxd").path)' --config '\(config)'
            """
        let daemon = try h.start(
            "/usr/bin/unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", script], name: "synxd")
        h.waitUntil("synxd answering") { (try? h.status()) != nil }
        h.waitUntil("the store alert", timeout: 90) {
            (try? h.request(Request(command: .alerts)).alerts)?.contains { $0.kind == "store" && $0.active } == true
        }
        let full = try h.status()
        XCTAssertNotNil(full.store.lastError)
        XCTAssertGreaterThan(full.store.queuedRows, 0, "rows wait in memory")
        XCTAssertEqual(full.store.droppedRows, 0)
        XCTAssertEqual(try h.meter("incomer").state, .online, "polling goes on")

        // Make room (inside synxd's mount namespace): the queued rows are written, the alert clears.
        XCTAssertEqual(
            try h.run("/usr/bin/nsenter", ["-t", "\(daemon.processIdentifier)", "-m", "rm", "\(state)/filler"]).0, 0)
        h.waitUntil("the store alert cleared and the queue empty", timeout: 30) {
            guard let s = try? h.status(), let alerts = try? h.request(Request(command: .alerts)).alerts else {
                return false
            }
            return s.store.lastError == nil && s.store.queuedRows < 200
                && !alerts.contains { $0.kind == "store" && $0.active }
        }
        let after = try h.status()
        XCTAssertEqual(after.store.droppedRows, 0)
        XCTAssertGreaterThan(after.store.committedRows, full.store.committedRows + full.store.queuedRows - 1)
    }
}
