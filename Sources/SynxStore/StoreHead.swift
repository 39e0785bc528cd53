import Foundation

/// The points committed since the last compaction, per series, compressed as they arrive (`SeriesBlockEncoder`):
/// what the `sample_head` table holds, in the form queries and compaction need (`docs/design.md`, "The store").
///
/// The writer appends after each commit and seals the lot at a compaction; queries on any thread copy a series'
/// runs under the lock and decode them outside it. A compaction's sealed runs stay until their blocks are
/// committed, so a query sees every point either here or in a block (`StoreReader` drops the ones in both).
public final class StoreHead: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [Int64: SeriesBlockEncoder] = [:]
    private var sealed: [Int64: SeriesBlockEncoder] = [:]
    private var openPoints = 0, sealedPoints = 0
    private var openBytes = 0, sealedBytes = 0

    init() {}

    /// Points held (open and sealed) and the bytes their runs take.
    var size: (points: Int, bytes: Int) { lock.withLock { (openPoints + sealedPoints, openBytes + sealedBytes) } }

    /// Whether nothing was committed since the last seal.
    var isOpenEmpty: Bool { lock.withLock { open.isEmpty } }

    /// Adds committed points; each series' points must come in time order.
    func append(_ rows: [HeadRow]) {
        lock.withLock {
            for r in rows {
                var e = open[r.series] ?? SeriesBlockEncoder(hasCounts: r.hasCounts)
                openBytes -= e.byteCount
                e.append(r.point)
                openBytes += e.byteCount
                open[r.series] = e
            }
            openPoints += rows.count
        }
    }

    /// Seals what is open for a compaction and returns the sealed runs.
    func seal() -> [Int64: SeriesBlockEncoder] {
        lock.withLock {
            // Only an unfinished compaction leaves sealed runs, and it is finished before the next seal.
            precondition(sealed.isEmpty, "seal while a compaction is unfinished")
            sealed = open
            sealedPoints = openPoints
            sealedBytes = openBytes
            open = [:]
            openPoints = 0
            openBytes = 0
            return sealed
        }
    }

    /// Forgets the sealed runs once their blocks are committed.
    func dropSealed() {
        lock.withLock {
            sealed = [:]
            sealedPoints = 0
            sealedBytes = 0
        }
    }

    /// The runs of one series held here (sealed first), encoded.
    func runs(of series: Int64) -> [[UInt8]] {
        lock.withLock { [sealed[series], open[series]].compactMap { $0?.encoded } }
    }
}

/// One row of the head: a point of a series, with whether the series carries counts (3-s aggregates).
struct HeadRow {
    var series: Int64
    var point: SeriesPoint
    var hasCounts: Bool
}

/// The rows of one commit as stored in one `sample_head` row: the write-ahead form of the head, replayed at
/// start. Appended in commit order, so a commit writes about as many pages as its rows fill.
///
/// Layout: a version byte (1), then per row: the series id (LEB128), the time as the zigzag LEB128 difference
/// from the previous row's (the first from 0), a byte of flags (bits 0–4 the point's flags; 7: no value; 6:
/// counts follow; 5: the value is stored as a float32, which it is exactly), the value (4 or 8 bytes, little
/// endian), and the counts (zigzag LEB128) when bit 6 says so.
enum HeadBatch {
    static func encode(_ rows: [HeadRow]) -> [UInt8] {
        var out: [UInt8] = [1]
        out.reserveCapacity(rows.count * 8 + 1)
        var lastTime: Int64 = 0
        for r in rows {
            LEB128.append(UInt64(bitPattern: r.series), to: &out)
            LEB128.append(zigzag(r.point.time &- lastTime), to: &out)
            lastTime = r.point.time
            var flags = r.point.flags & 0x1F
            if r.hasCounts { flags |= 0x40 }
            guard let v = r.point.value else {
                out.append(flags | 0x80)
                appendCounts(r, to: &out)
                continue
            }
            if let f = Float(exactly: v) {
                out.append(flags | 0x20)
                withUnsafeBytes(of: f.bitPattern.littleEndian) { out += $0 }
            } else {  // every NaN too (Float(exactly:) is nil for it): its bits are kept as they came
                out.append(flags)
                withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 }
            }
            appendCounts(r, to: &out)
        }
        return out
    }

    private static func appendCounts(_ r: HeadRow, to out: inout [UInt8]) {
        guard r.hasCounts else { return }
        LEB128.append(zigzag(r.point.count), to: &out)
        LEB128.append(zigzag(r.point.expected), to: &out)
    }

    static func decode(_ blob: [UInt8]) throws -> [HeadRow] {
        guard blob.first == 1 else { throw CorruptBlob(what: "head batch header") }
        var offset = 1
        var lastTime: Int64 = 0
        var out: [HeadRow] = []
        func bytes(_ n: Int) throws -> UInt64 {
            guard offset + n <= blob.count else { throw CorruptBlob(what: "head batch: ends early") }
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(blob[offset + i]) << UInt64(8 * i) }
            offset += n
            return v
        }
        while offset < blob.count {
            let series = Int64(bitPattern: try LEB128.read(blob, at: &offset))
            lastTime = lastTime &+ unzigzag(try LEB128.read(blob, at: &offset))
            let flags = UInt8(try bytes(1))
            var value: Double?
            if flags & 0x80 == 0 {
                value =
                    flags & 0x20 != 0
                    ? Double(Float(bitPattern: UInt32(try bytes(4)))) : Double(bitPattern: try bytes(8))
            }
            var point = SeriesPoint(time: lastTime, value: value, flags: flags & 0x1F)
            let hasCounts = flags & 0x40 != 0
            if hasCounts {
                point.count = unzigzag(try LEB128.read(blob, at: &offset))
                point.expected = unzigzag(try LEB128.read(blob, at: &offset))
            }
            out.append(HeadRow(series: series, point: point, hasCounts: hasCounts))
        }
        return out
    }
}
