import ArgumentParser
import CModbus
import Foundation

/// The naive client the poll benchmark compares synxd with, on the same simulator: a thread per gateway,
/// each with its own libmodbus context, reading its meters one after the other at every whole second
/// (one 44-register read per meter: the synx-sim profile's fast block). Prints its CPU share of one core
/// and the p99 of how late its reads started after the whole second (ms).
struct BaselineClient: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline", abstract: "The poll benchmark's baseline client.",
        shouldDisplay: false)

    @Option var ports: String
    @Option var meters: Int
    @Option var unitsPerGateway: Int
    @Option var seconds: Int

    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var lateness: [Double] = []
        var failures = 0
    }

    func run() throws {
        let portList = ports.split(separator: ",").map { Int32($0)! }
        let results = Results()
        let firstSecond = (Date().timeIntervalSince1970 + 1).rounded(.down) + 1
        var usage0 = rusage()
        var usage1 = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage0)
        let group = DispatchGroup()
        let (perGateway, total, duration) = (unitsPerGateway, meters, seconds)
        for (g, port) in portList.enumerated() {
            let units = min(perGateway, total - g * perGateway)
            group.enter()
            Thread {
                defer { group.leave() }
                let ctx = modbus_new_tcp("127.0.0.1", port)!
                defer {
                    modbus_close(ctx)
                    modbus_free(ctx)
                }
                modbus_connect(ctx)
                var words = [UInt16](repeating: 0, count: 125)
                var mine: [Double] = []
                var failed = 0
                for second in 0..<duration {
                    let slot = firstSecond + Double(second)
                    Thread.sleep(until: Date(timeIntervalSince1970: slot))
                    for unit in 1...units {
                        mine.append((Date().timeIntervalSince1970 - slot) * 1000)
                        modbus_set_slave(ctx, Int32(unit))
                        if modbus_read_input_registers(ctx, 0, 44, &words) != 44 { failed += 1 }
                    }
                }
                results.lock.withLock {
                    results.lateness += mine
                    results.failures += failed
                }
            }.start()
        }
        group.wait()
        getrusage(RUSAGE_SELF.rawValue, &usage1)
        if results.failures > 0 { throw ValidationError("\(results.failures) baseline reads failed") }
        func secs(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        let cpu = secs(usage1.ru_utime) + secs(usage1.ru_stime) - secs(usage0.ru_utime) - secs(usage0.ru_stime)
        let sorted = results.lateness.sorted()
        print(cpu / Double(seconds), sorted[Int(Double(sorted.count) * 0.99)])
    }
}
