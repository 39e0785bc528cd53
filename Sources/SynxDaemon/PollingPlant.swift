import Foundation
import Logging
import SynxModbus
import SynxStore

/// What a configuration change did to the buses.
struct ReloadSummary: Sendable {
    var kept: [String] = []
    var started: [String] = []
    var stopped: [String] = []
    /// Buses of the new configuration that could not be started (a serial port that does not open).
    var failed: [String: String] = [:]
}

/// The running pollers, one per bus that has meters, built from a configuration and changed in place by a
/// reload: buses whose configuration and meters are unchanged keep polling without a gap; changed buses are
/// stopped and started again with the new settings; removed ones stop; new ones start.
final class PollingPlant {
    private let registry: MeterRegistry
    private let writer: StoreWriter
    private let recorder: Recorder
    private let logger: Logger
    private let alerts: AlertCenter
    let network: NetworkPoller
    private var serial: [String: SerialBusPoller] = [:]
    private var waveforms: [String: WaveformMeter] = [:]
    private var active: [String: (bus: BusConfig, meters: [MeterConfig])] = [:]
    private var running = false

    init(registry: MeterRegistry, writer: StoreWriter, recorder: Recorder, alerts: AlertCenter, logger: Logger) throws {
        self.alerts = alerts
        self.registry = registry
        self.writer = writer
        self.recorder = recorder
        self.logger = logger
        network = NetworkPoller(reactor: try ModbusTCPReactor())
    }

    var busCount: Int { active.count }

    /// The waveform meter of that name, if one is running.
    func waveformMeter(_ name: String) -> WaveformMeter? { waveforms.values.first { $0.config.name == name } }
    var serialPollers: [SerialBusPoller] { Array(serial.values) }

    /// Makes the running buses those of `config`. Serial ports are opened before any bus starts, so libmodbus
    /// gets low descriptors.
    @discardableResult
    func apply(_ config: DaemonConfig) -> ReloadSummary {
        var desired: [String: (bus: BusConfig, meters: [MeterConfig])] = [:]
        for bus in config.buses {
            let meters = config.meters.filter { $0.bus == bus.name }
            if !meters.isEmpty { desired[bus.name] = (bus, meters) }
        }
        var summary = ReloadSummary()
        for (name, old) in active.sorted(by: { $0.key < $1.key }) {
            if let new = desired[name], new.bus == old.bus, new.meters == old.meters {
                summary.kept.append(name)
            } else {
                stop(name)
                summary.stopped.append(name)
            }
        }
        for bus in config.buses where desired[bus.name] != nil && !summary.kept.contains(bus.name) {
            let meters = desired[bus.name]!.meters
            do {
                try start(bus, meters: meters)
                summary.started.append(bus.name)
                active[bus.name] = (bus, meters)
            } catch {
                summary.failed[bus.name] = "\(error)"
                logger.error("bus cannot start", metadata: ["bus": "\(bus.name)", "error": "\(error)"])
            }
        }
        return summary
    }

    func startAll() {
        running = true
        network.start()
        serial.values.forEach { $0.start() }
        waveforms.values.forEach { $0.start() }
    }

    func stopAll() {
        serial.values.forEach { $0.stop() }
        waveforms.values.forEach { $0.stop() }
        network.stop()
        running = false
    }

    private func stop(_ name: String) {
        if let poller = serial.removeValue(forKey: name) {
            if running { poller.stop() }
        } else if let meter = waveforms.removeValue(forKey: name) {
            if running { meter.stop() }
        } else {
            network.remove(name)
        }
        active[name] = nil
        registry.unregister(bus: name)
    }

    private func start(_ bus: BusConfig, meters: [MeterConfig]) throws {
        let makeState = { [registry, writer, recorder, alerts, logger] (endpoint: String) in
            BusState(config: bus, endpoint: endpoint, meters: meters, registry: registry, writer: writer,
                     recorder: recorder, alerts: alerts, logger: logger, quietAfterTimeout: bus.link.hasNoTransactionIDs)
        }
        if meters.first?.source == .waveform, case .tcp(let host, let port) = bus.link {
            let meter = try WaveformMeter(config: meters[0], bus: bus, host: host, port: port, registry: registry,
                                          writer: writer, alerts: alerts, logger: logger)
            waveforms[bus.name] = meter
            if running { meter.start() }
            return
        }
        switch bus.link {
        case .rtu(let settings):
            let transport = try LibmodbusClient(settings: settings, timeoutMilliseconds: bus.timing.timeoutMilliseconds)
            let poller = SerialBusPoller(state: makeState(transport.endpoint), transport: transport)
            serial[bus.name] = poller
            if running { poller.start() }
        case .tcp(let host, let port), .rtuOverTCP(let host, let port):
            let framing: ModbusFraming = { if case .tcp = bus.link { return .mbap } else { return .rtu } }()
            network.add(bus, host: host, port: port, framing: framing, makeState: makeState)
        }
    }
}
