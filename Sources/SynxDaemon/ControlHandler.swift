import Foundation
import Logging
import SynxControl
import SynxDSP
import SynxMeters
import SynxReports
import SynxStore
import SynxSystem
import SynxVersion

/// A control client's process and user, as the kernel reports them (SO_PEERCRED).
struct PeerCredentials {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32
}

/// Turns validated requests into responses, one handler per command.
final class ControlHandler: @unchecked Sendable {
    let registry: MeterRegistry
    private let writer: StoreWriter
    private let databasePath: String
    private let startedAt: Date
    /// The monotonic clock at start: uptime does not move with the wall clock.
    private let startedMonotonicMs = monotonicMilliseconds()
    /// Re-reads the configuration (set by the daemon); its argument says who asked, for the store's record.
    var reloader: ((_ requestedBy: String) -> Result<ReloadSummary, CommandFailure>)?
    var alerts: AlertCenter?
    /// Where refused commands are logged (set by the daemon), once per command every 10 s.
    var logger: Logger?
    let refusals = SharedRepeatLimiter()
    /// The site's time zone, for reports' weeks (set by the daemon, and on reload).
    var timeZone: TimeZone {
        get { timeZoneLock.withLock { zone } }
        set { timeZoneLock.withLock { zone = newValue } }
    }
    private var zone = TimeZone.current
    private let timeZoneLock = NSLock()
    /// Writes an event's waveform as COMTRADE and returns the .cfg path (set by the daemon).
    var exporter: ((_ meter: String, _ eventStartMicroseconds: Int64) -> Result<String, CommandFailure>)?
    /// Does commissioning reads on a bus between its polls (set by the daemon: `PollingPlant.commission`).
    var commission: ((_ bus: String, _ reads: [CommissioningRead]) -> Result<CommissioningJob.Ending, CommandFailure>)?

    init(registry: MeterRegistry, writer: StoreWriter, databasePath: String, startedAt: Date) {
        self.registry = registry
        self.writer = writer
        self.databasePath = databasePath
        self.startedAt = startedAt
    }

    /// A per-connection session (it owns a store reader, opened on first use).
    func session(peer: PeerCredentials) -> Session { Session(handler: self, peer: peer) }

    final class Session {
        let handler: ControlHandler
        /// The connected client's credentials, from SO_PEERCRED.
        let peer: PeerCredentials
        private var reader: StoreReader?

        init(handler: ControlHandler, peer: PeerCredentials) {
            self.handler = handler
            self.peer = peer
        }

        /// Whether a request line asks for something that reads the store (`query`, `events`, `exportEvent`, `verify`):
        /// those run on the lower-priority workers. (A line that does not decode is answered `invalidRequest` by
        /// `answer`, so the failure is not lost here.)
        func readsTheStore(_ line: Data) -> Bool {
            guard let request = try? Framing.decode(Request.self, from: line),
                let command = Command(rawValue: request.command)
            else {
                return false
            }
            return command == .query || command == .events || command == .exportEvent || command == .verify
                || command == .report
        }

        /// Validates one request line (framing → version → command) and dispatches it.
        func answer(_ line: Data) -> Response {
            // 2. Framing: one JSON object.
            let request: Request
            do { request = try Framing.decode(Request.self, from: line) } catch let DecodingError.dataCorrupted(context)
                where context.codingPath.count == 1 && Request.choices(of: context.codingPath[0].stringValue) != nil
            {
                // A field of a closed set with a value outside it (`"kind": "spike"`): name the field and the set.
                let field = context.codingPath[0].stringValue
                return .failure(.invalidRequest, "\"\(field)\" must be one of: \(Request.choices(of: field)!)")
            } catch {
                return .failure(.invalidRequest, "request is not a JSON object with \"version\" and \"command\"")
            }
            // 3. Version.
            guard supportedProtocolVersions.contains(request.version) else {
                return .failure(
                    .badVersion,
                    "protocol version \(request.version) not supported; synxd speaks \(supportedProtocolVersions.lowerBound) to \(protocolVersion)"
                )
            }
            var response = dispatch(request)
            response.version = request.version  // answered in the version it was asked in
            return response
        }

