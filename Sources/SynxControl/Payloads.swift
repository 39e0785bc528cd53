/// The daemon as a whole (`status`).
public struct DaemonStatus: Codable, Equatable, Sendable {
    public var version: String
    public var pid: Int32
    /// UTC milliseconds.
    public var startedAt: Int64
    /// Time since start on the monotonic clock (a step of the wall clock does not change it).
    public var uptimeSeconds: Double
    public var store: StoreStatus
    /// The buses that are not connected, in name order, at most `maxMetersInStatus` of them (the `buses`
    /// command pages through all of them).
    public var buses: [BusStatus]
    /// The meters that are not online, in name order, at most `maxMetersInStatus` of them (the `meters` command
    /// pages through all of them).
    public var meters: [MeterStatus]
    /// How many meters are in each state (all of them).
    public var metersByState: [String: Int]?
    /// Meters not online that `meters` leaves out past its bound.
    public var metersNotShown: Int?
    /// How many buses are in each state (all of them).
    public var busesByState: [String: Int]?
    /// Buses not connected that `buses` leaves out past its bound.
    public var busesNotShown: Int?
    /// How late polls started against their slots, over the last polls of every bus.
    public var pollLateness: LatenessSummary?
    /// The last step of the wall clock since start, if any (absent from older daemons).
    public var lastClockStep: ClockStepStatus?

    /// A status with every field as given (synxd builds it; clients decode it).
    public init(
        version: String, pid: Int32, startedAt: Int64, uptimeSeconds: Double, store: StoreStatus,
        buses: [BusStatus], meters: [MeterStatus], metersByState: [String: Int]? = nil, metersNotShown: Int? = nil,
        busesByState: [String: Int]? = nil, busesNotShown: Int? = nil, pollLateness: LatenessSummary? = nil,
        lastClockStep: ClockStepStatus? = nil
    ) {
        self.busesByState = busesByState
        self.busesNotShown = busesNotShown
        self.pollLateness = pollLateness
        self.metersByState = metersByState
        self.metersNotShown = metersNotShown
        self.version = version
        self.pid = pid
        self.startedAt = startedAt
        self.uptimeSeconds = uptimeSeconds
        self.store = store
        self.buses = buses
        self.meters = meters
        self.lastClockStep = lastClockStep
    }
}

/// How late polls started against their wall-clock slots (ms), over the last `polls` polls of every bus.
public struct LatenessSummary: Codable, Equatable, Sendable {
    public var polls: Int
    public var p50Ms: Double
    public var p99Ms: Double
    public var maxMs: Double

    /// Lateness over `polls` polls: median, 99th percentile and maximum, ms.
    public init(polls: Int, p50Ms: Double, p99Ms: Double, maxMs: Double) {
        self.polls = polls
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
        self.maxMs = maxMs
    }
}

/// A step of the host's wall clock as synxd saw it.
public struct ClockStepStatus: Codable, Equatable, Sendable {
    /// The wall clock just after the step, UTC ms.
    public var detectedAt: Int64
    /// Its size in ms: positive forward, negative backward.
    public var stepMs: Int64
    /// Steps seen since start.
    public var count: Int

    /// The last step of the wall clock: when it was seen (UTC ms), its size (ms) and how many there were.
    public init(detectedAt: Int64, stepMs: Int64, count: Int) {
        self.detectedAt = detectedAt
        self.stepMs = stepMs
        self.count = count
    }
}

/// The time-series store's writer.
public struct StoreStatus: Codable, Equatable, Sendable {
    public var path: String
    public var committedRows: Int
    public var queuedRows: Int
    public var droppedRows: Int
    public var lastError: String?
    /// Rows kept aside because their time repeated stored ones after the clock stepped back (absent from older
    /// daemons).
    public var overlapRows: Int?
    /// The custody chain's last link, "number:value" (hex), as synxd publishes it to the journal every hour
    /// (absent from older daemons and before the first link).
    public var custodyHead: String?

    /// The store's status with every field as given.
    public init(
        path: String, committedRows: Int, queuedRows: Int, droppedRows: Int, lastError: String?,
        overlapRows: Int? = nil,
        custodyHead: String? = nil
    ) {
        self.custodyHead = custodyHead
        self.path = path
        self.committedRows = committedRows
        self.queuedRows = queuedRows
        self.droppedRows = droppedRows
        self.lastError = lastError
        self.overlapRows = overlapRows
    }
}

