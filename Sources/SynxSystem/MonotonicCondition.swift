import Glibc

/// A mutex and a condition variable whose timed waits run on CLOCK_MONOTONIC.
///
/// Why not `NSCondition`: on Linux its `wait(until:)` waits for a wall-clock date, so a step of the clock
/// backwards by an hour makes a one-second wait last an hour (a store writer that stops committing, a
/// supervisor that stops pinging the watchdog). Every timed wait of synx's threads uses this instead.
public final class MonotonicCondition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// A condition variable whose timed waits use CLOCK_MONOTONIC.
    public init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Takes the mutex.
    public func lock() { pthread_mutex_lock(mutex) }
    /// Releases the mutex.
    public func unlock() { pthread_mutex_unlock(mutex) }

    /// Runs `body` with the mutex held.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits until signalled (the mutex held on entry and on return; wake-ups may be spurious).
    public func wait() { pthread_cond_wait(cond, mutex) }

    /// Waits until signalled or `milliseconds` of monotonic time have passed (at most a day; a negative or zero
    /// time returns at once). Returns false on timeout.
    @discardableResult
    public func wait(milliseconds: Int64) -> Bool {
        guard milliseconds > 0 else { return false }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let total = Int64(ts.tv_nsec) + min(milliseconds, 86_400_000) * 1_000_000
        ts.tv_sec += Int(total / 1_000_000_000)
        ts.tv_nsec = Int(total % 1_000_000_000)
        return pthread_cond_timedwait(cond, mutex, &ts) != ETIMEDOUT
    }

    /// Wakes one waiting thread.
    public func signal() { pthread_cond_signal(cond) }
    /// Wakes every waiting thread.
    public func broadcast() { pthread_cond_broadcast(cond) }
}