        /// Checks the command, its numbers and the peer's permission, and runs it.
        private func dispatch(_ request: Request) -> Response {
            // 4. Command.
            guard let command = Command(rawValue: request.command) else {
                return .failure(
                    .unknownCommand,
                    "unknown command \"\(request.command)\" (known: \(Command.allCases.map(\.rawValue).joined(separator: ", ")))"
                )
            }
            // 4b. Numbers: in range before anything is computed with them.
            if let problem = Session.outOfRange(request) { return .failure(.invalidRequest, problem) }
            // 5. Permission: changing the daemon or touching a bus needs root or synxd's own user (the socket's group
            // may read).
            if command.needsAdmin, peer.uid != 0, peer.uid != geteuid() {
                if let line = handler.refusals.admit(
                    command.rawValue,
                    "refused \(command.commandLine): uid \(peer.uid), pid \(peer.pid) is neither root nor synxd's user")
                {
                    handler.logger?.warning(
                        "\(line)",
                        metadata: ["command": "\(command.rawValue)", "uid": "\(peer.uid)", "pid": "\(peer.pid)"])
                }
                return .failure(
                    .unauthorized, "\(command.commandLine) needs root or synxd's user (you are uid \(peer.uid))")
            }
            switch command {
            case .status: return handler.status(everyOne: request.version == 1)
            case .reload: return handler.reload(requestedBy: "synxctl by uid \(peer.uid), pid \(peer.pid)")
            case .alerts: return handler.alertList()
            case .events: return events(request)
            case .exportEvent: return exportEvent(request)
            case .alertTest: return alertTest()
            case .meters: return handler.meters(request)
            case .buses: return handler.buses(request)
            case .live: return handler.live(request)
            case .query: return query(request)
            case .verify: return verify(request)
            case .report: return report(request)
            case .read: return handler.read(request)
            case .scan: return handler.scan(request)
            case .profileCheck: return handler.profileCheck(request)
            }
        }

        /// A compliance report of one meter (`docs/reports.md`), from this session's store reader, with the
        /// meter's configured supply and the site's time zone; rendered in the format asked for. Runs on the
        /// low-priority workers (`readsTheStore`), so `status` is not held up by a large one.
        private func report(_ request: Request) -> Response {
            guard let meter = request.meter, let kind = request.report else {
                return .failure(.invalidRequest, "report needs \"meter\" and \"report\" (\(Request.choices(of: "report")!))")
            }
            guard let config = handler.registry.config(of: meter) else {
                return .failure(.noSuchMeter, "no meter named \"\(meter)\"")
            }
            let fromTo: (Int64, Int64)
            do {
                fromTo = try ReportPeriod.resolve(
                    fromMs: request.from, toMs: request.to, week: request.week, timeZone: handler.timeZone, now: Date())
            } catch {
                return .failure(.invalidRequest, "\(error)")
            }
            do {
                if reader == nil { reader = try StoreReader(path: handler.databasePath, head: handler.writer.head) }
                var input = try ReportInput.load(
                    from: reader!, meter: meter, fromMs: fromTo.0, toMs: fromTo.1, nominalVoltage: config.nominalVoltage,
                    nominalFrequency: config.nominalFrequency)
                input.timeZone = handler.timeZone
                // The protocol's report names are the standards' own (a test holds the two lists equal).
                guard let standard = ReportStandard(rawValue: kind.rawValue) else {
                    return .failure(.invalidRequest, "no report \"\(kind.rawValue)\" in this synxd")
                }
                let report = standard.assess(input, supply: config.report)
                let format = request.format ?? .table
                let text: String
                switch format {
                case .table: text = report.table()
                case .json: text = String(decoding: try report.json(), as: UTF8.self)
                case .html: text = report.html()
                }
                return Response(
                    status: .ok,
                    report: ReportDocument(
                        format: format, verdict: report.verdict.rawValue, from: fromTo.0, to: fromTo.1, text: text))
            } catch {
                return .failure(.internal, "report failed: \(error)")
            }
        }

        /// Writes a stored event's samples as COMTRADE (`synxctl export`); the answer is the .cfg path.
        private func exportEvent(_ request: Request) -> Response {
            guard let meter = request.meter, let start = request.event else {
                return .failure(.invalidRequest, "exportEvent needs \"meter\" and \"event\" (its start, UTC µs)")
            }
            guard handler.registry.hasMeter(meter) else { return .failure(.noSuchMeter, "no meter named \"\(meter)\"") }
            guard let exporter = handler.exporter else { return .failure(.internal, "export is not available") }
            switch exporter(meter, start) {
            case .success(let path): return Response(status: .ok, message: path)
            case .failure(let f): return .failure(f.status, f.message)
            }
        }

