import CSystemd
import Foundation
import Glibc
import Logging
import SynxComtrade
import SynxModbus
import SynxStore
import SynxSystem

/// synxd: builds its parts from the configuration — the store writer, the recorder, the control server, the
/// pollers of every bus and the supervisor (sd_notify, watchdog) — starts them in that order and runs until
/// SIGTERM or SIGINT, then stops them in the reverse order (`DaemonParts`), so every finished poll is recorded
/// and every queued row committed. SIGHUP (or `synxctl reload`) re-reads the configuration: an invalid one is
/// rejected and the running one kept; unchanged buses keep polling.
public final class Daemon: @unchecked Sendable {
    private var config: DaemonConfig
    private let configPath: String
    private let logger: Logger
    private let reloadLock = NSLock()
    private let writer: StoreWriter
    private let alerts: AlertCenter
    private let plant: PollingPlant
    private let handler: ControlHandler
    private let supervisor: Supervisor
    private let parts: DaemonParts

    /// Opens the store and builds every part (nothing runs yet); throws what stops synxd from starting: a store
    /// that cannot be opened, a bus that cannot be set up (a serial port that does not open).
    public init(config: DaemonConfig, configPath: String, logger: Logger) throws {
        self.config = config
        self.configPath = configPath
        self.logger = logger
        Daemon.raiseDescriptorLimit()
        try Daemon.prepareStateDirectory(config)
        let store: SampleStore
        // A store of an older synxd is chained first, in batches: systemd is told each time that starting takes longer.
        do {
            store = try SampleStore(path: config.databasePath) { Supervisor.notify("EXTEND_TIMEOUT_USEC=60000000") }
        } catch {
            throw DaemonError.startup("cannot open the store \(config.databasePath): \(error)")
        }
        writer = StoreWriter(store: store, retention: config.retention)
        let registry = MeterRegistry()
        let recorder = Recorder()
        alerts = AlertCenter(logger: logger, holdoffSeconds: config.alertHoldoffSeconds, rules: config.rules)
        plant = try PollingPlant(registry: registry, writer: writer, recorder: recorder, alerts: alerts, logger: logger)
        if let (bus, error) = plant.apply(config).failed.first { throw DaemonError.startup("bus \(bus): \(error)") }
        let handler = ControlHandler(
            registry: registry, writer: writer, databasePath: config.databasePath, startedAt: Date())
        self.handler = handler
        let server = ControlServer(path: config.socketPath, handler: handler, logger: logger)
        supervisor = Supervisor(
            registry: registry, plant: plant, recorder: recorder, writer: writer, alerts: alerts, logger: logger)
        var served: [DaemonPart] = [writer, recorder, server]
        let publisher = config.mqtt.map { MQTTPublisher(settings: $0, registry: registry, logger: logger) }
        if let publisher {
            alerts.observer = { [unowned publisher] notice in publisher.forward(notice) }
            served.append(publisher)
        }
        if let address = config.metricsAddress {
            let collector = MetricsCollector(registry: registry, writer: writer, alerts: alerts, mqtt: publisher)
            served.append(MetricsServer(address: address, collector: collector, logger: logger))
        }
        parts = DaemonParts(served + [plant, supervisor], logger: logger)
        handler.reloader = { [unowned self] requestedBy in reload(trigger: requestedBy) }
        handler.alerts = alerts
        handler.logger = logger
        handler.exporter = { [unowned self] meter, start in exportEvent(meter: meter, startMicroseconds: start) }
        handler.timeZone = config.timeZone
        handler.commission = { [unowned self] bus, reads in plant.commission(bus: bus, reads: reads) }
    }

