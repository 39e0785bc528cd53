import Foundation
import SynxTOML

/// A simulation scenario (`simulators/*.toml`, documented in `docs/simulator.md`): the units the simulator
/// hosts, how their values move, and the faults it injects.
struct Scenario {
    struct Unit {
        var id: UInt8
        /// `synx-sim`, `eastron-sdm630`, `sunspec-203` or `sunspec-213`.
        var profile: String
        var nominalVoltage: Double
        var current: Double
        var powerFactor: Double
        var energyStartKWh: Double
    }

    enum FaultKind: String {
        /// No reply at all (a dead or disconnected meter).
        case silent
        /// An exception reply with `code`.
        case exception
        /// An RTU reply whose CRC is wrong.
        case crc
        /// Bytes that are no Modbus reply.
        case garbage
        /// The right reply, `delay_ms` late.
        case delay
    }

    struct Fault {
        var unit: UInt8?
        var kind: FaultKind
        var code: UInt8
        var delayMs: Int
        var probability: Double
        var fromSeconds: Double
        var untilSeconds: Double
        /// Only requests that cover this register address, if set.
        var address: Int?

        func applies(unit u: UInt8, elapsed: Double, first: Int, count: Int, roll: Double) -> Bool {
            if let unit, unit != u { return false }
            if elapsed < fromSeconds || elapsed >= untilSeconds { return false }
            if let address, !(first..<(first + count)).contains(address) { return false }
            return roll < probability
        }
    }

    /// A unit that samples a three-phase system and serves the samples through the waveform interface.
    struct Waveform {
        var id: UInt8
        var sampleRate: Int
        var frequency: Double
        var nominalVoltage: Double
        /// RMS of the three phase currents; 0 serves voltages only.
        var current: Double
        /// (order, percent of the fundamental, phase in degrees) of every harmonic, on voltages and currents alike.
        var harmonics: [(order: Double, percent: Double, phase: Double)]
        var samplesPerBlock: Int
        var fifoSeconds: Double
        /// If set, the unit's sample clock starts this many seconds before a UTC 10-minute boundary instead of
        /// at the real time (so a test sees a 10-min aggregate close soon).
        var secondsBefore10MinTick: Double?
        /// Frequency drift, Hz per second (the frequency moves linearly from `frequency`).
        var driftHzPerSecond = 0.0
        /// Interharmonics: (frequency in Hz, percent of the fundamental, phase in degrees).
        var interharmonics: [(hertz: Double, percent: Double, phase: Double)] = []
        /// Per-phase fundamental magnitude factors (unbalance), L1…L3.
        var phaseFactors = [1.0, 1.0, 1.0]
        /// Flicker-style amplitude modulation: frequency (Hz), ΔV/V peak-to-peak (percent), and whether it is
        /// rectangular (IEC 61000-4-15's rectangular changes: two a period, 50 % duty) rather than sinusoidal.
        var modulation: (hertz: Double, percent: Double, rectangular: Bool)?
        /// A COMTRADE recording served instead of a generated signal (in a loop).
        var replay: String?
    }

    /// A rectangular change of one phase's (or every phase's) fundamental voltage: a dip, swell or interruption.
    struct Change {
        var id: UInt8
        /// 1…3, or 0 for all three.
        var phase: Int
        var fromSeconds: Double
        var durationSeconds: Double
        var factor: Double
    }

    var updateIntervalMs: Int
    var seed: UInt64
    var units: [Unit]
    var faults: [Fault]
    var waveforms: [Waveform] = []
    var changes: [Change] = []

    static let profiles: Set<String> = ["synx-sim", "synx-sim-pq", "eastron-sdm630", "sunspec-203", "sunspec-213"]

