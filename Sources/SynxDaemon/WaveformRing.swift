import Foundation
import SynxComtrade
import SynxMeters

/// The last seconds of a waveform meter's samples as read (int16 counts, 2 bytes a sample), bounded in time and
/// in bytes, from which a stored event's waveform is exported as COMTRADE (`synxctl export`). Written by the
/// meter's reader thread, read by the control threads.
final class WaveformRing: @unchecked Sendable {
    /// Seconds of raw samples kept...
    static let retentionSeconds = 20.0
    /// ...but never more than this many bytes per meter, whatever sample rate and block size the device
    /// claims (16 MiB: 20 s up to 50 kS/s × 8 channels; about 10 s at 100 kS/s × 8 channels).
    static let maxRawBytes = 16 << 20

    private struct RawBlock {
        var sequence: UInt32
        var start: Double
        var registers: ArraySlice<UInt16>
    }
    private let lock = NSLock()
    private var raw: [RawBlock] = []
    private var rawInterface: WaveformInterface?

    /// Forgets every block (the device restarted its stream: sequence numbers would repeat).
    func removeAll() { lock.withLock { raw.removeAll() } }

    /// Keeps one block's registers as read (the slot less its sequence header), dropping the oldest beyond the
    /// bounds; a changed stream description drops every block of the old one.
    func keep(sequence: UInt32, start: Double, registers: ArraySlice<UInt16>, interface w: WaveformInterface) {
        lock.lock()
        defer { lock.unlock() }
        if rawInterface != w {
            raw.removeAll()
            rawInterface = w
        }
        raw.append(RawBlock(sequence: sequence, start: start, registers: registers))
        // The registers, the array's heap object (header, malloc rounding) and the RawBlock around it.
        let bytesPerBlock = 2 * w.blockLength + 128
        let capacity = min(
            Int(WaveformRing.retentionSeconds * Double(w.sampleRate) / Double(w.samplesPerBlock)),
            WaveformRing.maxRawBytes / bytesPerBlock * 8 / 9)
        if raw.count > capacity + capacity / 8 { raw.removeFirst(raw.count - capacity) }
    }

    /// The samples between `from` and `to` (UTC seconds) still held, as a COMTRADE recording (BINARY: the
    /// meter's own int16 counts with its scales), or nil when they are no longer (or not yet) held. A sample
    /// block missing in between (an overrun) is a jump in the recording's timestamps, not invented samples.
    func recording(meter: String, from: Double, to: Double) -> ComtradeRecording? {
        lock.lock()
        let blocks = raw.filter { $0.start < to && $0.start >= from - 1 }
        let w = rawInterface
        lock.unlock()
        guard let w, let first = blocks.first, first.start <= from + 0.001 else { return nil }
        let fs = Double(w.sampleRate)
        let channels = w.channels.count
        var analog = Array(repeating: [Double](), count: channels)
        var timestamps: [Double?] = []
        for b in blocks {
            for k in 0..<w.samplesPerBlock {
                let t = b.start + Double(k) / fs
                guard t >= from, t < to else { continue }
                timestamps.append((t - first.start) * 1e6)
                for c in 0..<channels {
                    analog[c].append(
                        Double(Int16(bitPattern: b.registers[b.registers.startIndex + k * channels + c]))
                            * Double(w.channels[c].scale))
                }
            }
        }
        guard let firstTime = timestamps.first.flatMap({ $0 }) else { return nil }
        let count = timestamps.count
        let phases = ["A", "B", "C", "N"]
        let specs = w.channels.enumerated().map { i, c in
            ComtradeAnalogChannel(
                index: i + 1, id: "\(c.kind == .voltage ? "U" : "I")\(["L1", "L2", "L3", "N"][Int(c.phase) - 1])",
                phase: phases[Int(c.phase) - 1], circuit: meter, unit: c.kind == .voltage ? "V" : "A")
        }
        let configuration = ComtradeConfiguration(
            stationName: meter, deviceID: "synxd", analog: specs, lineFrequency: Double(w.nominalFrequency),
            sampleRates: blocks.count == Int((blocks.last!.sequence &- first.sequence) &+ 1)
                ? [ComtradeSampleRate(rate: fs, lastSample: count)] : [],
            firstSample: ComtradeTimestamp(secondsSinceEpochLocal: first.start + firstTime / 1e6), format: .binary,
            sampleCount: count)
        return ComtradeRecording(
            configuration: configuration, sampleNumbers: Array(1...count),
            timestamps: timestamps.map { $0.map { $0 - firstTime } }, analog: analog, digital: [])
    }
}
