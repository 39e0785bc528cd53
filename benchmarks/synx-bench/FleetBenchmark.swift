import ArgumentParser
import Foundation
import Glibc
import SynxControl
import SynxStore

/// A fleet of meters, one Modbus/TCP connection each (as meters on a plant network are), polled at 1 Hz by
/// synxd: its CPU in windows after a warm-up (is it flat as the store fills?), and from the store itself, after
/// synxd stopped, every poll in the windows: how many were made and stored, and how late each started. The
/// baseline in the same run is collectd 5's modbus plugin reading the same nine float32 registers of the same
/// simulated meters and writing every value with its csv plugin.
struct FleetBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet", abstract: "N meters, one connection each, against collectd.")

    @Option(help: "Meters (one TCP connection each, all to one synx-sim listener).") var meters = 1000
    @Option(
        help: "What synxd reads: nine (the nine float32 values collectd reads) or eastron-sdm630 (the full profile).")
    var profile = "nine"
    @Option(help: "Seconds after every meter is online before measuring.") var warmup = 240
    @Option(help: "Length of each measuring window (s).") var seconds = 60
    @Option(help: "Measuring windows, one after the other (CPU per window shows whether it stays flat).") var windows =
        1
    @Flag(help: "Also run collectd (Debian collectd-core) on the same meters, the same warm-up and window.")
    var collectd = false
    @Option(
        help:
            "synxd's [daemon] poll_spread_ms: the meters' slots spread over this many ms of each second (0: all on the whole second)."
    )
    var spread = 0
    @Option(
        help: """
            Serve /metrics and scrape it every this many seconds in every second window (0: off): windows without             and with scrapes alternate, so the scrapes' cost is measured against synxd without them in the same run.
            """)
    var scrapeInterval = 0
    @Flag(
        help: """
            Also measure MQTT: after synxd's own windows, a second synxd on the same fleet publishes every meter (with \
            Home Assistant discovery) to a real mosquitto started here, through the same warm-up and windows; CPU \
            with MQTT against without, from the same run.
            """)
    var mqtt = false
    @Option(help: "Directory with synxd and synx-sim (default: next to synx-bench).") var binDir: String?
    @Flag(inversion: .prefixedNo, help: "Pin synxd (and collectd) to CPU 0 and the simulator to CPU 1.") var pin = true

    /// The nine float32 input registers both read: voltage, current and active power of the three phases.
    static let nine = [
        ("voltage.l1n", 0, "voltage"), ("voltage.l2n", 2, "voltage"), ("voltage.l3n", 4, "voltage"),
        ("current.l1", 6, "current"), ("current.l2", 8, "current"), ("current.l3", 10, "current"),
        ("power.active.l1", 12, "power"), ("power.active.l2", 14, "power"), ("power.active.l3", 16, "power"),
    ]

    func run() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let bin = binDir ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let dir = URL(fileURLWithPath: "/var/tmp").appendingPathComponent("synx-fleet-\(getpid())").path
        try FileManager.default.createDirectory(atPath: "\(dir)/profiles", withIntermediateDirectories: true)
        var children: [Process] = []
        defer {
            for p in children where p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
            try? FileManager.default.removeItem(atPath: dir)
        }
        try "[[unit]]\nid = 1\nprofile = \"eastron-sdm630\"\n".write(
            toFile: "\(dir)/scenario.toml", atomically: true, encoding: .utf8)
        let sim = try Child.spawn(
            pin: pin, "\(bin)/synx-sim", ["--scenario", "\(dir)/scenario.toml", "--tcp", "127.0.0.1:0"], cpu: 1,
            out: "\(dir)/sim.out")
        children.append(sim)
        try Child.wait("synx-sim ready", 30) {
            (try? String(contentsOfFile: "\(dir)/sim.out", encoding: .utf8))?.contains("ready") == true
        }
        let port = Int(
            try String(contentsOfFile: "\(dir)/sim.out", encoding: .utf8).split(separator: "\n")
                .first { $0.hasPrefix("tcp ") }!.split(separator: ":").last!)!
        print(
            "fleet: \(meters) meters, one TCP connection each, profile \(profile), 1 Hz, poll_spread_ms \(spread); warm-up \(warmup) s, "
                + "\(windows) window(s) of \(seconds) s; load average \(Child.loadAverage())")

        let synx = try measureSynxd(bin: bin, dir: dir, port: port, children: &children)
        if mqtt {
            let brokerPort = try Scraper.freePort()
            try "listener \(brokerPort) 127.0.0.1\nallow_anonymous true\npersistence false\nuser root\n".write(
                toFile: "\(dir)/mosquitto.conf", atomically: true, encoding: .utf8)
            let broker = try Child.spawn(
                pin: pin, "/usr/sbin/mosquitto", ["-c", "\(dir)/mosquitto.conf"], cpu: 1, out: "\(dir)/mosquitto.out")
            children.append(broker)
            print("  then synxd publishing to mosquitto (Debian's) on 127.0.0.1:\(brokerPort), the same warm-up and windows:")
            let published = try measureSynxd(bin: bin, dir: dir, port: port, mqttPort: brokerPort, children: &children)
            print(
                String(
                    format: "  MQTT: synxd %.2f %% of one core with it, %.2f %% without (same run); ratio %.3f",
                    published.mean * 100, synx.mean * 100, published.mean / synx.mean))
        }
        if collectd {
            let c = try measureCollectd(dir: dir, port: port, children: &children)
            print(
                String(
                    format:
                        "  collectd 5 modbus + csv (baseline): %.1f %% of one core, %.2f values stored per meter per second",
                    c.cpu * 100, c.valuesPerMeterSecond))
            print(String(format: "  ratio synxd / collectd CPU: %.3f (target ≤ 0.25 with profile nine)", synx.last / c.cpu))
        }
    }

    /// Values a poll reads: 9, or the SDM630 profile's 37.
    private var valuesPerPoll: Int { profile == "nine" ? FleetBenchmark.nine.count : 37 }

    /// synxd on the fleet (publishing to the MQTT broker on `mqttPort`, if given); returns its CPU share (of one
    /// core) over the last window and over all of them.
    private func measureSynxd(
        bin: String, dir: String, port: Int, mqttPort: Int? = nil, children: inout [Process]
    ) throws -> (last: Double, mean: Double) {
        let state = mqttPort == nil ? "\(dir)/state" : "\(dir)/state-mqtt"
        var profiles = "[]"
        if profile == "nine" {
            profiles = "[\"\(dir)/profiles\"]"
            try
                ("[profile]\nname = \"nine\"\nmanufacturer = \"synx-bench\"\nmodel = \"nine float32 values, as collectd reads them\"\nmerge_gap = 0\n"
                + FleetBenchmark.nine.map {
                    "[[register]]\nmeasurement = \"\($0.0)\"\nfunction = 4\naddress = \($0.1)\ntype = \"float32\"\n"
                }.joined())
                .write(toFile: "\(dir)/profiles/nine.toml", atomically: true, encoding: .utf8)
        }
        var config =
            "[daemon]\nstate_directory = \"\(state)\"\nsocket = \"\(dir)/synxd.sock\"\nprofile_directories = \(profiles)\n"
            + "poll_spread_ms = \(spread)\n"
        let metricsPort = scrapeInterval > 0 || mqttPort != nil ? try Scraper.freePort() : 0
        if metricsPort > 0 { config += "[metrics]\nlisten = \"127.0.0.1:\(metricsPort)\"\n" }
        if let mqttPort {
            config += "[mqtt]\nhost = \"127.0.0.1\"\nport = \(mqttPort)\ndiscovery = true\n"
        }
        for i in 0..<meters {
            config += "[[bus]]\nname = \"b\(i)\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = \(port)\n"
            config += "[[meter]]\nname = \"m\(i)\"\nbus = \"b\(i)\"\nunit = 1\nprofile = \"\(profile)\"\n"
        }
        try config.write(toFile: "\(dir)/synxd.toml", atomically: true, encoding: .utf8)
        let started = Date()
        let synxd = try Child.spawn(
            pin: pin, "\(bin)/synxd", ["--config", "\(dir)/synxd.toml", "--log-level", "warning"], cpu: 0,
            out: "\(dir)/synxd.out")
        children.append(synxd)
        let client = ControlClient(socketPath: "\(dir)/synxd.sock")
        try Child.wait("all \(meters) meters online", 120) {
            (try? client.send(Request(command: .status)))?.daemon?.metersByState?["online"] == meters
        }
        let online = Date()
        print(String(format: "  start-up: every meter online %.1f s after start", online.timeIntervalSince(started)))
        // Each meter's slots, as synxd reports them: the whole second plus its phase (0 without a spread).
        let phases = Dictionary(
            uniqueKeysWithValues: try Request.allMeters(client.send).map { ($0.name, Int64($0.pollPhaseMs ?? 0)) })
        Thread.sleep(until: online.addingTimeInterval(Double(warmup)))
        var cuts: [(from: Int64, to: Int64, cpu: Double)] = []
        var scraped: [(cpu: Double, scrapes: Scraper.Result)] = []
        var plain: [Double] = []
        for w in 0..<windows {
            // Windows on whole seconds, so each holds `seconds` poll slots of every meter.
            let from = (Int64(Date().timeIntervalSince1970) + 1) * 1000
            Thread.sleep(until: Date(timeIntervalSince1970: Double(from) / 1000))
            let cpu0 = try Child.cpuSeconds(pid: synxd.processIdentifier)
            let written0 = Child.writeBytes(pid: synxd.processIdentifier)
            let to = from + Int64(seconds) * 1000
            // Every second window is scraped, from its start, every `scrapeInterval` s.
            let scraper = scrapeInterval > 0 && w % 2 == 1 ? Scraper(port: metricsPort, interval: scrapeInterval, until: to) : nil
            let published0 = mqttPort == nil ? 0 : try Scraper.sample(port: metricsPort, "synx_mqtt_published_messages_total")
            Thread.sleep(until: Date(timeIntervalSince1970: Double(to) / 1000))
            let cpu = (try Child.cpuSeconds(pid: synxd.processIdentifier) - cpu0) / Double(seconds)
            if mqttPort != nil {
                let published = try Scraper.sample(port: metricsPort, "synx_mqtt_published_messages_total") - published0
                let connected = try Scraper.sample(port: metricsPort, "synx_mqtt_connected")
                print(
                    String(
                        format: "  window %d: %.1f MQTT messages published per second, connected %.0f", w + 1,
                        published / Double(seconds), connected))
            }
            if let scraper {
                let r = scraper.finish()
                guard !r.durationsMs.isEmpty else { throw ValidationError("no scrape of window \(w + 1) was answered 200") }
                scraped.append((cpu, r))
                print(
                    String(
                        format: "  window %d scraped: %d scrapes of %.0f kB, each answered in p50 %.0f ms, max %.0f ms",
                        w + 1, r.durationsMs.count, r.bytes / 1024, r.durationsMs.sorted()[r.durationsMs.count / 2],
                        r.durationsMs.max() ?? 0))
            } else if scrapeInterval > 0 {
                plain.append(cpu)
            }
            let written = Child.writeBytes(pid: synxd.processIdentifier) - written0
            cuts.append((from, to, cpu))
            let s = try client.send(Request(command: .status)).daemon!
            print(
                String(
                    format:
                        "  window %d: synxd %.1f %% of one core, RSS %.0f MB, %.1f bytes written per polled value, %d rows committed, %d queued, %d dropped",
                    cuts.count, cpu * 100, Double(Child.residentKilobytes(pid: synxd.processIdentifier)) / 1024,
                    Double(written) / Double(meters * valuesPerPoll * seconds), s.store.committedRows,
                    s.store.queuedRows, s.store.droppedRows))
        }
        // `status` (the summary) and every meter through `meters`' pages, as a client asks for them, one at a time.
        var statusMs: [Double] = []
        var bytes = 0
        for _ in 0..<200 {
            let t0 = Date()
            let r = try client.send(Request(command: .status))
            statusMs.append(Date().timeIntervalSince(t0) * 1000)
            bytes = (try? Framing.encode(r).count) ?? 0
        }
        statusMs.sort()
        let t0 = Date()
        let all = try Request.allMeters(client.send).count
        print(
            String(
                format:
                    "  status (summary, %d bytes): p50 %.2f ms, p99 %.2f ms over 200 requests; all %d meters through meters' pages: %.1f ms",
                bytes, statusMs[100], statusMs[197], all, Date().timeIntervalSince(t0) * 1000))
        kill(synxd.processIdentifier, SIGTERM)
        synxd.waitUntilExit()
        if !scraped.isEmpty, !plain.isEmpty {
            let with = scraped.map(\.cpu).reduce(0, +) / Double(scraped.count)
            let without = plain.reduce(0, +) / Double(plain.count)
            let scrapes = scraped.map { Double($0.scrapes.durationsMs.count) }.reduce(0, +) / Double(scraped.count)
            print(
                String(
                    format:
                        "  /metrics every %d s: synxd %.2f %% of one core with scrapes, %.2f %% without (same run); ratio %.3f; %.0f ms of CPU per scrape",
                    scrapeInterval, with * 100, without * 100, with / without,
                    (with - without) * Double(seconds) / max(scrapes, 1) * 1000))
        }
        if windows > 1, let first = cuts.first, let last = cuts.last {
            print(String(format: "  CPU, last window / first: %.3f (target: within 10 %%)", last.cpu / first.cpu))
        }
        // Every poll of the windows, from the store: made (a row), good, and how late it started.
        let store = try SampleStore(path: "\(state)/synx.sqlite")
        let reader = try StoreReader(path: "\(state)/synx.sqlite", head: store.head)
        let measurements =
            profile == "nine" ? FleetBenchmark.nine.map(\.0) : ["voltage.l1n", "current.l1", "frequency"]
        var lateness: [Int64] = []
        var rows = 0
        var good = 0
        for (n, (from, to, _)) in cuts.enumerated() {
            var window: [Int64] = []
            for i in 0..<meters {
                for (k, m) in measurements.enumerated() {
                    let points = try reader.samples(
                        meter: "m\(i)", measurement: m, from: from, to: to, limit: seconds * 10)
                    rows += points.count
                    good += points.filter { $0.quality == .good }.count
                    if k == 0 { window += points.map { ($0.time - phases["m\(i)", default: 0]) % 1000 } }
                }
            }
            window.sort()
            if windows > 1, !window.isEmpty {
                print(
                    "  window \(n + 1): poll-start lateness p50 \(window[window.count / 2]) ms, p99 \(window[window.count * 99 / 100]) ms, max \(window.last!) ms"
                )
            }
            lateness += window
        }
        lateness.sort()
        let expected = meters * measurements.count * seconds * windows
        print(
            String(
                format:
                    "  values stored in the windows: %d of %d expected (%d good); poll-start lateness p50 %d ms, p99 %d ms, max %d ms",
                rows, expected, good, lateness.isEmpty ? -1 : lateness[lateness.count / 2],
                lateness.isEmpty ? -1 : lateness[min(lateness.count - 1, lateness.count * 99 / 100)],
                lateness.last ?? -1))
        return (cuts.last?.cpu ?? 0, cuts.map(\.cpu).reduce(0, +) / Double(max(cuts.count, 1)))
    }

    /// collectd's modbus plugin on the same meters, values written by its csv plugin; its CPU share over one
    /// window after the same warm-up, and the values it wrote per meter per second.
    private func measureCollectd(
        dir: String, port: Int, children: inout [Process]
    ) throws -> (cpu: Double, valuesPerMeterSecond: Double) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/collectd") else {
            throw ValidationError("collectd is not installed (apt-get install collectd-core)")
        }
        var conf = """
            Interval 1
            ReadThreads 5
            WriteThreads 5
            BaseDir "\(dir)/collectd"
            PIDFile "\(dir)/collectd.pid"
            TypesDB "/usr/share/collectd/types.db"
            LoadPlugin modbus
            LoadPlugin csv
            <Plugin csv>
              DataDir "\(dir)/csv"
              StoreRates false
            </Plugin>
            <Plugin modbus>

            """
        for (name, address, type) in FleetBenchmark.nine {
            conf +=
                "  <Data \"\(name)\">\n    RegisterBase \(address)\n    RegisterType Float\n    RegisterCmd ReadInput\n"
                + "    Type \"\(type)\"\n    Instance \"\(name)\"\n  </Data>\n"
        }
        for i in 0..<meters {
            conf +=
                "  <Host \"m\(i)\">\n    Address \"127.0.0.1\"\n    Port \"\(port)\"\n    Interval 1\n    <Slave 1>\n      Instance \"m\(i)\"\n"
                + FleetBenchmark.nine.map { "      Collect \"\($0.0)\"\n" }.joined() + "    </Slave>\n  </Host>\n"
        }
        conf += "</Plugin>\n"
        try FileManager.default.createDirectory(atPath: "\(dir)/collectd", withIntermediateDirectories: true)
        try conf.write(toFile: "\(dir)/collectd.conf", atomically: true, encoding: .utf8)
        let c = try Child.spawn(
            pin: pin, "/usr/sbin/collectd", ["-f", "-C", "\(dir)/collectd.conf"], cpu: 0, out: "\(dir)/collectd.out")
        children.append(c)
        Thread.sleep(forTimeInterval: Double(warmup))
        let lines0 = csvLines("\(dir)/csv")
        let cpu0 = try Child.cpuSeconds(pid: c.processIdentifier)
        let t0 = Date()
        Thread.sleep(forTimeInterval: Double(seconds))
        let cpu = (try Child.cpuSeconds(pid: c.processIdentifier) - cpu0) / Date().timeIntervalSince(t0)
        let lines = csvLines("\(dir)/csv") - lines0
        kill(c.processIdentifier, SIGTERM)
        c.waitUntilExit()
        return (cpu, Double(lines) / Double(seconds) / Double(meters))
    }

    /// Values collectd's csv plugin wrote: one line per value, under `dir`.
    private func csvLines(_ dir: String) -> Int {
        guard let files = FileManager.default.enumerator(atPath: dir) else { return 0 }
        var n = 0
        for case let f as String in files where !f.hasSuffix("/") {
            guard let data = FileManager.default.contents(atPath: "\(dir)/\(f)") else { continue }
            n += data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) } - 1  // less the header line
        }
        return n
    }

}

