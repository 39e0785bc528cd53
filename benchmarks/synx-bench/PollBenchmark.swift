import ArgumentParser
import CModbus
import Foundation
import Glibc
import SynxControl

/// Polling at scale: N simulated Modbus/TCP meters (behind gateways of `--units-per-gateway` unit ids)
/// polled at 1 Hz by the real synxd; reports synxd's CPU per meter, RSS and p99 poll-start lateness,
/// against a baseline measured in the same run: the same reads issued by a bare libmodbus loop (one context
/// per gateway, no scheduling, decoding, store or socket), i.e. the cost of the Modbus I/O itself.
struct PollBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "poll", abstract: "synxd polling N meters at 1 Hz.")

    @Option(parsing: .upToNextOption, help: "Meter counts to measure.") var meters: [Int] = [100, 1000]
    @Option(help: "Unit ids behind each simulated gateway (one TCP connection each).") var unitsPerGateway = 20
    @Option(help: "Measuring window per run (s).") var seconds = 30
    @Option(help: "Directory with synxd and synx-sim (default: next to synx-bench).") var binDir: String?
    @Flag(
        inversion: .prefixedNo,
        help: "Pin synxd to CPU 0 and the simulator to CPU 1 (the meters are other machines on a real site).")
    var pin = true

    func run() throws {
        let bin = binDir ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        for n in meters { try measure(meters: n, bin: bin) }
    }

    private func measure(meters n: Int, bin: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-poll-\(getpid())-\(n)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var children: [Process] = []
        defer {
            for p in children where p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
            try? FileManager.default.removeItem(atPath: dir)
        }
        let gateways = (n + unitsPerGateway - 1) / unitsPerGateway
        let units = min(n, unitsPerGateway)
        let scenario = (1...units).map { "[[unit]]\nid = \($0)\n" }.joined()
        try scenario.write(toFile: "\(dir)/scenario.toml", atomically: true, encoding: .utf8)
        children.append(
            try Child.spawn(
                pin: pin, "\(bin)/synx-sim",
                ["--scenario", "\(dir)/scenario.toml"]
                    + Array(repeating: ["--tcp", "127.0.0.1:0"], count: gateways).flatMap { $0 },
                cpu: 1, out: "\(dir)/sim.out"))
        try Child.wait("synx-sim ready", 30) {
            (try? String(contentsOfFile: "\(dir)/sim.out", encoding: .utf8))?.contains("ready") == true
        }
        let ports = try String(contentsOfFile: "\(dir)/sim.out", encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix("tcp ") }.map { Int($0.split(separator: ":").last!)! }

        var config =
            "[daemon]\nstate_directory = \"\(dir)/state\"\nsocket = \"\(dir)/synxd.sock\"\nprofile_directories = []\n"
        for (g, port) in ports.enumerated() {
            config += "[[bus]]\nname = \"gw\(g)\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = \(port)\n"
        }
        for i in 0..<n {
            config +=
                "[[meter]]\nname = \"m\(i)\"\nbus = \"gw\(i / unitsPerGateway)\"\nunit = \(i % unitsPerGateway + 1)\nprofile = \"synx-sim\"\n"
        }
        try config.write(toFile: "\(dir)/synxd.toml", atomically: true, encoding: .utf8)
        let synxd = try Child.spawn(
            pin: pin, "\(bin)/synxd", ["--config", "\(dir)/synxd.toml", "--log-level", "warning"], cpu: 0,
            out: "\(dir)/synxd.out")
        children.append(synxd)
        let client = ControlClient(socketPath: "\(dir)/synxd.sock")
        try Child.wait("all \(n) meters online", 60) {
            (try? Request.allMeters(client.send))?.allSatisfy { $0.state == .online } == true
        }
        Thread.sleep(forTimeInterval: 3)  // past start-up, into the steady state

        let polls0 = try Request.allMeters(client.send).map(\.polls).reduce(0, +)
        let cpu0 = try Child.cpuSeconds(pid: synxd.processIdentifier)
        let t0 = Date()
        Thread.sleep(forTimeInterval: Double(seconds))
        let cpu1 = try Child.cpuSeconds(pid: synxd.processIdentifier)
        let elapsed = Date().timeIntervalSince(t0)
        let status = try client.send(Request(command: .status)).daemon!
        let polls = try Request.allMeters(client.send).map(\.polls).reduce(0, +) - polls0
        let buses = try Request.allBuses(client.send)
        let lateness = buses.map(\.pollLatenessP99Ms).sorted()
        let rss = Child.residentKilobytes(pid: synxd.processIdentifier)
        kill(synxd.processIdentifier, SIGTERM)
        synxd.waitUntilExit()

        let (baseline, baselineLateness) = try baseline(ports: ports, meters: n, seconds: min(seconds, 10), bin: bin)
        let synxdShare = (cpu1 - cpu0) / elapsed
        print("poll: \(n) meters on \(gateways) gateways at 1 Hz, \(Int(elapsed)) s")
        print(
            String(
                format:
                    "  synxd CPU:            %6.2f %% of one core, %6.1f µs per meter per second (target for 1000 meters: <= 25 %%)",
                synxdShare * 100, synxdShare / Double(n) * 1e6))
        print(
            String(
                format:
                    "  bare libmodbus:       %6.2f %% of one core, %6.1f µs per meter per second (baseline: thread per gateway)",
                baseline * 100, baseline / Double(n) * 1e6))
        print(String(format: "  ratio synxd / bare:   %6.2f", synxdShare / baseline))
        print(
            String(
                format: "  polls completed:      %6.3f per meter per second (1.000 expected)",
                Double(polls) / elapsed / Double(n)))
        print(
            String(
                format: "  poll-start lateness:  p99 %.1f ms (worst bus), %.1f ms (median bus); target <= 20 ms",
                lateness.last ?? 0, lateness[lateness.count / 2]))
        print(
            String(
                format: "  bare libmodbus:       p99 %.1f ms read-start lateness (baseline); ratio synxd / bare %.2f",
                baselineLateness, (lateness.last ?? 0) / max(baselineLateness, 0.1)))
        print(
            String(format: "  poll-start jitter:    p99 %.1f ms (worst bus)", buses.map(\.pollJitterP99Ms).max() ?? 0))
        print(String(format: "  synxd RSS:            %.1f MB", Double(rss) / 1024))
        print(
            String(
                format: "  store:                %d rows committed, %d dropped", status.store.committedRows,
                status.store.droppedRows))
    }

    /// Runs `BaselineClient` in a child process (pinned like synxd) and reads its one-line result.
    private func baseline(
        ports: [Int], meters n: Int, seconds: Int, bin: String
    ) throws -> (cpu: Double, latenessP99: Double) {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("synx-baseline-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let p = try Child.spawn(
            pin: pin, "\(bin)/synx-bench",
            [
                "baseline", "--ports", ports.map(String.init).joined(separator: ","), "--meters", "\(n)",
                "--units-per-gateway", "\(unitsPerGateway)", "--seconds", "\(seconds)",
            ], cpu: 0, out: out)
        p.waitUntilExit()
        let fields = try String(contentsOfFile: out, encoding: .utf8).split(separator: " ").compactMap {
            Double($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard p.terminationStatus == 0, fields.count == 2 else {
            throw ValidationError("baseline failed: \(try String(contentsOfFile: out, encoding: .utf8))")
        }
        return (fields[0], fields[1])
    }
}