/// One bus: a serial line or a TCP connection to a device or gateway.
public struct BusStatus: Codable, Equatable, Sendable {
    public var name: String
    public var endpoint: String
    public var state: LinkState
    public var lastError: String?
    public var requests: Int
    public var failures: Int
    /// 99th percentile of how late polls started against their wall-clock slot (ms), over the last 4096 polls.
    public var pollLatenessP99Ms: Double
    /// 99th percentile of the change of that lateness from one poll of a meter to its next (ms).
    public var pollJitterP99Ms: Double
    /// Frames that arrived when no reply was awaited or matched no request, dropped (absent from older daemons).
    public var strayFrames: Int?

    /// A bus's status with every field as given.
    public init(
        name: String, endpoint: String, state: LinkState, lastError: String?, requests: Int, failures: Int,
        pollLatenessP99Ms: Double, pollJitterP99Ms: Double, strayFrames: Int? = nil
    ) {
        self.name = name
        self.endpoint = endpoint
        self.state = state
        self.lastError = lastError
        self.requests = requests
        self.failures = failures
        self.pollLatenessP99Ms = pollLatenessP99Ms
        self.pollJitterP99Ms = pollJitterP99Ms
        self.strayFrames = strayFrames
    }
}

/// The state of a bus's link.
public enum LinkState: String, Codable, Sendable, CaseIterable {
    /// The last poll on it was answered.
    case connected
    /// Nothing polled yet, or the last polls sent nothing (every meter in backoff).
    case disconnected
    /// The link failed (refused, reset, device missing); `lastError` says how.
    case error
}

/// The quality of a stored point.
public enum QueryQuality: String, Codable, Sendable, CaseIterable {
    /// Read from the meter and decoded (aggregates: computed from such values).
    case good
    /// The poll failed; the value is absent.
    case missing
    /// The meter answered with no usable value (`docs/measurements.md`, "Plausibility").
    case invalid
}

/// What a stored event is.
public enum EventKind: String, Codable, Sendable, CaseIterable {
    /// Voltage events of a waveform meter (IEC 61000-4-30 §5.4, §5.5).
    case dip, swell, interruption, rvc
    /// A polled value outside a `[[alert]]` rule's limits for its `for_s`.
    case threshold
}

/// A tier of meter-derived aggregates of a polled meter's values (not IEC 61000-4-30 Class A).
public enum DerivedTier: String, Codable, Sendable, CaseIterable {
    /// UTC-aligned 3 s.
    case threeSeconds = "3s"
    /// UTC-aligned 10 min.
    case tenMinutes = "10min"
    /// 2 h, aligned to even UTC hours.
    case twoHours = "2h"
}

/// The state of a meter's polling.
public enum MeterState: String, Codable, Sendable {
    /// Not polled yet.
    case unknown
    /// The last poll succeeded.
    case online
    /// The last poll read some blocks but not all.
    case degraded
    /// The last poll failed.
    case offline
}

/// One meter (`status`, `meters`).
public struct MeterStatus: Codable, Equatable, Sendable {
    public var name: String
    public var bus: String
    public var unit: Int
    public var profile: String
    public var model: String
    public var state: MeterState
    public var lastError: String?
    /// UTC milliseconds of the last successful poll.
    public var lastGoodPoll: Int64?
    public var pollIntervalMs: Int
    /// Where in each interval its polls are due: ms after each whole multiple of the interval, set by
    /// `poll_spread_ms` (absent when 0, the polls due on the multiples themselves, and from older daemons).
    public var pollPhaseMs: Int?
    public var polls: Int
    public var failedPolls: Int
    /// Slots that passed without a poll, by reason (`backoff`, `bus busy`, …); each is stored as a `missing`
    /// row (absent from older daemons).
    public var missedPolls: [String: Int]?
    /// Values stored `invalid`, by reason (`frequency outside 10…100 Hz`, …) (absent from older daemons).
    public var invalidValues: [String: Int]?

