/// The synx waveform register interface (docs/waveform-interface.md): how a meter that samples its inputs
/// serves them over Modbus, in input registers (function 4). A capability block describes the stream; a FIFO
/// of sample blocks, each addressed by its sequence number modulo the FIFO depth, holds the recent samples.
/// Reads are stateless, so a retried or lost request never skips data silently: each block carries its
/// sequence number, and a block that was overwritten before it was read shows as a gap.
public struct WaveformInterface: Equatable, Sendable {
    /// Input register of the capability block.
    public static let capabilityAddress = 5000
    /// Registers in the capability block (header and 8 channel descriptors).
    public static let capabilityLength = 52
    /// Input register of the first FIFO slot.
    public static let fifoAddress = 6000
    public static let magic: UInt16 = 0x5751
    public static let version: UInt16 = 1
    /// The newest-sequence register when no block is complete yet.
    public static let noBlock: UInt32 = 0xFFFF_FFFF

    /// One sampled input: what it measures and the volts or amperes of one count.
    public struct Channel: Equatable, Sendable {
        /// Register value of the channel's kind in the capability block.
        public enum Kind: UInt16, Sendable {
            case voltage = 0
            case current = 1
        }
        public var kind: Kind
        /// 1, 2, 3 for L1, L2, L3; 4 for N.
        public var phase: UInt16
        public var scale: Float
        /// A channel of `kind` on `phase` (1–4: L1, L2, L3, N) whose counts are multiplied by `scale`.
        public init(kind: Kind, phase: UInt16, scale: Float) {
            self.kind = kind
            self.phase = phase
            self.scale = scale
        }
    }

    public var channels: [Channel]
    public var samplesPerBlock: Int
    public var sampleRate: Int
    public var nominalFrequency: Int
    public var fifoDepth: Int
    /// UTC microseconds of the first sample of block 0.
    public var epochMicroseconds: UInt64

    /// An interface with every field as given; `init(capability:)` is what reads and checks a device's.
    public init(
        channels: [Channel], samplesPerBlock: Int, sampleRate: Int, nominalFrequency: Int, fifoDepth: Int,
        epochMicroseconds: UInt64
    ) {
        self.channels = channels
        self.samplesPerBlock = samplesPerBlock
        self.sampleRate = sampleRate
        self.nominalFrequency = nominalFrequency
        self.fifoDepth = fifoDepth
        self.epochMicroseconds = epochMicroseconds
    }

    /// Registers of one FIFO slot: the sequence number (2) and the samples, sample-major (s0c0, s0c1, …).
    public var blockLength: Int { 2 + channels.count * samplesPerBlock }
    /// First register of the slot holding block `sequence`.
    public func slotAddress(_ sequence: UInt32) -> Int {
        Self.fifoAddress + Int(sequence % UInt32(fifoDepth)) * blockLength
    }
    /// UTC seconds of the first sample of block `sequence` (finite for any block-0 time and sequence).
    public func startTime(_ sequence: UInt32) -> Double {
        Double(epochMicroseconds) / 1e6 + Double(sequence) * Double(samplesPerBlock) / Double(sampleRate)
    }

    /// Why a capability block is not usable.
    public struct Invalid: Error, CustomStringConvertible {
        public var description: String
        /// A malformed stream, said by `description`.
        public init(description: String) { self.description = description }
    }

    /// Decodes a capability block and checks it describes a stream this reader can follow.
    public init(capability r: [UInt16]) throws {
        func fail(_ m: String) -> Invalid { Invalid(description: "waveform capability block: \(m)") }
        guard r.count >= Self.capabilityLength else {
            throw fail("\(r.count) registers, \(Self.capabilityLength) needed")
        }
        guard r[0] == Self.magic else {
            throw fail("no synx waveform interface here (register 5000 is \(r[0]), not 0x5751)")
        }
        guard r[1] == Self.version else { throw fail("interface version \(r[1]); this reader speaks \(Self.version)") }
        let count = Int(r[2])
        guard (1...8).contains(count) else { throw fail("\(count) channels (1…8 allowed)") }
        channels = try (0..<count).map { c in
            let base = 20 + 4 * c
            guard let kind = Channel.Kind(rawValue: r[base]), (1...4).contains(r[base + 1]) else {
                throw fail("channel \(c + 1) has kind \(r[base]) / phase \(r[base + 1])")
            }
            return Channel(
                kind: kind, phase: r[base + 1],
                scale: Float(bitPattern: UInt32(r[base + 2]) << 16 | UInt32(r[base + 3])))
        }
        samplesPerBlock = Int(r[3])
        sampleRate = Int(UInt32(r[4]) << 16 | UInt32(r[5]))
        nominalFrequency = Int(r[6])
        fifoDepth = Int(r[7])
        epochMicroseconds = (8..<12).reduce(UInt64(0)) { $0 << 16 | UInt64(r[$1]) }
        guard samplesPerBlock >= 1, blockLength <= 125 else {
            throw fail("a block of \(blockLength) registers does not fit one read")
        }
        guard fifoDepth >= 2, Self.fifoAddress + fifoDepth * blockLength <= 65536 else {
            throw fail("FIFO depth \(fifoDepth) does not fit")
        }
        guard nominalFrequency == 50 || nominalFrequency == 60 else {
            throw fail("nominal frequency \(nominalFrequency) Hz")
        }
        guard Self.sampleRates.contains(sampleRate) else {
            throw fail(
                "sample rate \(sampleRate) S/s (\(Self.sampleRates.lowerBound)…\(Self.sampleRates.upperBound) accepted)"
            )
        }
        for (i, c) in channels.enumerated() {
            guard c.scale.isFinite, Self.scales.contains(abs(Double(c.scale))) else {
                throw fail(
                    "channel \(i + 1) has scale \(c.scale) per count (±\(Self.scales.lowerBound)…\(Self.scales.upperBound) accepted)"
                )
            }
            if let j = channels[..<i].firstIndex(where: { $0.kind == c.kind && $0.phase == c.phase }) {
                throw fail("channels \(j + 1) and \(i + 1) measure the same \(c.kind) of phase \(c.phase)")
            }
        }
        guard channels.contains(where: { $0.kind == .voltage && $0.phase <= 3 }) else {
            throw fail("no phase voltage channel (the engine's reference)")
        }
    }

