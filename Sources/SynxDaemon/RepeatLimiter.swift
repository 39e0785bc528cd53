import Foundation
import SynxSystem

/// Holds back log lines that a misbehaving device can repeat many times a second (overruns, bad samples,
/// engine errors): the first line of each kind is written, then at most one per `interval` with the number
/// held back since — so the journal shows the problem and how often, without filling up. Kinds are a small
/// fixed set per caller, so the table stays small. Not thread-safe: one per thread.
struct RepeatLimiter {
    let intervalMs: Int64
    private var entries: [String: (lastLogged: Int64, heldBack: Int)] = [:]

    init(intervalMs: Int64 = 60_000) { self.intervalMs = intervalMs }

    /// Whether a line of `kind` may be written at monotonic time `now` (ms), and how many were held back
    /// before it; nil: hold this one back.
    mutating func admit(_ kind: String, now: Int64) -> Int? {
        guard let e = entries[kind] else {
            entries[kind] = (now, 0)
            return 0
        }
        guard now - e.lastLogged >= intervalMs else {
            entries[kind] = (e.lastLogged, e.heldBack + 1)
            return nil
        }
        entries[kind] = (now, 0)
        return e.heldBack
    }
}

/// A `RepeatLimiter` shared by threads (the control server's connections): a client that opens a thousand
/// connections, or asks for a thousand refused commands, costs a line per kind every `intervalMs`, not a line
/// each, so journald's rate limit never drops the alerts that matter.
final class SharedRepeatLimiter: @unchecked Sendable {
    private var limiter: RepeatLimiter
    private let lock = NSLock()

    init(intervalMs: Int64 = 10_000) { limiter = RepeatLimiter(intervalMs: intervalMs) }

    /// `message` (with how many of its kind were held back since the last one) if a line of `kind` may be
    /// written now; nil: hold it back.
    func admit(_ kind: String, _ message: String) -> String? {
        let held = lock.withLock { limiter.admit(kind, now: monotonicMilliseconds()) }
        return held.map { $0 > 0 ? "\(message) (\($0) more held back)" : message }
    }
}