    /// A meter's status with every field as given.
    public init(
        name: String, bus: String, unit: Int, profile: String, model: String, state: MeterState,
        lastError: String?, lastGoodPoll: Int64?, pollIntervalMs: Int, polls: Int, failedPolls: Int,
        missedPolls: [String: Int]? = nil, invalidValues: [String: Int]? = nil, pollPhaseMs: Int? = nil
    ) {
        self.name = name
        self.bus = bus
        self.unit = unit
        self.profile = profile
        self.model = model
        self.state = state
        self.lastError = lastError
        self.lastGoodPoll = lastGoodPoll
        self.pollIntervalMs = pollIntervalMs
        self.pollPhaseMs = pollPhaseMs
        self.polls = polls
        self.failedPolls = failedPolls
        self.missedPolls = missedPolls
        self.invalidValues = invalidValues
    }
}

/// One measurement's latest value.
public struct LiveValue: Codable, Equatable, Sendable {
    public var measurement: String
    public var value: Double
    public var unit: String
    /// UTC milliseconds of the poll that read it.
    public var time: Int64

    /// A value of `measurement` in `unit` taken at `time` (UTC ms).
    public init(measurement: String, value: Double, unit: String, time: Int64) {
        self.measurement = measurement
        self.value = value
        self.unit = unit
        self.time = time
    }
}

/// The latest values of one meter (`live`).
public struct LiveValues: Codable, Equatable, Sendable {
    public var meter: String
    public var state: MeterState
    public var values: [LiveValue]

    /// A meter's latest values and its state.
    public init(meter: String, state: MeterState, values: [LiveValue]) {
        self.meter = meter
        self.state = state
        self.values = values
    }
}

/// One stored point (`query`).
public struct QuerySample: Codable, Equatable, Sendable {
    public var time: Int64
    public var value: Double?
    public var quality: QueryQuality
    /// Aggregates (`tier`): values received / expected in the interval.
    public var coverage: Double?
    /// Aggregates of counters: `rollover`, `reset`.
    public var notes: [String]?

    /// A stored point: its time (UTC ms), value (nil when absent), quality, and for aggregates coverage and notes.
    public init(time: Int64, value: Double?, quality: QueryQuality, coverage: Double? = nil, notes: [String]? = nil) {
        self.time = time
        self.value = value
        self.quality = quality
        self.coverage = coverage
        self.notes = notes
    }
}

/// What a configuration reload did (`reload`): buses kept polling without a gap, (re)started, stopped, and
/// those that could not start with the reason.
public struct ReloadResult: Codable, Equatable, Sendable {
    public var kept: [String]
    public var started: [String]
    public var stopped: [String]
    public var failed: [String: String]

    /// The buses a reload kept, started and stopped, and those that failed with why.
    public init(kept: [String], started: [String], stopped: [String], failed: [String: String]) {
        self.kept = kept
        self.started = started
        self.stopped = stopped
        self.failed = failed
    }
}

/// One alert (`alerts`): its kind (meter_offline, threshold, store, reload_rejected, test), what it is about,
/// whether it is still raised, the latest message, and when it was raised and cleared (UTC ms).
public struct AlertStatus: Codable, Equatable, Sendable {
    public var kind: String
    public var key: String
    public var active: Bool
    public var message: String
    public var raisedAt: Int64
    public var clearedAt: Int64?

    /// An alert: its kind, what it is about, whether it is raised, its message and when it was raised and cleared (UTC
    /// ms).
    public init(kind: String, key: String, active: Bool, message: String, raisedAt: Int64, clearedAt: Int64?) {
        self.kind = kind
        self.key = key
        self.active = active
        self.message = message
        self.raisedAt = raisedAt
        self.clearedAt = clearedAt
    }
}

/// One voltage event of a waveform meter (`events`), IEC 61000-4-30 §5.4/§5.5/§5.11: times in UTC microseconds,
/// magnitudes in volts (residual for dip and interruption, maximum for swell, ΔUmax for rvc).
public struct EventRecord: Codable, Equatable, Sendable {
    public var meter: String
    public var kind: EventKind
    public var startMicroseconds: Int64
    public var durationMicroseconds: Int64
    public var magnitude: Double
    public var reference: Double
    public var deltaUss: Double?
    public var worstPhase: String
    public var perPhase: [String: Double]
    public var incomplete: Bool
    /// How finely start and end are known: half a cycle for Urms½ events (dip, swell, interruption, rvc), the
    /// poll interval for `threshold` crossings of polled values.
    public var resolutionMicroseconds: Int64