    static func load(path: String) throws -> Scenario {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigError(file: path, line: nil, key: nil, message: "cannot read the scenario file")
        }
        let root = try TOMLDocument(file: path, text: text).rootSection
        try root.rejectUnknownKeys(["simulation", "unit", "fault", "waveform", "waveform_change"])
        let sim = try root.section("simulation")
        try sim?.rejectUnknownKeys(["update_interval_ms", "seed"])
        var units: [Unit] = []
        for u in try root.sections("unit") {
            try u.rejectUnknownKeys(["id", "profile", "nominal_voltage", "current", "power_factor", "energy_start_kwh"])
            let profile = try u.string("profile") ?? "synx-sim"
            guard profiles.contains(profile) else {
                throw u.error("profile", "\"\(profile)\" is not one of: \(profiles.sorted().joined(separator: ", "))")
            }
            let id = UInt8(try u.requiredInt("id", in: 1...247))
            if units.contains(where: { $0.id == id }) { throw u.error("id", "unit \(id) is defined twice") }
            units.append(
                Unit(
                    id: id, profile: profile,
                    nominalVoltage: try u.double("nominal_voltage", in: 1...100_000) ?? 230,
                    current: try u.double("current", in: 0...100_000) ?? 40,
                    powerFactor: try u.double("power_factor", in: 0...1) ?? 0.95,
                    energyStartKWh: try u.double("energy_start_kwh", in: 0...1e9) ?? 1234.5))
        }
        var waveforms: [Waveform] = []
        for w in try root.sections("waveform") {
            try w.rejectUnknownKeys([
                "id", "sample_rate", "frequency", "nominal_voltage", "current", "harmonics",
                "samples_per_block", "fifo_seconds", "seconds_before_10min_tick", "drift_hz_per_s",
                "interharmonics", "phase_factors", "modulation_hz", "modulation_percent", "modulation_shape",
                "replay",
            ])
            let id = UInt8(try w.requiredInt("id", in: 1...247))
            if units.contains(where: { $0.id == id }) || waveforms.contains(where: { $0.id == id }) {
                throw w.error("id", "unit \(id) is defined twice")
            }
            /// "A:B[:PHASE°], …" lists.
            func components(_ key: String, _ example: String) throws -> [(Double, Double, Double)] {
                try (w.string(key) ?? "").split(separator: ",").map { item in
                    let parts = item.split(separator: ":").map { Double($0.trimmingCharacters(in: .whitespaces)) }
                    guard (2...3).contains(parts.count), let a = parts[0], let b = parts[1], a >= 0, b >= 0,
                        parts.count == 2 || parts[2] != nil
                    else {
                        throw w.error(key, "write \"A:B[:PHASE], …\" (e.g. \"\(example)\"), not \"\(item)\"")
                    }
                    return (a, b, parts.count == 3 ? parts[2]! : 0)
                }
            }
            let harmonics = try components("harmonics", "5:4, 7:2.5:30")
            waveforms.append(
                Waveform(
                    id: id, sampleRate: try w.int("sample_rate", in: 1000...50_000) ?? 6400,
                    frequency: try w.double("frequency", in: 10...100) ?? 50,
                    nominalVoltage: try w.double("nominal_voltage", in: 1...100_000) ?? 230,
                    current: try w.double("current", in: 0...100_000) ?? 0, harmonics: harmonics,
                    samplesPerBlock: try w.int("samples_per_block", in: 0...120) ?? 0,
                    fifoSeconds: try w.double("fifo_seconds", in: 0.1...60) ?? 2,
                    secondsBefore10MinTick: try w.double("seconds_before_10min_tick", in: 1...599)))
            waveforms[waveforms.count - 1].driftHzPerSecond = try w.double("drift_hz_per_s", in: -10...10) ?? 0
            waveforms[waveforms.count - 1].interharmonics = try components("interharmonics", "175:0.5:90").map {
                (hertz: $0.0, percent: $0.1, phase: $0.2)
            }
            if let factors = try w.string("phase_factors") {
                let f = factors.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                guard f.count == 3 else { throw w.error("phase_factors", "three factors, e.g. \"1, 0.9, 1\"") }
                waveforms[waveforms.count - 1].phaseFactors = f
            }
            if let hz = try w.double("modulation_hz", in: 0.01...50) {
                let rectangular = try w.choice("modulation_shape", ["sine": false, "rectangular": true]) ?? false
                waveforms[waveforms.count - 1].modulation = (
                    hz, try w.double("modulation_percent", in: 0...50) ?? 1, rectangular
                )
            }
            waveforms[waveforms.count - 1].replay = try w.string("replay")
        }
        var changes: [Change] = []
        for c in try root.sections("waveform_change") {
            try c.rejectUnknownKeys(["id", "phase", "from_s", "duration_s", "factor"])
            let id = UInt8(try c.requiredInt("id", in: 1...247))
            guard waveforms.contains(where: { $0.id == id }) else {
                throw c.error("id", "no [[waveform]] with id \(id)")
            }
            changes.append(
                Change(
                    id: id, phase: try c.int("phase", in: 0...3) ?? 0,
                    fromSeconds: try c.double("from_s", in: 0...1e9) ?? 0,
                    durationSeconds: try c.double("duration_s", in: 0...1e9) ?? 1,
                    factor: try c.double("factor", in: 0...10) ?? 0))
        }
        if units.isEmpty && waveforms.isEmpty { throw root.error(nil, "no [[unit]] or [[waveform]] defined") }
        var faults: [Fault] = []
        for f in try root.sections("fault") {
            try f.rejectUnknownKeys(["unit", "kind", "code", "delay_ms", "probability", "from_s", "until_s", "address"])
            guard let kindName = try f.string("kind"), let kind = FaultKind(rawValue: kindName) else {
                throw f.error("kind", "missing or not one of: silent, exception, crc, garbage, delay")
            }
            faults.append(
                Fault(
                    unit: try f.int("unit", in: 1...247).map { UInt8($0) }, kind: kind,
                    code: UInt8(try f.int("code", in: 1...255) ?? 2),
                    delayMs: try f.int("delay_ms", in: 0...60_000) ?? 0,
                    probability: try f.double("probability", in: 0...1) ?? 1,
                    fromSeconds: try f.double("from_s", in: 0...1e9) ?? 0,
                    untilSeconds: try f.double("until_s", in: 0...1e9) ?? .infinity,
                    address: try f.int("address", in: 0...0xFFFF)))
        }
        return Scenario(
            updateIntervalMs: try sim?.int("update_interval_ms", in: 0...3_600_000) ?? 1000,
            seed: UInt64(try sim?.int("seed", in: 0...Int.max) ?? 1), units: units, faults: faults,
            waveforms: waveforms, changes: changes)
    }
}