        /// Raises and clears a test alert through the journal (`synxctl alert test`).
        private func alertTest() -> Response {
            let who = "uid \(peer.uid), pid \(peer.pid)"
            handler.alerts?.raise(
                .test, key: "test", message: "test alert requested by \(who)", fields: ["requested_by": "\(who)"])
            handler.alerts?.clear(.test, key: "test", message: "test alert cleared")
            return Response(status: .ok, message: "test alert raised and cleared through the journal")
        }

        /// Why a number in `request` is out of range, or nil.
        static func outOfRange(_ request: Request) -> String? {
            for (name, value) in [("from", request.from), ("to", request.to)] {
                if let v = value, !requestTimes.contains(v) {
                    return "\"\(name)\" \(v) is not a time between 1970 and 9999 (UTC milliseconds)"
                }
            }
            if let e = request.event, !(requestTimes.lowerBound * 1000...requestTimes.upperBound * 1000).contains(e) {
                return "\"event\" \(e) is not a time between 1970 and 9999 (UTC microseconds)"
            }
            if let limit = request.limit, limit < 1 { return "\"limit\" must be at least 1" }
            if let after = request.after, after < 0 { return "\"after\" must be a link number (0 or more)" }
            if let offset = request.offset, offset < 0 { return "\"offset\" must be 0 or more" }
            if let t = request.afterTime, !requestTimes.contains(t) {
                return "\"afterTime\" \(t) is not a time between 1970 and 9999 (UTC milliseconds)"
            }
            return nil
        }

        private func events(_ request: Request) -> Response {
            if let meter = request.meter, !handler.registry.hasMeter(meter) {
                return .failure(.noSuchMeter, "no meter named \"\(meter)\"")
            }
            let limit = min(max(request.limit ?? 1000, 1), maxEventsPerResponse)
            do {
                if reader == nil { reader = try StoreReader(path: handler.databasePath, head: handler.writer.head) }
                let rows = try reader!.events(
                    meter: request.meter, kind: request.kind?.rawValue, since: (request.from ?? 0) * 1000, limit: limit)
                // Only synxd writes events, of these kinds; another kind is a store changed behind its back.
                if let odd = rows.first(where: { EventKind(rawValue: $0.kind) == nil }) {
                    return .failure(
                        .internal,
                        "the store holds an event of unknown kind \"\(odd.kind)\" (\(odd.meter), \(odd.startMicroseconds) µs)"
                    )
                }
                return Response(
                    status: .ok,
                    events: rows.map {
                        EventRecord(
                            meter: $0.meter, kind: EventKind(rawValue: $0.kind)!,
                            startMicroseconds: $0.startMicroseconds,
                            durationMicroseconds: $0.durationMicroseconds, magnitude: $0.magnitude,
                            reference: $0.reference,
                            deltaUss: $0.steadyStateChange, worstPhase: $0.worstPhase, perPhase: $0.perPhase,
                            incomplete: $0.incomplete,
                            resolutionMicroseconds: $0.resolutionMicroseconds)
                    })
            } catch {
                return .failure(.internal, "store query failed: \(error)")
            }
        }

        /// One page of the custody chain's verification (all times when the request names none).
        private func verify(_ request: Request) -> Response {
            let from = request.from ?? Int64.min
            let to = request.to ?? Int64.max
            guard from <= to else { return .failure(.invalidRequest, "\"from\" is after \"to\"") }
            do {
                if reader == nil { reader = try StoreReader(path: handler.databasePath, head: handler.writer.head) }
                let r = try reader!.verifyCustody(
                    from: from, to: to, after: request.after ?? 0, afterTime: request.afterTime,
                    limit: maxLinksPerVerify)
                return Response(
                    status: .ok,
                    verify: CustodyVerification(
                        checked: r.checked, next: r.next, nextTime: r.nextTime, headSeq: r.headSeq,
                        headLink: r.headLink,
                        broken: r.problem.map { BrokenLink(seq: $0.seq, kind: $0.kind, ref: $0.ref, problem: $0.what) })
                )
            } catch {
                return .failure(.internal, "store query failed: \(error)")
            }
        }

