import CSystemd
import Foundation
import Glibc
import Logging
import SynxModbus
import SynxStore

/// synxd: wires the configuration, the store writer, one poller per bus and the control server, and
/// runs them until SIGTERM or SIGINT, then stops them in reverse order and flushes the store.
public final class Daemon {
    let config: DaemonConfig
    let logger: Logger

    public init(config: DaemonConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Runs until a termination signal. Throws only for start-up failures.
    public func run() throws {
        raiseDescriptorLimit()
        let registry = MeterRegistry()
        // Serial ports first: each pins a low descriptor for libmodbus's select() before any socket exists.
        var serialTransports: [String: ModbusRTUClient] = [:]
        for bus in config.buses {
            guard case .rtu(let settings) = bus.link, config.meters.contains(where: { $0.bus == bus.name }) else { continue }
            do {
                serialTransports[bus.name] = try ModbusRTUClient(settings: settings, timeoutMilliseconds: bus.timing.timeoutMilliseconds)
            } catch {
                throw DaemonError.startup("bus \(bus.name): \(error)")
            }
        }

        try FileManager.default.createDirectory(atPath: config.stateDirectory, withIntermediateDirectories: true)
        let store: SampleStore
        do { store = try SampleStore(path: config.databasePath) } catch {
            throw DaemonError.startup("cannot open the store \(config.databasePath): \(error)")
        }
        let writer = StoreWriter(store: store)
        writer.start()

        let recorder = Recorder()
        let network = NetworkPoller(reactor: try ModbusTCPReactor())
        var serialPollers: [SerialBusPoller] = []
        for bus in config.buses {
            let meters = config.meters.filter { $0.bus == bus.name }
            guard !meters.isEmpty else { continue }
            switch bus.link {
            case .rtu:
                let transport = serialTransports[bus.name]!
                let state = BusState(config: bus, endpoint: transport.endpoint, meters: meters, registry: registry, writer: writer, recorder: recorder, logger: logger)
                serialPollers.append(SerialBusPoller(state: state, transport: transport))
            case .tcp(let host, let port), .rtuOverTCP(let host, let port):
                let framing: ModbusFraming = { if case .tcp = bus.link { return .mbap } else { return .rtu } }()
                let connection = network.reactor.addConnection(host: host, port: port, timing: bus.timing, framing: framing)
                let state = BusState(config: bus, endpoint: network.reactor.endpoint(connection), meters: meters,
                                     registry: registry, writer: writer, recorder: recorder, logger: logger)
                network.add(state, connection: connection)
            }
        }
        let busCount = serialPollers.count + network.busCount

        let handler = ControlHandler(registry: registry, writer: writer, databasePath: config.databasePath, startedAt: Date())
        let server = ControlServer(path: config.socketPath, handler: handler, logger: logger)
        do { try server.listen() } catch {
            writer.stop()
            throw error
        }
        server.start()
        network.start()
        serialPollers.forEach { $0.start() }

        logger.info("synxd started", metadata: [
            "meters": "\(config.meters.count)", "buses": "\(busCount)",
            "store": "\(config.databasePath)", "socket": "\(config.socketPath)",
        ])
        sd_notify(0, "READY=1\nSTATUS=polling \(config.meters.count) meters on \(busCount) buses")

        let signal = waitForTerminationSignal()
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        sd_notify(0, "STOPPING=1")
        serialPollers.forEach { $0.stop() }
        network.stop()
        recorder.drain()  // every finished poll recorded
        server.stop()
        writer.flush()
        writer.stop()
        let s = writer.statistics
        if s.queuedRows > 0 {
            logger.error("rows could not be written at shutdown", metadata: ["rows": "\(s.queuedRows)", "error": "\(s.lastError ?? "")"])
        }
        logger.info("stopped", metadata: ["committed_rows": "\(s.committedRows)"])
    }

    /// Blocks until SIGTERM or SIGINT and returns its name.
    private func waitForTerminationSignal() -> String {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received == SIGTERM ? "SIGTERM" : "SIGINT"
    }

    /// Blocks SIGTERM, SIGINT and SIGPIPE in every thread; call first thing in main, before threads exist,
    /// so the signals are taken by `sigwait` alone.
    public static func blockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    /// A site with many meters holds a socket per gateway: lift the soft descriptor limit to the hard one.
    private func raiseDescriptorLimit() {
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}
