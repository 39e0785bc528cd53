/// How a value came about, IEC 61000-4-30 §4.7 (flagging) plus the engine's own conditions. An aggregate carries
/// the union of its constituents' qualities.
public struct ValueQuality: OptionSet, Sendable, Hashable, Codable {
    public let rawValue: UInt8
    /// The flags whose bits are set in `rawValue`.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Overlaps a dip, swell or interruption (§4.7); the value is kept and aggregated, and marked.
    public static let flagged = ValueQuality(rawValue: 1 << 0)
    /// Samples were missing (a gap or NaN in the input): the value is invalid and not aggregated.
    public static let gap = ValueQuality(rawValue: 1 << 1)
    /// Some cycle boundaries were free-running (no usable zero crossing), so the window is not synchronised.
    public static let unsynchronised = ValueQuality(rawValue: 1 << 2)
    /// The fundamental was outside the Class A tracking range.
    public static let frequencyOutOfRange = ValueQuality(rawValue: 1 << 3)
    /// A sample reached a channel's full scale.
    public static let clipped = ValueQuality(rawValue: 1 << 4)
    /// An aggregate that did not see its whole interval (start or end of the input, or a gap).
    public static let incomplete = ValueQuality(rawValue: 1 << 5)

    static let all: [(ValueQuality, String)] = [
        (.flagged, "flagged"), (.gap, "gap"), (.unsynchronised, "unsynchronised"),
        (.frequencyOutOfRange, "frequency_out_of_range"), (.clipped, "clipped"), (.incomplete, "incomplete"),
    ]

    /// Stable names, as documented in docs/analyzer.md.
    public var names: [String] { Self.all.filter { contains($0.0) }.map(\.1) }

    /// The flags from their names, as `encode(to:)` writes them.
    public init(from decoder: Decoder) throws {
        let names = try [String](from: decoder)
        self = ValueQuality(Self.all.filter { names.contains($0.1) }.map(\.0))
    }
    /// The flags as their names (`["flagged", "clipped"]`).
    public func encode(to encoder: Encoder) throws { try names.encode(to: encoder) }
}

/// The values of one channel over one interval: RMS magnitude (IEC 61000-4-30 §5.2 / §5.13), its harmonic
/// content (§5.8–5.9, IEC 61000-4-7) and, for voltage channels, under-/over-deviation (Ed.3 Annex D) in percent
/// of Udin.
public struct ChannelValues: Sendable, Equatable, Codable {
    public var rms: Double
    public var harmonics: HarmonicSpectrum
    public var underDeviationPercent: Double?
    public var overDeviationPercent: Double?
    /// RMS of min(U, Udin) and max(U, Udin): aggregated like any RMS value, the deviations follow from them.
    var underRms: Double?
    var overRms: Double?

    enum CodingKeys: String, CodingKey {
        case rms, harmonics
        case underDeviationPercent = "under_deviation_percent"
        case overDeviationPercent = "over_deviation_percent"
    }

    mutating func deriveDeviations(declaredVoltage udin: Double) {
        if let u = underRms { underDeviationPercent = max(0, (udin - u) / udin * 100) }
        if let o = overRms { overDeviationPercent = max(0, (o - udin) / udin * 100) }
    }
}

/// Unbalance from the fundamental phasors by symmetrical components (IEC 61000-4-30 §5.7.1): u2 = |U2|/|U1| and
/// u0 = |U0|/|U1| in percent; for voltages also NEMA MG1 line-voltage unbalance (max deviation of the three
/// line-to-line RMS values from their mean, in percent of the mean).
public struct Unbalance: Sendable, Equatable, Codable {
    public var negativeSequencePercent: Double
    public var zeroSequencePercent: Double
    public var nemaPercent: Double?

    enum CodingKeys: String, CodingKey {
        case negativeSequencePercent = "u2_percent"
        case zeroSequencePercent = "u0_percent"
        case nemaPercent = "nema_percent"
    }
}

/// Powers of one phase after IEEE 1459-2010 §3.1 (single-phase, non-sinusoidal): P from the sampled product,
/// fundamental P1 and Q1 from the phasors, S = U·I, S1 = U1·I1, SN = √(S² − S1²), PF = P/S, DPF = P1/S1.
public struct PhasePower: Sendable, Equatable, Codable {
    public var phase: Phase
    public var activeW: Double
    public var fundamentalActiveW: Double
    public var fundamentalReactiveVar: Double
    public var apparentVA: Double
    public var fundamentalApparentVA: Double
    public var nonFundamentalApparentVA: Double
    public var powerFactor: Double
    public var displacementPowerFactor: Double

    enum CodingKeys: String, CodingKey {
        case phase
        case activeW = "p_w"
        case fundamentalActiveW = "p1_w"
        case fundamentalReactiveVar = "q1_var"
        case apparentVA = "s_va"
        case fundamentalApparentVA = "s1_va"
        case nonFundamentalApparentVA = "sn_va"
        case powerFactor = "pf"
        case displacementPowerFactor = "dpf"
    }

