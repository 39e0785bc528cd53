import Foundation

/// The revision of IEEE C37.111 a configuration file follows (its first line's third field).
public enum ComtradeRevision: String, Sendable, CaseIterable {
    case r1991 = "1991"
    case r1999 = "1999"
    case r2013 = "2013"
}

/// The `.dat` encoding, IEEE C37.111-2013 §7.4.11 (`ft` field).
public enum ComtradeDataFormat: String, Sendable, CaseIterable {
    case ascii = "ASCII"
    case binary = "BINARY"
    case binary32 = "BINARY32"
    case float32 = "FLOAT32"

    /// Bytes of one analog value in a binary record (nil for ASCII).
    var analogBytes: Int? {
        switch self {
        case .ascii: nil
        case .binary: 2
        case .binary32, .float32: 4
        }
    }
}

/// An analog channel, IEEE C37.111 §7.4.3: the stored value x becomes a·x + b in `unit`, on the primary or
/// secondary side of the instrument transformer as `scaling` says.
public struct ComtradeAnalogChannel: Sendable, Equatable {
    /// Whether the file's values are on the primary or the secondary side of the transformer (`PS`).
    public enum Scaling: String, Sendable {
        case primary = "P"
        case secondary = "S"
    }
    public var index: Int
    public var id: String
    public var phase: String
    public var circuit: String
    public var unit: String
    public var a: Double
    public var b: Double
    /// Time skew of this channel against the sample time, microseconds.
    public var skew: Double
    public var min: Double
    public var max: Double
    public var primary: Double
    public var secondary: Double
    public var scaling: Scaling

    /// An analog channel: its 1-based index, id, phase and unit, and the conversion from the stored integers (`a·x +
    /// b`, primary/secondary ratio).
    public init(
        index: Int, id: String, phase: String = "", circuit: String = "", unit: String, a: Double = 1,
        b: Double = 0, skew: Double = 0, min: Double = -32767, max: Double = 32767, primary: Double = 1,
        secondary: Double = 1, scaling: Scaling = .primary
    ) {
        self.index = index
        self.id = id
        self.phase = phase
        self.circuit = circuit
        self.unit = unit
        self.a = a
        self.b = b
        self.skew = skew
        self.min = min
        self.max = max
        self.primary = primary
        self.secondary = secondary
        self.scaling = scaling
    }

    /// Factor from the file's basis to primary values (1 when the file already holds primary values).
    public var toPrimary: Double {
        scaling == .secondary && secondary != 0 ? primary / secondary : 1
    }
}

/// A status (digital) channel, IEEE C37.111 §7.4.4.
public struct ComtradeDigitalChannel: Sendable, Equatable {
    public var index: Int
    public var id: String
    public var phase: String
    public var circuit: String
    public var normalState: Bool

    /// A status (digital) channel: its 1-based index, id and the state it holds in normal operation.
    public init(index: Int, id: String, phase: String = "", circuit: String = "", normalState: Bool = false) {
        self.index = index
        self.id = id
        self.phase = phase
        self.circuit = circuit
        self.normalState = normalState
    }
}

/// One sampling-rate section, IEEE C37.111 §7.4.6: `rate` samples per second up to sample number `lastSample`.
public struct ComtradeSampleRate: Sendable, Equatable {
    public var rate: Double
    public var lastSample: Int
    /// A rate section: `rate` samples per second up to sample number `lastSample`.
    public init(rate: Double, lastSample: Int) {
        self.rate = rate
        self.lastSample = lastSample
    }
}

/// A date and time as written in a configuration file (dd/mm/yyyy,hh:mm:ss.ssssss; 1991: mm/dd/yy), in the
/// recorder's local time; `utcOffsetSeconds` (2013 `time_code`) turns it into UTC.
public struct ComtradeTimestamp: Sendable, Equatable {
    public var secondsSinceEpochLocal: Double

    /// A time stamp, seconds since the epoch in the recording's local time (the .cfg carries no zone).
    public init(secondsSinceEpochLocal: Double) { self.secondsSinceEpochLocal = secondsSinceEpochLocal }

    /// UTC seconds since 1970 given the recorder's offset from UTC.
    public func utc(offsetSeconds: Double) -> Double { secondsSinceEpochLocal - offsetSeconds }

