import CModbus
import Foundation
import SynxComtrade
import SynxMeters

/// A simulated waveform meter: samples a three-phase system (fundamental, harmonics, scripted magnitude
/// changes) in real time and serves the samples through the synx waveform register interface.
final class WaveformUnit: @unchecked Sendable {
    let config: Scenario.Waveform
    let interface: WaveformInterface
    let lock = NSLock()
    let mapping: UnsafeMutablePointer<modbus_mapping_t>
    private let changes: [Scenario.Change]
    private var nextSequence: UInt32 = 0
    /// A replayed recording's samples per channel (volts, amperes), served in a loop.
    private let recorded: [[Double]]?

    init(config: Scenario.Waveform, changes: [Scenario.Change], epoch: Date) throws {
        self.config = config
        self.changes = changes.filter { $0.id == config.id }
        var channels: [WaveformInterface.Channel] = []
        var sampleRate = config.sampleRate
        var nominal = config.frequency < 55 ? 50 : 60
        var clock = epoch.timeIntervalSince1970
        if let path = config.replay {
            // The recording's voltages (V, kV) and currents (A, kA) in file order, phases in order; its own
            // sample rate and line frequency. Served on today's clock (a live meter's blocks are stamped now:
            // synxd refuses a device whose clock is off by more than an hour), keeping the recording's
            // fraction of a second, so results compare with synx-analyze on the file shifted by whole seconds.
            let r = try ComtradeReader.read(cfgPath: path)
            var data: [[Double]] = []
            for (kind, units) in [
                (WaveformInterface.Channel.Kind.voltage, ["v": 1.0, "kv": 1000]), (.current, ["a": 1.0, "ka": 1000]),
            ] {
                var phase: UInt16 = 1
                for i in r.configuration.analog.indices {
                    guard phase <= 3, let factor = units[r.configuration.analog[i].unit.lowercased()] else { continue }
                    let values = r.primaryValues(i).map { $0 * factor }
                    let peak = max(values.map(abs).max() ?? 1, 1e-6)
                    channels.append(
                        WaveformInterface.Channel(kind: kind, phase: phase, scale: Float(peak * 1.05 / 32767)))
                    data.append(values)
                    phase += 1
                }
            }
            guard !channels.isEmpty, let rate = r.configuration.sampleRates.first?.rate, rate > 0 else {
                throw ReplayError(
                    description: "\(path): no voltage or current channels with a fixed sample rate to replay")
            }
            sampleRate = Int(rate.rounded())
            nominal = r.configuration.lineFrequency < 55 ? 50 : 60
            clock = clock.rounded(.down) + (r.configuration.startTimeUTC - r.configuration.startTimeUTC.rounded(.down))
            recorded = data
        } else {
            let peakV = config.nominalVoltage * 2.0.squareRoot() * 2
            let peakI = max(config.current, 1) * 2.0.squareRoot() * 3
            channels = (1...3).map {
                WaveformInterface.Channel(kind: .voltage, phase: UInt16($0), scale: Float(peakV / 32767))
            }
            if config.current > 0 {
                channels += (1...3).map {
                    WaveformInterface.Channel(kind: .current, phase: UInt16($0), scale: Float(peakI / 32767))
                }
            }
            recorded = nil
        }
        let perBlock = config.samplesPerBlock > 0 ? config.samplesPerBlock : (125 - 2) / channels.count
        let blockLength = 2 + channels.count * perBlock
        let wanted = Int((config.fifoSeconds * Double(sampleRate) / Double(perBlock)).rounded(.up))
        let depth = min(wanted, (65536 - WaveformInterface.fifoAddress) / blockLength)
        if let s = config.secondsBefore10MinTick { clock = ((clock + s) / 600).rounded(.up) * 600 - s }
        interface = WaveformInterface(
            channels: channels, samplesPerBlock: perBlock, sampleRate: sampleRate,
            nominalFrequency: nominal, fifoDepth: depth,
            epochMicroseconds: UInt64(clock * 1e6))
        let start = WaveformInterface.capabilityAddress
        mapping = modbus_mapping_new_start_address(
            0, 0, 0, 0, 0, 0, UInt32(start),
            UInt32(WaveformInterface.fifoAddress + depth * blockLength - start))
        write(interface.capability(newest: WaveformInterface.noBlock), at: start)
    }