    /// Sample rates accepted, S/s: the engine's range (IEC 61000-4-30 Class A needs at least 4 kS/s for the
    /// harmonics to the 50th; above 100 kS/s a block would last under a millisecond).
    public static let sampleRates = 4_000...100_000
    /// Magnitudes of a channel's scale accepted, volts or amperes per count: a 16-bit count of 1e-9 V is no
    /// measurement, one of 10 kV is beyond any transformer ratio.
    public static let scales = 1e-9...1e4
    /// How far the time of the newest block may be from the host's clock, seconds: a device whose clock is
    /// further off than this would stamp every value wrongly (or, beyond 2^63 µs, not at all).
    public static let clockWindowSeconds = 3600.0

    /// Checks that block `sequence` starts within `clockWindowSeconds` of `hostSeconds` (UTC seconds).
    public func checkClock(newest sequence: UInt32?, hostSeconds: Double) throws {
        let t = startTime(sequence ?? 0)
        guard abs(t - hostSeconds) <= Self.clockWindowSeconds else {
            let offset = abs(t - hostSeconds) < 1e15 ? "\(Int64(t - hostSeconds)) s" : "\(t - hostSeconds) s"
            throw Invalid(
                description: "waveform clock: block \(sequence ?? 0) starts \(offset) from the host's clock "
                    + "(±\(Int(Self.clockWindowSeconds)) s accepted)")
        }
    }

    /// The samples of a FIFO slot read (`blockLength` registers), per channel in volts or amperes, or nil when
    /// the slot holds another block than `sequence` (it was overwritten before it was read).
    public func samples(ofSlot r: [UInt16], sequence: UInt32) -> [[Double]]? {
        guard r.count == blockLength, UInt32(r[0]) << 16 | UInt32(r[1]) == sequence else { return nil }
        let count = channels.count
        return channels.indices.map { c in
            let scale = Double(channels[c].scale)
            return (0..<samplesPerBlock).map { k in Double(Int16(bitPattern: r[2 + k * count + c])) * scale }
        }
    }

    /// The capability block's registers; `newest` is the newest complete block's sequence number.
    public func capability(newest: UInt32) -> [UInt16] {
        var r = [UInt16](repeating: 0, count: Self.capabilityLength)
        r[0] = Self.magic
        r[1] = Self.version
        r[2] = UInt16(channels.count)
        r[3] = UInt16(samplesPerBlock)
        r[4] = UInt16(sampleRate >> 16)
        r[5] = UInt16(sampleRate & 0xFFFF)
        r[6] = UInt16(nominalFrequency)
        r[7] = UInt16(fifoDepth)
        for i in 0..<4 { r[8 + i] = UInt16(truncatingIfNeeded: epochMicroseconds >> (48 - 16 * UInt64(i))) }
        r[12] = UInt16(newest >> 16)
        r[13] = UInt16(newest & 0xFFFF)
        for (c, ch) in channels.enumerated() {
            let bits = ch.scale.bitPattern
            r[20 + 4 * c] = ch.kind.rawValue
            r[21 + 4 * c] = ch.phase
            r[22 + 4 * c] = UInt16(bits >> 16)
            r[23 + 4 * c] = UInt16(bits & 0xFFFF)
        }
        return r
    }

    /// The newest complete block's sequence number from a capability block read (nil: none yet).
    public static func newest(_ r: [UInt16]) -> UInt32? {
        let v = UInt32(r[12]) << 16 | UInt32(r[13])
        return v == noBlock ? nil : v
    }
}
