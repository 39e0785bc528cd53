/// The engine's bounded history of samples, indexed by absolute sample number (a count that never resets,
/// so window boundaries can be fractional sample positions, IEC 61000-4-30 §4.4 implementation note).
struct SampleRing {
    private var storage: [[Double]]
    private let mask: Int
    /// Absolute index of the next sample to be written.
    private(set) var end = 0

    init(channels: Int, minimumCapacity: Int) {
        var capacity = 1
        while capacity < minimumCapacity { capacity <<= 1 }
        storage = Array(repeating: Array(repeating: 0, count: capacity), count: channels)
        mask = capacity - 1
    }

    var capacity: Int { mask + 1 }
    /// Oldest absolute index still held.
    var start: Int { max(0, end - capacity) }

    mutating func append(_ values: UnsafeBufferPointer<Double>, channel: Int, at index: Int) {
        storage[channel].withUnsafeMutableBufferPointer { buffer in
            for (offset, v) in values.enumerated() { buffer[(index + offset) & mask] = v }
        }
    }

    mutating func advance(to newEnd: Int) { end = newEnd }

    subscript(channel: Int, index: Int) -> Double { storage[channel][index & mask] }

    /// Direct read access to one channel's storage; element of absolute index k is at `k & mask`.
    func withChannel<R>(_ channel: Int, _ body: (UnsafeBufferPointer<Double>, Int) -> R) -> R {
        storage[channel].withUnsafeBufferPointer { body($0, mask) }
    }

    /// Whether samples `from ..< to` (absolute) are all held.
    func holds(_ from: Int, _ to: Int) -> Bool { from >= start && to <= end }

    /// The mean over the continuous interval [a, b) (fractional sample positions) of f(x₁, x₂), where each
    /// sample stands for the unit interval centred on it; partial samples at the edges are weighted by overlap.
    /// Used for RMS (x²) and active power (u·i) over windows that end between samples.
    func mean(_ c1: Int, _ c2: Int, from a: Double, to b: Double) -> Double {
        let first = Int((a + 0.5).rounded(.down))
        let last = Int((b - 0.5).rounded(.up))
        guard b > a, first <= last else { return 0 }
        var sum = 0.0
        storage[c1].withUnsafeBufferPointer { x in
            storage[c2].withUnsafeBufferPointer { y in
                for k in first...last {
                    let lo = max(a, Double(k) - 0.5)
                    let hi = min(b, Double(k) + 0.5)
                    let w = hi - lo
                    if w > 0 { sum += w * x[k & mask] * y[k & mask] }
                }
            }
        }
        return sum / (b - a)
    }

    /// True when any sample in [a, b) reaches `limit` in magnitude.
    func reaches(_ channel: Int, limit: Double, from a: Double, to b: Double) -> Bool {
        let first = Int(a.rounded(.down))
        let last = Int(b.rounded(.up))
        for k in max(first, start)..<min(last, end) where abs(self[channel, k]) >= limit { return true }
        return false
    }
}
