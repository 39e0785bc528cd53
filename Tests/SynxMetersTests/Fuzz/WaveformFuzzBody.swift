// One fuzz input against the waveform interface's capability block and block decoding. Compiled into the test
// target (which replays every kept input in Tests/Fuzz/waveform-interface) and into the libFuzzer binary that
// scripts/fuzz builds.
@testable import SynxMeters

/// Reads `input` as big-endian registers: a capability block (52), then a FIFO slot; decodes both as synxd
/// does, checks the clock against a host time taken from the input, and checks what is derived stays finite.
func fuzzWaveformInterface(_ input: [UInt8]) {
    let words = stride(from: 0, to: input.count - 1, by: 2).map { UInt16(input[$0]) << 8 | UInt16(input[$0 + 1]) }
    guard words.count >= WaveformInterface.capabilityLength else { return }
    let capability = Array(words.prefix(WaveformInterface.capabilityLength))
    guard let w = try? WaveformInterface(capability: capability) else { return }
    let newest = WaveformInterface.newest(capability)
    let host = Double(Int32(bitPattern: UInt32(capability[14]) << 16 | UInt32(capability[15]))) * 1e3 + 1.7e9
    guard (try? w.checkClock(newest: newest, hostSeconds: host)) != nil else { return }
    precondition(w.startTime(newest ?? 0).isFinite)
    let address = w.slotAddress(newest ?? 0)
    precondition(address >= WaveformInterface.fifoAddress && address + w.blockLength <= 65536)
    let slot = Array(words.dropFirst(WaveformInterface.capabilityLength).prefix(w.blockLength))
    if let channels = w.samples(ofSlot: slot, sequence: newest ?? 0) {
        precondition(
            channels.count == w.channels.count
                && channels.allSatisfy { $0.count == w.samplesPerBlock && $0.allSatisfy(\.isFinite) })
    }
}
