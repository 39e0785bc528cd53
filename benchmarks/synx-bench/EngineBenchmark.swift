import ArgumentParser
import Foundation
import SynxDSP

/// Power-quality engine throughput and agreement: synx's engine and pqopen-lib (a public Python IEC 61000-4-30
/// implementation, the baseline) over the identical 3-phase U+I signal, in the same run.
struct EngineBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engine",
        abstract: "Engine throughput and agreement against pqopen-lib (scripts/peer-venv --bench first).")

    @Option(help: "Seconds of signal.") var seconds = 60.0
    @Option(help: "Samples per second per channel.") var sampleRate = 10_000.0
    @Option(help: "Python with pqopen-lib.") var python = ".venv/bin/python3"
    @Option(help: "The pqopen peer script.") var peer = "benchmarks/peers/pqopen_peer.py"
    @Option(help: "Samples per block handed to each engine.") var block = 2000
    @Flag(
        help:
            "Flicker: the voltages fluctuate by Table 1's 0.250 % at 8.8 Hz (Pinst,max = 1); both engines run their flickermeters, synx also without."
    )
    var flicker = false

    /// 230 V, 50.05 Hz, 3/5/7/11th voltage harmonics; 50 A lagging 25° with 5th and 7th current harmonics; with
    /// `flicker`, the voltages modulated by 0.250 % ΔV/V at 8.8 Hz.
    func signal() -> [[Double]] {
        let n = Int(seconds * sampleRate)
        let w = 2 * Double.pi * 50.05
        let voltage: [(Double, Double)] = [(3, 0.03), (5, 0.04), (7, 0.02), (11, 0.01)]
        let current: [(Double, Double)] = [(5, 0.12), (7, 0.06)]
        return (0..<6).map { c in
            let shift = -Double(c % 3) * 2 * .pi / 3
            let (amplitude, lag, harmonics) =
                c < 3
                ? (230 * 2.0.squareRoot(), 0.0, voltage)
                : (50 * 2.0.squareRoot(), 25 * Double.pi / 180, current)
            let depth = flicker && c < 3 ? 0.0025 : 0
            return (0..<n).map { k in
                let phase = w * Double(k) / sampleRate + shift
                let fluctuation = 1 + depth / 2 * sin(2 * .pi * 8.8 * Double(k) / sampleRate)
                return amplitude * fluctuation
                    * (sin(phase - lag) + harmonics.reduce(0) { $0 + $1.1 * sin($1.0 * phase) })
            }
        }
    }

    func run() throws {
        let samples = signal()
        let n = samples[0].count
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("synx-engine-\(getpid()).f64")
        defer { try? FileManager.default.removeItem(at: file) }
        var bytes = Data(capacity: 6 * n * 8)
        for channel in samples { channel.withUnsafeBytes { bytes.append(contentsOf: $0) } }
        try bytes.write(to: file)

        // Baseline: pqopen-lib on the same samples.
        let peerOutput = try runPeer(file: file.path, flicker: flicker)
        let peerCPU = peerOutput["cpu_seconds"] as! Double
        let peerRMS = (peerOutput["u1_rms"] as! [[Double]]).map { (sidx: $0[0], value: $0[1]) }
        let peerTHD = peerOutput["u1_thd"] as! [Double]
        let peerFrequency = (peerOutput["freq"] as! [[Double]]).map { (sidx: $0[0], value: $0[1]) }

        // synx: the engine over the same samples, block by block, on one core.
        let t0 = 1_800_000_000.0
        let (synxCPU, outputs) = try runSynx(samples, start: t0, flicker: flicker ? .automatic : .off)

        let windows = outputs.compactMap { if case .basic(let b) = $0, b.values != nil { b } else { nil } }
        // Agreement: pair each pqopen 10-cycle value with the synx window ending nearest to it (the two engines
        // place their windows at different zero crossings; the signal is stationary, so each pair measures the same).
        var rmsDiff: [Double] = []
        var thdDiff: [Double] = []
        var freqDiff: [Double] = []
        var cursor = 0
        for (i, p) in peerRMS.enumerated() where i > 2 && i < peerRMS.count - 2 {
            let t = t0 + p.sidx / sampleRate
            while cursor + 1 < windows.count, abs(windows[cursor + 1].end - t) < abs(windows[cursor].end - t) {
                cursor += 1
            }
            let w = windows[cursor]
            guard abs(w.end - t) < 0.11, let v = w.values else { continue }
            rmsDiff.append(abs(v.channels[0].rms - p.value) / 230 * 100)
            if i < peerTHD.count { thdDiff.append(abs(v.channels[0].harmonics.thdsPercent - peerTHD[i])) }
            let span = peerFrequency.filter { $0.sidx > peerRMS[i - 1].sidx && $0.sidx <= p.sidx }.map(\.value)
            if let f = v.frequency, !span.isEmpty {
                freqDiff.append(abs(f - span.reduce(0, +) / Double(span.count)) * 1000)
            }
        }
        let tenSecond = outputs.compactMap {
            if case .frequency(let f) = $0, f.quality.isEmpty { f.hertz } else { nil }
        }

        print(
            String(
                format: "engine: %.0f s of 3U+3I at %.0f S/s (harmonics to 50, events, aggregation), blocks of %d",
                seconds, sampleRate, block))
        print(String(format: "  pqopen-lib (baseline): %8.3f s CPU  = %7.1f× real time", peerCPU, seconds / peerCPU))
        print(
            String(
                format:
                    "  synx engine:           %8.3f s CPU  = %7.1f× real time (%.2f %% of a core per 10 kS/s meter)",
                synxCPU, seconds / synxCPU, synxCPU / seconds * 100 * 10_000 / sampleRate))
        print(String(format: "  throughput ratio synx / pqopen: %.1f (target >= 50)", peerCPU / synxCPU))
        print(String(format: "  agreement over %d paired 10-cycle windows (max / median):", rmsDiff.count))
        print(String(format: "    U1 RMS     %.4f / %.4f %% of Udin", rmsDiff.max() ?? .nan, median(rmsDiff)))
        print(String(format: "    U1 THD     %.4f / %.4f percentage points", thdDiff.max() ?? .nan, median(thdDiff)))
        print(
            String(
                format: "    frequency  %.3f / %.3f mHz (synx 10-cycle vs pqopen's mean of its 1-cycle values)",
                freqDiff.max() ?? .nan, median(freqDiff)))
        print(
            String(
                format: "  synx 10-s frequency: %d values, max |f - 50.05 Hz| = %.3f mHz", tenSecond.count,
                (tenSecond.map { abs($0 - 50.05) }.max() ?? .nan) * 1000))
        if flicker { try compareFlicker(samples, start: t0, synxCPU: synxCPU, outputs: outputs, peer: peerOutput, file: file.path) }
    }

    /// The flicker figures: each engine with and without its flickermeter on the same samples, and the largest
    /// Pinst of each voltage after both have settled (pqopen waits 20 s) against Table 1's 1.00.
    private func compareFlicker(
        _ samples: [[Double]], start t0: Double, synxCPU: Double, outputs: [EngineOutput], peer: [String: Any],
        file: String
    ) throws {
        let (plainCPU, _) = try runSynx(samples, start: t0, flicker: .off)
        let peerPlain = try runPeer(file: file, flicker: false)["cpu_seconds"] as! Double
        let peerCPU = peer["cpu_seconds"] as! Double
        print("  flicker (IEC 61000-4-15, 230 V lamp; voltages fluctuating 0.250 % at 8.8 Hz):")
        print(
            String(
                format: "    synx:       %7.1f× real time with flicker, %7.1f× without (flicker costs %.0f %%)",
                seconds / synxCPU, seconds / plainCPU, (synxCPU / plainCPU - 1) * 100))
        print(
            String(
                format: "    pqopen-lib: %7.1f× real time with flicker, %7.1f× without (flicker costs %.0f %%)",
                seconds / peerCPU, seconds / peerPlain, (peerCPU / peerPlain - 1) * 100))
        print(String(format: "    throughput ratio synx / pqopen, both with flicker: %.1f", peerCPU / synxCPU))
        var synxPeak: [Double] = [0, 0, 0]
        for case .basic(let b) in outputs where b.start > t0 + 25 {
            for (i, p) in [Phase.l1, .l2, .l3].enumerated() { synxPeak[i] = max(synxPeak[i], b.pinstMax[p] ?? 0) }
        }
        let peerPeak = peer["pinst_max"] as! [Double]
        print(
            "    Pinst,max per phase (Table 1: 1.00 ± 0.08): synx "
                + synxPeak.map { String(format: "%.3f", $0) }.joined(separator: " ") + ", pqopen "
                + peerPeak.map { String(format: "%.3f", $0) }.joined(separator: " "))
    }

    /// The engine over `samples` (6 channels: 3 U, 3 I) block by block; its CPU seconds and outputs.
    private func runSynx(_ samples: [[Double]], start t0: Double, flicker: FlickerLampSelection) throws -> (
        Double, [EngineOutput]
    ) {
        let channels = (0..<6).map {
            ChannelSpec(name: "ch\($0)", kind: $0 < 3 ? .voltage : .current, phase: Phase.allCases[$0 % 3])
        }
        var configuration = EngineConfiguration(
            sampleRate: sampleRate, nominalFrequency: .hz50, declaredVoltage: 230, channels: channels)
        configuration.flicker = flicker
        let engine = try PowerQualityEngine(configuration: configuration)
        let n = samples[0].count
        var outputs: [EngineOutput] = []
        let cpuStart = cpuSeconds()
        var k = 0
        while k < n {
            let end = min(n, k + block)
            outputs += try engine.process(
                SampleBlock(startTime: t0 + Double(k) / sampleRate, channels: samples.map { Array($0[k..<end]) }))
            k = end
        }
        outputs += engine.finish()
        return (cpuSeconds() - cpuStart, outputs)
    }

    private func median(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.sorted()[v.count / 2] }

    private func cpuSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    private func runPeer(file: String, flicker: Bool) throws -> [String: Any] {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw ValidationError("\(python) not found: run scripts/peer-venv --bench (creates .venv with pqopen-lib)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments =
            [peer, "--input", file, "--samplerate", String(sampleRate), "--block", String(block)]
            + (flicker ? ["--flicker"] : [])
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_NUM_THREADS"] = "1"
        environment["OPENBLAS_NUM_THREADS"] = "1"
        p.environment = environment
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("the pqopen peer failed (exit \(p.terminationStatus))")
        }
        return json
    }
}
