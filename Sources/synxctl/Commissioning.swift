import ArgumentParser
import Foundation
import SynxControl

/// Commissioning a new meter through synxd (`docs/integration.md`): reads go out on the bus between its polls,
/// through synxd's scheduler for that bus, so the line keeps one master and its meters keep their slots.
extension Synxctl {
    /// How long synxctl waits for a commissioning answer: synxd gives up on a bus without room after 20 s.
    static let commissioningTimeoutSeconds = 30

    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read registers of any unit on a configured bus, through synxd between the bus's polls.",
            discussion: """
                ADDRESS is the protocol address, from 0 (register 30001 or 40001 of a manual is address 0); holding \
                registers unless --input, --coils or --discrete-inputs (bits, each shown as 0 or 1). The read \
                uses the bus's timeout and frame gap, is not retried, and waits for a gap between polls (at most \
                20 s). --type decodes the registers (int16, uint16, int32, uint32, float32, float64, acc32); without \
                --count it reads one value of that type. Needs root or synxd's user.
                """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Bus name, as configured.") var bus: String
        @Argument(help: "Unit id (1–247, or 255).") var unit: Int
        @Argument(help: "First register's protocol address (0-based).") var address: Int
        @Option(name: .long, help: "Registers to read (1–125; default: 1, or one value of --type).") var count: Int?
        @Flag(name: .long, help: "Input registers (function 4) instead of holding registers (function 3).")
        var input = false
        @Flag(name: .long, help: "Coils (function 1), each read as 0 or 1.") var coils = false
        @Flag(name: .long, help: "Discrete inputs (function 2), each read as 0 or 1.") var discreteInputs = false
        @Option(name: .long, help: "Decode as this type.") var type: String?
        @Option(name: .long, help: "Word order of multi-register values: high-first or low-first.")
        var wordOrder = "high-first"

        func validate() throws {
            guard [input, coils, discreteInputs].filter({ $0 }).count <= 1 else {
                throw ValidationError("--input, --coils and --discrete-inputs choose one table")
            }
            if type != nil, coils || discreteInputs { throw ValidationError("--type decodes registers, not bits") }
        }

        func run() throws {
            let table: RegisterTableName = input ? .input : coils ? .coils : discreteInputs ? .discreteInputs : .holding
            let r = try connection.send(
                Request(
                    command: .read, bus: bus, unit: unit, table: table, address: address,
                    count: count, decode: type, wordOrder: type == nil ? nil : wordOrder),
                timeoutSeconds: Synxctl.commissioningTimeoutSeconds)
            let read = r.registers!
            print(Renderer.registers(read, format: output.chosen), terminator: "")
            if read.error != nil { throw ExitCode(3) }
        }
    }

    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Which unit ids of a bus answer, and whether they show the SunSpec marker.",
            discussion: """
                Each unit id gets one read of holding registers 40000–40001 through synxd, between the bus's polls: \
                registers or a Modbus exception mean a unit is there; "SunS" in them means SunSpec. A unit that does \
                not answer costs the bus's timeout (twice on a serial line), so a whole serial line (1-247) takes \
                minutes. Needs root or synxd's user.
                """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Bus name, as configured.") var bus: String
        @Option(name: .long, help: "Unit ids to try, FIRST-LAST or one id.") var units = "1-247"
        @Flag(name: .long, help: "Also list the unit ids that did not answer.") var all = false

        func run() throws {
            let bounds = units.split(separator: "-", maxSplits: 1).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard let first = bounds.first ?? nil, let last = bounds.count == 2 ? bounds[1] : first, first <= last else {
                throw ValidationError("--units takes FIRST-LAST (e.g. 1-247) or one unit id")
            }
            var probes: [UnitProbe] = []
            var start = first
            while start <= last {
                let end = min(last, start + maxUnitsPerScan - 1)
                let r = try connection.send(
                    Request(command: .scan, bus: bus, unit: start, lastUnit: end),
                    timeoutSeconds: Synxctl.commissioningTimeoutSeconds)
                probes += r.scan ?? []
                // synxd stops a page that ran out of room between polls, and says where to go on.
                start = r.nextOffset ?? end + 1
            }
            print(Renderer.scan(probes, showSilent: all, format: output.chosen), terminator: "")
        }
    }

    struct Profile: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Profiles: check a candidate profile against a configured meter, through synxd.", subcommands: [Check.self])

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Read every register of a candidate profile once from a configured meter, and decode it.",
                discussion: """
                    The profile (a TOML file, docs/profiles.md) is checked as synxd would load it, then its registers \
                    are read from METER's bus and unit between the bus's polls and each point is decoded, scaled and \
                    judged as a poll would: write a profile for a new meter without restarting synxd. Exit 3 if a \
                    read failed. Needs root or synxd's user.
                    """)
            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var output: OutputOptions
            @Argument(help: "A configured meter: the bus and unit to read from.") var meter: String
            @Argument(help: "The candidate profile (TOML).") var file: String

            func run() throws {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ValidationError("cannot read \(file)")
                }
                guard data.count <= 32 * 1024, let text = String(data: data, encoding: .utf8) else {
                    throw ValidationError("\(file) is not a profile: UTF-8 text of at most 32 KiB")
                }
                let r = try connection.send(
                    Request(command: .profileCheck, meter: meter, profile: text),
                    timeoutSeconds: Synxctl.commissioningTimeoutSeconds)
                let check = r.profileCheck!
                print(Renderer.profileCheck(check, format: output.chosen), terminator: "")
                if !check.failures.isEmpty { throw ExitCode(3) }
            }
        }
    }
}
