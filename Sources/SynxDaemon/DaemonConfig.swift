import Foundation
import SynxDSP
import SynxMeters
import SynxModbus
import SynxReports
import SynxStore
import SynxTOML

/// The whole of `synxd.toml` (`docs/configuration.md`, `synxd.toml(5)`), validated before anything starts.
public struct DaemonConfig: Sendable {
    public var stateDirectory: String
    public var socketPath: String
    public var profileDirectories: [String]
    public var buses: [BusConfig]
    public var meters: [MeterConfig]
    /// Threshold rules (`[[alert]]`) and how long an alert holds before it may be logged again
    /// (`[alerts] holdoff_s`, rate limiting of flapping alerts).
    public var rules: [ThresholdRule] = []
    public var alertHoldoffSeconds: Double = 60
    /// The site's time zone (`[daemon] time_zone`): reports' weeks run Monday 00:00 to Monday 00:00 in it.
    public var timeZone = TimeZone.current
    /// Days of each kind of data the store keeps (`[retention]`).
    public var retention = Retention()
    /// Where `/metrics` listens for Prometheus (`[metrics] listen`); nil: not served.
    var metricsAddress: MetricsAddress?
    /// The MQTT broker synxd publishes to (`[mqtt]`); nil: none.
    var mqtt: MQTTSettings?
    /// SHA-256 of the file's bytes as read (hex; empty for text not read from a file): recorded in the store's
    /// custody chain each time synxd accepts the configuration.
    public var fileSHA256 = ""
    /// The user profile files it loaded: path → SHA-256 of the bytes (hex), recorded with it.
    public var profileFiles: [String: String] = [:]

    public var databasePath: String { (stateDirectory as NSString).appendingPathComponent("synx.sqlite") }
}

extension DaemonConfig {
    public static let defaultPath = "/etc/synx/synxd.toml"

