import ArgumentParser
import Foundation
import SynxControl
import SynxTables
import SynxVersion

/// Where synxd is: every subcommand's `--socket`.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "synxd's control socket (default: $SYNX_SOCKET, else /run/synx/synxd.sock).")
    var socket: String?

    /// The socket: `--socket`, else $SYNX_SOCKET, else synxd's default.
    var socketPath: String { socket ?? ProcessInfo.processInfo.environment["SYNX_SOCKET"] ?? "/run/synx/synxd.sock" }

    /// Sends a request; a daemon-side failure becomes one line on stderr and exit code 1, an unreachable
    /// daemon exit code 69 (EX_UNAVAILABLE).
    func send(_ request: Request) throws -> Response { try send(request, timeoutSeconds: 10) }

    /// Sends a request that may take up to `timeoutSeconds` to answer (commissioning waits for room on a bus).
    func send(_ request: Request, timeoutSeconds: Int) throws -> Response {
        let response: Response
        do { response = try ControlClient(socketPath: socketPath, timeoutSeconds: timeoutSeconds).send(request) } catch {
            FileHandle.standardError.write(Data("synxctl: \(error)\n".utf8))
            throw ExitCode(69)
        }
        guard response.status == .ok else {
            FileHandle.standardError.write(
                Data("synxctl: \(response.status.rawValue): \(response.message ?? "no message")\n".utf8))
            throw ExitCode(1)
        }
        return response
    }
}

/// How a report is printed: the options of the subcommands that print one.
struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "Output format.")
    var format: OutputFormat = .table

    @Flag(name: .long, help: "Same as --format json.")
    var json = false

    /// The format asked for.
    var chosen: OutputFormat { json ? .json : format }
}

struct Synxctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synxctl",
        abstract: "Ask synxd what its meters measure.",
        version: synxVersion,
        subcommands: [
            Status.self, Meters.self, Buses.self, Live.self, Watch.self, Query.self, Events.self, Export.self,
            Alerts.self, Alert.self, Reload.self,
            Verify.self, Report.self, Read.self, Scan.self, Profile.self,
        ])
}

