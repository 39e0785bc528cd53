/// The nominal power frequency, which fixes the IEC 61000-4-30 §4.4 basic interval (10 cycles at 50 Hz,
/// 12 at 60 Hz), the §5.1 frequency tracking range and the §5.11 RVC window (100/120 half cycles).
public enum NominalFrequency: Int, Sendable, Codable, CaseIterable {
    case hz50 = 50
    case hz60 = 60

    public var hertz: Double { Double(rawValue) }
    /// Cycles in a basic (10/12-cycle) window, IEC 61000-4-30 §4.4.
    public var cyclesPerBasicWindow: Int { self == .hz50 ? 10 : 12 }
    /// Half cycles of Urms½ that make the RVC steady-state window, IEC 61000-4-30 §5.11.
    public var rvcWindowHalfCycles: Int { self == .hz50 ? 100 : 120 }
    /// Class A frequency range: 42.5–57.5 Hz or 51–69 Hz (IEC 61000-4-30 §5.1.3).
    public var trackingRange: ClosedRange<Double> { self == .hz50 ? 42.5...57.5 : 51.0...69.0 }
}

/// What a channel measures; voltages are line-to-neutral (or neutral-to-earth for `.neutral`).
public enum ChannelKind: String, Sendable, Codable { case voltage, current }

/// The conductor a channel belongs to.
public enum Phase: String, Sendable, Codable, CaseIterable { case l1, l2, l3, n }

/// One sampled input: a voltage or current of a phase, in volts or amperes.
public struct ChannelSpec: Sendable, Equatable {
    public var name: String
    public var kind: ChannelKind
    public var phase: Phase
    /// Peak value at which the input clips (the ADC's full scale), if known; samples at or beyond it flag the
    /// window `clipped`.
    public var fullScale: Double?

    /// A channel named `name` measuring `kind` on `phase`, clipping at `fullScale` (peak), if known.
    public init(name: String, kind: ChannelKind, phase: Phase, fullScale: Double? = nil) {
        self.name = name
        self.kind = kind
        self.phase = phase
        self.fullScale = fullScale
    }
}

/// The reference that dip, swell and interruption thresholds are relative to (IEC 61000-4-30 §5.4.4):
/// the declared input voltage, or the sliding reference Usr (1-min first-order filter of the basic values).
public enum VoltageReference: String, Sendable, Codable, CaseIterable { case declared, sliding }

/// Event thresholds, all in percent of the reference voltage (Udin or Usr). Defaults are EN 50160's:
/// dip 90 %, swell 110 %, interruption 5 %, hysteresis 2 %; RVC threshold 3.3 % with 50 % hysteresis
/// (IEC 61000-3-3 LV practice).
public struct EventThresholds: Sendable, Equatable {
    public var dipPercent = 90.0
    public var swellPercent = 110.0
    public var interruptionPercent = 5.0
    public var hysteresisPercent = 2.0
    public var rvcPercent = 3.3
    public var rvcHysteresisPercent = 1.65
    /// EN 50160's thresholds (the defaults of each field).
    public init() {}
}

/// Which flickermeter lamp model (IEC 61000-4-15 Ed.2 §4.3) weights the voltage fluctuations, or none.
public enum FlickerLampSelection: String, Sendable, Codable, CaseIterable {
    /// From the declared input voltage: the 120 V lamp below 180 V, else the 230 V lamp (`FlickerLamp.forNominal`).
    case automatic = "auto"
    /// The 230 V, 60 W incandescent lamp.
    case lamp230V = "230v"
    /// The 120 V, 60 W incandescent lamp.
    case lamp120V = "120v"
    /// No flickermeter: no Pst, Plt or Pinst.
    case off

    /// The lamp this selection picks for a supply declared at `declaredVoltage` (line-to-neutral), nil for `off`.
    public func lamp(declaredVoltage: Double) -> FlickerLamp? {
        switch self {
        case .automatic: FlickerLamp.forNominal(volts: declaredVoltage)
        case .lamp230V: .lamp230V
        case .lamp120V: .lamp120V
        case .off: nil
        }
    }
}

