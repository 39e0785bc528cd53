/// One value of a `PowerQualityValues` under synx's canonical measurement name (`docs/measurements.md`).
public struct CanonicalValue: Sendable, Equatable {
    /// The canonical name, e.g. `voltage.l1n`, `thd.current.l2`, `voltage.ne`.
    public var name: String
    /// Its unit: V, A, %, Hz, W, var, or "" for a ratio.
    public var unit: String
    /// The value.
    public var value: Double
}

/// The flicker statistics with canonical names: the instantaneous flicker sensation, and the short-term (10 min)
/// and long-term (2 h) severities.
public enum FlickerStatistic: String, Sendable {
    case pinst, pst, plt
}

/// The one table from the engine's values to canonical measurement names and units, shared by synxd (a waveform
/// meter's live values and stored 150/180-cycle series) and synx-analyze (its JSON `measurements`). Pure naming:
/// every name is in synx's measurement catalog, which the daemon's tests check for every channel kind and phase.
public enum CanonicalMeasurements {
    /// The names and units of a channel's RMS value and (phases only) its THD-S (IEC 61000-4-7 §3.3.2).
    public static func names(
        of spec: ChannelSpec
    ) -> (rms: (name: String, unit: String), thd: (name: String, unit: String)?) {
        let p = spec.phase.rawValue
        switch (spec.kind, spec.phase) {
        case (.voltage, .n): return (("voltage.ne", "V"), nil)
        case (.voltage, _): return (("voltage.\(p)n", "V"), ("thd.voltage.\(p)", "%"))
        case (.current, .n): return (("current.n", "A"), nil)
        case (.current, _): return (("current.\(p)", "A"), ("thd.current.\(p)", "%"))
        }
    }

    /// Every value of `v` (of an engine with `channels`) under its canonical name: per channel its RMS and THD,
    /// then frequency and the total active power, fundamental reactive power and power factor when measured.
    public static func values(of v: PowerQualityValues, channels: [ChannelSpec]) -> [CanonicalValue] {
        var out: [CanonicalValue] = []
        for (spec, c) in zip(channels, v.channels) {
            let names = CanonicalMeasurements.names(of: spec)
            out.append(CanonicalValue(name: names.rms.name, unit: names.rms.unit, value: c.rms))
            if let thd = names.thd {
                out.append(CanonicalValue(name: thd.name, unit: thd.unit, value: c.harmonics.thdsPercent))
            }
        }
        if let u = v.voltageUnbalance {
            out.append(CanonicalValue(name: "unbalance.voltage.u2", unit: "%", value: u.negativeSequencePercent))
            out.append(CanonicalValue(name: "unbalance.voltage.u0", unit: "%", value: u.zeroSequencePercent))
            if let nema = u.nemaPercent { out.append(CanonicalValue(name: "unbalance.voltage.nema", unit: "%", value: nema)) }
        }
        if let f = v.frequency { out.append(CanonicalValue(name: "frequency", unit: "Hz", value: f)) }
        if let t = v.totalPower {
            out.append(CanonicalValue(name: "power.active.total", unit: "W", value: t.activeW))
            out.append(CanonicalValue(name: "power.reactive.total", unit: "var", value: t.fundamentalReactiveVar))
            out.append(CanonicalValue(name: "power_factor.total", unit: "", value: t.powerFactor))
        }
        return out
    }

    /// The harmonic subgroups of every L1–L3 channel of `v` in percent of its fundamental subgroup
    /// (IEC 61000-4-7 §3.2), orders 2 to `CanonicalMeasurements.harmonicOrders` as far as measured:
    /// `harmonic.voltage.l1.h5`, `harmonic.current.l3.h7`. None for a channel without a fundamental. Stored with the
    /// 10-min and 2-h aggregates, which compliance reports assess.
    public static func harmonics(of v: PowerQualityValues, channels: [ChannelSpec]) -> [CanonicalValue] {
        var out: [CanonicalValue] = []
        for (spec, c) in zip(channels, v.channels) where spec.phase != .n {
            let s = c.harmonics.subgroups
            guard s.count > 2, s[1] > 0 else { continue }
            for n in 2..<min(s.count, harmonicOrders + 1) {
                out.append(
                    CanonicalValue(
                        name: "harmonic.\(spec.kind.rawValue).\(spec.phase.rawValue).h\(n)", unit: "%",
                        value: s[n] / s[1] * 100))
            }
        }
        return out
    }

    /// Flicker values per phase under their canonical names, L1 first: `flicker.pinst.l1`, `flicker.pst.l2`,
    /// `flicker.plt.l3` (IEC 61000-4-15: dimensionless).
    public static func flicker(_ perPhase: [Phase: Double], _ statistic: FlickerStatistic) -> [CanonicalValue] {
        perPhase.sorted { $0.key.rawValue < $1.key.rawValue }.map {
            CanonicalValue(name: "flicker.\(statistic.rawValue).\($0.key.rawValue)", unit: "", value: $0.value)
        }
    }

    /// The highest harmonic order with a canonical name (IEC 61000-4-30 §5.8: 50).
    public static let harmonicOrders = 50
}
