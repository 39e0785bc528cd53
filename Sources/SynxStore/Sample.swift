/// How far a stored value can be trusted.
public enum SampleQuality: Int, Sendable, Codable, CustomStringConvertible {
    /// Read from the meter and decoded.
    case good = 0
    /// The poll failed; the value is absent.
    case missing = 1
    /// The meter answered, but with no usable value: not a number, or one no meter can measure
    /// (`docs/measurements.md`, "Plausibility").
    case invalid = 2

    public var description: String {
        switch self {
        case .good: return "good"
        case .missing: return "missing"
        case .invalid: return "invalid"
        }
    }
}

/// One value of one series at one instant.
public struct SampleRow: Equatable, Sendable, Encodable {
    public var meter: String
    public var measurement: String
    public var unit: String
    /// UTC milliseconds since the Unix epoch.
    public var time: Int64
    public var value: Double?
    public var quality: SampleQuality

    /// A value (nil when absent) of one series at `time` (UTC ms), with its quality.
    public init(meter: String, measurement: String, unit: String, time: Int64, value: Double?, quality: SampleQuality) {
        self.meter = meter
        self.measurement = measurement
        self.unit = unit
        self.time = time
        self.value = value
        self.quality = quality
    }
}

/// A stored point as read back.
public struct StoredSample: Equatable, Sendable {
    public var time: Int64
    public var value: Double?
    public var quality: SampleQuality
}

/// A voltage event (IEC 61000-4-30 §5.4, §5.5, §5.11) as stored: what the power-quality engine reported for a
/// waveform meter. Times are UTC microseconds; magnitudes volts.
public struct EventRow: Equatable, Sendable, Codable {
    public var meter: String
    public var kind: String
    public var startMicroseconds: Int64
    public var durationMicroseconds: Int64
    public var magnitude: Double
    public var reference: Double
    public var steadyStateChange: Double?
    public var worstPhase: String
    /// Phase → volts (lowest or highest Urms½, or ΔUmax).
    public var perPhase: [String: Double]
    public var incomplete: Bool
    /// How finely the start and end are known: half a cycle for Urms½ events, the poll interval for threshold
    /// crossings of polled values.
    public var resolutionMicroseconds: Int64

    /// An event with every field as given.
    public init(
        meter: String, kind: String, startMicroseconds: Int64, durationMicroseconds: Int64, magnitude: Double,
        reference: Double, steadyStateChange: Double?, worstPhase: String, perPhase: [String: Double], incomplete: Bool,
        resolutionMicroseconds: Int64
    ) {
        self.resolutionMicroseconds = resolutionMicroseconds
        self.meter = meter
        self.kind = kind
        self.startMicroseconds = startMicroseconds
        self.durationMicroseconds = durationMicroseconds
        self.magnitude = magnitude
        self.reference = reference
        self.steadyStateChange = steadyStateChange
        self.worstPhase = worstPhase
        self.perPhase = perPhase
        self.incomplete = incomplete
    }
}

/// An aggregate of a waveform meter's Class A values (IEC 61000-4-30 §4.5) or its 10-s frequency (§5.1), as
/// stored: the tier, the interval (UTC ms, tagged with its end), constituent counts, quality flags and the values
/// as JSON (the daemon's shape; `docs/analyzer.md` describes it).
public struct AggregateRow: Equatable, Sendable, Encodable {
    public var meter: String
    public var tier: String
    public var startMs: Int64
    public var endMs: Int64
    public var count: Int
    public var invalidCount: Int
    public var quality: [String]
    public var valuesJSON: String?

    /// A Class A aggregate with every field as given.
    public init(
        meter: String, tier: String, startMs: Int64, endMs: Int64, count: Int, invalidCount: Int, quality: [String],
        valuesJSON: String?
    ) {
        self.meter = meter
        self.tier = tier
        self.startMs = startMs
        self.endMs = endMs
        self.count = count
        self.invalidCount = invalidCount
        self.quality = quality
        self.valuesJSON = valuesJSON
    }
}

/// How a meter-derived aggregate was formed from polled values.
public enum DerivedMethod: String, Sendable, Codable {
    /// √(mean of squares) of RMS values (the IEC 61000-4-30 §4.5 rule, applied to polled values).
    case rms
    /// Arithmetic mean (powers, ratios, frequency).
    case mean
    /// Increase of an energy counter over the interval, across resets and rollovers.
    case increase
}

