/// One stored point of a series as the block codec sees it: a time, a value (nil when there is none), a byte of
/// flags (a sample's quality; a 3-s aggregate's method and notes) and, for aggregates, the counts of values
/// received and expected.
struct SeriesPoint: Equatable {
    var time: Int64
    var value: Double?
    /// Bits 0–4 only; the codec keeps bit 7 for "no value".
    var flags: UInt8
    var count: Int64 = 0
    var expected: Int64 = 0
}

/// A corrupt block or head batch: a blob that ends early or says something no encoder writes.
struct CorruptBlob: Error, CustomStringConvertible {
    var what: String
    var description: String { "store: corrupt \(what)" }
}

/// The compressed form of a run of one series' points, in time order (`docs/design.md`, "The store"):
///
/// - times as delta-of-delta in the buckets of Gorilla (Pelkonen et al., VLDB 2015, §4.1.1), widened for
///   milliseconds: a poll that starts on its schedule costs one bit;
/// - values: an unchanged one in one bit; a float32 reading after a float32 reading (what most meters send) as
///   the difference of their bit patterns, 11 to 19 bits for a meter's noise; any other as the XOR of the two
///   IEEE 754 doubles (§4.1.2);
/// - flags, counts and expected counts as "same as before" (one bit) or the new value.
///
/// The layout: a version byte (1), a byte of block flags (bit 0: the points carry counts), the point count as
/// a LEB128 varint, then the bit stream, most significant bit first.
struct SeriesBlockEncoder {
    private(set) var pointCount = 0
    private(set) var firstTime: Int64 = 0
    private(set) var lastTime: Int64 = 0
    let hasCounts: Bool
    private var bits = BitWriter()
    private var lastDelta: Int64 = 0
    private var lastFlags: UInt8 = 0
    private var lastValueBits: UInt64 = 0
    private var leading = UInt8.max, trailing: UInt8 = 0
    private var lastCount: Int64 = 0, lastExpected: Int64 = 0

    init(hasCounts: Bool) { self.hasCounts = hasCounts }

    /// Bytes held, for the memory bound.
    var byteCount: Int { bits.bytes.count }

    /// Appends a point; its time must be after the previous point's.
    mutating func append(_ p: SeriesPoint) {
        if pointCount == 0 {
            bits.write(UInt64(bitPattern: p.time), 64)
            firstTime = p.time
        } else {
            let delta = p.time &- lastTime
            writeDeltaOfDelta(delta &- lastDelta)
            lastDelta = delta
        }
        lastTime = p.time
        let flags = (p.flags & 0x1F) | (p.value == nil ? 0x80 : 0)
        if flags == lastFlags {
            bits.write(0, 1)
        } else {
            bits.write(1, 1)
            bits.write(UInt64(flags), 8)
            lastFlags = flags
        }
        if let v = p.value { writeValue(v.bitPattern) }
        if hasCounts {
            writeInteger(p.count, changed: p.count != lastCount)
            writeInteger(p.expected, changed: p.expected != lastExpected)
            lastCount = p.count
            lastExpected = p.expected
        }
        pointCount += 1
    }

    /// The block as stored.
    var encoded: [UInt8] {
        var out: [UInt8] = [1, hasCounts ? 1 : 0]
        LEB128.append(UInt64(pointCount), to: &out)
        return out + bits.bytes
    }

    private mutating func writeDeltaOfDelta(_ dod: Int64) {
        if dod == 0 {
            bits.write(0, 1)
            return
        }
        let z = zigzag(dod)
        if z < 1 << 8 {
            bits.write(0b10, 2)
            bits.write(z, 8)
        } else if z < 1 << 14 {
            bits.write(0b110, 3)
            bits.write(z, 14)
        } else if z < 1 << 24 {
            bits.write(0b1110, 4)
            bits.write(z, 24)
        } else {
            bits.write(0b1111, 4)
            bits.write(z, 64)
        }
    }

