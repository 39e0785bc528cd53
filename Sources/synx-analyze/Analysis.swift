import Foundation
import SynxComtrade
import SynxDSP
import SynxTables

/// Everything the engine reported over one recording, and its two renderings: JSON (shape in docs/analyzer.md,
/// `format_version` 1) and tables.
struct Analysis {
    struct Meta {
        var file: String
        var configuration: ComtradeConfiguration
        var mapping: ChannelMapping
        var engine: EngineConfiguration
        var orderLimit: Int
    }

    private(set) var basics: [BasicWindow] = []
    private(set) var frequencies: [FrequencyValue] = []
    private(set) var aggregates: [Aggregate] = []
    private(set) var events: [VoltageEvent] = []
    private(set) var issues: [InputIssue] = []

    mutating func add(_ outputs: [EngineOutput]) {
        for o in outputs {
            switch o {
            case .basic(let b): basics.append(b)
            case .frequency(let f): frequencies.append(f)
            case .aggregate(let a): aggregates.append(a)
            case .event(let e): events.append(e)
            case .inputIssue(let i): issues.append(i)
            }
        }
    }

    // MARK: - JSON

    private struct Document: Encodable {
        var format_version = 1
        var recording: Recording
        var settings: Settings
        var events: [Event]
        var frequency_10s: [Frequency]
        var aggregates: [String: [Interval]]
        var flicker: Flicker
        var basic: [Interval]
        var input_issues: [Issue]
    }
    private struct Recording: Encodable {
        var file, station, device, start: String
        var samples: Int
        var sample_rate_hz: Double
        var channels: [Channel]
    }
    private struct Channel: Encodable { var name, kind, phase, unit: String }
    private struct Settings: Encodable {
        var nominal_frequency_hz: Int
        var udin_v: Double
        var reference: String
        var dip_percent, swell_percent, interruption_percent, hysteresis_percent: Double
        var rvc_percent, rvc_hysteresis_percent: Double
        var harmonic_order_limit: Int
        /// `230v`, `120v`, or null with flicker off.
        var flicker_lamp: String?
    }
    private struct Event: Encodable {
        var kind, start, end: String
        var duration_s: Double
        var reference_v: Double?
        var magnitude_v: Double
        var depth_percent: Double?
        var delta_uss_v: Double?
        var worst_phase: String
        var per_phase_v: [String: Double]
        var incomplete: Bool
    }
    private struct Frequency: Encodable {
        var start, end: String
        var hz: Double?
        var cycles: Int
        var quality: ValueQuality
    }
    private struct Interval: Encodable {
        var start, end: String
        var count: Int?
        var invalid_count: Int?
        var quality: ValueQuality
        var values: PowerQualityValues?
        var energy: EnergyRegisters
        /// The values under synx's canonical measurement names (the table synxd uses; null when invalid).
        var measurements: [String: Double]?
    }
    /// Pst per 10-min interval and Plt per 2-h interval (IEC 61000-4-15, `FlickerSeverity`), per L–N phase.
    private struct Flicker: Encodable {
        var pst: [Severity]
        var plt: [Severity]
    }
    private struct Severity: Encodable {
        var start, end: String
        /// Pinst values (Pst) or Pst values (Plt) it was computed from.
        var count: Int
        var quality: ValueQuality
        var value: [String: Double]
        var pinst_max: [String: Double]
    }
    private struct Issue: Encodable {
        var kind, time: String
        var samples: Int
    }