/// Everything the engine needs to know about its input, fixed for the lifetime of an engine instance.
public struct EngineConfiguration: Sendable, Equatable {
    /// Samples per second per channel, 6 400 … 25 600 (others accepted between 4 000 and 100 000).
    public var sampleRate: Double
    public var nominalFrequency: NominalFrequency
    /// Declared input voltage Udin (line-to-neutral RMS, volts), IEC 61000-4-30 §3.
    public var declaredVoltage: Double
    /// Nominal current, used only for the IEC 61000-4-7 small-signal accuracy floor; optional.
    public var nominalCurrent: Double?
    public var channels: [ChannelSpec]
    public var thresholds = EventThresholds()
    public var reference = VoltageReference.declared
    /// Highest harmonic order computed (IEC 61000-4-30 §5.8: 50).
    public var harmonicOrders = 50
    /// The flickermeter's lamp (IEC 61000-4-30 §5.3), on every L–N voltage channel.
    public var flicker = FlickerLampSelection.automatic

    /// An engine configuration; `PowerQualityEngine.init` checks it.
    public init(
        sampleRate: Double, nominalFrequency: NominalFrequency, declaredVoltage: Double,
        channels: [ChannelSpec]
    ) {
        self.sampleRate = sampleRate
        self.nominalFrequency = nominalFrequency
        self.declaredVoltage = declaredVoltage
        self.channels = channels
    }

    /// Channels in the order given, with their position in a sample block.
    var voltageChannels: [Int] { channels.indices.filter { channels[$0].kind == .voltage } }
    var currentChannels: [Int] { channels.indices.filter { channels[$0].kind == .current } }
    /// Voltage channels of L1, L2, L3 (not N-E), the ones events and unbalance are computed on.
    var phaseVoltageChannels: [Int] { voltageChannels.filter { channels[$0].phase != .n } }

    func channel(_ kind: ChannelKind, _ phase: Phase) -> Int? {
        channels.firstIndex { $0.kind == kind && $0.phase == phase }
    }

    /// Checks the configuration; the engine refuses to start on any of these errors.
    public func validate() throws {
        func fail(_ message: String) -> EngineError { .configuration(message) }
        guard sampleRate.isFinite, (4_000...100_000).contains(sampleRate) else {
            throw fail("sample rate \(sampleRate) S/s is outside 4000…100000")
        }
        guard declaredVoltage.isFinite, declaredVoltage > 0 else {
            throw fail("declared input voltage must be a positive number of volts")
        }
        guard !channels.isEmpty, channels.count <= 8 else { throw fail("between 1 and 8 channels are needed") }
        guard voltageChannels.count <= 4, currentChannels.count <= 4 else {
            throw fail("at most 4 voltage and 4 current channels")
        }
        guard !phaseVoltageChannels.isEmpty else {
            throw fail("at least one line-to-neutral voltage channel (L1, L2 or L3) is needed to track the fundamental")
        }
        var seen = Set<String>()
        for c in channels where !seen.insert("\(c.kind)/\(c.phase)").inserted {
            throw fail("two \(c.kind.rawValue) channels on phase \(c.phase.rawValue)")
        }
        guard (1...50).contains(harmonicOrders) else { throw fail("harmonic orders must be 1…50") }
        let t = thresholds
        guard t.interruptionPercent < t.dipPercent, t.dipPercent < 100, t.swellPercent > 100,
            (0..<10).contains(t.hysteresisPercent)
        else { throw fail("thresholds must satisfy interruption < dip < 100 < swell and 0 ≤ hysteresis < 10") }
        guard t.rvcPercent > 0, t.rvcHysteresisPercent >= 0, t.rvcHysteresisPercent < t.rvcPercent else {
            throw fail("RVC threshold must be positive and its hysteresis smaller than the threshold")
        }
    }
}

/// Errors of the power-quality engine.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case configuration(String)
    case blockShape(String)

    public var description: String {
        switch self {
        case .configuration(let m): "engine configuration: \(m)"
        case .blockShape(let m): "sample block: \(m)"
        }
    }
}
