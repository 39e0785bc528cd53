import CModbus
import Foundation
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

    init(config: Scenario.Waveform, changes: [Scenario.Change], epoch: Date) {
        self.config = config
        self.changes = changes.filter { $0.id == config.id }
        let peakV = config.nominalVoltage * 2.0.squareRoot() * 2, peakI = max(config.current, 1) * 2.0.squareRoot() * 3
        var channels = (1...3).map { WaveformInterface.Channel(kind: .voltage, phase: UInt16($0), scale: Float(peakV / 32767)) }
        if config.current > 0 {
            channels += (1...3).map { WaveformInterface.Channel(kind: .current, phase: UInt16($0), scale: Float(peakI / 32767)) }
        }
        let perBlock = config.samplesPerBlock > 0 ? config.samplesPerBlock : (125 - 2) / channels.count
        let blockLength = 2 + channels.count * perBlock
        let wanted = Int((config.fifoSeconds * Double(config.sampleRate) / Double(perBlock)).rounded(.up))
        let depth = min(wanted, (65536 - WaveformInterface.fifoAddress) / blockLength)
        var clock = epoch.timeIntervalSince1970
        if let s = config.secondsBefore10MinTick { clock = ((clock + s) / 600).rounded(.up) * 600 - s }
        interface = WaveformInterface(channels: channels, samplesPerBlock: perBlock, sampleRate: config.sampleRate,
                                      nominalFrequency: config.frequency < 55 ? 50 : 60, fifoDepth: depth,
                                      epochMicroseconds: UInt64(clock * 1e6))
        let start = WaveformInterface.capabilityAddress
        mapping = modbus_mapping_new_start_address(0, 0, 0, 0, 0, 0, UInt32(start),
                                                   UInt32(WaveformInterface.fifoAddress + depth * blockLength - start))
        write(interface.capability(newest: WaveformInterface.noBlock), at: start)
    }

    deinit { modbus_mapping_free(mapping) }

    /// Produces every block whose last sample time has passed, `elapsed` seconds after the epoch.
    func advance(to elapsed: Double) {
        let perBlock = interface.samplesPerBlock, fs = Double(interface.sampleRate)
        var produced = false
        while Double(Int(nextSequence) + 1) * Double(perBlock) / fs <= elapsed {
            let block = samples(sequence: nextSequence)
            lock.withLock { write([UInt16(nextSequence >> 16), UInt16(nextSequence & 0xFFFF)] + block, at: interface.slotAddress(nextSequence)) }
            nextSequence += 1
            produced = true
        }
        if produced {
            let newest = nextSequence - 1
            lock.withLock { write([UInt16(newest >> 16), UInt16(newest & 0xFFFF)], at: WaveformInterface.capabilityAddress + 12) }
        }
    }

    /// The raw samples of one block, sample-major.
    private func samples(sequence: UInt32) -> [UInt16] {
        let perBlock = interface.samplesPerBlock, fs = Double(interface.sampleRate)
        let w = 2 * Double.pi * config.frequency
        var out: [UInt16] = []
        out.reserveCapacity(perBlock * interface.channels.count)
        for k in 0..<perBlock {
            let t = Double(Int(sequence) * perBlock + k) / fs
            for ch in interface.channels {
                let p = Int(ch.phase)
                let shift = -Double(p - 1) * 2 * .pi / 3
                var factor = 1.0
                for c in changes where (c.phase == 0 || c.phase == p) && t >= c.fromSeconds && t < c.fromSeconds + c.durationSeconds {
                    factor = c.factor
                }
                let rms = ch.kind == .voltage ? config.nominalVoltage : config.current
                let lag = ch.kind == .voltage ? 0 : Double.pi / 6
                let amplitude = rms * 2.0.squareRoot()
                var x = amplitude * (ch.kind == .voltage ? factor : 1) * sin(w * t + shift - lag)
                for h in config.harmonics { x += amplitude * h.percent / 100 * sin(h.order * (w * t + shift)) }
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
