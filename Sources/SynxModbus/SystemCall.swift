import Glibc

/// Runs a system call, retrying EINTR, and returns its result or the errno it failed with.
///
/// Every syscall of the Modbus/TCP client goes through here so errno is read at once after the call.
@inline(__always)
func retryingEINTR<T: BinaryInteger>(_ call: () -> T) -> Result<T, Errno> {
    while true {
        let r = call()
        if r >= 0 { return .success(r) }
        let e = errno
        if e != EINTR { return .failure(Errno(e)) }
    }
}

/// An errno value with its text.
struct Errno: Error, CustomStringConvertible {
    let code: Int32
    init(_ code: Int32) { self.code = code }
    var description: String { String(cString: strerror(code)) }
}

/// Milliseconds of CLOCK_MONOTONIC.
func monotonicMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