extension Synxctl {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Daemon uptime, store, meters and buses counted by state, those not online or connected, and poll lateness.",
            discussion:
                "Lists at most 50 meters that are not online and 50 buses that are not connected; `synxctl meters` and `synxctl buses` list every one."
        )
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let r = try connection.send(Request(command: .status))
            print(Renderer.status(r.daemon!, format: output.chosen), terminator: "")
        }
    }

    struct Reload: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make synxd re-read its configuration (as SIGHUP does); unchanged buses keep polling.",
            discussion:
                "Needs root or synxd's user. A configuration with errors is rejected and the running one kept (exit 1)."
        )
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let r = try connection.send(Request(command: .reload))
            print(Renderer.reload(r.reload!, format: output.chosen), terminator: "")
        }
    }

    struct Events: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Stored events, newest first: dips, swells, interruptions, RVC of waveform meters; threshold excursions of polled values.",
            discussion:
                "--since takes the same times as query: ISO 8601, epoch milliseconds, 'now', or 30s, 10m, 2h, 7d before now."
        )
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Option(name: .long, help: "Only this meter.") var meter: String?
        @Option(name: .long, help: "Only events starting at or after this time (default: all).") var since: String?
        @Option(name: .long, help: "Only this kind.") var type: EventKind?
        @Option(name: .long, help: "At most this many events.") var limit: Int = 1000

        func run() throws {
            let from = try since.map { try parseTime($0, now: Int64(Date().timeIntervalSince1970 * 1000)) }
            let r = try connection.send(Request(command: .events, meter: meter, from: from, limit: limit, kind: type))
            print(Renderer.events(r.events ?? [], format: output.chosen), terminator: "")
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Write the samples around a stored event of a waveform meter as COMTRADE (from 0.5 s before to 0.5 s after it).",
            discussion:
                "EVENT is the event's start in UTC microseconds, as `synxctl events --json` lists it (startMicroseconds). synxd writes the files into its state directory (exports/) and prints the .cfg path; the samples must still be in its ring (the last 20 s). Needs root or synxd's user."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Meter name.") var meter: String
        @Argument(help: "The event's start, UTC microseconds.") var event: Int64

        func run() throws {
            print(try connection.send(Request(command: .exportEvent, meter: meter, event: event)).message ?? "")
        }
    }

    struct Alerts: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Active alerts, then the most recently cleared ones.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let r = try connection.send(Request(command: .alerts))
            print(Renderer.alerts(r.alerts ?? [], format: output.chosen), terminator: "")
        }
    }

    struct Alert: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Alert tools.", subcommands: [Test.self])

        struct Test: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract:
                    "Send a test alert through the journal (raised and cleared at once) to check routing; needs root or synxd's user."
            )
            @OptionGroup var connection: ConnectionOptions

            func run() throws {
                let r = try connection.send(Request(command: .alertTest))
                print(r.message ?? "ok")
            }
        }
    }

    struct Meters: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The configured meters, their profiles and state.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            print(Renderer.meters(try Request.allMeters(connection.send), format: output.chosen), terminator: "")
        }
    }

    struct Buses: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every bus with its counters and poll timing.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            print(Renderer.buses(try Request.allBuses(connection.send), format: output.chosen), terminator: "")
        }
    }

    struct Live: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The latest value of every measurement of one or more meters (all when none is named).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Meter names.") var meters: [String] = []
        @Flag(name: .long, help: "Redraw every second until interrupted.") var follow = false

        func run() throws {
            let format = output.chosen
            try redraw(every: follow ? 1 : nil) {
                let names = meters.isEmpty ? try Request.allMeters(connection.send).map(\.name) : meters
                return Renderer.live(
                    try names.map { try connection.send(Request(command: .live, meter: $0)).live! }, format: format)
            }
        }
    }

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "One meter's latest values, redrawn five times a second (a waveform meter's 10/12-cycle values) until interrupted."
        )
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Meter name.") var meter: String
        @Option(name: .long, help: "Seconds between redraws.") var interval: Double = 0.2

        func run() throws {
            let format = output.chosen
            try redraw(every: max(0.05, interval)) {
                Renderer.live([try connection.send(Request(command: .live, meter: meter)).live!], format: format)
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Re-walk the store's custody chain (10-min aggregates, events, configurations) and name the first broken link.",
            discussion:
                "Exit 0 when every link checked holds, 65 (EX_DATAERR) at the first broken one. The head printed can be compared with the heads synxd published to the journal (journalctl MESSAGE_ID=\(custodyHeadMessageID)). Times as for query."
        )
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Option(name: .long, help: "Only links of rows at or after this time.") var from: String?
        @Option(name: .long, help: "Only links of rows at or before this time.") var to: String?

        func run() throws {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let fromMs = try from.map { try parseTime($0, now: now) }
            let toMs = try to.map { try parseTime($0, now: now) }
            // Page by page (synxd re-walks at most `maxLinksPerVerify` links, or 2 s of work, per request): the
            // links after the last one checked, then the look for rows without a link from where it stopped.
            var result = try connection.send(Request(command: .verify, from: fromMs, to: toMs)).verify!
            while result.broken == nil, result.next != nil || result.nextTime != nil {
                let page = try connection.send(
                    Request(
                        command: .verify, from: fromMs, to: toMs, after: result.next,
                        afterTime: result.next == nil ? result.nextTime : nil)
                ).verify!
                result.checked += page.checked
                (result.next, result.nextTime, result.broken) = (page.next, page.nextTime, page.broken)
                (result.headSeq, result.headLink) = (page.headSeq, page.headLink)
            }
            print(Renderer.verification(result, format: output.chosen), terminator: "")
            if result.broken != nil { throw ExitCode(65) }
        }
    }

    struct Query: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stored history of one measurement.",
            discussion:
                "Times: ISO 8601 (2026-11-23T09:00:00Z), milliseconds since the epoch, 'now', or a span before now: 30s, 10m, 2h, 7d (also written --from=-10m)."
        )
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Meter name.") var meter: String
        @Argument(help: "Measurement name, e.g. voltage.l1n.") var measurement: String
        @Option(name: .long, help: "Start (inclusive); default one hour before --to.") var from: String?
        @Option(name: .long, help: "End (exclusive); default now.") var to: String?
        @Option(name: .long, help: "At most this many samples.") var limit: Int = 10_000
        @Option(
            name: .long,
            help:
                "Aggregates instead of the series: a waveform meter's Class A aggregates with their flags, a polled meter's meter-derived ones (not Class A)."
        )
        var tier: DerivedTier?

        func run() throws {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let toMs = try to.map { try parseTime($0, now: now) }
            let fromMs = try from.map { try parseTime($0, now: now) }
            // Page by page (synxd sends at most `maxSamplesPerResponse` at a time), each from after the last.
            var result = try connection.send(
                Request(
                    command: .query, meter: meter, measurement: measurement,
                    from: fromMs, to: toMs, limit: limit, tier: tier)
            ).query!
            while result.truncated, result.samples.count < limit, let last = result.samples.last?.time {
                let page = try connection.send(
                    Request(
                        command: .query, meter: meter, measurement: measurement, from: last + 1,
                        to: result.to, limit: limit - result.samples.count, tier: tier)
                ).query!
                result.samples += page.samples
                result.truncated = page.truncated
            }
            print(Renderer.query(result, format: output.chosen), terminator: "")
        }
    }
}