        /// A tier query of a waveform meter: its IEC 61000-4-30 Class A aggregates of the tier (10-min, 2-h; the
        /// 3-s tier is its 150/180-cycle values), each value under its canonical name, the aggregate's flags as
        /// notes; none in the range is an empty answer that says so. nil for a polled meter (meter-derived tiers).
        private func classAQuery(_ request: Request, tier: DerivedTier, from: Int64, to: Int64, limit: Int) throws
            -> Response?
        {
            guard let meter = request.meter, let measurement = request.measurement,
                handler.registry.config(of: meter)?.source == .waveform
            else { return nil }
            let stored: String
            switch tier {
            case .threeSeconds: stored = AggregationTier.cycles150_180.rawValue
            case .tenMinutes: stored = AggregationTier.tenMinutes.rawValue
            case .twoHours: stored = AggregationTier.twoHours.rawValue
            }
            let rows = try reader!.aggregates(meter: meter, tier: stored, from: from, to: to, limit: limit + 1)
            let values = rows.prefix(limit).map { row -> QuerySample in
                // A row whose values cannot be read answers as a sample without a value.
                let object = row.valuesJSON.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
                let value = (object?["measurements"] as? [String: Any])?[measurement] as? Double
                return QuerySample(
                    time: row.endMs, value: value, quality: value == nil ? .missing : .good,
                    notes: row.quality.isEmpty ? nil : row.quality)
            }
            guard rows.isEmpty || values.contains(where: { $0.value != nil }),
                let unit = Measurement.named(measurement)?.unit
            else {
                return .failure(
                    .noSuchMeasurement, "meter \"\(meter)\" has no Class A \(tier.rawValue) aggregate of \"\(measurement)\"")
            }
            return Response(
                status: .ok,
                query: QueryResult(
                    meter: meter, measurement: measurement, unit: unit, from: from, to: to, samples: values,
                    truncated: rows.count > limit,
                    derivation:
                        "IEC 61000-4-30 Class A \(stored) aggregates (§4.5: RMS of the 10/12-cycle values); notes are their §4.7 flags"))
        }

        private func query(_ request: Request) -> Response {
            guard let meter = request.meter, let measurement = request.measurement else {
                return .failure(.invalidRequest, "query needs \"meter\" and \"measurement\"")
            }
            guard handler.registry.hasMeter(meter) else { return .failure(.noSuchMeter, "no meter named \"\(meter)\"") }
            let to = request.to ?? Int64(Date().timeIntervalSince1970 * 1000) + 1
            let from = request.from ?? to - 3_600_000
            guard from <= to else { return .failure(.invalidRequest, "\"from\" is after \"to\"") }
            let limit = min(max(request.limit ?? 10_000, 1), maxSamplesPerResponse)
            do {
                if reader == nil { reader = try StoreReader(path: handler.databasePath, head: handler.writer.head) }
                if let tier = request.tier, let classA = try classAQuery(request, tier: tier, from: from, to: to, limit: limit) {
                    return classA
                }
                guard let unit = try reader!.unit(meter: meter, measurement: measurement) else {
                    return .failure(
                        .noSuchMeasurement, "meter \"\(meter)\" has no stored measurement \"\(measurement)\"")
                }
                if let tier = request.tier?.rawValue {
                    let rows = try reader!.derived(
                        meter: meter, measurement: measurement, tier: tier, from: from, to: to, limit: limit + 1)
                    let samples = rows.prefix(limit).map {
                        QuerySample(
                            time: $0.endMs, value: $0.value, quality: .good, coverage: $0.coverage,
                            notes: $0.notes.isEmpty ? nil : $0.notes)
                    }
                    let method = rows.first?.method.rawValue ?? "rms/mean/increase"
                    return Response(
                        status: .ok,
                        query: QueryResult(
                            meter: meter, measurement: measurement, unit: unit, from: from, to: to,
                            samples: Array(samples),
                            truncated: rows.count > limit,
                            derivation: "meter-derived \(tier) \(method) of polled values, not IEC 61000-4-30 Class A"))
                }
                let rows = try reader!.samples(
                    meter: meter, measurement: measurement, from: from, to: to, limit: limit + 1)
                let samples = rows.prefix(limit).map {
                    QuerySample(time: $0.time, value: $0.value, quality: QueryQuality($0.quality))
                }
                return Response(
                    status: .ok,
                    query: QueryResult(
                        meter: meter, measurement: measurement, unit: unit, from: from,
                        to: to, samples: Array(samples), truncated: rows.count > limit))
            } catch {
                return .failure(.internal, "store query failed: \(error)")
            }
        }
    }

