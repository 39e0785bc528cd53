/// synx's canonical measurement names (`docs/measurements.md`) as Prometheus metrics, following Prometheus's
/// naming practice: base units in the name (volts, amperes, watts, joules, hertz; percentages as ratios), one
/// family per quantity with the phase, order or direction as labels rather than one metric per register
/// (`docs/integration.md` lists every family).
public enum MeasurementMetrics {
    /// How a value in synx's unit becomes one in the metric's base unit.
    public enum Conversion: Sendable, Equatable {
        /// The same unit.
        case none
        /// Percent to a ratio: ÷ 100 (a division, so 7 % is 0.07 exactly as written, not 0.07000000000000001).
        case percentToRatio
        /// kWh (kvarh, kVAh) to J (var·s, VA·s): × 3.6e6.
        case kiloWattHoursToJoules

        /// `v` in the metric's unit.
        public func apply(_ v: Double) -> Double {
            switch self {
            case .none: v
            case .percentToRatio: v / 100
            case .kiloWattHoursToJoules: v * 3.6e6
            }
        }
    }

    /// Where a measurement goes: its family (name, kind, help, unit), its labels besides `meter`, and how its value
    /// is converted to the metric's unit.
    public struct Placement: Sendable, Equatable {
        public var family: String
        public var kind: MetricFamily.Kind
        public var help: String
        public var unit: String
        public var labels: [MetricFamily.Label]
        public var conversion: Conversion
    }

    /// The placement of canonical measurement `name`, or nil for a name without one.
    public static func placement(of name: String) -> Placement? {
        let parts = name.split(separator: ".").map(String.init)
        func gauge(
            _ family: String, _ help: String, _ unit: String, _ labels: [MetricFamily.Label],
            _ conversion: Conversion = .none
        ) -> Placement {
            Placement(
                family: "synx_\(family)", kind: .gauge, help: help, unit: unit, labels: labels, conversion: conversion)
        }
        func counter(
            _ family: String, _ help: String, _ unit: String, _ labels: [MetricFamily.Label], _ conversion: Conversion
        ) -> Placement {
            Placement(
                family: "synx_\(family)", kind: .counter, help: help, unit: unit, labels: labels, conversion: conversion)
        }
        let phase = { (i: Int) in [MetricFamily.Label("phase", parts[i])] }
        switch (parts.first, parts.count) {
        case ("voltage", 2):
            return gauge("voltage_volts", "RMS voltage (phase: l1n … l3n, l12 … l31, averages, ne).", "volts", phase(1))
        case ("current", 2):
            return gauge("current_amperes", "RMS current (phase: l1 … l3, n, avg, total).", "amperes", phase(1))
        case ("power", 3):
            switch parts[1] {
            case "active": return gauge("active_power_watts", "Active power.", "watts", phase(2))
            case "reactive": return gauge("reactive_power_vars", "Reactive power (var).", "vars", phase(2))
            case "apparent": return gauge("apparent_power_volt_amperes", "Apparent power (VA).", "volt_amperes", phase(2))
            default: return nil
            }
        case ("power_factor", 2):
            return gauge("power_factor_ratio", "Power factor.", "ratio", phase(1))
        case ("frequency", 1):
            return gauge("frequency_hertz", "Power frequency.", "hertz", [])
        case ("energy", 3), ("energy", 4):
            // kWh, kvarh, kVAh → J, var·s, VA·s.
            let labels = [
                MetricFamily.Label("direction", parts[2]),
                MetricFamily.Label("phase", parts.count == 4 ? parts[3] : "total"),
            ]
            switch parts[1] {
            case "active":
                return counter(
                    "active_energy_joules", "Active energy register of the meter.", "joules", labels,
                    .kiloWattHoursToJoules)
            case "reactive":
                return counter(
                    "reactive_energy_var_seconds", "Reactive energy register of the meter.", "var_seconds", labels,
                    .kiloWattHoursToJoules)
            case "apparent":
                return counter(
                    "apparent_energy_volt_ampere_seconds", "Apparent energy register of the meter.", "volt_ampere_seconds",
                    labels, .kiloWattHoursToJoules)
            default:
                return nil
            }
        case ("thd", 3):
            return gauge(
                "\(parts[1])_thd_ratio", "Total harmonic distortion of the \(parts[1]), to the fundamental.", "ratio",
                phase(2), .percentToRatio)
        case ("harmonic", 4):
            return gauge(
                "\(parts[1])_harmonic_ratio", "Harmonic of the \(parts[1]), to the fundamental (order: 2 … 50).", "ratio",
                phase(2) + [MetricFamily.Label("order", String(parts[3].dropFirst()))], .percentToRatio)
        case ("unbalance", 3):
            return gauge(
                "voltage_unbalance_ratio", "Voltage unbalance (component: u2, u0, nema).", "ratio",
                [MetricFamily.Label("component", parts[2])], .percentToRatio)
        case ("flicker", 3):
            return gauge(
                "flicker_\(parts[1])", "Flicker \(parts[1]) (IEC 61000-4-15, dimensionless).", "", phase(2))
        case ("events", 3):
            return counter(
                "meter_counted_events", "Voltage events the meter counted itself (kind: dip, swell, interruption).", "",
                [MetricFamily.Label("kind", parts[1])], .none)
        default:
            return nil
        }
    }
}
