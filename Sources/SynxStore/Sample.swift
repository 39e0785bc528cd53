/// How far a stored value can be trusted.
public enum SampleQuality: Int, Sendable, Codable, CustomStringConvertible {
    /// Read from the meter and decoded.
    case good = 0
    /// The poll failed; the value is absent.
    case missing = 1
    /// The meter answered but marked the value not implemented or not a number.
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
public struct SampleRow: Equatable, Sendable {
    public var meter: String
    public var measurement: String
    public var unit: String
    /// UTC milliseconds since the Unix epoch.
    public var time: Int64
    public var value: Double?
    public var quality: SampleQuality

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