    /// A summary that stays small however many meters and buses there are: meters and buses counted by state,
    /// the meters not online and the buses not connected (at most `maxMetersInStatus` each; `meters` and `buses`
    /// page through all), and the poll-start lateness over the last polls of every bus. `everyOne`: every meter
    /// and bus, as protocol version 1 answered.
    func status(everyOne: Bool = false) -> Response {
        let s = writer.statistics
        let all = registry.meterStatuses()
        let troubled = everyOne ? all : all.filter { $0.state != .online }.sorted { $0.name < $1.name }
        let buses =
            everyOne ? registry.busStatuses() : registry.busStatuses { $0 != .connected }.sorted { $0.name < $1.name }
        let shown = everyOne ? Int.max : maxMetersInStatus
        return Response(
            status: .ok,
            daemon: DaemonStatus(
                version: synxVersion, pid: getpid(), startedAt: Int64(startedAt.timeIntervalSince1970 * 1000),
                uptimeSeconds: Double(monotonicMilliseconds() - startedMonotonicMs) / 1000,
                store: StoreStatus(
                    path: databasePath, committedRows: s.committedRows, queuedRows: s.queuedRows,
                    droppedRows: s.droppedRows, lastError: s.lastError, overlapRows: s.overlapRows,
                    custodyHead: s.custodyHead.map { "\($0.seq):\($0.link)" }),
                buses: Array(buses.prefix(shown)), meters: Array(troubled.prefix(shown)),
                metersByState: Dictionary(grouping: all, by: \.state.rawValue).mapValues(\.count),
                metersNotShown: max(troubled.count - shown, 0), busesByState: registry.busCounts(),
                busesNotShown: max(buses.count - shown, 0), pollLateness: registry.latenessSummary(),
                lastClockStep: registry.lastClockStep))
    }

    /// One page of the meters in name order: `limit` (at most `maxMetersPerPage`) after `offset`.
    func meters(_ request: Request) -> Response {
        let (page, next) = ControlHandler.page(
            registry.meterStatuses().sorted { $0.name < $1.name }, request, bound: maxMetersPerPage)
        return Response(status: .ok, meters: page, nextOffset: next)
    }

    /// One page of the buses in name order: `limit` (at most `maxBusesPerPage`) after `offset`.
    func buses(_ request: Request) -> Response {
        let (page, next) = ControlHandler.page(
            registry.busStatuses().sorted { $0.name < $1.name }, request, bound: maxBusesPerPage)
        return Response(status: .ok, buses: page, nextOffset: next)
    }

    /// `limit` (at most `bound`) of `all` after `offset`, and where the next page starts (nil after the last).
    private static func page<T>(_ all: [T], _ request: Request, bound: Int) -> ([T], Int?) {
        let offset = min(request.offset ?? 0, all.count)
        let limit = min(max(request.limit ?? bound, 1), bound)
        let end = offset + min(limit, all.count - offset)
        return (Array(all[offset..<end]), end < all.count ? end : nil)
    }

    func reload(requestedBy: String) -> Response {
        guard let reloader else { return .failure(.internal, "reload is not available") }
        switch reloader(requestedBy) {
        case .success(let s):
            return Response(
                status: .ok,
                reload: ReloadResult(kept: s.kept, started: s.started, stopped: s.stopped, failed: s.failed))
        case .failure(let f):
            return .failure(f.status, "configuration rejected, the running one is kept: \(f.message)")
        }
    }

    /// Active alerts, then the most recently cleared ones.
    func alertList() -> Response { Response(status: .ok, alerts: alerts?.list() ?? []) }

    func live(_ request: Request) -> Response {
        guard let meter = request.meter else { return .failure(.invalidRequest, "live needs \"meter\"") }
        guard let values = registry.live(meter: meter) else {
            return .failure(.noSuchMeter, "no meter named \"\(meter)\"")
        }
        return Response(status: .ok, live: values)
    }
}

extension QueryQuality {
    /// A stored sample's quality as the protocol names it.
    init(_ quality: SampleQuality) {
        switch quality {
        case .good: self = .good
        case .missing: self = .missing
        case .invalid: self = .invalid
        }
    }
}