    private mutating func writeValue(_ v: UInt64) {
        let previous = lastValueBits
        lastValueBits = v
        if v == previous {
            bits.write(0, 1)
            return
        }
        if let a = Float(exactly: Double(bitPattern: previous)), let b = Float(exactly: Double(bitPattern: v)) {
            // Both float32 readings: the difference of their bit patterns, which for values of one sign and
            // exponent is their distance in float32 steps (a meter's noise is a few thousand of them).
            let z = zigzag(Int64(b.bitPattern) - Int64(a.bitPattern))
            bits.write(0b10, 2)
            if z < 1 << 8 {
                bits.write(0, 1)
                bits.write(z, 8)
            } else if z < 1 << 16 {
                bits.write(0b10, 2)
                bits.write(z, 16)
            } else {
                bits.write(0b11, 2)
                bits.write(z, 33)
            }
            return
        }
        let x = v ^ previous
        let lz = UInt8(x.leadingZeroBitCount)
        let tz = UInt8(x.trailingZeroBitCount)
        if leading != .max, lz >= leading, tz >= trailing {
            // Inside the previous window of meaningful bits.
            bits.write(0b110, 3)
            bits.write(x >> trailing, Int(64 - leading - trailing))
        } else {
            leading = lz
            trailing = tz
            let length = 64 - lz - tz  // 1…64
            bits.write(0b111, 3)
            bits.write(UInt64(lz), 6)
            bits.write(UInt64(length - 1), 6)
            bits.write(x >> tz, Int(length))
        }
    }

    private mutating func writeInteger(_ v: Int64, changed: Bool) {
        guard changed else {
            bits.write(0, 1)
            return
        }
        let z = zigzag(v)
        let width = 64 - z.leadingZeroBitCount  // 0…64
        bits.write(1, 1)
        bits.write(UInt64(width), 7)
        bits.write(z, width)
    }
}

/// The samples of one block of a polled series (`sample_blocks.data`), for tools that read the store's file
/// directly (`docs/design.md`, "The store").
public enum StoredSeriesBlock {
    /// Decodes `data`; a damaged block is an error.
    public static func samples(_ data: [UInt8]) throws -> [StoredSample] {
        try SeriesBlockDecoder.decode(data).map {
            StoredSample(time: $0.time, value: $0.value, quality: SampleQuality(rawValue: Int($0.flags)) ?? .invalid)
        }
    }
}

/// Reads a block written by `SeriesBlockEncoder`; every read is bounds-checked, so a damaged blob gives an
/// error, not a crash or a wrong point count.
enum SeriesBlockDecoder {
    /// Points in a block, at most this many (a 10-min window of 1-ms points is 600 000): a count beyond it is
    /// corruption, and refusing it bounds the memory a damaged block can ask for.
    static let maxPoints = 1 << 22

    static func decode(_ blob: [UInt8]) throws -> [SeriesPoint] {
        guard blob.count >= 3, blob[0] == 1, blob[1] <= 1 else { throw CorruptBlob(what: "block header") }
        let hasCounts = blob[1] == 1
        var offset = 2
        let n = try LEB128.read(blob, at: &offset)
        guard n <= UInt64(maxPoints) else { throw CorruptBlob(what: "block point count \(n)") }
        var r = BitReader(blob, from: offset)
        var out: [SeriesPoint] = []
        out.reserveCapacity(Int(n))
        var time: Int64 = 0
        var delta: Int64 = 0
        var flags: UInt8 = 0
        var valueBits: UInt64 = 0
        var leading = 0
        var trailing = 0
        var haveWindow = false
        var count: Int64 = 0
        var expected: Int64 = 0
        for i in 0..<Int(n) {
            if i == 0 {
                time = Int64(bitPattern: try r.read(64))
            } else {
                delta = delta &+ (try readDeltaOfDelta(&r))
                time = time &+ delta
            }
            if try r.read(1) == 1 {
                flags = UInt8(try r.read(8))
                guard flags & 0x60 == 0 else { throw CorruptBlob(what: "block flags") }
            }
            var value: Double?
            if flags & 0x80 == 0 {
                if try r.read(1) == 1 {
                    if try r.read(1) == 0 {
                        guard let a = Float(exactly: Double(bitPattern: valueBits)) else {
                            throw CorruptBlob(what: "block float32 step")
                        }
                        let z =
                            try r.read(1) == 0 ? try r.read(8) : try r.read(1) == 0 ? try r.read(16) : try r.read(33)
                        let b = Int64(a.bitPattern) + unzigzag(z)
                        guard let pattern = UInt32(exactly: b) else { throw CorruptBlob(what: "block float32 step") }
                        valueBits = Double(Float(bitPattern: pattern)).bitPattern
                    } else if try r.read(1) == 0 {
                        guard haveWindow else { throw CorruptBlob(what: "block value window") }
                        valueBits ^= try r.read(64 - leading - trailing) << trailing
                    } else {
                        leading = Int(try r.read(6))
                        let length = Int(try r.read(6)) + 1
                        guard leading + length <= 64 else { throw CorruptBlob(what: "block value length") }
                        trailing = 64 - leading - length
                        haveWindow = true
                        valueBits ^= try r.read(length) << trailing
                    }
                }
                value = Double(bitPattern: valueBits)
            }
            if hasCounts {
                count = try readInteger(&r, last: count)
                expected = try readInteger(&r, last: expected)
            }
            out.append(SeriesPoint(time: time, value: value, flags: flags & 0x1F, count: count, expected: expected))
        }
        return out
    }