extension Synxctl {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A compliance report of one meter: EN 50160, IEEE 519, IEC 61000-2-2 or its voltage events (docs/reports.md).",
            discussion:
                "The period is the last complete week in the site's time zone ([daemon] time_zone) unless --week or --from/--to is given; the meter's supply settings come from synxd's configuration. Exit status: 0 pass (or no limits), 3 a check failed, 4 inconclusive (missing data could decide), 1 synxd refused, 69 synxd unreachable."
        )
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The report: en50160, ieee519, iec61000-2-2 or events.") var report: ReportKind
        @Argument(help: "Meter name.") var meter: String
        @Option(name: .long, help: "An ISO week, e.g. 2026-W47.") var week: String?
        @Option(name: .long, help: "Start of the period (same times as query).") var from: String?
        @Option(name: .long, help: "End of the period (exclusive).") var to: String?
        @Option(name: .long, help: "table, json, or html (one self-contained page with plots).") var format: ReportFormat = .table
        @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.") var output: String?

        func run() throws {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let document = try connection.send(
                Request(
                    command: .report, meter: meter, from: try from.map { try parseTime($0, now: now) },
                    to: try to.map { try parseTime($0, now: now) }, report: report, format: format, week: week)
            ).report!
            if let output {
                try Data(document.text.utf8).write(to: URL(fileURLWithPath: output))
            } else {
                print(document.text, terminator: "")
            }
            switch document.verdict {
            case "fail": throw ExitCode(3)
            case "inconclusive": throw ExitCode(4)
            default: return
            }
        }
    }
}

/// Prints `render()` once, or, with an interval, clears the terminal and redraws it until interrupted.
func redraw(every interval: Double?, _ render: () throws -> String) throws {
    repeat {
        let text = try render()
        if interval != nil {
            print(
                "\u{1B}[H\u{1B}[2J" + Renderer.timestamp(Int64(Date().timeIntervalSince1970 * 1000))
                    + "  (Ctrl-C to stop)\n")
        }
        print(text, terminator: "")
        fflush(stdout)
        if let interval { Thread.sleep(forTimeInterval: interval) }
    } while interval != nil
}

/// Parses a time argument to UTC milliseconds, within the times a request may name (1970 to 9999).
func parseTime(_ s: String, now: Int64) throws -> Int64 {
    let outOfRange = ValidationError("time \"\(s)\" is not between 1970 and 9999")
    func checked(_ t: Int64) throws -> Int64 {
        guard requestTimes.contains(t) else { throw outOfRange }
        return t
    }
    if s == "now" { return now }
    let relative = s.hasPrefix("-") ? s.dropFirst() : Substring(s)
    if let unit = relative.last, let n = Int64(relative.dropLast()) {
        let factor: [Character: Int64] = ["s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000]
        if let f = factor[unit] {
            let (span, overflow) = n.multipliedReportingOverflow(by: f)
            guard n >= 0, !overflow, span <= now else { throw outOfRange }
            return try checked(now - span)
        }
    }
    if let ms = Int64(s) { return try checked(ms) }
    let f = ISO8601DateFormatter()
    for options: ISO8601DateFormatter.Options in [
        [.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime],
    ] {
        f.formatOptions = options
        if let d = f.date(from: s) {
            let ms = (d.timeIntervalSince1970 * 1000).rounded(.down)
            guard ms.isFinite, abs(ms) < 9e15 else { throw outOfRange }
            return try checked(Int64(ms))
        }
    }
    throw ValidationError("cannot read time \"\(s)\": use ISO 8601, epoch milliseconds, 'now' or -10m style")
}

extension OutputFormat: ExpressibleByArgument {}
extension EventKind: ExpressibleByArgument {}
extension DerivedTier: ExpressibleByArgument {}
extension ReportKind: ExpressibleByArgument {}
extension ReportFormat: ExpressibleByArgument {}

Synxctl.main()
