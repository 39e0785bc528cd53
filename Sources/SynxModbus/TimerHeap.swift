/// A binary min-heap of deadlines (milliseconds), for the reactor's timers (and synx-sim's). Ties keep insertion order.
public struct TimerHeap<Payload> {
    private var items: [(at: Int64, seq: UInt64, payload: Payload)] = []
    private var nextSeq: UInt64 = 0

    /// An empty heap.
    public init() {}

    public var isEmpty: Bool { items.isEmpty }
    public var earliest: Int64? { items.first?.at }

    /// Adds `payload`, due at `at` (monotonic ms).
    public mutating func insert(_ payload: Payload, at: Int64) {
        items.append((at, nextSeq, payload))
        nextSeq &+= 1
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the earliest entry if it is due at `now`.
    public mutating func popDue(_ now: Int64) -> Payload? {
        guard let first = items.first, first.at <= now else { return nil }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < items.count && less(l, m) { m = l }
            if r < items.count && less(r, m) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return first.payload
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (items[a].at, items[a].seq) < (items[b].at, items[b].seq)
    }
}
