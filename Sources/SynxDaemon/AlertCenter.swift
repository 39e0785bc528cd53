import Foundation
import Logging
import SynxControl
import SynxDSP
import SynxStore
import SynxSystem
import SynxTables

/// The kinds of alert synxd raises, each with a stable MESSAGE_ID for the raised and the cleared entry
/// (explained in `systemd/synx.catalog`) and the priority of the raised entry.
enum AlertKind: String, CaseIterable, Sendable {
    case meterOffline = "meter_offline"
    case threshold
    case store
    case reloadRejected = "reload_rejected"
    case test
    /// A meter that answers but whose data stopped advancing.
    case staleData = "stale_data"
    /// A dip, swell, interruption or RVC of a waveform meter (its own MESSAGE_ID per event kind).
    case voltageEvent = "voltage_event"
    /// A step of the host's wall clock (one entry per step).
    case clockStep = "clock_step"

    var raisedID: String {
        switch self {
        case .meterOffline: "b983c5c047b048fc8b5063054b7e0578"
        case .threshold: "ffe8de2a5b314ea08439857fd01286fc"
        case .store: "e765af95c3ba4b7a996abac40491e333"
        case .reloadRejected: "c7689707fdfd4e40affa3d269285a8b4"
        case .test: "ff38c73fc3df438b85edc03ca1e0783c"
        case .staleData: "3f6d2b8e4a1c4d7e9b5f0a2c6e8d1b47"
        case .voltageEvent: AlertCenter.eventIDs[.dip]!
        case .clockStep: "516de70890d24a3495596d31f6af3a2f"
        }
    }

    var clearedID: String {
        switch self {
        case .meterOffline: "a37e2ef963434460aec29d1c90f4d98b"
        case .threshold: "f78b539dfe7f426f999aef0091b40af1"
        case .store: "9cd1e175c207406d9eb3a519f5614c86"
        case .reloadRejected: "e62ef52ccf6f45098a1804b69c6f9aa3"
        case .test: "ff38c73fc3df438b85edc03ca1e0783c"
        case .staleData: "8a4c1e7d3b6f4a2c8e0d5b9f1c7a3e62"
        case .voltageEvent: AlertCenter.eventIDs[.dip]!
        case .clockStep: "516de70890d24a3495596d31f6af3a2f"
        }
    }

    var level: Logger.Level {
        switch self {
        case .meterOffline, .threshold, .staleData, .clockStep: .warning
        case .store: .error
        case .reloadRejected, .test, .voltageEvent: .notice
        }
    }
}