    static func parse(date: String, time: String, revision: ComtradeRevision) -> ComtradeTimestamp? {
        let d = date.split(separator: "/").map { String($0).trimmingCharacters(in: .whitespaces) }
        let t = time.split(separator: ":").map { String($0).trimmingCharacters(in: .whitespaces) }
        guard d.count == 3, t.count == 3, let hour = Int(t[0]), let minute = Int(t[1]), let second = Double(t[2]),
            (0..<24).contains(hour), (0..<60).contains(minute), second >= 0, second < 61
        else { return nil }
        var day: Int?
        var month: Int?
        var year: Int?
        if revision == .r1991 {
            month = Int(d[0])
            day = Int(d[1])
            year = Int(d[2]).map { $0 < 100 ? 1900 + $0 : $0 }
        } else {
            day = Int(d[0])
            month = Int(d[1])
            year = Int(d[2])
        }
        // Years beyond 1…9999 are no recording's, and the day count below must not overflow.
        guard let day, let month, let year, (1...12).contains(month), (1...31).contains(day), (1...9999).contains(year)
        else {
            return nil
        }
        // Days from the civil date (proleptic Gregorian), so no calendar or time zone is consulted.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return ComtradeTimestamp(secondsSinceEpochLocal: Double(days * 86_400 + hour * 3600 + minute * 60) + second)
    }

    /// dd/mm/yyyy and hh:mm:ss.ssssss.
    var fields: (date: String, time: String) {
        let whole = secondsSinceEpochLocal.rounded(.down)
        let micro = Int(((secondsSinceEpochLocal - whole) * 1_000_000).rounded())
        var seconds = Int(whole)
        var micros = micro
        if micros == 1_000_000 {
            seconds += 1
            micros = 0
        }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        // Civil date from days since 1970-01-01.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let microText = String(micros)
        return (
            "\(two(day))/\(two(month))/\(year)",
            "\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60)).\(String(repeating: "0", count: 6 - microText.count))\(microText)"
        )
    }
}

/// The contents of a COMTRADE configuration (`.cfg`) file, IEEE C37.111-1999/-2013 §7.
public struct ComtradeConfiguration: Sendable, Equatable {
    public var stationName: String
    public var deviceID: String
    public var revision: ComtradeRevision
    public var analog: [ComtradeAnalogChannel]
    public var digital: [ComtradeDigitalChannel]
    public var lineFrequency: Double
    /// Empty when the file has no fixed rate (nrates = 0): sample times then come from the timestamps.
    public var sampleRates: [ComtradeSampleRate]
    public var firstSample: ComtradeTimestamp
    public var trigger: ComtradeTimestamp
    public var format: ComtradeDataFormat
    public var timeMultiplier: Double
    /// Offset of the recorder's clock from UTC, seconds (2013 `time_code`, e.g. "-5h30"); 0 when absent.
    public var utcOffsetSeconds: Double
    /// Total samples declared (the last section's `endsamp`).
    public var sampleCount: Int

    /// A configuration with every field as given; `ComtradeReader` and `ComtradeWriter` are what check it.
    public init(
        stationName: String, deviceID: String, revision: ComtradeRevision = .r2013,
        analog: [ComtradeAnalogChannel], digital: [ComtradeDigitalChannel] = [], lineFrequency: Double,
        sampleRates: [ComtradeSampleRate], firstSample: ComtradeTimestamp, trigger: ComtradeTimestamp? = nil,
        format: ComtradeDataFormat, timeMultiplier: Double = 1, utcOffsetSeconds: Double = 0,
        sampleCount: Int
    ) {
        self.stationName = stationName
        self.deviceID = deviceID
        self.revision = revision
        self.analog = analog
        self.digital = digital
        self.lineFrequency = lineFrequency
        self.sampleRates = sampleRates
        self.firstSample = firstSample
        self.trigger = trigger ?? firstSample
        self.format = format
        self.timeMultiplier = timeMultiplier
        self.utcOffsetSeconds = utcOffsetSeconds
        self.sampleCount = sampleCount
    }

    /// UTC time of the first sample, seconds since 1970.
    public var startTimeUTC: Double { firstSample.utc(offsetSeconds: utcOffsetSeconds) }
}

/// A malformed or unreadable COMTRADE file, located precisely: configuration lines are 1-based line numbers,
/// ASCII data lines likewise, binary data a byte offset.
public struct ComtradeError: Error, Equatable, CustomStringConvertible {
    /// Where in the file: a 1-based line, a byte offset (binary data), or the file as a whole.
    public enum Location: Equatable {
        case line(Int)
        case byteOffset(Int)
        case file
    }
    public var file: String
    public var location: Location
    public var message: String

    /// An error in `file` at `location`.
    public init(file: String, _ location: Location, _ message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String {
        switch location {
        case .line(let l): "\(file):\(l): \(message)"
        case .byteOffset(let o): "\(file): byte \(o): \(message)"
        case .file: "\(file): \(message)"
        }
    }
}