    func json(_ meta: Meta) throws -> Data {
        let e = meta.engine
        let named = { (v: PowerQualityValues?) in
            v.map {
                Dictionary(CanonicalMeasurements.values(of: $0, channels: e.channels).map { ($0.name, $0.value) }) {
                    a, _ in a
                }
            }
        }
        let t = e.thresholds
        let doc = Document(
            recording: Recording(
                file: meta.file, station: meta.configuration.stationName,
                device: meta.configuration.deviceID, start: Self.iso(meta.configuration.startTimeUTC),
                samples: meta.configuration.sampleCount, sample_rate_hz: e.sampleRate,
                channels: meta.mapping.inputs.map {
                    Channel(
                        name: $0.spec.name, kind: $0.spec.kind.rawValue, phase: $0.spec.phase.rawValue, unit: $0.unit)
                }),
            settings: Settings(
                nominal_frequency_hz: e.nominalFrequency.rawValue, udin_v: e.declaredVoltage,
                reference: e.reference.rawValue, dip_percent: t.dipPercent, swell_percent: t.swellPercent,
                interruption_percent: t.interruptionPercent, hysteresis_percent: t.hysteresisPercent,
                rvc_percent: t.rvcPercent, rvc_hysteresis_percent: t.rvcHysteresisPercent,
                harmonic_order_limit: meta.orderLimit,
                flicker_lamp: Self.lampName(e)),
            events: events.map {
                Event(
                    kind: $0.kind.rawValue, start: Self.iso($0.start), end: Self.iso($0.end), duration_s: $0.duration,
                    reference_v: $0.kind == .rapidVoltageChange ? nil : $0.reference, magnitude_v: $0.magnitude,
                    depth_percent: $0.depthPercent, delta_uss_v: $0.steadyStateChange,
                    worst_phase: $0.worstPhase.rawValue,
                    per_phase_v: Dictionary(uniqueKeysWithValues: $0.extremes.map { ($0.key.rawValue, $0.value) }),
                    incomplete: $0.incomplete)
            },
            frequency_10s: frequencies.map {
                Frequency(
                    start: Self.iso($0.start), end: Self.iso($0.end), hz: $0.hertz, cycles: $0.cycles,
                    quality: $0.quality)
            },
            aggregates: Dictionary(
                uniqueKeysWithValues: AggregationTier.allCases.map { tier in
                    (
                        tier.rawValue,
                        aggregates.filter { $0.tier == tier }.map {
                            Interval(
                                start: Self.iso($0.start), end: Self.iso($0.end), count: $0.count,
                                invalid_count: $0.invalidCount,
                                quality: $0.quality, values: $0.values, energy: $0.energy,
                                measurements: named($0.values))
                        }
                    )
                }),
            flicker: Flicker(pst: severities(.tenMinutes), plt: severities(.twoHours)),
            basic: basics.map {
                Interval(
                    start: Self.iso($0.start), end: Self.iso($0.end), quality: $0.quality, values: $0.values,
                    energy: $0.energy, measurements: named($0.values))
            },
            input_issues: issues.map { Issue(kind: $0.kind.rawValue, time: Self.iso($0.time), samples: $0.samples) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(doc) + Data("\n".utf8)
    }

    /// The flicker severities of the aggregates of `tier`, for JSON.
    private func severities(_ tier: AggregationTier) -> [Severity] {
        let keyed = { (d: [Phase: Double]) in Dictionary(uniqueKeysWithValues: d.map { ($0.key.rawValue, $0.value) }) }
        return aggregates.filter { $0.tier == tier }.compactMap { a in
            a.flicker.map {
                Severity(
                    start: Self.iso(a.start), end: Self.iso(a.end), count: $0.count, quality: $0.quality,
                    value: keyed($0.severity), pinst_max: keyed($0.pinstMax))
            }
        }
    }

    /// The lamp `e` weights flicker with: `230v`, `120v`, or nil with flicker off.
    static func lampName(_ e: EngineConfiguration) -> String? {
        e.flicker.lamp(declaredVoltage: e.declaredVoltage).map { $0 == .lamp120V ? "120v" : "230v" }
    }

    /// UTC time as ISO 8601 with microseconds.
    static func iso(_ t: Double) -> String {
        var seconds = time_t(t.rounded(.down))
        var micros = Int(((t - t.rounded(.down)) * 1e6).rounded())
        if micros == 1_000_000 {
            seconds += 1
            micros = 0
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros)
    }

    // MARK: - Tables

    func tables(_ meta: Meta, sections: Set<String>?, orders: Int) -> String {
        func wanted(_ s: String) -> Bool { sections?.contains(s) ?? true }
        let names = meta.mapping.inputs.map {
            "\($0.spec.kind == .voltage ? "U" : "I")\($0.spec.phase.rawValue.uppercased())"
        }
        let c = meta.configuration
        let e = meta.engine
        var out = "\(meta.file): \(c.stationName) / \(c.deviceID), starts \(Self.iso(c.startTimeUTC)), "
        out += "\(c.sampleCount) samples at \(Self.number(e.sampleRate, 1)) S/s\n"
        out += "channels: " + zip(names, meta.mapping.inputs).map { "\($0)=\($1.spec.name)" }.joined(separator: " ")
        out +=
            "; \(e.nominalFrequency.rawValue) Hz, Udin \(Self.number(e.declaredVoltage, 1)) V, reference \(e.reference.rawValue)\n"
        for i in issues { out += "input: \(i.kind.rawValue) at \(Self.iso(i.time)) (\(i.samples) samples)\n" }

        if wanted("events") {
            out +=
                "\n"
                + Report(
                    title: "Events (\(events.count))",
                    columns: [
                        "KIND", "START (UTC)", "DURATION (ms)", "MAGNITUDE (V)", "% REF", "WORST", "PER PHASE (V)",
                    ],
                    rows: events.map { ev in
                        [
                            ev.kind.rawValue + (ev.incomplete ? " (incomplete)" : ""), Self.iso(ev.start),
                            Self.number(ev.duration * 1000, 1),
                            Self.number(ev.magnitude, 2),
                            ev.kind == .rapidVoltageChange
                                ? "ΔUss " + Self.number((ev.steadyStateChange ?? 0) / ev.reference * 100, 2)
                                : Self.number(ev.magnitude / ev.reference * 100, 2),
                            ev.worstPhase.rawValue.uppercased(),
                            ev.extremes.sorted { $0.key.rawValue < $1.key.rawValue }.map {
                                "\($0.key.rawValue.uppercased())=\(Self.number($0.value, 2))"
                            }.joined(separator: " "),
                        ]
                    }
                ).render(.table)
        }
        if wanted("flicker") { out += "\n" + flickerTable(e) }
        if wanted("frequency") {
            out +=
                "\n"
                + Report(
                    title: "10-s power frequency", columns: ["END (UTC)", "HZ", "CYCLES", "FLAGS"],
                    rows: frequencies.map {
                        [
                            Self.iso($0.end), $0.hertz.map { Self.number($0, 4) } ?? "-", String($0.cycles),
                            Self.flags($0.quality),
                        ]
                    }
                ).render(.table)
        }
        let valueColumns = names.map { "\($0) RMS" } + ["FREQ", "THDS \(names.first ?? "")", "u2 %", "P (W)", "FLAGS"]
        func row(_ v: PowerQualityValues?, _ q: ValueQuality) -> [String] {
            guard let v else { return Array(repeating: "-", count: valueColumns.count - 1) + [Self.flags(q)] }
            return v.channels.map { Self.number($0.rms, 3) }
                + [
                    v.frequency.map { Self.number($0, 4) } ?? "-", Self.number(v.channels[0].harmonics.thdsPercent, 3),
                    v.voltageUnbalance.map { Self.number($0.negativeSequencePercent, 3) } ?? "-",
                    v.totalPower.map { Self.number($0.activeW, 1) } ?? "-", Self.flags(q),
                ]
        }
        if wanted("aggregates") {
            for tier in AggregationTier.allCases {
                let list = aggregates.filter { $0.tier == tier }
                out +=
                    "\n"
                    + Report(
                        title: "\(tier.rawValue) aggregates (\(list.count))",
                        columns: ["END (UTC)", "N"] + valueColumns,
                        rows: list.map { [Self.iso($0.end), "\($0.count)"] + row($0.values, $0.quality) }
                    ).render(.table)
            }
        }
        if wanted("basic") {
            out +=
                "\n"
                + Report(
                    title: "\(e.nominalFrequency.cyclesPerBasicWindow)-cycle values (\(basics.count))",
                    columns: ["START (UTC)", "MS"] + valueColumns,
                    rows: basics.map {
                        [Self.iso($0.start), Self.number(($0.end - $0.start) * 1000, 2)] + row($0.values, $0.quality)
                    }
                )
                .render(.table)
        }
        if wanted("harmonics") {
            out += "\n" + harmonicsTable(names: names, orders: min(orders, meta.orderLimit))
        }
        return out
    }

    /// Pst and Plt per interval, one column per L–N phase, with the largest Pinst and the flags.
    private func flickerTable(_ e: EngineConfiguration) -> String {
        let phases = e.channels.filter { $0.kind == .voltage && $0.phase != .n }.map(\.phase)
        var rows: [[String]] = []
        for a in aggregates where a.tier != .cycles150_180 {
            guard let f = a.flicker else { continue }
            let values: [String] = phases.map { p in f.severity[p].map { Self.number($0, 3) } ?? "-" }
            let peak = f.pinstMax.values.max().map { Self.number($0, 2) } ?? "-"
            rows.append([Self.iso(a.end), a.tier == .tenMinutes ? "Pst" : "Plt"] + values + [peak, Self.flags(f.quality)])
        }
        let lamp = Self.lampName(e).map { "\($0) lamp" } ?? "off"
        return Report(
            title: "Flicker (IEC 61000-4-15, \(lamp))",
            columns: ["END (UTC)", "KIND"] + phases.map { $0.rawValue.uppercased() } + ["PINST MAX", "FLAGS"],
            rows: rows
        ).render(.table)
    }

    /// Harmonic subgroups in % of the fundamental: the RMS over every valid basic window of the recording.
    private func harmonicsTable(names: [String], orders: Int) -> String {
        let valid = basics.compactMap(\.values)
        guard let first = valid.first, orders >= 1 else { return "Harmonic subgroups: no valid window\n" }
        var sums = first.channels.map { Array(repeating: 0.0, count: $0.harmonics.subgroups.count) }
        for v in valid {
            for (c, ch) in v.channels.enumerated() {
                for (n, x) in ch.harmonics.subgroups.enumerated() where n < sums[c].count { sums[c][n] += x * x }
            }
        }
        let rms = sums.map { $0.map { ($0 / Double(valid.count)).squareRoot() } }
        let rows = (1...orders).map { n in
            [String(n)] + rms.map { ch in n < ch.count && ch[1] > 0 ? Self.number(ch[n] / ch[1] * 100, 3) : "-" }
        }
        return Report(
            title: "Harmonic subgroups, % of fundamental (RMS of \(valid.count) windows; order 1 = 100 %)",
            columns: ["ORDER"] + names, rows: rows
        ).render(.table)
    }

    static func flags(_ q: ValueQuality) -> String { q.isEmpty ? "-" : q.names.joined(separator: ",") }

    static func number(_ v: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", v) }
}