    /// A stored event with every field as given.
    public init(
        meter: String, kind: EventKind, startMicroseconds: Int64, durationMicroseconds: Int64, magnitude: Double,
        reference: Double, deltaUss: Double?, worstPhase: String, perPhase: [String: Double], incomplete: Bool,
        resolutionMicroseconds: Int64
    ) {
        self.resolutionMicroseconds = resolutionMicroseconds
        self.meter = meter
        self.kind = kind
        self.startMicroseconds = startMicroseconds
        self.durationMicroseconds = durationMicroseconds
        self.magnitude = magnitude
        self.reference = reference
        self.deltaUss = deltaUss
        self.worstPhase = worstPhase
        self.perPhase = perPhase
        self.incomplete = incomplete
    }
}

/// Stored history of one series (`query`).
public struct QueryResult: Codable, Equatable, Sendable {
    public var meter: String
    public var measurement: String
    public var unit: String
    public var from: Int64
    public var to: Int64
    public var samples: [QuerySample]
    /// True when `limit` cut the result.
    public var truncated: Bool
    /// For `tier` queries: how the values were formed, e.g. "meter-derived rms of polled values, not IEC
    /// 61000-4-30 Class A"; sample times are then the interval ends.
    public var derivation: String?

    /// A query's answer: the series, the range asked for (UTC ms) and its points.
    public init(
        meter: String, measurement: String, unit: String, from: Int64, to: Int64, samples: [QuerySample],
        truncated: Bool,
        derivation: String? = nil
    ) {
        self.derivation = derivation
        self.meter = meter
        self.measurement = measurement
        self.unit = unit
        self.from = from
        self.to = to
        self.samples = samples
        self.truncated = truncated
    }
}

/// One page of a `verify`: the custody chain's links re-walked from the rows they cover (`docs/reliability.md`,
/// "Tamper evidence").
public struct CustodyVerification: Codable, Equatable, Sendable {
    /// Links checked in this page.
    public var checked: Int
    /// Set when the range has more links: the next page asks for those `after` it.
    public var next: Int64?
    /// Set when the links are done but the look for rows without a link is not: the next page asks `afterTime`
    /// this (UTC ms).
    public var nextTime: Int64?
    /// The chain's last link: its number, to compare with what the journal recorded.
    public var headSeq: Int64
    /// The chain's last link: its value, hex.
    public var headLink: String
    /// The first break found, if any; the walk stops there.
    public var broken: BrokenLink?

    /// One page of a custody verification with every field as given.
    public init(
        checked: Int, next: Int64?, nextTime: Int64? = nil, headSeq: Int64, headLink: String, broken: BrokenLink?
    ) {
        self.checked = checked
        self.next = next
        self.nextTime = nextTime
        self.headSeq = headSeq
        self.headLink = headLink
        self.broken = broken
    }
}

/// Where the custody chain breaks: the link's number (0: a row that no link covers), the kind of rows
/// (derived, aggregate, event, configuration, clock_step, overlap, prune), their key, and what is wrong.
public struct BrokenLink: Codable, Equatable, Sendable {
    /// The link's number; 0 for a row that no link covers.
    public var seq: Int64
    /// The kind of rows it covers.
    public var kind: String
    /// Their key, a JSON array (a meter and an interval end, or an id).
    public var ref: String
    /// What is wrong, in a few words.
    public var problem: String

    /// The first link that does not hold: its number, the kind and reference of its row, and what is wrong.
    public init(seq: Int64, kind: String, ref: String, problem: String) {
        self.seq = seq
        self.kind = kind
        self.ref = ref
        self.problem = problem
    }
}

/// The compliance reports `report` renders (`docs/reports.md`).
public enum ReportKind: String, Codable, Sendable, CaseIterable {
    case en50160, ieee519
    case iec61000_2_2 = "iec61000-2-2"
    case events
}

/// The formats a report is rendered in: terminal tables, JSON (`docs/reports.md`), one HTML page with plots.
public enum ReportFormat: String, Codable, Sendable, CaseIterable {
    case table, json, html
}

/// A rendered compliance report (`report`): its text in the format asked for, its verdict (`pass`, `fail`,
/// `inconclusive`, `information`) and the period it covers (UTC ms).
public struct ReportDocument: Codable, Equatable, Sendable {
    public var format: ReportFormat
    public var verdict: String
    public var from: Int64
    public var to: Int64
    public var text: String

    /// A report rendered in `format` with its `verdict`, over [from, to).
    public init(format: ReportFormat, verdict: String, from: Int64, to: Int64, text: String) {
        self.format = format
        self.verdict = verdict
        self.from = from
        self.to = to
        self.text = text
    }
}

