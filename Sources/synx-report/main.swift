import ArgumentParser
import Foundation
import SynxReports
import SynxStore
import SynxVersion

/// synx-report: compliance reports (EN 50160, IEEE 519, IEC 61000-2-2, voltage events against ITIC and SEMI F47) of one meter over a
/// period, from a synx store file — the daemon's, or a copy on an auditor's laptop (`docs/reports.md`).
struct SynxReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synx-report",
        abstract: "Compliance reports of one meter from a synx store file (EN 50160, IEEE 519, IEC 61000-2-2, voltage events).",
        discussion: """
            The period is the last complete week (Monday 00:00 to Monday 00:00 in --time-zone) unless --week or \
            --from/--to is given. Reports read the store only; a copy of /var/lib/synx/synx.sqlite will do. \
            Exit status: 0 pass or information, 3 fail, 4 inconclusive (missing data could decide), 64 bad options, \
            66 the store cannot be read.
            """,
        version: synxVersion)

    /// What `--format` accepts.
    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, html }

    @Argument(help: "The report: en50160, ieee519, iec61000-2-2 or events.") var standard: ReportStandard
    @Argument(help: "The meter's name.") var meter: String
    @Option(help: "The store file.") var store = "/var/lib/synx/synx.sqlite"
    @Option(help: "Start of the period (ISO 8601, e.g. 2026-11-16T00:00:00Z).") var from: String?
    @Option(help: "End of the period (exclusive).") var to: String?
    @Option(help: "An ISO week, e.g. 2026-W47: Monday 00:00 to Monday 00:00 in --time-zone.") var week: String?
    @Option(help: "The site's time zone for weeks (IANA name; default the system's).") var timeZone: String?
    @Option(help: "Nominal (LV) or declared (MV) voltage, line to neutral, volts.") var nominalVoltage = 230.0
    @Option(help: "Nominal frequency, 50 or 60 Hz.") var nominalFrequency = 50.0
    @Option(help: "EN 50160 voltage level: lv or mv.") var voltageLevel: EN50160.VoltageLevel = .lv
    @Option(help: "EN 50160 network: interconnected or island.") var connection: EN50160.Connection = .interconnected
    @Option(name: .customLong("isc-a"), help: "IEEE 519: the short-circuit current at the PCC, amperes.") var isc: Double?
    @Option(name: .customLong("il-a"), help: "IEEE 519: the maximum demand load current at the PCC, amperes.") var il: Double?
    @Flag(help: "IEC 61000-2-2 report: the meter sees a motor bus (NEMA MG 1 unbalance derating).") var motorBus = false
    @Option(help: "Output: table, json, or html (one self-contained page with plots).") var format: Format = .table
    @Option(name: .shortAndLong, help: "Write the report to this file instead of standard output.") var output: String?

    func validate() throws {
        guard nominalVoltage.isFinite, nominalVoltage > 0, nominalVoltage < 1e6 else {
            throw ValidationError("--nominal-voltage must be a positive number of volts")
        }
        guard nominalFrequency == 50 || nominalFrequency == 60 else {
            throw ValidationError("--nominal-frequency must be 50 or 60")
        }
        guard week == nil || (from == nil && to == nil) else { throw ValidationError("give --week or --from/--to, not both") }
        for (name, value) in [("--isc-a", isc), ("--il-a", il)] {
            if let value, !(value.isFinite && value > 0 && value < 1e9) {
                throw ValidationError("\(name) must be a positive number of amperes")
            }
        }
        guard (isc == nil) == (il == nil) else { throw ValidationError("give both --isc-a and --il-a, or neither") }
    }

    func run() throws {
        let zone = try timeZone.map {
            guard let z = TimeZone(identifier: $0) else { throw ValidationError("unknown time zone \"\($0)\"") }
            return z
        } ?? TimeZone.current
        let fromMs: Int64
        let toMs: Int64
        do {
            (fromMs, toMs) = try ReportPeriod.resolve(from: from, to: to, week: week, timeZone: zone, now: Date())
        } catch let e as ReportPeriod.Invalid {
            throw ValidationError(e.description)
        }
        let reader: StoreReader
        let input: ReportInput
        do {
            guard FileManager.default.isReadableFile(atPath: store) else { throw Unreadable() }
            reader = try StoreReader(path: store)
            var loaded = try ReportInput.load(
                from: reader, meter: meter, fromMs: fromMs, toMs: toMs, nominalVoltage: nominalVoltage,
                nominalFrequency: nominalFrequency)
            loaded.timeZone = zone
            input = loaded
        } catch {
            FileHandle.standardError.write(Data("synx-report: \(store): \(error)\n".utf8))
            throw ExitCode(66)
        }
        var supply = SupplySettings()
        supply.voltageLevel = voltageLevel
        supply.connection = connection
        supply.shortCircuitCurrent = isc
        supply.maximumDemandCurrent = il
        supply.motorBus = motorBus
        let report = standard.assess(input, supply: supply)
        let data: Data
        switch format {
        case .table: data = Data(report.table().utf8)
        case .json: data = try report.json()
        case .html: data = Data(report.html().utf8)
        }
        if let output {
            try data.write(to: URL(fileURLWithPath: output))
        } else {
            FileHandle.standardOutput.write(data)
        }
        switch report.verdict {
        case .fail: throw ExitCode(3)
        case .inconclusive: throw ExitCode(4)
        case .pass, .information: return
        }
    }
}

/// A store file that is missing or not readable by this user.
struct Unreadable: Error, CustomStringConvertible {
    var description: String { "no such file, or not readable" }
}

extension ReportStandard: ExpressibleByArgument {}
extension EN50160.VoltageLevel: ExpressibleByArgument {}
extension EN50160.Connection: ExpressibleByArgument {}

SynxReport.main()
