import ArgumentParser
import Foundation
import Glibc

/// The benchmarks' child processes: started (optionally pinned to a CPU) with output to a file, waited for,
/// and measured through /proc.
enum Child {
    static func spawn(pin: Bool, _ path: String, _ args: [String], cpu: Int, out: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: pin ? "/usr/bin/taskset" : path)
        p.arguments = pin ? ["-c", String(cpu), path] + args : args
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: out)
        p.standardError = p.standardOutput
        try p.run()
        return p
    }

    static func wait(_ what: String, _ timeout: Double, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { throw ValidationError("timed out waiting for \(what)") }
            usleep(100_000)
        }
    }

    static func cpuSeconds(pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.lastIndex(of: ")")!...].split(separator: " ")
        // After the command name: state is field 3, utime 14, stime 15 (proc(5)).
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (Double(fields[12])! + Double(fields[13])!) / ticks
    }

    /// Bytes `pid` has caused to be written to storage (/proc/PID/io `write_bytes`: WAL, checkpoints, everything).
    static func writeBytes(pid: Int32) -> Int {
        let io = (try? String(contentsOfFile: "/proc/\(pid)/io", encoding: .utf8)) ?? ""
        return Int(io.split(separator: "\n").first { $0.hasPrefix("write_bytes:") }?.split(separator: " ").last ?? "0")
            ?? 0
    }

    /// The machine's load averages over 1, 5 and 15 minutes, as /proc/loadavg gives them.
    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(
            separator: " ")
    }

    static func residentKilobytes(pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    /// CPU seconds of the threads of `pid` whose name starts with `prefix` (/proc/PID/task/*/stat).
    static func threadCPUSeconds(pid: Int32, prefix: String) -> Double {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return tasks.reduce(0) { sum, tid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/stat", encoding: .utf8),
                let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"),
                stat[stat.index(after: open)..<close].hasPrefix(prefix)
            else { return sum }
            let fields = stat[close...].split(separator: " ")
            return sum + (Double(fields[12])! + Double(fields[13])!) / ticks
        }
    }
}