    /// Whatever the umask synxd was started with (by hand, as root, it is often 022): every file it creates is
    /// 0640 and every directory 0750 — measurements and exports are nobody else's business. The state directory
    /// and a store left by an older synxd are brought to those modes too.
    private static func prepareStateDirectory(_ config: DaemonConfig) throws {
        umask(0o027)
        try FileManager.default.createDirectory(
            atPath: config.stateDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o750])
        chmod(config.stateDirectory, 0o750)
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: config.databasePath + suffix) {
            chmod(config.databasePath + suffix, 0o640)
        }
    }

    /// Starts the parts and runs until a termination signal, then stops them. Throws only for start-up failures.
    public func run() throws {
        writer.enqueue(records: StoreRecords(configurations: [accepted(config, requestedBy: "start")]))
        try parts.start()
        logger.info(
            "synxd started",
            metadata: [
                "meters": "\(config.meters.count)", "buses": "\(plant.busCount)",
                "store": "\(config.databasePath)", "socket": "\(config.socketPath)",
                "watchdog_us": "\(supervisor.watchdogMicroseconds.map(String.init) ?? "off")",
            ])
        // The configuration is valid, the store open and the socket listening: ready.
        Supervisor.notify("READY=1\nSTATUS=\(supervisor.statusLine)")

        var signal: Int32
        repeat {
            signal = waitForSignal()
            if signal == SIGHUP { _ = reload(trigger: "SIGHUP") }
        } while signal == SIGHUP
        logger.info("stopping", metadata: ["signal": "\(signal == SIGTERM ? "SIGTERM" : "SIGINT")"])
        Supervisor.notify("STOPPING=1")
        parts.stop()
        Supervisor.publish(custodyHead: writer.statistics.custodyHead, logger: logger)  // the last link, once all is stored
        let s = writer.statistics
        if s.queuedRows > 0 {
            logger.error(
                "rows could not be written at shutdown",
                metadata: ["rows": "\(s.queuedRows)", "error": "\(s.lastError ?? "")"])
        }
        logger.info("stopped", metadata: ["committed_rows": "\(s.committedRows)"])
    }

    /// The record of an accepted configuration, for the store's custody chain.
    private func accepted(_ config: DaemonConfig, requestedBy: String) -> AcceptedConfiguration {
        AcceptedConfiguration(
            acceptedMs: wallClockNow(), path: configPath, sha256: config.fileSHA256, profiles: config.profileFiles,
            requestedBy: requestedBy)
    }

    /// Re-reads the configuration file and applies it; on any error the running configuration stays.
    func reload(trigger: String) -> Result<ReloadSummary, CommandFailure> {
        reloadLock.lock()
        defer { reloadLock.unlock() }
        Supervisor.notify("RELOADING=1\nMONOTONIC_USEC=\(monotonicMilliseconds() * 1000)")
        let new: DaemonConfig
        do {
            new = try DaemonConfig.load(path: configPath)
        } catch {
            alerts.raise(
                .reloadRejected, key: "config", message: "reload rejected, the running configuration is kept: \(error)",
                fields: ["error": "\(error)", "trigger": "\(trigger)", "config": "\(configPath)"])
            supervisor.setStatusSuffix("; last reload rejected: \(error)")
            Supervisor.notify("READY=1\nSTATUS=\(supervisor.statusLine)")
            // A file that cannot be read is synxd's trouble; a file with errors is what was asked to be applied.
            let unreadable = !FileManager.default.isReadableFile(atPath: configPath)
            return .failure(CommandFailure(status: unreadable ? .internal : .invalidRequest, message: "\(error)"))
        }
        var ignored: [String] = []
        if new.socketPath != config.socketPath { ignored.append("daemon.socket") }
        if new.stateDirectory != config.stateDirectory { ignored.append("daemon.state_directory") }
        if new.metricsAddress != config.metricsAddress { ignored.append("metrics.listen") }
        if new.mqtt != config.mqtt { ignored.append("mqtt") }
        alerts.clear(.reloadRejected, key: "config", message: "configuration reloaded: \(configPath) is valid again")
        writer.enqueue(records: StoreRecords(configurations: [accepted(new, requestedBy: trigger)]))
        alerts.configure(holdoffSeconds: new.alertHoldoffSeconds, rules: new.rules)
        let summary = plant.apply(new)
        config.buses = new.buses
        config.meters = new.meters
        config.profileDirectories = new.profileDirectories
        config.timeZone = new.timeZone
        handler.timeZone = new.timeZone
        var meta: Logger.Metadata = [
            "trigger": "\(trigger)", "kept": "\(summary.kept.joined(separator: ","))",
            "started": "\(summary.started.joined(separator: ","))",
            "stopped": "\(summary.stopped.joined(separator: ","))",
        ]
        if !ignored.isEmpty { meta["needs_restart"] = "\(ignored.joined(separator: ","))" }
        logger.notice("configuration reloaded", metadata: meta)
        supervisor.setStatusSuffix(
            summary.failed.isEmpty ? "" : "; not started: \(summary.failed.keys.sorted().joined(separator: ", "))")
        Supervisor.notify("READY=1\nSTATUS=\(supervisor.statusLine)")
        return .success(summary)
    }

    /// Writes the samples from 0.5 s before a stored event of a waveform meter to 0.5 s after it as COMTRADE
    /// (BINARY) into `<state directory>/exports`, and returns the .cfg path.
    func exportEvent(meter: String, startMicroseconds: Int64) -> Result<String, CommandFailure> {
        guard let source = plant.waveformMeter(meter) else {
            return .failure(
                CommandFailure(
                    status: .invalidRequest, message: "\(meter) is not a waveform meter: it has no samples to export"))
        }
        let event: EventRow
        do {
            let reader = try StoreReader(path: config.databasePath)
            guard
                let e = try reader.events(meter: meter, kind: nil, since: startMicroseconds, limit: 100_000)
                    .last(where: { $0.startMicroseconds == startMicroseconds })
            else {
                return .failure(
                    CommandFailure(
                        status: .invalidRequest,
                        message: "no stored event of \(meter) starts at \(startMicroseconds) µs (see synxctl events)"))
            }
            event = e
        } catch {
            return .failure(CommandFailure(status: .internal, message: "store: \(error)"))
        }
        let from = Double(event.startMicroseconds) / 1e6 - 0.5
        let to = Double(event.startMicroseconds + event.durationMicroseconds) / 1e6 + 0.5
        guard let recording = source.ring.recording(meter: meter, from: from, to: to) else {
            return .failure(
                CommandFailure(
                    status: .dataStale,
                    message:
                        "the samples of that event are no longer held (the last \(Int(WaveformRing.retentionSeconds)) s are)"
                ))
        }
        let directory = (config.stateDirectory as NSString).appendingPathComponent("exports")
        let path = (directory as NSString).appendingPathComponent(
            "\(meter)-\(event.kind)-\(event.startMicroseconds).cfg")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try ComtradeWriter.write(recording, cfgPath: path, format: .binary)
        } catch {
            return .failure(CommandFailure(status: .internal, message: "cannot write \(path): \(error)"))
        }
        logger.info("event waveform exported", metadata: ["meter": "\(meter)", "path": "\(path)"])
        return .success(path)
    }

    /// Blocks until SIGTERM, SIGINT or SIGHUP and returns it.
    private func waitForSignal() -> Int32 {
        var set = Daemon.handledSignals
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
    }

    private static var handledSignals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&set, s) }
        return set
    }

    /// Blocks SIGTERM, SIGINT, SIGHUP in every thread and ignores SIGPIPE; call first thing in main, before
    /// threads exist, so the signals are taken by `sigwait` alone.
    public static func blockSignals() {
        var set = handledSignals
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// A site with many meters holds a socket per gateway: lift the soft descriptor limit to the hard one.
    private static func raiseDescriptorLimit() {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}
