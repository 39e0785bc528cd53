import CLinux
import Foundation
import Glibc

/// Starts a thread whose kernel name (/proc/PID/task/TID/comm, top -H, the benchmarks' per-thread CPU) is
/// `name`, at most 15 characters (Foundation's `Thread.name` does not reach the kernel on Linux), at nice value
/// `nice`: throughput work (storing, recording, answering heavy requests) runs at +10, so it never holds up the
/// start of a poll. On Linux the nice value is per thread, and who = 0 names the calling thread (setpriority(2)).
public func startThread(named name: String, nice: Int32 = 0, _ body: @escaping () -> Void) {
    let thread = Thread {
        synx_name_this_thread(String(name.utf8.prefix(15)) ?? "synx")
        if nice != 0 { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) }
        body()
    }
    thread.name = name
    thread.start()
}

/// An errno value with its text.
public struct Errno: Error, CustomStringConvertible, Equatable {
    /// The value, as `errno` held it.
    public let code: Int32
    /// The error `code`.
    public init(_ code: Int32) { self.code = code }
    public var description: String { String(cString: strerror(code)) }
}
