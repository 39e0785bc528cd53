/// The synx control protocol: every type that crosses the Unix socket between synxd and synxctl, and
/// nothing else. `docs/PROTOCOL.md` is its prose specification.
///
/// Framing: one JSON object per line (UTF-8, `\n`-terminated) each way; a request is at most
/// `maxRequestBytes`. Revision history (the same rows as `docs/PROTOCOL.md`'s table; `ProtocolTests` checks):
/// - 1: `status`, `meters`, `live`, `query`
/// - 1: added `alerts`, `alertTest`, `reload` (mutating, SO_PEERCRED-checked); `unauthorized` now in use
/// - 1: added `events` and the request field `kind`
/// - 1: added `exportEvent` (mutating) and the request fields `tier`, `event`; `QueryResult.derivation`,
///   `QuerySample.coverage`/`notes`, `EventRecord.resolutionMicroseconds`
/// - 1: added `BusStatus.strayFrames`, `MeterStatus.missedPolls` and `MeterStatus.invalidValues`
/// - 1: added `DaemonStatus.lastClockStep` and `StoreStatus.overlapRows`
/// - 1: added `verify` and the request fields `after`, `afterTime`; `StoreStatus.custodyHead`
/// - 2: `status` summarises (counts by state, only the meters not online and buses not connected, poll
///   lateness); `meters` pages; added `buses`. A version-1 request is still answered as version 1 meant
/// - 2: added `MeterStatus.pollPhaseMs`
/// - 2: added `report` (read-only) and the request fields `report`, `format`, `week`; `Response.report`
/// - 2: added `read`, `scan` and `profileCheck` (commissioning: they touch a bus, so SO_PEERCRED-checked) and the
///   request fields `bus`, `unit`, `lastUnit`, `table`, `address`, `count`, `decode`, `wordOrder`, `profile`;
///   `Response.registers`, `Response.scan`, `Response.profileCheck`
public let protocolVersion = 2

/// The versions synxd answers.
public let supportedProtocolVersions = 1...protocolVersion

/// The times a request may name, UTC milliseconds: 1970-01-01 to 9999-12-31. Anything outside is refused as
/// `invalidRequest` before any arithmetic is done with it (an hour before `Int64.min` traps).
public let requestTimes: ClosedRange<Int64> = 0...253_402_300_799_999

/// Samples in one `query` response, at most (about 1.2 MB of JSON): a longer history comes in pages — the
/// response says `truncated`, and the next page starts after its last sample.
public let maxSamplesPerResponse = 20_000
/// Events in one `events` response, at most (about 1.5 MB of JSON).
public let maxEventsPerResponse = 5_000
/// Custody links one `verify` request re-walks, at most; a page also ends after 2 s of work, well inside the
/// response deadline. A longer chain is verified in pages (`next`/`after`, then `nextTime`/`afterTime`).
public let maxLinksPerVerify = 20_000
/// At most this many meters in one `meters` page (a page of this many stays well under the response bound).
public let maxMetersPerPage = 500
/// `status` lists at most this many meters that are not online (it counts all of them by state), and at most
/// this many buses that are not connected.
public let maxMetersInStatus = 50
/// At most this many buses in one `buses` page.
public let maxBusesPerPage = 500

/// Registers one `read` request asks for, at most (Modbus's own limit for function codes 3 and 4).
public let maxRegistersPerReadRequest = 125
/// Unit ids one `scan` request probes, at most: synxctl asks for a range in pages of this many.
public let maxUnitsPerScan = 16
/// Registers one `profileCheck` reads, at most (a large meter's profile is a few hundred).
public let maxRegistersPerProfileCheck = 2000

/// MESSAGE_ID of synxd's journal entry that publishes the custody chain's head (`verify` compares with it).
public let custodyHeadMessageID = "1c98ccc21e274dcfae1ae131ad673bf9"

/// Largest request line the daemon reads (bytes, newline included).
public let maxRequestBytes = 64 * 1024
/// Largest response line the client accepts.
public let maxResponseBytes = 64 * 1024 * 1024

