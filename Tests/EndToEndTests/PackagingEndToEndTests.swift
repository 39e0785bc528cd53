import Foundation
import XCTest

/// `make install` into a staging root, then systemd's own tools on what it installed.
final class PackagingEndToEndTests: XCTestCase {
    var h: Harness!
    override func setUpWithError() throws { h = try Harness("packaging") }
    override func tearDown() { h?.tearDown() }

    private var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    func testMakeInstall_unitSetVerifiesCleanly_exposureAtMostTwo_usersAndCatalogInstall() throws {
        let stage = h.path("stage")
        let (code, out, err) = try h.run(
            "/usr/bin/make",
            [
                "-s", "-C", packageRoot, "install", "NOBUILD=1",
                "BUILD=\(Harness.binaries.path)", "DESTDIR=\(stage)", "PREFIX=/usr",
            ], timeout: 60)
        XCTAssertEqual(code, 0, out + err)
        for file in [
            "usr/bin/synxd", "usr/bin/synxctl", "usr/bin/synx-analyze", "usr/bin/synx-report",
            "usr/share/man/man1/synx-report.1", "usr/lib/systemd/system/synxd.service",
            "usr/lib/sysusers.d/synx.conf", "usr/lib/tmpfiles.d/synx.conf", "usr/lib/systemd/catalog/synx.catalog",
            "etc/synx/synxd.toml", "usr/share/synx/profiles/eastron-sdm630.toml", "usr/share/man/man8/synxd.8",
            "usr/share/man/man1/synxctl.1", "usr/share/man/man5/synxd.toml.5",
            "usr/share/bash-completion/completions/synxctl", "usr/share/zsh/site-functions/_synxctl",
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(stage)/\(file)"), "not installed: \(file)")
        }
        let (checkCode, _, checkErr) = try h.run(
            "\(stage)/usr/bin/synxd", ["--check-config", "--config", "\(stage)/etc/synx/synxd.toml"])
        XCTAssertEqual(checkCode, 0, "the installed example configuration is valid: \(checkErr)")

        // The rest of a system the unit refers to: systemd's own units and /bin/kill (ExecReload).
        try FileManager.default.createDirectory(atPath: "\(stage)/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/kill", toPath: "\(stage)/bin/kill")
        XCTAssertEqual(try h.run("/bin/cp", ["-rn", "/lib/systemd/system/.", "\(stage)/usr/lib/systemd/system/"]).0, 0)

        let (verifyCode, verifyOut, verifyErr) = try h.run(
            "/usr/bin/systemd-analyze", ["verify", "--root=\(stage)", "--man=no", "synxd.service"])
        XCTAssertEqual(verifyCode, 0)
        XCTAssertEqual(verifyOut + verifyErr, "", "systemd-analyze verify must print nothing")

        let (_, security, _) = try h.run(
            "/usr/bin/systemd-analyze", ["security", "--offline=yes", "--root=\(stage)", "synxd.service"])
        let line = try XCTUnwrap(
            security.split(separator: "\n").first { $0.contains("Overall exposure level") }, security)
        let exposure = try XCTUnwrap(
            line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }, String(line))
        XCTAssertLessThanOrEqual(exposure, 2.0, String(line))

        try FileManager.default.createDirectory(atPath: "\(stage)/etc", withIntermediateDirectories: true)
        XCTAssertEqual(try h.run("/usr/bin/systemd-sysusers", ["--root=\(stage)"]).0, 0)
        let passwd = try String(contentsOfFile: "\(stage)/etc/passwd", encoding: .utf8)
        XCTAssertTrue(passwd.contains("synx:x:"), passwd)
        let group = try String(contentsOfFile: "\(stage)/etc/group", encoding: .utf8)
        XCTAssertTrue(group.split(separator: "\n").contains { $0.hasPrefix("dialout:") && $0.hasSuffix("synx") }, group)

        XCTAssertEqual(try h.run("/usr/bin/journalctl", ["--root=\(stage)", "--update-catalog"]).0, 0)
        let (_, catalog, _) = try h.run("/usr/bin/journalctl", ["--root=\(stage)", "--list-catalog"])
        XCTAssertGreaterThanOrEqual(catalog.split(separator: "\n").filter { $0.contains(" synx: ") }.count, 9, catalog)
    }
}
