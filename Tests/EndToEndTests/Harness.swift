import CSQLite
import Foundation
import SynxControl
import XCTest

/// Starts the real binaries (synx-sim, synxd, synxctl, socat) in a temporary directory, waits for
/// conditions with deadlines, and kills everything it started when the test ends.
final class Harness {
    let dir: URL
    private var processes: [Process] = []
    private var byName: [String: Process] = [:]
    /// The build directory holding the executables: $SYNX_BIN_DIR, or the one the test binary runs from.
    static let binaries: URL = {
        if let dir = ProcessInfo.processInfo.environment["SYNX_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        let candidates = [
            Bundle(for: Harness.self).bundleURL, Bundle(for: Harness.self).bundleURL.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("synxd").path) }
            ?? candidates[0]
    }()

    /// A harness for one test; a missing binary fails the test (it never skips).
    init(_ name: String) throws {
        dir = URL(fileURLWithPath: "/tmp").appendingPathComponent("synx-e2e-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for tool in ["synxd", "synxctl", "synx-sim", "synx-analyze"] {
            guard FileManager.default.isExecutableFile(atPath: Harness.binaries.appendingPathComponent(tool).path)
            else {
                let message = "\(tool) is not built in \(Harness.binaries.path): run `swift build` before `swift test`"
                XCTFail(message)
                throw HarnessError(message)
            }
        }
    }

    /// Kills every process started, then removes the directory.
    func tearDown() {
        for p in processes.reversed() where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        processes.removeAll()
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    /// Starts `executable` with output to `name.out` / `name.err` in the directory.
    @discardableResult
    func start(
        _ executable: String, _ arguments: [String], name: String, environment: [String: String] = [:]
    ) throws -> Process {
        let p = Process()
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        p.executableURL =
            executable.hasPrefix("/")
            ? URL(fileURLWithPath: executable) : Harness.binaries.appendingPathComponent(executable)
        p.arguments = arguments
        _ = FileManager.default.createFile(atPath: path("\(name).out"), contents: nil)
        _ = FileManager.default.createFile(atPath: path("\(name).err"), contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: path("\(name).out"))
        p.standardError = FileHandle(forWritingAtPath: path("\(name).err"))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        processes.append(p)
        byName[name] = p
        return p
    }

    /// The process last started under `name` (`sim`, `synxd`, …).
    func process(_ name: String) -> Process? { byName[name] }

    func output(_ name: String) -> String { (try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "" }

    /// Waits until `condition` holds, polling every `interval` seconds, or fails the test after `timeout` seconds.
    @discardableResult
    func waitUntil(
        _ what: String, timeout: Double = 15, interval: Double = 0.05, file: StaticString = #filePath,
        line: UInt = #line,
        _ condition: () throws -> Bool
    ) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? condition()) == true { return true }
            usleep(useconds_t(interval * 1e6))
        }
        XCTFail("timed out after \(timeout) s waiting for: \(what)", file: file, line: line)
        return false
    }

    /// A socat pty pair; returns the two device links.
    func ptyPair() throws -> (String, String) {
        let a = path("ttyA")
        let b = path("ttyB")
        try start("/usr/bin/socat", ["pty,raw,echo=0,link=\(a)", "pty,raw,echo=0,link=\(b)"], name: "socat")
        waitUntil("socat pty pair") {
            FileManager.default.fileExists(atPath: a) && FileManager.default.fileExists(atPath: b)
        }
        return (a, b)
    }

    /// Starts synx-sim on a free TCP port (and the given RTU devices); returns its TCP port.
    func startSimulator(scenario: String, rtu: [String] = [], name: String = "sim") throws -> Int {
        let file = try write("\(name).toml", scenario)
        try start(
            "synx-sim",
            ["--scenario", file, "--tcp", "127.0.0.1:0", "--state", path("\(name)-state.json")]
                + rtu.flatMap { ["--rtu", $0] }, name: name)
        waitUntil("\(name) ready") { output("\(name).out").contains("ready\n") }
        guard let line = output("\(name).out").split(separator: "\n").first(where: { $0.hasPrefix("tcp ") }),
            let port = Int(line.split(separator: ":").last!)
        else { throw HarnessError("no tcp line from synx-sim: \(output("\(name).out"))") }
        return port
    }

    /// The repository's root (for the test peers kept in `Tests/peers`).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Starts the hostile Modbus peer (`Tests/peers/hostile_modbus.py`, Python standard library only) with
    /// `arguments`; returns its TCP port, or nil when it serves a serial line.
    @discardableResult
    func startHostilePeer(_ arguments: [String], name: String) throws -> Int? {
        let python = Harness.repository.appendingPathComponent(".venv/bin/python3").path
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw HarnessError("no Python at \(python): run scripts/test (it creates .venv)")
        }
        try start(
            python, [Harness.repository.appendingPathComponent("Tests/peers/hostile_modbus.py").path] + arguments,
            name: name)
        waitUntil("\(name) ready") { output("\(name).out").contains("ready\n") }
        guard let line = output("\(name).out").split(separator: "\n").first(where: { $0.hasPrefix("tcp ") }) else {
            return nil
        }
        return Int(line.split(separator: ":").last!)
    }

    /// Resident memory (KiB) and open descriptors of a process, from /proc.
    func resources(of process: Process) -> (rssKiB: Int, descriptors: Int) {
        let pid = process.processIdentifier
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let rss =
            status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
        return (rss, fds)
    }

    /// Every stored row of one series (`query` over the last hour, through the daemon's socket).
    func stored(_ meter: String, _ measurement: String) throws -> [QuerySample] {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let r = try request(
            Request(
                command: .query, meter: meter, measurement: measurement, from: now - 3_600_000, to: now + 60_000,
                limit: 100_000))
        if r.status == .noSuchMeasurement { return [] }  // nothing stored of it
        guard let result = r.query else {
            throw HarnessError("query \(meter) \(measurement): \(r.status) \(r.message ?? "")")
        }
        return result.samples
    }

    /// A TCP connection to 127.0.0.1:`port` (the caller closes it), or nil if nothing accepts there.
    func connectLoopback(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// A loopback TCP listener that never accepts (the kernel completes the handshakes into its backlog): a peer
    /// that takes connections and says nothing. The caller closes it.
    func silentListener() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw HarnessError("cannot listen on loopback: errno \(errno)")
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// A TCP port nobody listens on now (the kernel's choice for an ephemeral bind).
    func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) }
        }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// The values the simulator serves, by unit and measurement.
    func simulatorValues(name: String = "sim") throws -> [String: [String: Double]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("\(name)-state.json")))
        return try JSONDecoder().decode([String: [String: [String: Double]]].self, from: data)["units"]!
    }

    var socketPath: String { path("synxd.sock") }

    /// The `[daemon]` table pointing at this directory.
    var daemonSection: String {
        """
        [daemon]
        state_directory = "\(path("state"))"
        socket = "\(socketPath)"
        profile_directories = ["\(path("profiles"))"]

        """
    }

    /// A `[[bus]]` table for the simulator's TCP port.
    func tcpBus(_ name: String, port: Int, timeoutMs: Int = 500, retries: Int = 1) -> String {
        "\n[[bus]]\nname = \"\(name)\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = \(port)\ntimeout_ms = \(timeoutMs)\nretries = \(retries)\n"
    }

    /// A `[[bus]]` table for a serial device.
    func rtuBus(_ name: String, device: String, timeoutMs: Int = 500, retries: Int = 1, frameGapMs: Int = 10) -> String
    {
        "\n[[bus]]\nname = \"\(name)\"\ntype = \"rtu\"\ndevice = \"\(device)\"\nbaud = 19200\ntimeout_ms = \(timeoutMs)\nretries = \(retries)\nframe_gap_ms = \(frameGapMs)\n"
    }

    /// A `[[meter]]` table; `extra` adds lines such as `slow_poll_interval_ms = 1000`.
    func meter(_ name: String, bus: String, unit: Int, profile: String = "synx-sim", extra: String = "") -> String {
        "\n[[meter]]\nname = \"\(name)\"\nbus = \"\(bus)\"\nunit = \(unit)\nprofile = \"\(profile)\"\n\(extra)"
    }

    /// Starts synxd and waits until its socket answers.
    @discardableResult
    func startDaemon(config: String, environment: [String: String] = [:]) throws -> Process {
        let file = try write("synxd.toml", config)
        let p = try start("synxd", ["--config", file], name: "synxd", environment: environment)
        waitUntil("synxd answering on its socket") {
            (try? ControlClient(socketPath: socketPath, timeoutSeconds: 2).send(Request(command: .status)))?.status
                == .ok
        }
        return p
    }

    func request(_ r: Request) throws -> Response { try ControlClient(socketPath: socketPath).send(r) }

    func status() throws -> DaemonStatus { try request(Request(command: .status)).daemon! }

    /// Every meter, through the `meters` command's pages.
    func meters() throws -> [MeterStatus] { try Request.allMeters(request) }

    /// A copy of `file` in the test's directory, for a process run as another user: the repository may sit under
    /// a directory that user cannot enter (a clone inside a `mktemp -d` directory, mode 0700).
    func copyForOtherUsers(_ file: URL) throws -> String {
        let copy = path(file.lastPathComponent)
        if !FileManager.default.fileExists(atPath: copy) {
            try FileManager.default.copyItem(atPath: file.path, toPath: copy)
        }
        return copy
    }

    /// Every bus, through the `buses` command's pages.
    func buses() throws -> [BusStatus] { try Request.allBuses(request) }

    func meter(_ name: String) throws -> MeterStatus { try meters().first { $0.name == name }! }

    /// Runs a binary to completion and returns exit code, stdout and stderr.
    func run(_ executable: String, _ arguments: [String], timeout: Double = 30) throws -> (Int32, String, String) {
        let name = "run-\(UUID().uuidString.prefix(6))"
        let p = try start(executable, arguments, name: name)
        // The exit is waited for on another thread; this one waits for it, or the deadline, whichever comes first.
        let exited = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            p.waitUntilExit()
            exited.signal()
        }
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            throw HarnessError("\(executable) did not finish in \(timeout) s")
        }
        p.waitUntilExit()
        return (p.terminationStatus, output("\(name).out"), output("\(name).err"))
    }

    /// One value from a database, read through SQLite directly (not through synx).
    func sqlite(_ path: String, _ sql: String) throws -> String {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK else {
            throw HarnessError("open \(path)")
        }
        defer { sqlite3_close(db) }
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else {
            throw HarnessError(String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_step(stmt) == SQLITE_ROW else { throw HarnessError("no row") }
        return String(cString: sqlite3_column_text(stmt, 0))
    }

    /// synxctl with the test's socket.
    func synxctl(_ arguments: [String]) throws -> (Int32, String, String) {
        try run("synxctl", arguments + ["--socket", socketPath])
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ s: String) { description = s }
}