/// Raises and clears alerts as journal entries (through the logger, so with MESSAGE_ID and SYNX_ fields),
/// deduplicated and rate-limited: while an alert is raised, raising it again only counts; a logged alert's
/// "cleared" entry is written at once, but raising it again within `holdoff` seconds of its last entry is held
/// back and counted, and written (with the count) only if it is still raised when the hold-off ends. A meter
/// flapping every second therefore gives a few entries with counts, not a storm, and every logged "raised"
/// entry has its "cleared" one.
final class AlertCenter: @unchecked Sendable {
    private struct Key: Hashable {
        var kind: AlertKind
        var key: String
    }
    private struct Entry {
        var active = false
        /// A "raised" entry is in the journal without its "cleared" one.
        var logged = false
        var lastLogged: Double = -.infinity
        /// Raise/clear transitions since the last entry written.
        var transitions = 0
        var message = ""
        var fields: Logger.Metadata = [:]
        var raisedAt: Int64 = 0
        var clearedAt: Int64?
    }

    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]
    private var order: [Key] = []
    private let logger: Logger
    private var holdoff: Double
    private var rules: [ThresholdRule]
    /// For threshold rules: each meter#measurement#rule outside its limits.
    private var outside: [String: Excursion] = [:]
    /// Told of every journal entry written (an alert raised or cleared, a voltage event, a clock step), after the
    /// entry, outside the lock: the MQTT publisher's feed. Set once, before the parts start.
    var observer: ((AlertNotice) -> Void)?

    init(logger: Logger, holdoffSeconds: Double, rules: [ThresholdRule]) {
        self.logger = logger
        holdoff = holdoffSeconds
        self.rules = rules
    }

    /// New settings from a reload. Excursions of rules that still exist go on (they end when the value is within
    /// the new limits); the alerts of rules that are gone are cleared.
    func configure(holdoffSeconds: Double, rules: [ThresholdRule]) {
        let names = Set(rules.map(\.name))
        let gone = lock.withLock { () -> [String] in
            holdoff = holdoffSeconds
            self.rules = rules
            let gone = outside.keys.filter { !names.contains(String($0.split(separator: "#").last ?? "")) }
            gone.forEach { outside[$0] = nil }
            return gone
        }
        for id in gone {
            clear(.threshold, key: id, message: "threshold rule \(id.split(separator: "#").last ?? "") was removed")
        }
    }

    private func now() -> Double { Double(monotonicMilliseconds()) / 1000 }

    func raise(_ kind: AlertKind, key: String, message: String, fields: Logger.Metadata = [:]) {
        lock.lock()
        let k = Key(kind: kind, key: key)
        var e = entries[k] ?? Entry()
        if entries[k] == nil { order.append(k) }
        if !e.active {
            e.active = true
            e.transitions += 1
            e.raisedAt = wallClockNow()
            e.clearedAt = nil
        }
        e.message = message
        e.fields = fields
        var write = false
        if !e.logged, now() - e.lastLogged >= holdoff || kind == .test {
            write = true
            e.logged = true
            e.lastLogged = now()
        }
        let count = e.transitions
        if write { e.transitions = 0 }
        entries[k] = e
        lock.unlock()
        if write { log(kind, raised: true, key: key, message: message, fields: fields, count: count) }
    }

    func clear(_ kind: AlertKind, key: String, message: String) {
        lock.lock()
        let k = Key(kind: kind, key: key)
        guard var e = entries[k], e.active else {
            lock.unlock()
            return
        }
        e.active = false
        e.transitions += 1
        e.clearedAt = wallClockNow()
        e.message = message
        var write = false
        if e.logged {
            write = true
            e.logged = false
            e.lastLogged = now()
        }
        let (count, fields) = (e.transitions, e.fields)
        if write { e.transitions = 0 }
        entries[k] = e
        lock.unlock()
        if write { log(kind, raised: false, key: key, message: message, fields: fields, count: count) }
    }

    /// Writes the "raised" entries that were held back by the hold-off, if the alert is still raised when it
    /// has passed (called every second).
    func tick() {
        var pending: [(Key, Bool, String, Logger.Metadata, Int)] = []
        lock.lock()
        let t = now()
        for (k, var e) in entries where e.transitions > 0 && t - e.lastLogged >= holdoff && e.logged != e.active {
            e.logged = e.active
            e.lastLogged = t
            pending.append((k, e.active, e.message, e.fields, e.transitions))
            e.transitions = 0
            entries[k] = e
        }
        lock.unlock()
        for (k, raised, message, fields, count) in pending {
            log(k.kind, raised: raised, key: k.key, message: message, fields: fields, count: count)
        }
    }

    private func log(_ kind: AlertKind, raised: Bool, key: String, message: String, fields: Logger.Metadata, count: Int)
    {
        var meta = fields
        meta["message_id"] = "\(raised ? kind.raisedID : kind.clearedID)"
        meta["alert"] = "\(kind.rawValue)"
        meta["alert_state"] = "\(raised ? "raised" : "cleared")"
        meta["alert_count"] = "\(count)"
        let text = count > 1 ? "\(message) (\(count) changes since the last entry)" : message
        logger.log(level: raised ? kind.level : .notice, "\(text)", metadata: meta)
        observer?(AlertNotice(kind: kind.rawValue, state: raised ? "raised" : "cleared", key: key, message: text, fields: meta))
    }

    /// MESSAGE_IDs of the voltage events of waveform meters, one per kind (systemd/synx.catalog).
    static let eventIDs: [VoltageEventKind: String] = [
        .dip: "5b1f0e4b8a6c4f0c9e2d7a3b6c1d8e90", .swell: "7c2e1f5a9b7d4e1fa3c8d6b2e4f1a7c3",
        .interruption: "9d3f2a6b0c8e4f2ab4d9e7c3f5a2b8d4", .rapidVoltageChange: "1e4a3b7c2d9f4a3bc5e0f8d4a6b3c9e5",
    ]

    /// Writes one journal entry for a completed voltage event (it is reported once it has ended, with its start
    /// and duration, so it has no separate "cleared" entry). Dips and interruptions are warnings; swells and
    /// RVCs notices.
    func event(_ e: VoltageEvent, meter: String, bus: String) {
        var meta: Logger.Metadata = [
            "message_id": "\(AlertCenter.eventIDs[e.kind]!)", "meter": "\(meter)", "bus": "\(bus)",
            "event": "\(e.kind.rawValue)",
            "event_id": "\(meter)-\(e.kind.rawValue)-\(Int64(e.start * 1e6))", "phase": "\(e.worstPhase.rawValue)",
            "value": "\(e.magnitude)", "reference": "\(e.reference)", "duration_s": "\(e.duration)",
            "start": "\(e.start)", "incomplete": "\(e.incomplete)",
        ]
        if let uss = e.steadyStateChange { meta["delta_uss"] = "\(uss)" }
        let what: String
        switch e.kind {
        case .dip:
            what =
                "dip to \(String(format: "%.1f", e.magnitude)) V (\(String(format: "%.1f", e.magnitude / e.reference * 100)) %)"
        case .swell:
            what =
                "swell to \(String(format: "%.1f", e.magnitude)) V (\(String(format: "%.1f", e.magnitude / e.reference * 100)) %)"
        case .interruption: what = "interruption, residual \(String(format: "%.1f", e.magnitude)) V"
        case .rapidVoltageChange: what = "rapid voltage change, ΔUmax \(String(format: "%.2f", e.magnitude)) V"
        }
        logger.log(
            level: e.kind == .dip || e.kind == .interruption ? .warning : .notice,
            "\(meter): \(what) on \(e.worstPhase.rawValue.uppercased()) for \(String(format: "%.0f", e.duration * 1000)) ms",
            metadata: meta)
        observer?(AlertNotice(kind: AlertKind.voltageEvent.rawValue, state: "event", key: meter, message: "\(meter): \(what)", fields: meta))
        lock.withLock {
            let k = Key(kind: .voltageEvent, key: "\(meter) \(e.kind.rawValue) \(Int64(e.start * 1000))")
            entries[k] = Entry(
                active: false, logged: false, lastLogged: now(), transitions: 0, message: "\(meter): \(what)",
                fields: meta, raisedAt: Int64(e.start * 1000), clearedAt: Int64(e.end * 1000))
            order.append(k)
            if order.count > 1000 {
                let gone = order.removeFirst()
                entries[gone] = nil
            }
        }
    }

    /// A step of the wall clock: one journal entry (not an alert that stays raised: the step is over when seen),
    /// listed among the recent alerts.
    func clockStep(stepMs: Int64, detectedMs: Int64) {
        let what = "the wall clock stepped \(stepMs > 0 ? "forward" : "back") by \(describeDuration(abs(stepMs)))"
        let meta: Logger.Metadata = [
            "message_id": "\(AlertKind.clockStep.raisedID)", "alert": "\(AlertKind.clockStep.rawValue)",
            "step_ms": "\(stepMs)", "value": "\(Double(stepMs) / 1000)",
        ]
        logger.warning(
            "\(what); polling re-anchored to the new time, stored data kept (docs/operations.md)", metadata: meta)
        observer?(AlertNotice(kind: AlertKind.clockStep.rawValue, state: "event", key: "\(detectedMs)", message: what, fields: meta))
        lock.withLock {
            let k = Key(kind: .clockStep, key: "\(detectedMs)")
            entries[k] = Entry(
                active: false, logged: true, lastLogged: now(), transitions: 0, message: what, fields: meta,
                raisedAt: detectedMs, clearedAt: detectedMs)
            order.append(k)
            if order.count > 1000 {
                let gone = order.removeFirst()
                entries[gone] = nil
            }
        }
    }

    /// How many alerts are raised now.
    var activeCount: Int { lock.withLock { entries.values.filter(\.active).count } }

    /// Active alerts first, then the most recent cleared ones (at most `limit` in all).
    func list(limit: Int = 100) -> [AlertStatus] {
        lock.withLock {
            let all = order.compactMap { k in entries[k].map { (k, $0) } }
            let sorted =
                all.filter { $0.1.active }
                + all.filter { !$0.1.active }.sorted { ($0.1.clearedAt ?? 0) > ($1.1.clearedAt ?? 0) }
            return sorted.prefix(limit).map { k, e in
                AlertStatus(
                    kind: k.kind.rawValue, key: k.key, active: e.active, message: e.message, raisedAt: e.raisedAt,
                    clearedAt: e.clearedAt)
            }
        }
    }

    /// A threshold excursion in progress: since when (ms), its limit, and the value furthest beyond it.
    private struct Excursion {
        var since: Int64
        var limit: Double
        var extreme: Double
        var above: Bool
        var raised = false
    }

    /// Checks one meter's fresh values against the threshold rules; returns the excursions that ended after
    /// having raised their alert, as events (time resolution: the poll interval).
    func evaluate(meter: MeterConfig, values: [LiveValue], time: Int64) -> [EventRow] {
        let rules = lock.withLock { self.rules }
        guard !rules.isEmpty else { return [] }
        var ended: [EventRow] = []
        for v in values {
            for rule in rules {
                guard let limits = rule.limits(meter: meter, measurement: v.measurement) else { continue }
                let id = "\(meter.name)#\(v.measurement)#\(rule.name)"
                let low = limits.below.map { v.value < $0 } ?? false
                let high = limits.above.map { v.value > $0 } ?? false
                if low || high {
                    let limit = high ? limits.above! : limits.below!
                    let e = lock.withLock { () -> Excursion in
                        var e = outside[id] ?? Excursion(since: time, limit: limit, extreme: v.value, above: high)
                        e.extreme = high ? max(e.extreme, v.value) : min(e.extreme, v.value)
                        outside[id] = e
                        return e
                    }
                    if Double(time - e.since) / 1000 >= rule.forSeconds {
                        lock.withLock { outside[id]?.raised = true }
                        let fields: Logger.Metadata = [
                            "meter": "\(meter.name)", "measurement": "\(v.measurement)", "value": "\(v.value)",
                            "rule": "\(rule.name)", "limit": "\(limit)",
                        ]
                        raise(
                            .threshold, key: id,
                            message:
                                "\(meter.name) \(v.measurement) = \(v.value) \(v.unit) is \(high ? "above" : "below") \(limit) (rule \(rule.name))",
                            fields: fields)
                    }
                } else if let e = lock.withLock({ outside.removeValue(forKey: id) }) {
                    clear(
                        .threshold, key: id,
                        message:
                            "\(meter.name) \(v.measurement) = \(v.value) \(v.unit) is back within the limits of rule \(rule.name)"
                    )
                    guard e.raised else { continue }
                    ended.append(
                        EventRow(
                            meter: meter.name, kind: "threshold", startMicroseconds: e.since * 1000,
                            durationMicroseconds: (time - e.since) * 1000, magnitude: e.extreme, reference: e.limit,
                            steadyStateChange: nil, worstPhase: v.measurement, perPhase: [v.measurement: e.extreme],
                            incomplete: false, resolutionMicroseconds: Int64(meter.pollIntervalMs) * 1000))
                }
            }
        }
        return ended
    }
}

/// One journal entry of the alert center, as the MQTT publisher forwards it: an alert `raised` or `cleared`, or an
/// `event` (a voltage event of a waveform meter, a clock step) that has no clearing entry.
struct AlertNotice: Sendable {
    var kind: String
    var state: String
    /// The alert's key (a meter's name, a bus's, a rule's excursion); for a voltage event, the meter.
    var key: String
    var message: String
    /// The journal entry's fields (MESSAGE_ID, values, times), as text.
    var fields: Logger.Metadata
    /// When the entry was written (UTC ms): an alert queued while the broker is away keeps its own time.
    var timeMs: Int64 = wallClockNow()
}
