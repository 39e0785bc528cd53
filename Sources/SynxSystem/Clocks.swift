import Glibc

/// Milliseconds of CLOCK_MONOTONIC: for durations, timeouts and timers, which a step of the wall clock must
/// not stretch or shrink.
public func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// UTC milliseconds since the Unix epoch (CLOCK_REALTIME): for timestamps and wall-clock schedules only.
public func wallClockNow() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Tells a step of the wall clock (NTP setting the time at boot, an operator's `date -s`) from its normal
/// progress, by watching the wall clock's offset from the monotonic clock: it stays put while both run (NTP
/// slews by at most 0.5 ms a second), and moves by the size of any step.
public struct ClockStepDetector: Sendable {
    /// Offset changes at least this large (ms) are steps; smaller ones are slewing and read jitter.
    public static let thresholdMilliseconds: Int64 = 1000
    private var offset: Int64

    /// A detector whose reference is the clocks now.
    public init() { offset = wallClockNow() - monotonicMilliseconds() }

    /// The step of the wall clock (ms; negative: backwards) since the last call, or nil if there was none.
    public mutating func check() -> Int64? { check(wall: wallClockNow(), monotonic: monotonicMilliseconds()) }

    /// `check()` for given readings of the two clocks.
    public mutating func check(wall: Int64, monotonic: Int64) -> Int64? {
        let now = wall - monotonic
        defer { offset = now }
        let step = now - offset
        return abs(step) >= ClockStepDetector.thresholdMilliseconds ? step : nil
    }
}