/// The commands of protocol version 1.
public enum Command: String, Codable, Sendable, CaseIterable {
    /// Daemon, store, bus and meter state.
    case status
    /// Configured meters and their profiles.
    case meters
    /// Every bus with its counters and timing, a page at a time.
    case buses
    /// Latest value of every measurement of one meter.
    case live
    /// Stored history of one measurement of one meter.
    case query
    /// Re-read the configuration file (as SIGHUP does); mutating: root or synxd's own user only.
    case reload
    /// Active and recent alerts.
    case alerts
    /// Stored voltage events of waveform meters (dips, swells, interruptions, RVC).
    case events
    /// Send a test alert through the real path (journal), raised and cleared at once; mutating.
    case alertTest
    /// Write the samples around a stored event of a waveform meter as COMTRADE, in synxd's export directory;
    /// mutating.
    case exportEvent
    /// Re-walk the custody chain (10-min aggregates, events, accepted configurations, clock steps, rows kept
    /// aside, retention's deletions) and name the first broken link; read-only.
    case verify
    /// A compliance report (EN 50160, IEEE 519, voltage events) of one meter over a period, rendered; read-only.
    case report
    /// Read registers of any unit on a configured bus through synxd's scheduler for that bus (between polls, with
    /// the bus's timing); touches the bus.
    case read
    /// Which unit ids of a bus answer, and whether they show the SunSpec marker; touches the bus.
    case scan
    /// Read every register of a candidate profile once through a meter's bus and decode it; touches the bus.
    case profileCheck

    /// Whether the command changes the daemon.
    public var isMutating: Bool { self == .reload || self == .alertTest || self == .exportEvent }

    /// Whether the command sends requests of its own on a bus (commissioning).
    public var touchesTheBus: Bool { self == .read || self == .scan || self == .profileCheck }

    /// Whether only root or synxd's own user may send it (checked against the peer's credentials, SO_PEERCRED):
    /// what changes the daemon or touches a bus.
    public var needsAdmin: Bool { isMutating || touchesTheBus }

    /// How a person types the command with synxctl (`alert test` for `alertTest`).
    public var commandLine: String {
        switch self {
        case .alertTest: "alert test"
        case .exportEvent: "export"
        case .profileCheck: "profile check"
        default: rawValue
        }
    }
}

/// A request. Fields a command does not use are omitted.
public struct Request: Codable, Equatable, Sendable {
    public var version: Int
    public var command: String
    public var meter: String?
    public var measurement: String?
    /// Query range, UTC milliseconds, `from <= t < to`.
    public var from: Int64?
    public var to: Int64?
    public var limit: Int?
    /// `events`: only this kind.
    public var kind: EventKind?
    /// `query`: a meter-derived aggregation tier instead of the polled samples.
    public var tier: DerivedTier?
    /// `exportEvent`: the event's start, UTC microseconds (as `events` lists it).
    public var event: Int64?
    /// `verify`: continue after this link number (the previous page's `next`).
    public var after: Int64?
    /// `verify`: the links are done; continue the look for rows without a link from this time, UTC ms (the
    /// previous page's `nextTime`).
    public var afterTime: Int64?
    /// `meters`, `buses`: the page starts after this many in name order (the previous page's `nextOffset`).
    public var offset: Int?
    /// `report`: which report, in which format, and an ISO week (`2026-W47`, in the site's time zone) instead of
    /// `from`/`to`; without either, the last complete week.
    public var report: ReportKind?
    public var format: ReportFormat?
    public var week: String?
    /// `read`, `scan`: the bus (by its configured name).
    public var bus: String?
    /// `read`: the unit id; `scan`: the first unit id of the range, `lastUnit` its last.
    public var unit: Int?
    public var lastUnit: Int?
    /// `read`: the register table, the first register's protocol address (0-based) and how many.
    public var table: RegisterTableName?
    public var address: Int?
    public var count: Int?
    /// `read`: decode the registers as this type (`int16`, `uint16`, `int32`, `uint32`, `float32`, `float64`,
    /// `acc32`) in this word order (`high-first`, the default, or `low-first`).
    public var decode: String?
    public var wordOrder: String?
    /// `profileCheck`: the candidate profile's TOML text (the format of `docs/profiles.md`).
    public var profile: String?

    /// A request of `command` in protocol `version` (the current one by default); fields a command does not use stay
    /// nil.
    public init(
        command: Command, meter: String? = nil, measurement: String? = nil,
        from: Int64? = nil, to: Int64? = nil, limit: Int? = nil, kind: EventKind? = nil, tier: DerivedTier? = nil,
        event: Int64? = nil, after: Int64? = nil, afterTime: Int64? = nil, offset: Int? = nil,
        report: ReportKind? = nil, format: ReportFormat? = nil, week: String? = nil, bus: String? = nil,
        unit: Int? = nil, lastUnit: Int? = nil, table: RegisterTableName? = nil, address: Int? = nil,
        count: Int? = nil, decode: String? = nil, wordOrder: String? = nil, profile: String? = nil,
        version: Int = protocolVersion
    ) {
        self.bus = bus
        self.unit = unit
        self.lastUnit = lastUnit
        self.table = table
        self.address = address
        self.count = count
        self.decode = decode
        self.wordOrder = wordOrder
        self.profile = profile
        self.report = report
        self.format = format
        self.week = week
        self.offset = offset
        self.after = after
        self.afterTime = afterTime
        self.version = version
        self.command = command.rawValue
        self.meter = meter
        self.measurement = measurement
        self.from = from
        self.to = to
        self.limit = limit
        self.kind = kind
        self.tier = tier
        self.event = event
    }
}

