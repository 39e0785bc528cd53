import ArgumentParser
import Foundation
import Logging
import SynxDaemon
import SynxMeters
import SynxTOML
import SynxVersion

/// synxd — the synx power-quality monitoring daemon.
struct SynxdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synxd",
        abstract: "Poll power meters over Modbus, store their values and serve synxctl.",
        discussion: "Exit codes: 0 stopped cleanly, 78 (EX_CONFIG) invalid configuration, 1 other start-up failure.",
        version: synxVersion)

    @Option(name: .long, help: "Configuration file.")
    var config: String = DaemonConfig.defaultPath

    @Flag(name: .long, help: "Validate the configuration and profiles, print the result and exit.")
    var checkConfig = false

    @Option(
        name: .long,
        help: "Write the built-in meter profiles as TOML files into this directory and exit (templates for your own).")
    var writeBuiltinProfiles: String?

    @Option(name: .long, help: "Least severe log entries written.")
    var logLevel: Logger.Level = .info

    @Option(
        name: .long,
        help:
            "Where logs go: journal (native entries with fields), stderr (text lines), or auto (the journal when stderr is connected to it, as under systemd)."
    )
    var logTarget: LogTarget = .auto

    /// What `--log-target` accepts.
    enum LogTarget: String, ExpressibleByArgument, CaseIterable { case auto, journal, stderr }

    func run() throws {
        if let directory = writeBuiltinProfiles {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for (name, text) in BuiltinProfiles.files {
                try text.write(
                    toFile: (directory as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
            return
        }
        Daemon.blockSignals()
        let level = logLevel
        let journal = logTarget == .journal || (logTarget == .auto && JournalLogHandler.standardErrorIsJournal)
        LoggingSystem.bootstrap { label in
            if journal {
                var h = JournalLogHandler()
                h.logLevel = level
                return h
            }
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "synxd")
        let parsed: DaemonConfig
        do {
            parsed = try DaemonConfig.load(path: config)
        } catch let error as ConfigError {
            FileHandle.standardError.write(Data("synxd: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if checkConfig {
            print("\(config): ok (\(parsed.buses.count) buses, \(parsed.meters.count) meters)")
            return
        }
        do {
            try Daemon(config: parsed, configPath: config, logger: logger).run()
        } catch {
            FileHandle.standardError.write(Data("synxd: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

SynxdCommand.main()