    mutating func deriveFactors() {
        fundamentalApparentVA =
            (fundamentalActiveW * fundamentalActiveW
            + fundamentalReactiveVar * fundamentalReactiveVar).squareRoot()
        nonFundamentalApparentVA = max(0, apparentVA * apparentVA - fundamentalApparentVA * fundamentalApparentVA)
            .squareRoot()
        powerFactor = apparentVA > 0 ? activeW / apparentVA : 0
        displacementPowerFactor = fundamentalApparentVA > 0 ? fundamentalActiveW / fundamentalApparentVA : 0
    }
}

/// Three-phase totals after IEEE 1459-2010 §3.2: P = ΣP, P1 and Q1 summed over phases, effective apparent power
/// Se = 3·Ue·Ie (four-wire definitions; the arithmetic sum of S when fewer than three phases are measured).
public struct TotalPower: Sendable, Equatable, Codable {
    public var activeW: Double
    public var fundamentalActiveW: Double
    public var fundamentalReactiveVar: Double
    public var effectiveApparentVA: Double
    public var powerFactor: Double
    public var displacementPowerFactor: Double

    enum CodingKeys: String, CodingKey {
        case activeW = "p_w"
        case fundamentalActiveW = "p1_w"
        case fundamentalReactiveVar = "q1_var"
        case effectiveApparentVA = "se_va"
        case powerFactor = "pf"
        case displacementPowerFactor = "dpf"
    }

    mutating func deriveFactors() {
        let s1 = (fundamentalActiveW * fundamentalActiveW + fundamentalReactiveVar * fundamentalReactiveVar)
            .squareRoot()
        powerFactor = effectiveApparentVA > 0 ? activeW / effectiveApparentVA : 0
        displacementPowerFactor = s1 > 0 ? fundamentalActiveW / s1 : 0
    }
}

/// Everything measured over one basic window, and, aggregated, over a longer interval: RMS-type quantities by
/// the root-mean-square of the constituents (IEC 61000-4-30 §4.5), powers and frequency by their mean.
public struct PowerQualityValues: Sendable, Equatable, Codable {
    /// One entry per configured channel, in configuration order.
    public var channels: [ChannelValues]
    public var voltageUnbalance: Unbalance?
    public var currentUnbalance: Unbalance?
    public var phasePower: [PhasePower]
    public var totalPower: TotalPower?
    /// Cycles / duration of the windows, Hz (the Class A power frequency is the separate 10-s value).
    public var frequency: Double?

    enum CodingKeys: String, CodingKey {
        case channels
        case voltageUnbalance = "voltage_unbalance"
        case currentUnbalance = "current_unbalance"
        case phasePower = "phase_power"
        case totalPower = "total_power"
        case frequency = "frequency_hz"
    }

    enum Combination { case rms, mean }

    /// Visits every aggregatable number with its combination rule, always in the same order.
    mutating func visitValues(_ body: (inout Double, Combination) -> Void) {
        func rms(_ x: inout Double) { body(&x, .rms) }
        func rms(_ x: inout Double?) {
            if var v = x {
                body(&v, .rms)
                x = v
            }
        }
        func mean(_ x: inout Double) { body(&x, .mean) }
        for c in channels.indices {
            rms(&channels[c].rms)
            rms(&channels[c].underRms)
            rms(&channels[c].overRms)
            rms(&channels[c].harmonics.thdsPercent)
            rms(&channels[c].harmonics.pwhdPercent)
            for i in channels[c].harmonics.subgroups.indices { rms(&channels[c].harmonics.subgroups[i]) }
            for i in channels[c].harmonics.groups.indices { rms(&channels[c].harmonics.groups[i]) }
            for i in channels[c].harmonics.interharmonicCentredSubgroups.indices {
                rms(&channels[c].harmonics.interharmonicCentredSubgroups[i])
            }
        }
        func unbalance(_ u: inout Unbalance?) {
            guard u != nil else { return }
            rms(&u!.negativeSequencePercent)
            rms(&u!.zeroSequencePercent)
            rms(&u!.nemaPercent)
        }
        unbalance(&voltageUnbalance)
        unbalance(&currentUnbalance)
        for p in phasePower.indices {
            mean(&phasePower[p].activeW)
            mean(&phasePower[p].fundamentalActiveW)
            mean(&phasePower[p].fundamentalReactiveVar)
            mean(&phasePower[p].apparentVA)
        }
        if totalPower != nil {
            mean(&totalPower!.activeW)
            mean(&totalPower!.fundamentalActiveW)
            mean(&totalPower!.fundamentalReactiveVar)
            mean(&totalPower!.effectiveApparentVA)
        }
    }

    /// Recomputes the quantities that are ratios of aggregated ones.
    mutating func deriveRatios(declaredVoltage: Double) {
        for c in channels.indices { channels[c].deriveDeviations(declaredVoltage: declaredVoltage) }
        for p in phasePower.indices { phasePower[p].deriveFactors() }
        totalPower?.deriveFactors()
    }
}