/// A meter-derived aggregate of one polled measurement (not IEC 61000-4-30 Class A): the interval's end
/// (UTC ms), the value, how it was formed, and the coverage (values received / expected).
public struct DerivedRow: Equatable, Sendable, Encodable {
    public var meter: String
    public var measurement: String
    public var unit: String
    /// `3s`, `10min` or `2h`.
    public var tier: String
    public var endMs: Int64
    public var value: Double
    public var method: DerivedMethod
    public var count: Int
    public var expected: Int
    /// `rollover`, `reset` (counters).
    public var notes: [String]

    /// A meter-derived aggregate with every field as given.
    public init(
        meter: String, measurement: String, unit: String, tier: String, endMs: Int64, value: Double,
        method: DerivedMethod, count: Int, expected: Int, notes: [String]
    ) {
        self.meter = meter
        self.measurement = measurement
        self.unit = unit
        self.tier = tier
        self.endMs = endMs
        self.value = value
        self.method = method
        self.count = count
        self.expected = expected
        self.notes = notes
    }

    public var coverage: Double { Double(count) / Double(expected) }
}

/// What is stored besides samples, committed in the same transactions: voltage events and Class A aggregates
/// of waveform meters, meter-derived aggregates of polled meters.
public struct StoreRecords: Sendable {
    public var events: [EventRow] = []
    public var aggregates: [AggregateRow] = []
    public var derived: [DerivedRow] = []
    public var clockSteps: [ClockStep] = []
    /// Configurations synxd accepted since the last commit.
    public var configurations: [AcceptedConfiguration] = []

    /// Records of each kind to store in one transaction.
    public init(
        events: [EventRow] = [], aggregates: [AggregateRow] = [], derived: [DerivedRow] = [],
        clockSteps: [ClockStep] = [],
        configurations: [AcceptedConfiguration] = []
    ) {
        self.events = events
        self.aggregates = aggregates
        self.derived = derived
        self.clockSteps = clockSteps
        self.configurations = configurations
    }

    public var isEmpty: Bool {
        events.isEmpty && aggregates.isEmpty && derived.isEmpty && clockSteps.isEmpty && configurations.isEmpty
    }

    mutating func append(_ other: StoreRecords) {
        events += other.events
        aggregates += other.aggregates
        derived += other.derived
        clockSteps += other.clockSteps
        configurations += other.configurations
    }
}

/// A configuration synxd accepted, at start or on reload: recorded and chained (`docs/reliability.md`, "Tamper
/// evidence"), so what configuration the stored values were measured under can be shown.
public struct AcceptedConfiguration: Equatable, Sendable {
    /// When it was accepted, UTC ms.
    public var acceptedMs: Int64
    /// The file it was read from.
    public var path: String
    /// SHA-256 of the file's bytes, lower-case hex.
    public var sha256: String
    /// The profile files it loaded (scale factors and addresses live there): path → SHA-256 of the bytes.
    public var profiles: [String: String]
    /// `start`, `SIGHUP`, or the uid and pid of the client that asked for the reload.
    public var requestedBy: String
    /// A configuration read from `path`, whose bytes hash to `sha256`, with its profile files, accepted at
    /// `acceptedMs`.
    public init(acceptedMs: Int64, path: String, sha256: String, profiles: [String: String], requestedBy: String) {
        self.acceptedMs = acceptedMs
        self.path = path
        self.sha256 = sha256
        self.profiles = profiles
        self.requestedBy = requestedBy
    }
}

/// A step of the host's wall clock: when it was seen (the wall clock just after it, UTC ms) and its size (ms,
/// negative backwards). Retention counts forward steps out of the age of older data (`Retention`).
public struct ClockStep: Equatable, Sendable {
    /// The wall clock just after the step, UTC ms.
    public var detectedMs: Int64
    /// The step's size, ms: positive forward, negative backward.
    public var stepMs: Int64
    /// A step of `stepMs` seen at `detectedMs`.
    public init(detectedMs: Int64, stepMs: Int64) {
        self.detectedMs = detectedMs
        self.stepMs = stepMs
    }
}
