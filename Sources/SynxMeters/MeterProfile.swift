import SynxModbus

/// How often a register is read: `fast` at the meter's poll interval, `slow` at its slow interval
/// (energy counters and other slowly changing values).
public enum PollRate: String, Sendable, CaseIterable {
    case fast, slow
}

/// One measurement of a meter: where it lives and how to turn its registers into a value in the
/// canonical unit.
public struct RegisterPoint: Sendable, Equatable {
    public var measurement: Measurement
    public var table: RegisterTable
    /// Protocol address (0-based; "30001" in a manual is input register address 0).
    public var address: Int
    public var type: RegisterType
    public var order: WordOrder
    /// Multiplier from the raw value to the canonical unit.
    public var scale: Double
    /// An int16 register in the same table holding a power-of-ten exponent (SunSpec `sunssf`).
    public var scaleFactorAddress: Int?
    public var rate: PollRate
    /// Whether SunSpec "not implemented" markers mean the value is absent.
    public var honoursNotImplemented: Bool
    /// The lowest and highest values this register can hold on this meter model, where they differ from the
    /// default plausibility range of its measurement (`Plausibility`); nil: the default bound.
    public var plausibleMin: Double?
    public var plausibleMax: Double?
    /// The register (same table, type, word order and scale) of the fundamental this value is a harmonic of, when
    /// the meter gives harmonics in volts or amperes: the reading is value / fundamental × 100 (% of the
    /// fundamental, the canonical unit of `harmonic.*`).
    public var fundamentalAddress: Int?

    /// A register point with every field as given; `ProfileLoader` is what checks a profile's points.
    public init(
        measurement: Measurement, table: RegisterTable, address: Int, type: RegisterType,
        order: WordOrder = .highFirst, scale: Double = 1, scaleFactorAddress: Int? = nil,
        rate: PollRate = .fast, honoursNotImplemented: Bool = false,
        plausibleMin: Double? = nil, plausibleMax: Double? = nil
    ) {
        self.measurement = measurement
        self.table = table
        self.address = address
        self.type = type
        self.order = order
        self.scale = scale
        self.scaleFactorAddress = scaleFactorAddress
        self.rate = rate
        self.honoursNotImplemented = honoursNotImplemented
        self.plausibleMin = plausibleMin
        self.plausibleMax = plausibleMax
    }

    /// The last register the point occupies.
    public var lastAddress: Int { address + type.wordCount - 1 }
}

/// A meter model's register map: what to read and how to decode it (mbmd-style, data not code).
public struct MeterProfile: Sendable, Equatable {
    /// How the register map is found.
    public enum Discovery: String, Sendable {
        /// The register map is the list of points.
        case fixed
        /// The map is discovered on the device by walking its SunSpec model chain.
        case sunspec
    }

    public var name: String
    public var manufacturer: String
    public var model: String
    /// The manufacturer's document the map was taken from.
    public var document: String
    public var discovery: Discovery
    public var points: [RegisterPoint]
    /// Unused registers a single read may span to merge two blocks (0: only adjacent registers).
    public var mergeGap: Int

    /// A profile with every field as given; `ProfileLoader` is what checks it.
    public init(
        name: String, manufacturer: String, model: String, document: String,
        discovery: Discovery = .fixed, points: [RegisterPoint], mergeGap: Int = 0
    ) {
        self.name = name
        self.manufacturer = manufacturer
        self.model = model
        self.document = document
        self.discovery = discovery
        self.points = points
        self.mergeGap = mergeGap
    }
}

/// One measurement's value decoded from a poll.
public struct MeasuredValue: Equatable, Sendable {
    public var measurement: String
    public var value: Double
    public var unit: String

    /// A decoded value of `measurement` in `unit`.
    public init(measurement: String, value: Double, unit: String) {
        self.measurement = measurement
        self.value = value
        self.unit = unit
    }
}

extension MeterProfile {
    /// The pseudo-profile of a meter that streams samples through the waveform interface
    /// (`WaveformInterface`): no registers to poll; its values come from the power-quality engine.
    public static let waveform = MeterProfile(
        name: "waveform", manufacturer: "synx", model: "waveform interface v1 (IEC 61000-4-30 Class A by synxd)",
        document: "docs/waveform-interface.md", points: [])
}
