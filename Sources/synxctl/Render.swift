import Foundation
import SynxControl
import SynxTables

/// Renders every payload of the protocol for humans (table, CSV) or programs (JSON: the protocol's own
/// shape, documented in docs/PROTOCOL.md).
enum Renderer {
    static func json<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? e.encode(value)) ?? Data(), as: UTF8.self) + "\n"
    }

    static func events(_ list: [EventRecord], format: OutputFormat) -> String {
        if format == .json { return json(list) }
        return Report(
            title: nil,
            columns: [
                "METER", "KIND", "START (UTC)", "DURATION (ms)", "± (ms)", "MAGNITUDE", "% REF", "WORST", "PER PHASE",
            ],
            rows: list.map { e in
                [
                    e.meter, e.kind.rawValue + (e.incomplete ? " (incomplete)" : ""),
                    timestamp(e.startMicroseconds / 1000),
                    String(format: "%.1f", Double(e.durationMicroseconds) / 1000),
                    String(format: "%.0f", Double(e.resolutionMicroseconds) / 1000),
                    String(format: "%.2f", e.magnitude),
                    e.reference > 0 ? String(format: "%.2f", e.magnitude / e.reference * 100) : "-",
                    e.worstPhase.uppercased(),
                    e.perPhase.sorted { $0.key < $1.key }.map {
                        "\($0.key.uppercased())=\(String(format: "%.2f", $0.value))"
                    }.joined(separator: " "),
                ]
            }
        ).render(format)
    }

    static func alerts(_ list: [AlertStatus], format: OutputFormat) -> String {
        if format == .json { return json(list) }
        return Report(
            title: nil, columns: ["STATE", "KIND", "ABOUT", "RAISED", "CLEARED", "MESSAGE"],
            rows: list.map {
                [
                    $0.active ? "ACTIVE" : "cleared", $0.kind, $0.key, timestamp($0.raisedAt),
                    $0.clearedAt.map(timestamp) ?? "-", $0.message,
                ]
            }
        ).render(format)
    }

    static func verification(_ v: CustodyVerification, format: OutputFormat) -> String {
        if format == .json { return json(v) }
        let verdict =
            v.broken.map { b in
                b.seq == 0
                    ? "BROKEN: \(b.kind) \(b.ref) is \(b.problem)"
                    : "BROKEN at link \(b.seq) (\(b.kind) \(b.ref)): \(b.problem)"
            } ?? "ok: every link checked holds"
        return Report(
            title: nil, columns: ["LINKS CHECKED", "HEAD", "HEAD LINK", "VERDICT"],
            rows: [[String(v.checked), String(v.headSeq), v.headLink, verdict]]
        ).render(format)
    }

    static func reload(_ r: ReloadResult, format: OutputFormat) -> String {
        if format == .json { return json(r) }
        let rows =
            r.kept.map { [$0, "kept"] } + r.started.map { [$0, "started"] } + r.stopped.map { [$0, "stopped"] }
            + r.failed.sorted { $0.key < $1.key }.map { [$0.key, "failed: \($0.value)"] }
        return Report(title: format == .table ? "configuration reloaded" : nil, columns: ["BUS", "CHANGE"], rows: rows)
            .render(format)
    }

    static func status(_ s: DaemonStatus, format: OutputFormat) -> String {
        if format == .json { return json(s) }
        var out = ""
        if format == .table {
            out += "synxd \(s.version), pid \(s.pid), up \(describeDuration(Int64(s.uptimeSeconds * 1000)))\n"
            if let c = s.lastClockStep {
                out +=
                    "wall clock stepped \(c.stepMs > 0 ? "forward" : "back") by \(describeDuration(abs(c.stepMs))) at "
                    + "\(timestamp(c.detectedAt))\(c.count > 1 ? " (\(c.count) steps since start)" : "")\n"
            }
            out += "store \(s.store.path): \(s.store.committedRows) rows committed, \(s.store.queuedRows) queued"
            if s.store.droppedRows > 0 { out += ", \(s.store.droppedRows) DROPPED" }
            if let kept = s.store.overlapRows, kept > 0 {
                out += ", \(kept) kept aside (their time repeated after the clock stepped back)"
            }
            if let e = s.store.lastError { out += ", error: \(e)" }
            out += "\n\n"
        }
        if format == .table {
            out += "buses: " + counts(s.busesByState ?? [:], order: LinkState.allCases.map(\.rawValue)) + "\n"
            if let l = s.pollLateness {
                out += String(
                    format: "poll-start lateness over the last %d polls: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                    l.polls, l.p50Ms, l.p99Ms, l.maxMs)
            }
        }
        if !s.buses.isEmpty || format != .table {
            if format == .table { out += "\n" }
            out += buses(s.buses, format: format)
            if format == .table, let more = s.busesNotShown, more > 0 {
                out += "… and \(more) more not connected (synxctl buses lists every bus)\n"
            }
        }
        if format == .table {
            out +=
                "\nmeters: " + counts(s.metersByState ?? [:], order: ["online", "degraded", "offline", "unknown"])
                + "\n"
            if s.meters.isEmpty { return out }
            out += "\n"
        }
        out += meters(s.meters, format: format)
        if format == .table, let more = s.metersNotShown, more > 0 {
            out += "… and \(more) more not online (synxctl meters lists every meter)\n"
        }
        return out
    }

    static func buses(_ list: [BusStatus], format: OutputFormat) -> String {
        if format == .json { return json(list) }
        return Report(
            title: nil,
            columns: [
                "BUS", "ENDPOINT", "STATE", "REQUESTS", "FAILURES", "STRAY", "P99 LATE (ms)",
                "P99 JITTER (ms)", "LAST ERROR",
            ],
            rows: list.map {
                [
                    $0.name, $0.endpoint, $0.state.rawValue, String($0.requests), String($0.failures),
                    String($0.strayFrames ?? 0),
                    String(format: "%.1f", $0.pollLatenessP99Ms), String(format: "%.1f", $0.pollJitterP99Ms),
                    $0.lastError ?? "-",
                ]
            }
        ).render(format)
    }

    /// `N (a online, b offline, …)`: the total and the counts by state, states in `order` first.
    private static func counts(_ counts: [String: Int], order: [String]) -> String {
        let total = counts.values.reduce(0, +)
        let parts = counts.sorted {
            (order.firstIndex(of: $0.key) ?? order.count, $0.key) < (
                order.firstIndex(of: $1.key) ?? order.count, $1.key
            )
        }
        .map { "\($0.value) \($0.key)" }
        return "\(total)" + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
    }

    static func meters(_ list: [MeterStatus], format: OutputFormat) -> String {
        if format == .json { return json(list) }
        return Report(
            title: nil,
            columns: [
                "METER", "BUS", "UNIT", "PROFILE", "STATE", "POLLS", "FAILED", "MISSED", "INVALID",
                "LAST GOOD POLL", "LAST ERROR",
            ],
            rows: list.map { m in
                [
                    m.name, m.bus, String(m.unit), m.profile, m.state.rawValue, String(m.polls), String(m.failedPolls),
                    tally(m.missedPolls), tally(m.invalidValues), m.lastGoodPoll.map(timestamp) ?? "-",
                    m.lastError ?? "-",
                ]
            }
        ).render(format)
    }

    /// Counts by reason as `N (reason N, …)`, or `0`.
    private static func tally(_ counts: [String: Int]?) -> String {
        guard let counts, !counts.isEmpty else { return "0" }
        let total = counts.values.reduce(0, +)
        return "\(total) (" + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + ")"
    }

    static func live(_ values: [LiveValues], format: OutputFormat) -> String {
        if format == .json { return json(values.count == 1 ? AnyEncodable(values[0]) : AnyEncodable(values)) }
        if format == .csv {
            return Report(
                title: nil, columns: ["meter", "measurement", "value", "unit", "time"],
                rows: values.flatMap { lv in
                    lv.values.map { [lv.meter, $0.measurement, String($0.value), $0.unit, timestamp($0.time)] }
                }
            ).render(.csv)
        }
        if values.count == 1, let lv = values.first {
            return Report(
                title: "meter \(lv.meter) (\(lv.state.rawValue))", columns: ["MEASUREMENT", "VALUE", "UNIT", "TIME"],
                rows: lv.values.map { [$0.measurement, readable($0.value), $0.unit, timestamp($0.time)] }
            ).render(.table)
        }
        // Several meters side by side, one row per measurement.
        var units: [String: String] = [:]
        for lv in values { for v in lv.values { units[v.measurement] = v.unit } }
        let rows = units.keys.sorted().map { name in
            [name, units[name]!]
                + values.map { lv in lv.values.first { $0.measurement == name }.map { readable($0.value) } ?? "-" }
        }
        return Report(
            title: nil, columns: ["MEASUREMENT", "UNIT"] + values.map { "\($0.meter) (\($0.state.rawValue))" },
            rows: rows
        )
        .render(.table)
    }

    /// A value for people: at most three decimals. JSON and CSV keep every digit.
    static func readable(_ v: Double) -> String {
        var s = String(format: "%.3f", v)
        while s.contains("."), s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }

    static func query(_ q: QueryResult, format: OutputFormat) -> String {
        if format == .json { return json(q) }
        var title =
            format == .table
            ? "\(q.meter) \(q.measurement) [\(q.unit)] \(timestamp(q.from)) … \(timestamp(q.to)): \(q.samples.count) samples\(q.truncated ? " (truncated)" : "")"
            : nil
        if let d = q.derivation, format == .table { title! += "\n\(d); times are interval ends" }
        let value = { (v: Double?) in v.map { format == .csv ? String($0) : readable($0) } ?? "-" }
        if q.derivation != nil {
            return Report(
                title: title, columns: ["END", "VALUE", "COVERAGE", "NOTES"],
                rows: q.samples.map {
                    [
                        timestamp($0.time), value($0.value), $0.coverage.map { String(format: "%.2f", $0) } ?? "-",
                        $0.notes?.joined(separator: ",") ?? "-",
                    ]
                }
            ).render(format)
        }
        return Report(
            title: title, columns: ["TIME", "VALUE", "QUALITY"],
            rows: q.samples.map { [timestamp($0.time), value($0.value), $0.quality.rawValue] }
        ).render(format)
    }

    /// UTC ISO 8601 with milliseconds.
    static func timestamp(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

}

/// Lets `live` print one object for one meter and an array for several.
struct AnyEncodable: Encodable {
    let value: Encodable
    init(_ value: Encodable) { self.value = value }
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
}

extension Renderer {
    /// A decoded register value: integers whole, a float32 in the fewest digits that give back the same float32,
    /// a float64 in the fewest that give back the same double.
    static func register(_ v: Double, type: String?) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return type == "float32" ? "\(Float(v))" : "\(v)"
    }

    /// `read`: one row per register (address, hex, as uint16 and int16), the decoded value on the row of each
    /// value's first register.
    static func registers(_ r: RegisterRead, format: OutputFormat) -> String {
        if format == .json { return json(r) }
        let what = "bus \(r.bus) unit \(r.unit) \(r.table.rawValue) \(r.address)"
        if let error = r.error {
            return Report(title: "\(what): \(error)", columns: ["ADDRESS", "HEX", "UINT16", "INT16"], rows: [])
                .render(format)
        }
        if r.table.holdsBits {
            return Report(
                title: "\(what), \(r.words.count) bit(s) in \(String(format: "%.1f", r.elapsedMs)) ms",
                columns: ["ADDRESS", "BIT"], rows: r.words.enumerated().map { [String(r.address + $0), String($1)] }
            ).render(format)
        }
        let step = r.decoded.map { $0.isEmpty ? 0 : r.words.count / $0.count } ?? 0
        let rows = r.words.enumerated().map { i, w in
            [String(r.address + i), String(format: "%04X", w), String(w), String(Int16(bitPattern: w))]
                + (r.decoded == nil
                    ? [] : [step > 0 && i % step == 0 && i / step < r.decoded!.count ? r.decoded![i / step].map { register($0, type: r.decode) } ?? "not a number" : ""])
        }
        return Report(
            title: "\(what), \(r.words.count) register(s) in \(String(format: "%.1f", r.elapsedMs)) ms",
            columns: ["ADDRESS", "HEX", "UINT16", "INT16"] + (r.decoded == nil ? [] : ["VALUE"]), rows: rows
        ).render(format)
    }

    /// `scan`: the unit ids that answered (all of them with `showSilent`), and how many did.
    static func scan(_ probes: [UnitProbe], showSilent: Bool, format: OutputFormat) -> String {
        if format == .json { return json(probes) }
        let answered = probes.filter { $0.answer != .none }
        return Report(
            title: "\(answered.count) of \(probes.count) unit id(s) answered",
            columns: ["UNIT", "ANSWER", "SUNSPEC", "DETAIL"],
            rows: (showSilent ? probes : answered).map {
                [String($0.unit), $0.answer.rawValue, $0.sunspec ? "yes" : "no", $0.detail ?? ""]
            }
        ).render(format)
    }

    /// `profile check`: each point as read and decoded, then the reads that failed.
    static func profileCheck(_ c: ProfileCheck, format: OutputFormat) -> String {
        if format == .json { return json(c) }
        let table = Report(
            title: "profile \(c.profile) read from meter \(c.meter): \(c.reads) read(s), \(c.failures.count) failed",
            columns: ["MEASUREMENT", "VALUE", "UNIT", "REGISTER", "TYPE", "RAW", "NOTE"],
            rows: c.points.map {
                [
                    $0.measurement, $0.value.map(readable) ?? "-", $0.unit, "\($0.table.rawValue) \($0.address)", $0.type,
                    $0.raw, $0.note ?? "",
                ]
            }
        ).render(format)
        return format == .csv ? table : table + c.failures.map { "failed: \($0)\n" }.joined()
    }
}
