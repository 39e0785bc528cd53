/// A canonical measurement name, the one vocabulary every layer of synx uses (`docs/measurements.md`).
///
/// Names are dotted: quantity, then kind, then phase or conductor, e.g. `voltage.l1n`, `power.active.total`.
public struct Measurement: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// How a quantity combines over time; the aggregation issue relies on it.
    public enum Kind: String, Sendable {
        /// An RMS magnitude (voltage, current): aggregated as RMS of RMS (IEC 61000-4-30 §5.2).
        case rms
        /// An instantaneous power: aggregated as a mean.
        case power
        /// A dimensionless ratio (power factor, THD): aggregated as a mean.
        case ratio
        /// Power frequency.
        case frequency
        /// A monotonically increasing energy register: aggregated as a difference.
        case counter
        /// A flicker severity (IEC 61000-4-15: Pinst, Pst, Plt): a statistic over its own interval, stored as it
        /// comes and never averaged again.
        case severity
    }

    public let name: String
    public let unit: String
    public let kind: Kind

    public var description: String { name }
    /// Names in alphabetical order.
    public static func < (a: Measurement, b: Measurement) -> Bool { a.name < b.name }

    /// Every canonical measurement, by name.
    public static let catalog: [String: Measurement] = {
        var all: [Measurement] = []
        func add(_ name: String, _ unit: String, _ kind: Kind) {
            all.append(Measurement(name: name, unit: unit, kind: kind))
        }
        for p in ["l1n", "l2n", "l3n", "ln_avg", "l12", "l23", "l31", "ll_avg", "ne"] { add("voltage.\(p)", "V", .rms) }
        for p in ["l1", "l2", "l3", "n", "avg", "total"] { add("current.\(p)", "A", .rms) }
        for p in ["l1", "l2", "l3", "total"] {
            add("power.active.\(p)", "W", .power)
            add("power.reactive.\(p)", "var", .power)
            add("power.apparent.\(p)", "VA", .power)
            add("power_factor.\(p)", "", .ratio)
        }
        add("frequency", "Hz", .frequency)
        for direction in ["import", "export"] {
            add("energy.active.\(direction)", "kWh", .counter)
            add("energy.reactive.\(direction)", "kvarh", .counter)
            for p in ["l1", "l2", "l3"] { add("energy.active.\(direction).\(p)", "kWh", .counter) }
        }
        add("energy.apparent.total", "kVAh", .counter)
        for p in ["l1", "l2", "l3"] {
            add("thd.voltage.\(p)", "%", .ratio)
            add("thd.current.\(p)", "%", .ratio)
            for statistic in ["pinst", "pst", "plt"] { add("flicker.\(statistic).\(p)", "", .severity) }
            for kind in ["voltage", "current"] {
                for n in 2...50 { add("harmonic.\(kind).\(p).h\(n)", "%", .ratio) }
            }
        }
        add("unbalance.voltage.u2", "%", .ratio)
        add("unbalance.voltage.u0", "%", .ratio)
        add("unbalance.voltage.nema", "%", .ratio)
        for kind in ["dip", "swell", "interruption"] { add("events.\(kind).count", "", .counter) }
        return Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
    }()

    /// The catalog entry for `name`, or nil for a name synx does not know.
    public static func named(_ name: String) -> Measurement? { catalog[name] }
}