extension Request {
    /// The values a closed-set field of a request takes (nil for any other field), for the answer to a request
    /// with a value outside them.
    public static func choices(of field: String) -> String? {
        switch field {
        case "kind": EventKind.allCases.map(\.rawValue).joined(separator: ", ")
        case "tier": DerivedTier.allCases.map(\.rawValue).joined(separator: ", ")
        case "report": ReportKind.allCases.map(\.rawValue).joined(separator: ", ")
        case "format": ReportFormat.allCases.map(\.rawValue).joined(separator: ", ")
        case "table": RegisterTableName.allCases.map(\.rawValue).joined(separator: ", ")
        default: nil
        }
    }

    /// Every meter in name order, fetched page by page (`meters` with `offset`) through `send`.
    public static func allMeters(_ send: (Request) throws -> Response) rethrows -> [MeterStatus] {
        try pages(of: .meters, send) { $0.meters ?? [] }
    }

    /// Every bus in name order, fetched page by page (`buses` with `offset`) through `send`.
    public static func allBuses(_ send: (Request) throws -> Response) rethrows -> [BusStatus] {
        try pages(of: .buses, send) { $0.buses ?? [] }
    }

    private static func pages<T>(
        of command: Command, _ send: (Request) throws -> Response, _ items: (Response) -> [T]
    ) rethrows -> [T] {
        var out: [T] = []
        var offset: Int? = 0
        while let o = offset {
            let page = try send(Request(command: command, offset: o))
            out += items(page)
            offset = page.nextOffset
        }
        return out
    }
}

/// The closed set of answers; every failure maps to one of them, with a human message beside it.
public enum ResponseStatus: String, Codable, Sendable {
    case ok
    case invalidRequest
    case badVersion
    case unknownCommand
    case unauthorized
    case noSuchMeter
    case noSuchMeasurement
    case dataStale
    case tooLarge
    case busy
    case `internal`
}

/// A response: a status, a message for failures, and the one payload of the command.
public struct Response: Codable, Equatable, Sendable {
    public var version: Int
    public var status: ResponseStatus
    public var message: String?
    public var daemon: DaemonStatus?
    /// `meters`: one page of the meters, in name order.
    public var meters: [MeterStatus]?
    /// `buses`: one page of the buses, in name order.
    public var buses: [BusStatus]?
    /// `meters`, `buses`: where the next page starts (`Request.offset`); absent on the last page. `scan`: the unit id
    /// to go on from, when the page ran out of time before its last id.
    public var nextOffset: Int?
    public var live: LiveValues?
    public var query: QueryResult?
    public var reload: ReloadResult?
    public var alerts: [AlertStatus]?
    public var events: [EventRecord]?
    /// `verify`: one page of the custody chain's verification.
    public var verify: CustodyVerification?
    /// `report`: the rendered report.
    public var report: ReportDocument?
    /// `read`: the registers read (or the failure), and their decoding.
    public var registers: RegisterRead?
    /// `scan`: each unit id probed.
    public var scan: [UnitProbe]?
    /// `profileCheck`: each point of the candidate profile as read and decoded.
    public var profileCheck: ProfileCheck?

    /// A response: `status`, and the payload of the command or a message for people.
    public init(
        status: ResponseStatus, message: String? = nil, daemon: DaemonStatus? = nil,
        meters: [MeterStatus]? = nil, live: LiveValues? = nil, query: QueryResult? = nil,
        reload: ReloadResult? = nil, alerts: [AlertStatus]? = nil, events: [EventRecord]? = nil,
        verify: CustodyVerification? = nil, buses: [BusStatus]? = nil, nextOffset: Int? = nil,
        report: ReportDocument? = nil
    ) {
        self.report = report
        self.buses = buses
        self.nextOffset = nextOffset
        self.verify = verify
        self.version = protocolVersion
        self.status = status
        self.message = message
        self.daemon = daemon
        self.meters = meters
        self.live = live
        self.query = query
        self.reload = reload
        self.alerts = alerts
        self.events = events
    }

    /// A failure: `status` and one line for people.
    public static func failure(_ status: ResponseStatus, _ message: String) -> Response {
        Response(status: status, message: message)
    }
}