    private static func readDeltaOfDelta(_ r: inout BitReader) throws -> Int64 {
        if try r.read(1) == 0 { return 0 }
        if try r.read(1) == 0 { return unzigzag(try r.read(8)) }
        if try r.read(1) == 0 { return unzigzag(try r.read(14)) }
        if try r.read(1) == 0 { return unzigzag(try r.read(24)) }
        return unzigzag(try r.read(64))
    }

    private static func readInteger(_ r: inout BitReader, last: Int64) throws -> Int64 {
        if try r.read(1) == 0 { return last }
        let width = Int(try r.read(7))
        guard width <= 64 else { throw CorruptBlob(what: "block integer width") }
        return unzigzag(try r.read(width))
    }
}

/// Bits appended most significant first.
struct BitWriter {
    private(set) var bytes: [UInt8] = []
    /// Bits still free in the last byte (0: start a new one).
    private var free = 0

    /// Appends the low `width` bits of `value` (0…64).
    mutating func write(_ value: UInt64, _ width: Int) {
        var remaining = width
        while remaining > 0 {
            if free == 0 {
                bytes.append(0)
                free = 8
            }
            let take = min(free, remaining)
            let chunk = UInt8(truncatingIfNeeded: (value >> UInt64(remaining - take)) & ((1 << UInt64(take)) - 1))
            bytes[bytes.count - 1] |= chunk << UInt8(free - take)
            free -= take
            remaining -= take
        }
    }
}

/// Reads what `BitWriter` wrote; reading past the end throws.
struct BitReader {
    /// The bytes, with eight zero bytes after them so a read can always load a whole 64-bit word.
    private let bytes: [UInt8]
    private let end: Int
    private var bit: Int

    init(_ bytes: [UInt8], from byteOffset: Int) {
        self.bytes = bytes + [0, 0, 0, 0, 0, 0, 0, 0]
        end = bytes.count * 8
        bit = byteOffset * 8
    }

    /// The next `width` bits (0…64), most significant first.
    mutating func read(_ width: Int) throws -> UInt64 {
        guard width > 0 else { return 0 }
        guard bit + width <= end else { throw CorruptBlob(what: "blob: ends early") }
        if width > 56 {
            let high = try read(width - 32)
            return high << 32 | (try read(32))
        }
        let word = bytes.withUnsafeBytes {
            UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: bit >> 3, as: UInt64.self))
        }
        let value = (word << UInt64(bit & 7)) >> UInt64(64 - width)
        bit += width
        return value
    }
}

/// Unsigned LEB128 varints.
enum LEB128 {
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func read(_ bytes: [UInt8], at offset: inout Int) throws -> UInt64 {
        var out: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count, shift < 64 else { throw CorruptBlob(what: "varint") }
            let b = bytes[offset]
            offset += 1
            out |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return out }
            shift += 7
        }
    }
}

func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
func unzigzag(_ z: UInt64) -> Int64 { Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1) }