    /// Reads and validates the file at `path`.
    public static func load(path: String) throws -> DaemonConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(
                file: path, line: nil, key: nil,
                message:
                    "cannot read the file (\(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"))"
            )
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, key: nil, message: "not UTF-8 text")
        }
        var config = try parse(text: text, file: path)
        config.fileSHA256 = SHA256.hash(data).hex
        return config
    }

    /// Validates configuration text; `file` names it in errors.
    public static func parse(text: String, file: String) throws -> DaemonConfig {
        let root = try TOMLDocument(file: file, text: text).rootSection
        try root.rejectUnknownKeys(["daemon", "bus", "meter", "alert", "alerts", "retention", "metrics", "mqtt"])
        let daemon = try root.section("daemon")
        try daemon?.rejectUnknownKeys(["state_directory", "socket", "profile_directories", "poll_spread_ms", "time_zone"])
        let spread = try daemon?.int("poll_spread_ms", in: 0...60_000) ?? 0
        let profileDirectories = try daemon?.stringArray("profile_directories") ?? ["/etc/synx/profiles"]
        var profileFiles: [String: String] = [:]
        let profiles = try ProfileLoader.loadAll(directories: profileDirectories) { path, data in
            profileFiles[path] = SHA256.hash(data).hex
        }

        var buses: [BusConfig] = []
        var busLines: [String: Int] = [:]
        for section in try root.sections("bus") {
            let bus = try parseBus(section)
            if let line = busLines[bus.name] {
                throw section.error("name", "duplicate bus name \"\(bus.name)\" (first defined at line \(line))")
            }
            busLines[bus.name] = section.line(of: "name") ?? 0
            buses.append(bus)
        }

        var meters: [MeterConfig] = []
        var meterLines: [String: Int] = [:]
        var addresses: [String: String] = [:]
        for section in try root.sections("meter") {
            var meter = try parseMeter(section, buses: buses, profiles: profiles)
            if let line = meterLines[meter.name] {
                throw section.error("name", "duplicate meter name \"\(meter.name)\" (first defined at line \(line))")
            }
            meterLines[meter.name] = section.line(of: "name") ?? 0
            let key = "\(meter.bus)#\(meter.unit)"
            if let other = addresses[key] {
                throw section.error("unit", "unit \(meter.unit) on bus \"\(meter.bus)\" is already meter \"\(other)\"")
            }
            addresses[key] = meter.name
            meter.pollPhaseMs = DaemonConfig.pollPhase(
                meter: meter.name, spread: spread, interval: meter.pollIntervalMs)
            meters.append(meter)
        }
        // A waveform stream keeps its connection busy: its bus carries nothing else.
        for bus in buses {
            let on = meters.filter { $0.bus == bus.name }
            if on.count > 1, let w = on.first(where: { $0.source == .waveform }) {
                throw ConfigError(
                    file: file, line: meterLines[w.name], key: "bus",
                    message:
                        "waveform meter \"\(w.name)\" needs bus \"\(bus.name)\" to itself (\(on.count - 1) other meter(s) on it)"
                )
            }
        }
        if meters.isEmpty { throw root.error(nil, "no [[meter]] configured: nothing to poll") }
        let alerts = try root.section("alerts")
        try alerts?.rejectUnknownKeys(["holdoff_s"])
        var config = DaemonConfig(
            stateDirectory: try daemon?.string("state_directory") ?? "/var/lib/synx",
            socketPath: try daemon?.string("socket") ?? "/run/synx/synxd.sock",
            profileDirectories: profileDirectories, buses: buses, meters: meters)
        config.profileFiles = profileFiles
        if let zone = try daemon?.string("time_zone") {
            guard let tz = TimeZone(identifier: zone) else {
                throw daemon!.error("time_zone", "\"\(zone)\" is not an IANA time zone (e.g. \"Europe/Berlin\", \"UTC\")")
            }
            config.timeZone = tz
        }
        config.rules = try root.sections("alert").enumerated().map { try ThresholdRule.parse($1, index: $0 + 1) }
        config.alertHoldoffSeconds = try alerts?.double("holdoff_s", in: 0...86_400) ?? 60
        if let m = try root.section("metrics") {
            try m.rejectUnknownKeys(["listen"])
            if let listen = try m.string("listen") {
                guard let address = MetricsAddress(listen) else {
                    throw m.error("listen", "\"\(listen)\" is not a numeric address and port (e.g. \"127.0.0.1:9488\")")
                }
                config.metricsAddress = address
            }
        }
        if let m = try root.section("mqtt") { config.mqtt = try MQTTSettings.parse(m) }
        if let r = try root.section("retention") {
            let keys: [(String, WritableKeyPath<Retention, Double>)] = [
                ("samples_days", \.samplesDays), ("derived_3s_days", \.derived3sDays),
                ("derived_10min_days", \.derived10minDays),
                ("derived_2h_days", \.derived2hDays), ("class_a_150_180_days", \.classAShortDays),
                ("class_a_10min_days", \.classA10minDays), ("class_a_2h_days", \.classA2hDays),
                ("events_days", \.eventsDays),
            ]
            try r.rejectUnknownKeys(Set(keys.map(\.0)))
            for (key, path) in keys {
                if let days = try r.double(key, in: 0...36_500) { config.retention[keyPath: path] = days }
            }
        }
        return config
    }

    /// The phase of a meter's slots with `[daemon] poll_spread_ms` = `spread`: the 64-bit FNV-1a hash of its name
    /// modulo the spread (and the interval), so it stays the same across restarts and reloads, and thousands of
    /// meters spread evenly over the first `spread` ms of each interval instead of all starting on its first.
    static func pollPhase(meter name: String, spread: Int, interval: Int) -> Int {
        guard spread > 0 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int(hash % UInt64(min(spread, interval)))
    }

    static func parseBus(_ s: TOMLSection) throws -> BusConfig {
        let name = try s.requiredString("name")
        guard let type = try s.string("type") else {
            throw s.error("type", "missing (required: tcp, rtu or rtu-over-tcp)")
        }
        let link: BusConfig.Link
        switch type {
        case "tcp", "rtu-over-tcp":
            try s.rejectUnknownKeys([
                "name", "type", "host", "port", "timeout_ms", "retries", "frame_gap_ms", "max_in_flight",
            ])
            let host = try s.requiredString("host")
            let port = try s.int("port", in: 1...65535) ?? 502
            link = type == "tcp" ? .tcp(host: host, port: port) : .rtuOverTCP(host: host, port: port)
        case "rtu":
            try s.rejectUnknownKeys([
                "name", "type", "device", "baud", "parity", "data_bits", "stop_bits",
                "timeout_ms", "retries", "frame_gap_ms",
            ])
            let device = try s.requiredString("device")
            let baud = try s.int("baud", in: 1...10_000_000) ?? 9600
            guard SerialSettings.supportedBauds.contains(baud) else {
                throw s.error(
                    "baud",
                    "\(baud) is not a standard baud rate (one of: \(SerialSettings.supportedBauds.sorted().map(String.init).joined(separator: ", ")))"
                )
            }
            let parities: [String: Character] = ["N": "N", "E": "E", "O": "O", "none": "N", "even": "E", "odd": "O"]
            let parity: Character = try s.choice("parity", parities) ?? "N"
            let dataBits = try s.int("data_bits", in: 5...8) ?? 8
            let stopBits = try s.int("stop_bits", in: 1...2) ?? (parity == "N" ? 2 : 1)
            link = .rtu(
                SerialSettings(device: device, baud: baud, parity: parity, dataBits: dataBits, stopBits: stopBits))
        default:
            throw s.error("type", "\"\(type)\" is not one of: tcp, rtu, rtu-over-tcp")
        }
        let timing = BusTiming(
            timeoutMilliseconds: try s.int("timeout_ms", in: 10...60_000) ?? 1000,
            retries: try s.int("retries", in: 0...10) ?? 1,
            frameGapMilliseconds: try s.int("frame_gap_ms", in: 0...10_000) ?? 0)
        var bus = BusConfig(name: name, link: link, timing: timing)
        if let n = try s.int("max_in_flight", in: 1...16) {
            // RTU frames carry no transaction id: a second request in flight could not be told from the first.
            guard type == "tcp" else {
                throw s.error(
                    "max_in_flight", "only a Modbus/TCP gateway (type = \"tcp\") can have several requests in flight")
            }
            bus.maxInFlight = n
        }
        return bus
    }

    static func parseMeter(_ s: TOMLSection, buses: [BusConfig], profiles: [String: MeterProfile]) throws -> MeterConfig
    {
        try s.rejectUnknownKeys([
            "name", "bus", "unit", "profile", "poll_interval_ms", "slow_poll_interval_ms",
            "nominal_voltage", "nominal_frequency", "wiring", "flicker_lamp", "en50160_voltage_level",
            "en50160_connection", "isc_a", "il_a", "motor_bus",
        ])
        let name = try s.requiredString("name")
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw s.error("name", "use letters, digits, '-', '_' and '.' only")
        }
        let busName = try s.requiredString("bus")
        guard let bus = buses.first(where: { $0.name == busName }) else {
            let known = buses.map(\.name).joined(separator: ", ")
            throw s.error("bus", "no bus named \"\(busName)\" (configured buses: \(known.isEmpty ? "none" : known))")
        }
        let unitRange: ClosedRange<Int>
        if case .tcp = bus.link { unitRange = 0...255 } else { unitRange = 1...247 }
        let unit = try s.requiredInt("unit", in: unitRange)
        let profileName = try s.requiredString("profile")
        if profileName == "waveform" {
            guard case .tcp = bus.link else {
                throw s.error("profile", "a waveform meter needs a tcp bus (bus \"\(busName)\" is not one)")
            }
        }
        guard let profile = profileName == "waveform" ? MeterProfile.waveform : profiles[profileName] else {
            throw s.error(
                "profile",
                "unknown profile \"\(profileName)\" (available: \(profiles.keys.sorted().joined(separator: ", ")))")
        }
        let poll = try s.int("poll_interval_ms", in: 100...3_600_000) ?? 1000
        let slow = try s.int("slow_poll_interval_ms", in: poll...86_400_000) ?? max(poll * 10, poll)
        let frequency = try s.double("nominal_frequency", in: 0...1000) ?? 50
        guard frequency == 50 || frequency == 60 else { throw s.error("nominal_frequency", "must be 50 or 60 Hz") }
        var meter = MeterConfig(
            name: name, bus: busName, unit: UInt8(unit), profile: profile, pollIntervalMs: poll,
            slowPollIntervalMs: slow,
            nominalVoltage: try s.double("nominal_voltage", in: 1...1_000_000) ?? 230,
            nominalFrequency: frequency,
            wiring: try s.choice(
                "wiring", ["3P4W": Wiring.threePhaseFourWire, "3P3W": .threePhaseThreeWire, "1P2W": .singlePhase])
                ?? .threePhaseFourWire)
        if profileName == "waveform" { meter.source = .waveform }
        let lamps = Dictionary(uniqueKeysWithValues: FlickerLampSelection.allCases.map { ($0.rawValue, $0) })
        if let lamp = try s.choice("flicker_lamp", lamps) {
            guard meter.source == .waveform else {
                throw s.error("flicker_lamp", "only a waveform meter has a flickermeter (profile = \"waveform\")")
            }
            meter.flickerLamp = lamp
        }
        meter.report.voltageLevel =
            try s.choice("en50160_voltage_level", ["lv": EN50160.VoltageLevel.lv, "mv": .mv]) ?? .lv
        meter.report.connection =
            try s.choice("en50160_connection", ["interconnected": EN50160.Connection.interconnected, "island": .island])
            ?? .interconnected
        meter.report.shortCircuitCurrent = try s.double("isc_a", in: 1e-3...1e9)
        meter.report.maximumDemandCurrent = try s.double("il_a", in: 1e-3...1e9)
        guard (meter.report.shortCircuitCurrent == nil) == (meter.report.maximumDemandCurrent == nil) else {
            throw s.error(meter.report.shortCircuitCurrent == nil ? "il_a" : "isc_a", "give both isc_a and il_a, or neither")
        }
        meter.report.motorBus = try s.bool("motor_bus") ?? false
        return meter
    }
}