    deinit { modbus_mapping_free(mapping) }

    /// Produces every block whose last sample time has passed, `elapsed` seconds after the epoch.
    func advance(to elapsed: Double) {
        let perBlock = interface.samplesPerBlock
        let fs = Double(interface.sampleRate)
        var produced = false
        while Double(Int(nextSequence) + 1) * Double(perBlock) / fs <= elapsed {
            let block = samples(sequence: nextSequence)
            lock.withLock {
                write(
                    [UInt16(nextSequence >> 16), UInt16(nextSequence & 0xFFFF)] + block,
                    at: interface.slotAddress(nextSequence))
            }
            nextSequence += 1
            produced = true
        }
        if produced {
            let newest = nextSequence - 1
            lock.withLock {
                write([UInt16(newest >> 16), UInt16(newest & 0xFFFF)], at: WaveformInterface.capabilityAddress + 12)
            }
        }
    }

    /// The raw samples of one block, sample-major.
    private func samples(sequence: UInt32) -> [UInt16] {
        let perBlock = interface.samplesPerBlock
        let fs = Double(interface.sampleRate)
        var out: [UInt16] = []
        out.reserveCapacity(perBlock * interface.channels.count)
        if let recorded {
            let n = recorded[0].count
            for k in 0..<perBlock {
                let index = (Int(sequence) * perBlock + k) % n
                for (c, ch) in interface.channels.enumerated() {
                    let counts = (recorded[c][index] / Double(ch.scale)).rounded()
                    out.append(UInt16(bitPattern: Int16(max(-32767, min(32767, counts.isFinite ? counts : 0)))))
                }
            }
            return out
        }
        for k in 0..<perBlock {
            let t = Double(Int(sequence) * perBlock + k) / fs
            // Phase of a fundamental whose frequency drifts linearly: ∫ 2π (f0 + a·t) dt.
            let theta = 2 * Double.pi * (config.frequency * t + config.driftHzPerSecond * t * t / 2)
            var modulation = 1.0
            if let m = config.modulation {
                let s = sin(2 * Double.pi * m.hertz * t)
                modulation += m.percent / 200 * (m.rectangular ? (s >= 0 ? 1 : -1) : s)
            }
            for ch in interface.channels {
                let p = Int(ch.phase)
                let shift = -Double(p - 1) * 2 * .pi / 3
                var factor = 1.0
                for c in changes
                where (c.phase == 0 || c.phase == p) && t >= c.fromSeconds && t < c.fromSeconds + c.durationSeconds {
                    factor = c.factor
                }
                let rms = ch.kind == .voltage ? config.nominalVoltage : config.current
                let lag = ch.kind == .voltage ? 0 : Double.pi / 6
                let amplitude =
                    rms * 2.0.squareRoot() * (ch.kind == .voltage ? config.phaseFactors[p - 1] * modulation : 1)
                var x = amplitude * (ch.kind == .voltage ? factor : 1) * sin(theta + shift - lag)
                for h in config.harmonics {
                    x += amplitude * h.percent / 100 * sin(h.order * (theta + shift) + h.phase * .pi / 180)
                }
                for ih in config.interharmonics {
                    x += amplitude * ih.percent / 100 * sin(2 * Double.pi * ih.hertz * t + shift + ih.phase * .pi / 180)
                }
                let counts = (x / Double(ch.scale)).rounded()
                out.append(UInt16(bitPattern: Int16(max(-32767, min(32767, counts)))))
            }
        }
        return out
    }

    private func write(_ words: [UInt16], at address: Int) {
        let base = mapping.pointee.tab_input_registers!
        for (i, w) in words.enumerated() { base[address - WaveformInterface.capabilityAddress + i] = w }
    }
}

/// A recording that cannot be replayed.
struct ReplayError: Error, CustomStringConvertible {
    var description: String
}
