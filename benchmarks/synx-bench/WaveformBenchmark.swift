import ArgumentParser
import Foundation
import Glibc
import SynxControl
import SynxDSP

/// Waveform meters at scale: synxd streaming N simulated waveform meters (3 U + 3 I at 10 kS/s through the
/// waveform interface) into the IEC 61000-4-30 engine, beside M polled meters; reports synxd's CPU and RSS and
/// the engine's real-time margin, against the same engine alone in this process on the same signal (the
/// baseline: what the analysis costs without any I/O, decoding or threads).
struct WaveformBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waveform", abstract: "synxd with waveform meters and polled meters.")

    @Option(help: "Waveform meters.") var waveformMeters = 10
    @Option(help: "Polled meters (20 per simulated gateway).") var polledMeters = 100
    @Option(help: "Samples per second per channel.") var sampleRate = 10_000
    @Option(help: "Measuring window (s).") var seconds = 20
    @Option(help: "Directory with synxd and synx-sim (default: next to synx-bench).") var binDir: String?
    @Flag(inversion: .prefixedNo, help: "Pin synxd to CPU 0 and the simulator to CPU 1.") var pin = true

    func run() throws {
        let bin = binDir ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("synx-wave-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var children: [Process] = []
        defer {
            for p in children where p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
            try? FileManager.default.removeItem(atPath: dir)
        }
        let gateways = max(1, (polledMeters + 19) / 20)
        var scenario = (1...20).map { "[[unit]]\nid = \($0)\n" }.joined()
        scenario += (0..<waveformMeters).map {
            "[[waveform]]\nid = \(101 + $0)\nsample_rate = \(sampleRate)\ncurrent = 40\nharmonics = \"3:3, 5:4, 7:2\"\n"
        }.joined()
        try scenario.write(toFile: "\(dir)/scenario.toml", atomically: true, encoding: .utf8)
        children.append(
            try Child.spawn(
                pin: pin, "\(bin)/synx-sim",
                ["--scenario", "\(dir)/scenario.toml"]
                    + Array(repeating: ["--tcp", "127.0.0.1:0"], count: gateways).flatMap { $0 }, cpu: 1,
                out: "\(dir)/sim.out"))
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
        for i in 0..<polledMeters {
            config +=
                "[[meter]]\nname = \"m\(i)\"\nbus = \"gw\(i / 20)\"\nunit = \(i % 20 + 1)\nprofile = \"synx-sim\"\n"
        }
        for i in 0..<waveformMeters {
            config +=
                "[[bus]]\nname = \"wf\(i)\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = \(ports[i % ports.count])\n"
            config += "[[meter]]\nname = \"w\(i)\"\nbus = \"wf\(i)\"\nunit = \(101 + i)\nprofile = \"waveform\"\n"
        }
        try config.write(toFile: "\(dir)/synxd.toml", atomically: true, encoding: .utf8)
        let synxd = try Child.spawn(
            pin: pin, "\(bin)/synxd", ["--config", "\(dir)/synxd.toml", "--log-level", "notice"], cpu: 0,
            out: "\(dir)/synxd.out")
        children.append(synxd)
        let client = ControlClient(socketPath: "\(dir)/synxd.sock")
        try Child.wait("every meter online with values", 60) {
            guard let meters = try? Request.allMeters(client.send) else { return false }
            return meters.allSatisfy { $0.state == .online }
                && (0..<waveformMeters).allSatisfy {
                    (try? client.send(Request(command: .live, meter: "w\($0)")))?.live?.values.isEmpty == false
                }
        }
        Thread.sleep(forTimeInterval: 5)  // into the steady state

        let pid = synxd.processIdentifier
        let cpu0 = try Child.cpuSeconds(pid: pid)
        let engine0 = Child.threadCPUSeconds(pid: pid, prefix: "synx-pq-")
        let reader0 = Child.threadCPUSeconds(pid: pid, prefix: "synx-wave-")
        let t0 = Date()
        Thread.sleep(forTimeInterval: Double(seconds))
        let elapsed = Date().timeIntervalSince(t0)
        let cpu = (try Child.cpuSeconds(pid: pid) - cpu0) / elapsed
        let engine = (Child.threadCPUSeconds(pid: pid, prefix: "synx-pq-") - engine0) / elapsed / Double(waveformMeters)
        let reader =
            (Child.threadCPUSeconds(pid: pid, prefix: "synx-wave-") - reader0) / elapsed / Double(waveformMeters)
        let rss = Child.residentKilobytes(pid: pid)
        let log = (try? String(contentsOfFile: "\(dir)/synxd.out", encoding: .utf8)) ?? ""
        let overruns = log.components(separatedBy: "waveform overrun").count - 1
        let status = try client.send(Request(command: .status)).daemon!
        kill(pid, SIGTERM)
        synxd.waitUntilExit()

        let alone = try engineAlone()
        print(
            "waveform: \(waveformMeters) waveform meters (3U+3I at \(sampleRate) S/s) + \(polledMeters) polled meters, \(Int(elapsed)) s"
        )
        print(String(format: "  synxd CPU:        %6.2f %% of one core (target <= 25 %%)", cpu * 100))
        print(String(format: "  synxd RSS:        %6.1f MB (target <= 100 MB)", Double(rss) / 1024))
        print(
            String(
                format: "  engine threads:   %6.3f s CPU per second of signal per meter = real-time margin %.0f×",
                engine, 1 / max(engine, 1e-9)))
        print(
            String(
                format: "  reader threads:   %6.3f s CPU per second per meter (Modbus reads of the sample blocks)",
                reader))
        print(
            String(
                format:
                    "  engine alone:     %6.3f s CPU per second of signal (baseline, same signal, in process); ratio in synxd / alone %.2f",
                alone, engine / max(alone, 1e-9)))
        print(
            "  overruns:         \(overruns); polled meters online: \(status.meters.filter { $0.state == .online }.count)/\(status.meters.count); rows dropped: \(status.store.droppedRows)"
        )
    }

    /// CPU seconds the engine needs per second of the same 3U+3I signal, alone in this process.
    private func engineAlone() throws -> Double {
        let fs = Double(sampleRate)
        let n = Int(fs) * 10
        let w = 2 * Double.pi * 50
        let samples: [[Double]] = (0..<6).map { c in
            let shift = -Double(c % 3) * 2 * .pi / 3
            let amplitude = c < 3 ? 230 * 2.0.squareRoot() : 40 * 2.0.squareRoot()
            return (0..<n).map { k in
                let p = w * Double(k) / fs + shift
                return amplitude
                    * (sin(p - (c < 3 ? 0 : .pi / 6)) + 0.03 * sin(3 * p) + 0.04 * sin(5 * p) + 0.02 * sin(7 * p))
            }
        }
        let channels = (0..<6).map {
            ChannelSpec(name: "c\($0)", kind: $0 < 3 ? .voltage : .current, phase: Phase.allCases[$0 % 3])
        }
        let engine = try PowerQualityEngine(
            configuration: EngineConfiguration(
                sampleRate: fs, nominalFrequency: .hz50, declaredVoltage: 230, channels: channels))
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        let start = Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
        var k = 0
        while k < n {
            let end = min(n, k + 20)
            _ = try engine.process(
                SampleBlock(startTime: 1_800_000_000 + Double(k) / fs, channels: samples.map { Array($0[k..<end]) }))
            k = end
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return (Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 - start) / 10
    }
}
