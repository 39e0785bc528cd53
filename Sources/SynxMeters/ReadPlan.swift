import SynxModbus

/// The requests that read a set of register points: adjacent (or nearly adjacent, within the profile's
/// merge gap) registers merged into as few reads as possible, each within the 125-register limit of
/// function codes 3 and 4 (Modbus application protocol §6.3–6.4).
public struct ReadPlan: Sendable {
    /// One read request and the points it covers.
    public struct Block: Equatable, Sendable {
        public var table: RegisterTable
        public var address: Int
        public var count: Int
        public var lastAddress: Int { address + count - 1 }
    }

    public let blocks: [Block]

    /// Plans the reads for `points` (their scale-factor registers included).
    public init(points: [RegisterPoint], mergeGap: Int) {
        var spans: [(table: RegisterTable, first: Int, last: Int)] = []
        for p in points {
            spans.append((p.table, p.address, p.lastAddress))
            if let sf = p.scaleFactorAddress { spans.append((p.table, sf, sf)) }
            if let f = p.fundamentalAddress { spans.append((p.table, f, f + p.type.wordCount - 1)) }
        }
        spans.sort { ($0.table, $0.first, $0.last) < ($1.table, $1.first, $1.last) }
        var blocks: [Block] = []
        for span in spans {
            if var current = blocks.last, current.table == span.table,
                span.first <= current.lastAddress + 1 + mergeGap,
                max(current.lastAddress, span.last) - current.address + 1 <= maxRegistersPerRead
            {
                current.count = max(current.lastAddress, span.last) - current.address + 1
                blocks[blocks.count - 1] = current
            } else {
                blocks.append(Block(table: span.table, address: span.first, count: span.last - span.first + 1))
            }
        }
        self.blocks = blocks
    }
}

/// Registers read in one poll, by table and address, and the decoding of points from them.
public struct RegisterImage {
    /// The blocks read, as returned; a poll has a handful, so a scan beats hashing every register.
    private var blocks: [(table: RegisterTable, address: Int, words: [UInt16])] = []

    /// An image with no register read yet.
    public init() {}

    /// Whether no block was read.
    public var isEmpty: Bool { blocks.isEmpty }

    /// Records the words a block read returned.
    public mutating func store(_ values: [UInt16], table: RegisterTable, address: Int) {
        blocks.append((table, address, values))
    }

    /// `count` registers from `address`, if one stored block holds them all (as a copy, for display).
    public func words(_ table: RegisterTable, _ address: Int, _ count: Int) -> [UInt16]? {
        slice(table, address, count).map(Array.init)
    }

    /// `count` registers from `address`, if one stored block holds them all.
    func slice(_ table: RegisterTable, _ address: Int, _ count: Int) -> ArraySlice<UInt16>? {
        for b in blocks.reversed()
        where b.table == table && address >= b.address && address + count <= b.address + b.words.count {
            return b.words[(address - b.address)..<(address - b.address + count)]
        }
        return nil
    }

    /// What a poll yielded for one point.
    public enum Reading: Equatable {
        /// A finite, plausible value in the canonical unit.
        case value(Double)
        /// The device marks the point not implemented (SunSpec); it is not a measurement of this meter.
        case notImplemented
        /// Read, but not a usable number (NaN, infinity, a bad scale factor, a value no meter can measure):
        /// why, in a few words that do not depend on the value (so reasons can be counted).
        case invalid(String)
        /// Its registers were not read (the request failed).
        case unread
    }

    /// What the registers hold for `point`, judged against its plausible range (`Plausibility.range(of:)`).
    public func reading(of point: RegisterPoint, plausible: ClosedRange<Double>) -> Reading {
        guard let raw = slice(point.table, point.address, point.type.wordCount) else { return .unread }
        if point.honoursNotImplemented && RegisterCodec.isSunSpecNotImplemented(raw, as: point.type) {
            return .notImplemented
        }
        var v = scaled(RegisterCodec.decode(raw, as: point.type, order: point.order), by: point.scale)
        if let sfAddress = point.scaleFactorAddress {
            guard let sf = slice(point.table, sfAddress, 1)?.first else { return .unread }
            if sf == 0x8000 { return .notImplemented }
            let exponent = Int(Int16(bitPattern: sf))
            // SunSpec Information Model Specification §4.2.4: a sunssf is −10…10.
            guard (-10...10).contains(exponent) else {
                return .invalid("\(point.measurement.name) scale factor outside -10…10")
            }
            v = exponent < 0 ? v / pow10(-exponent) : v * pow10(exponent)
        }
        if let address = point.fundamentalAddress {
            guard let raw = slice(point.table, address, point.type.wordCount) else { return .unread }
            let fundamental = scaled(RegisterCodec.decode(raw, as: point.type, order: point.order), by: point.scale)
            // No fundamental (a dead phase): no ratio, and not a fault of the meter's.
            guard fundamental.isFinite, fundamental > 0 else { return .notImplemented }
            v = v / fundamental * 100
        }
        if v.isNaN { return .invalid("\(point.measurement.name) not a number") }
        if !v.isFinite { return .invalid("\(point.measurement.name) infinite") }
        guard plausible.contains(v) else { return .invalid(Plausibility.reason(point, outside: plausible)) }
        return .value(v)
    }

    /// `raw × scale`, computed as a division when the scale is 1/n, so 411506 × 0.001 gives 411.506 rather
    /// than 411.50600000000003 (the division is correctly rounded; the product of two roundings is not).
    func scaled(_ raw: Double, by scale: Double) -> Double {
        guard scale != 1 else { return raw }
        let divisor = (1 / scale).rounded()
        return abs(divisor * scale - 1) < 1e-12 && abs(divisor) > 1 ? raw / divisor : raw * scale
    }
}

func pow10(_ e: Int) -> Double {
    var r = 1.0
    for _ in 0..<abs(e) { r *= 10 }
    return e < 0 ? 1 / r : r
}
