import Foundation

/// What a measurement can physically be on a meter of a given nominal voltage (`docs/measurements.md`,
/// "Plausibility"). A register that decodes to a number outside it — a firmware bug, a mis-wired gateway,
/// a device on the wrong unit id, a forged reply — is stored `invalid` with the reason, never `good`.
///
/// The ranges are wide on purpose: they catch values no meter can measure (3.4e38 V, 5e13 Hz), not
/// supply-quality problems, which are what synx is there to record.
public struct Plausibility: Sendable, Equatable {
    /// Line-to-neutral nominal voltage of the meter (its `nominal_voltage`), volts.
    public var nominalVoltage: Double
    /// The largest current any meter synx polls can measure, amperes (no nominal current is configured).
    public static let maxCurrent = 1e6
    /// A voltage may read up to this many times its nominal value (line-to-line: times √3 as well).
    public static let voltageFactor = 10.0
    /// How far a power factor may exceed 1 in magnitude (meters round; some report 1.001).
    public static let powerFactorTolerance = 0.02
    /// Power frequency, Hz: beyond what any 50/60 Hz (or 16.7 Hz railway) supply can show.
    public static let frequencyRange = 10.0...100.0
    /// Total harmonic distortion, percent.
    public static let thdRange = 0.0...1000.0
    /// A short- or long-term flicker severity (Pst, Plt; linear in the fluctuation: Pst 100 is a 40–70 % one).
    public static let severityRange = 0.0...100.0
    /// The instantaneous flicker sensation Pinst (quadratic in the fluctuation: 100 at 2.5 %, thousands in a dip).
    public static let pinstRange = 0.0...1e9
    /// An energy register, in the canonical kWh / kvarh / kVAh.
    public static let energyRange = 0.0...1e12

    /// The limits for a meter of `nominalVoltage` (line to neutral, volts).
    public init(nominalVoltage: Double) { self.nominalVoltage = nominalVoltage }

    /// The range a value of `measurement` must lie in.
    public func range(of measurement: Measurement) -> ClosedRange<Double> {
        let lineToLine = ["voltage.l12", "voltage.l23", "voltage.l31", "voltage.ll_avg"].contains(measurement.name)
        let maxVoltage = Plausibility.voltageFactor * nominalVoltage * (lineToLine ? 3.0.squareRoot() : 1)
        switch measurement.kind {
        case .rms where measurement.unit == "V": return 0...maxVoltage
        case .rms: return -Plausibility.maxCurrent...Plausibility.maxCurrent  // some meters sign current by direction
        case .power:
            let limit = 3 * Plausibility.voltageFactor * nominalVoltage * Plausibility.maxCurrent
            return -limit...limit
        case .ratio where measurement.unit == "%": return Plausibility.thdRange
        case .ratio:
            let limit = 1 + Plausibility.powerFactorTolerance
            return -limit...limit
        case .frequency: return Plausibility.frequencyRange
        case .counter: return Plausibility.energyRange
        case .severity:
            return measurement.name.hasPrefix("flicker.pinst.") ? Plausibility.pinstRange : Plausibility.severityRange
        }
    }

    /// The range a reading of `point` must lie in: its profile's bounds if it sets them, else its measurement's.
    /// (Computed once per meter and point: a poll only compares.)
    public func range(of point: RegisterPoint) -> ClosedRange<Double> {
        if let low = point.plausibleMin, let high = point.plausibleMax, low < high { return low...high }
        return range(of: point.measurement)
    }

    /// Why a value of `point` outside `range` is not stored, in words that do not depend on the value (so
    /// reasons can be counted): `frequency outside 10…100 Hz`.
    public static func reason(_ point: RegisterPoint, outside range: ClosedRange<Double>) -> String {
        let unit = point.measurement.unit.isEmpty ? "" : " \(point.measurement.unit)"
        return "\(point.measurement.name) outside \(format(range.lowerBound))…\(format(range.upperBound))\(unit)"
    }

    private static func format(_ v: Double) -> String { String(format: "%g", v) }
}