/// A table of Modbus, by the name `read` takes.
public enum RegisterTableName: String, Codable, Sendable, CaseIterable {
    /// Function code 1 (bits, read as 0 or 1).
    case coils
    /// Function code 2 (bits, read as 0 or 1).
    case discreteInputs = "discrete-inputs"
    /// Function code 3.
    case holding
    /// Function code 4.
    case input

    /// Whether the table holds bits rather than 16-bit registers.
    public var holdsBits: Bool { self == .coils || self == .discreteInputs }
}

/// `read`: the registers a unit returned, or why it did not.
public struct RegisterRead: Codable, Equatable, Sendable {
    public var bus: String
    public var unit: Int
    public var table: RegisterTableName
    public var address: Int
    /// The registers, from `address` on; empty when the read failed.
    public var words: [UInt16]
    /// The failure in words (a timeout, a Modbus exception with its code and name); nil when it was read.
    public var error: String?
    /// With `decode`: the type, and each value of it the registers hold, in order (nil where it is not a finite
    /// number).
    public var decode: String?
    public var decoded: [Double?]?
    /// How long the read took on the bus (ms), waiting for room between polls not included.
    public var elapsedMs: Double

    /// What a `read` returned.
    public init(
        bus: String, unit: Int, table: RegisterTableName, address: Int, words: [UInt16], error: String?,
        decode: String? = nil, decoded: [Double?]?, elapsedMs: Double
    ) {
        self.decode = decode
        self.bus = bus
        self.unit = unit
        self.table = table
        self.address = address
        self.words = words
        self.error = error
        self.decoded = decoded
        self.elapsedMs = elapsedMs
    }
}

/// `scan`: how one unit id answered a read of holding registers 40000–40001 (where SunSpec puts its marker).
public struct UnitProbe: Codable, Equatable, Sendable {
    /// What came back.
    public enum Answer: String, Codable, Sendable {
        /// Registers: the unit is there.
        case registers
        /// A Modbus exception: the unit is there but has no such registers (most meters without SunSpec).
        case exception
        /// Nothing within the bus's timeout (or a reply that was not a Modbus reply).
        case none
    }

    public var unit: Int
    public var answer: Answer
    /// The exception or failure, in words.
    public var detail: String?
    /// Registers 40000–40001 hold "SunS" (SunSpec Information Model Specification §4.1).
    public var sunspec: Bool

    /// One unit's answer.
    public init(unit: Int, answer: Answer, detail: String?, sunspec: Bool) {
        self.unit = unit
        self.answer = answer
        self.detail = detail
        self.sunspec = sunspec
    }
}

/// `profileCheck`: a candidate profile read once through a meter's bus.
public struct ProfileCheck: Codable, Equatable, Sendable {
    /// The profile's name and the meter (its bus and unit) it was read from.
    public var profile: String
    public var meter: String
    /// Reads sent, and the failures among them (block and reason).
    public var reads: Int
    public var failures: [String]
    public var points: [CheckedPoint]

    /// A check's result.
    public init(profile: String, meter: String, reads: Int, failures: [String], points: [CheckedPoint]) {
        self.profile = profile
        self.meter = meter
        self.reads = reads
        self.failures = failures
        self.points = points
    }
}

/// One point of a checked profile: where it is, what the registers held, and what synx makes of them.
public struct CheckedPoint: Codable, Equatable, Sendable {
    public var measurement: String
    /// The canonical unit of the measurement.
    public var unit: String
    public var table: RegisterTableName
    public var address: Int
    /// The register type (`float32`, …) and its word order.
    public var type: String
    /// The registers as hex words (`43E6 1A2B`); empty if they were not read.
    public var raw: String
    /// The decoded, scaled value in the canonical unit, if it is one synx would store.
    public var value: Double?
    /// Why there is no value: not read, not implemented (SunSpec), or invalid (NaN, implausible) and why.
    public var note: String?

    /// One checked point.
    public init(
        measurement: String, unit: String, table: RegisterTableName, address: Int, type: String, raw: String,
        value: Double?, note: String?
    ) {
        self.measurement = measurement
        self.unit = unit
        self.table = table
        self.address = address
        self.type = type
        self.raw = raw
        self.value = value
        self.note = note
    }
}