/// Scrapes synxd's `/metrics` every `interval` seconds from now until `until` (UTC ms) on a thread of its own, as
/// Prometheus does: one connection per scrape, the page read to the end.
final class Scraper: @unchecked Sendable {
    /// Each scrape's time to the last byte (ms) and the page's size (bytes, the last one).
    struct Result {
        var durationsMs: [Double] = []
        var bytes: Double = 0
    }
    private var result = Result()
    private let done = DispatchSemaphore(value: 0)

    init(port: Int, interval: Int, until: Int64) {
        Thread.detachNewThread { [self] in
            var next = Date()
            while next.timeIntervalSince1970 * 1000 < Double(until) {
                Thread.sleep(until: next)
                let t0 = Date()
                if let page = Scraper.get(port: port) {
                    result.durationsMs.append(Date().timeIntervalSince(t0) * 1000)
                    result.bytes = Double(page)
                }
                next = next.addingTimeInterval(Double(interval))
            }
            done.signal()
        }
    }

    /// Waits for the last scrape; its results.
    func finish() -> Result {
        done.wait()
        return result
    }

    /// `GET /metrics`; the response's size, or nil on an error or an answer other than 200.
    /// The value of the sample `series` (name and labels as written) on the page; throws if it is not there.
    static func sample(port: Int, _ series: String) throws -> Double {
        guard let response = fetch(port: port) else { throw ValidationError("no /metrics page on port \(port)") }
        let page = String(decoding: response, as: UTF8.self)
        guard let line = page.split(separator: "\n").first(where: { $0.hasPrefix(series + " ") }),
            let value = Double(line.split(separator: " ").last ?? "")
        else { throw ValidationError("\(series) is not on the /metrics page") }
        return value
    }

    /// One scrape; the response's size in bytes if it was 200.
    static func get(port: Int) -> Int? { fetch(port: port)?.count }

    /// One scrape: the whole response if it was 200.
    static func fetch(port: Int) -> [UInt8]? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, SocketIO.sendAll(fd, Data("GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".utf8)) == nil
        else { return nil }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = SocketIO.receive(fd, into: &chunk)
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        return String(decoding: response.prefix(12), as: UTF8.self) == "HTTP/1.1 200" ? response : nil
    }

    /// A loopback TCP port nobody listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
