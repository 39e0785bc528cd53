import Foundation
import SynxTOML

/// A threshold rule from `[[alert]]` in synxd.toml: a measurement (glob) of some meters (glob) outside
/// [below, above] — absolute, or ±percent of the meter's nominal voltage/frequency — for at least `forSeconds`.
public struct ThresholdRule: Sendable, Equatable {
    public var name: String
    public var measurement: String
    public var meter: String
    public var below: Double?
    public var above: Double?
    public var percentOfNominal: Double?
    public var forSeconds: Double

    /// The limits for one meter and measurement, nil when the rule does not apply to them.
    func limits(meter m: MeterConfig, measurement: String) -> (below: Double?, above: Double?)? {
        guard Glob.matches(self.meter, m.name), Glob.matches(self.measurement, measurement) else { return nil }
        guard let p = percentOfNominal else { return (below, above) }
        let nominal: Double
        if measurement.hasPrefix("frequency") {
            nominal = m.nominalFrequency
        } else if measurement.hasPrefix("voltage.") {
            // Line-to-line measurements (voltage.l1l2) are √3 × the line-to-neutral nominal.
            nominal = measurement.hasSuffix("n") ? m.nominalVoltage : m.nominalVoltage * 3.0.squareRoot()
        } else {
            return nil
        }
        return (nominal * (1 - p / 100), nominal * (1 + p / 100))
    }

    static func parse(_ s: TOMLSection, index: Int) throws -> ThresholdRule {
        try s.rejectUnknownKeys(["name", "measurement", "meter", "below", "above", "percent_of_nominal", "for_s"])
        let measurement = try s.requiredString("measurement")
        let rule = ThresholdRule(
            name: try s.string("name") ?? "rule-\(index)", measurement: measurement,
            meter: try s.string("meter") ?? "*",
            below: try s.double("below", in: -1e12...1e12), above: try s.double("above", in: -1e12...1e12),
            percentOfNominal: try s.double("percent_of_nominal", in: 0.01...100),
            forSeconds: try s.double("for_s", in: 0...86_400) ?? 0)
        if rule.percentOfNominal != nil {
            guard rule.below == nil, rule.above == nil else {
                throw s.error("percent_of_nominal", "give either percent_of_nominal or below/above, not both")
            }
            guard measurement.hasPrefix("voltage.") || measurement.hasPrefix("frequency") else {
                throw s.error("percent_of_nominal", "applies to voltage.* and frequency measurements only")
            }
        } else if rule.below == nil && rule.above == nil {
            throw s.error("measurement", "the rule needs below, above or percent_of_nominal")
        }
        if let b = rule.below, let a = rule.above, b >= a {
            throw s.error("below", "below (\(b)) must be less than above (\(a))")
        }
        return rule
    }
}

/// Shell-style patterns for meter and measurement names: `*` matches any run of characters, `?` one.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern)
        let t = Array(text)
        var i = 0
        var j = 0
        var star = -1
        var mark = 0
        while j < t.count {
            if i < p.count, p[i] == "?" || p[i] == t[j] {
                i += 1
                j += 1
            } else if i < p.count, p[i] == "*" {
                star = i
                mark = j
                i += 1
            } else if star >= 0 {
                i = star + 1
                mark += 1
                j = mark
            } else {
                return false
            }
        }
        while i < p.count, p[i] == "*" { i += 1 }
        return i == p.count
    }
}
