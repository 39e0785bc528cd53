import CLinux
import Foundation

/// Starts a thread whose kernel name (/proc/PID/task/TID/comm, top -H, the benchmarks' per-thread CPU) is
/// `name`, at most 15 characters. (Foundation's `Thread.name` does not reach the kernel on Linux.)
func startThread(named name: String, _ body: @escaping () -> Void) {
    let thread = Thread {
        synx_name_this_thread(String(name.utf8.prefix(15)) ?? "synx")
        body()
    }
    thread.name = name
    thread.start()
}
