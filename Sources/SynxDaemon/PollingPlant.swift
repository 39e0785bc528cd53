import Foundation
import Logging
import SynxControl
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
///
/// Who touches what: `apply` runs on whichever thread reloads (main on SIGHUP, a control thread on `synxctl
/// reload`; the daemon serialises reloads); the supervisor and the control threads read the running buses. The
/// tables of running buses are therefore only read or changed under `lock`, held for the table operation alone —
/// never while a poller starts or stops (which waits for its thread) — and readers get copies.
final class PollingPlant: DaemonPart, @unchecked Sendable {
    private let registry: MeterRegistry
    private let writer: StoreWriter
    private let recorder: Recorder
    private let logger: Logger
    private let alerts: AlertCenter
    let network: NetworkPoller
    private let lock = NSLock()
    private var serial: [String: SerialBusPoller] = [:]
    private var waveforms: [String: WaveformMeter] = [:]
    private var active: [String: (bus: BusConfig, meters: [MeterConfig])] = [:]
    /// Buses without meters that could not start, and why (for commissioning's answer).
    private var unusable: [String: String] = [:]
    /// The commissioning request under way on each bus: one at a time per bus; `stop` cancels them.
    private var commissioning: [String: CommissioningJob] = [:]
    private var running = false

    init(registry: MeterRegistry, writer: StoreWriter, recorder: Recorder, alerts: AlertCenter, logger: Logger) throws {
        self.alerts = alerts
        self.registry = registry
        self.writer = writer
        self.recorder = recorder
        self.logger = logger
        network = NetworkPoller(reactor: try ModbusTCPReactor())
    }

    /// Network buses from which polls due at the same instant take the reactor long enough (about 20 µs each)
    /// to be worth a notice that `poll_spread_ms` exists.
    static let burstNoticeBuses = 1000

    var busCount: Int { lock.withLock { active.count } }

    /// The waveform meter of that name, if one is running.
    func waveformMeter(_ name: String) -> WaveformMeter? {
        lock.withLock { waveforms.values.first { $0.config.name == name } }
    }
    var serialPollers: [SerialBusPoller] { lock.withLock { Array(serial.values) } }

    /// Makes the running buses those of `config`. Serial ports are opened before any bus starts, so libmodbus
    /// gets low descriptors.
    @discardableResult
    func apply(_ config: DaemonConfig) -> ReloadSummary {
        var desired: [String: (bus: BusConfig, meters: [MeterConfig])] = [:]
        let metersByBus = Dictionary(grouping: config.meters, by: \.bus)
        // A bus without meters runs too, idle, so a new line can be commissioned (`synxctl scan`) before any meter
        // is configured on it.
        for bus in config.buses { desired[bus.name] = (bus, metersByBus[bus.name] ?? []) }
        let network = desired.values.filter { if case .rtu = $0.bus.link { false } else { true } }.count
        if network >= PollingPlant.burstNoticeBuses, config.meters.allSatisfy({ $0.pollPhaseMs == 0 }) {
            logger.notice(
                "\(network) Modbus/TCP buses start their polls at the same instant on one thread: poll_spread_ms spreads them (docs/configuration.md)"
            )
        }
        var summary = ReloadSummary()
        lock.withLock { unusable = [:] }
        for (name, old) in lock.withLock({ active }).sorted(by: { $0.key < $1.key }) {
            if let new = desired[name], new.bus == old.bus, new.meters == old.meters {
                summary.kept.append(name)
            } else {
                stopBus(name)
                summary.stopped.append(name)
            }
        }
        for bus in config.buses where desired[bus.name] != nil && !summary.kept.contains(bus.name) {
            let meters = desired[bus.name]!.meters
            do {
                try start(bus, meters: meters)
                summary.started.append(bus.name)
                lock.withLock { active[bus.name] = (bus, meters) }
            } catch where meters.isEmpty {
                // Nothing to poll on it: synxd runs without it; commissioning on it says why it cannot.
                logger.warning(
                    "bus without meters cannot start; commissioning on it is not possible",
                    metadata: ["bus": "\(bus.name)", "error": "\(error)"])
                lock.withLock { unusable[bus.name] = "\(error)" }
            } catch {
                summary.failed[bus.name] = "\(error)"
                logger.error("bus cannot start", metadata: ["bus": "\(bus.name)", "error": "\(error)"])
            }
        }
        return summary
    }

    var partName: String { "pollers" }

    /// How long a commissioning request may take, waiting for room between the polls of its bus included.
    static let commissioningSeconds = 20

    /// Does `reads` on bus `name` between its polls (`CommissioningJob`) and returns the outcomes of those done
    /// within `commissioningSeconds`, in order (all of them, or the first part: the caller says what to do with the
    /// rest). Fails when there is no such bus (or it carries a waveform stream), a unit id does not exist on it (255
    /// is a TCP gateway's own), another commissioning request is under way on it, synxd is not polling (starting or
    /// stopping), or no read at all found room.
    func commission(bus name: String, reads: [CommissioningRead]) -> Result<CommissioningJob.Ending, CommandFailure> {
        enum Target {
            case serial(SerialBusPoller), network, waveform, unusable(String), unknown([String]), busy, notRunning
            case serialUnit(Int)
        }
        let job = CommissioningJob(reads: reads)
        let target: Target = lock.withLock {
            if waveforms[name] != nil { return .waveform }
            if let reason = unusable[name] { return .unusable(reason) }
            guard let bus = active[name]?.bus else { return .unknown(active.keys.sorted()) }
            guard running else { return .notRunning }
            if case .rtu = bus.link, let unit = reads.first(where: { $0.unit > 247 })?.unit { return .serialUnit(Int(unit)) }
            guard commissioning[name] == nil else { return .busy }
            commissioning[name] = job
            return serial[name].map { .serial($0) } ?? .network
        }
        func failure(_ status: ResponseStatus, _ message: String) -> Result<CommissioningJob.Ending, CommandFailure> {
            .failure(CommandFailure(status: status, message: message))
        }
        switch target {
        case .waveform: return failure(.invalidRequest, "bus \"\(name)\" carries a waveform stream, not polled registers")
        case .unusable(let reason): return failure(.internal, "bus \"\(name)\" could not start: \(reason)")
        case .unknown(let known):
            return failure(
                .invalidRequest, "no bus named \"\(name)\" (configured: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
        case .notRunning: return failure(.busy, "synxd is starting or stopping; try again")
        case .serialUnit(let unit):
            return failure(.invalidRequest, "unit \(unit) cannot be on serial bus \"\(name)\" (1–247; 255 is a TCP gateway's own)")
        case .busy: return failure(.busy, "another commissioning request is under way on bus \"\(name)\"")
        case .serial(let poller): poller.commission(job)
        case .network: network.commission(name, job)
        }
        let ending = job.wait(seconds: PollingPlant.commissioningSeconds)
        lock.withLock { commissioning[name] = nil }
        if ending.cancelled && !ending.complete { return failure(.busy, "bus \"\(name)\" stopped (synxd stopping, or a reload)") }
        if ending.outcomes.isEmpty && !reads.isEmpty {
            return failure(
                .busy,
                "bus \"\(name)\" left no room between its polls for a read within \(PollingPlant.commissioningSeconds) s: a read needs its timeout (twice on a serial line), the frame gaps and its time on the wire free before the next poll"
            )
        }
        return .success(ending)
    }

    /// Starts polling every bus applied so far; buses applied later start at once.
    func start() {
        let (lines, meters) = lock.withLock {
            running = true
            return (Array(serial.values), Array(waveforms.values))
        }
        network.start()
        lines.forEach { $0.start() }
        meters.forEach { $0.start() }
    }

    /// Stops polling every bus (a poll under way is abandoned; finished ones are on the recorder's queue).
    func stop() {
        let (lines, meters, jobs) = lock.withLock {
            running = false  // no new commissioning request from here on
            return (Array(serial.values), Array(waveforms.values), Array(commissioning.values))
        }
        jobs.forEach { $0.cancel() }
        lines.forEach { $0.stop() }
        meters.forEach { $0.stop() }
        network.stop()
        lock.withLock { running = false }
    }

    private func stopBus(_ name: String) {
        let (poller, meter, wasRunning) = lock.withLock {
            defer { active[name] = nil }
            return (serial.removeValue(forKey: name), waveforms.removeValue(forKey: name), running)
        }
        if let poller {
            if wasRunning { poller.stop() }
        } else if let meter {
            if wasRunning { meter.stop() }
        } else {
            network.remove(name)
        }
        registry.unregister(bus: name)
    }

    private func start(_ bus: BusConfig, meters: [MeterConfig]) throws {
        let makeState = { [registry, writer, recorder, alerts, logger] (endpoint: String) in
            BusState(
                config: bus, endpoint: endpoint, meters: meters, registry: registry, writer: writer,
                recorder: recorder, alerts: alerts, logger: logger, quietAfterTimeout: bus.link.hasNoTransactionIDs)
        }
        if meters.first?.source == .waveform, case .tcp(let host, let port) = bus.link {
            let meter = try WaveformMeter(
                config: meters[0], bus: bus, host: host, port: port, registry: registry,
                writer: writer, alerts: alerts, logger: logger)
            if lock.withLock({
                waveforms[bus.name] = meter
                return running
            }) {
                meter.start()
            }
            return
        }
        switch bus.link {
        case .rtu(let settings):
            let transport = try LibmodbusClient(settings: settings, timeoutMilliseconds: bus.timing.timeoutMilliseconds)
            let poller = SerialBusPoller(state: makeState(transport.endpoint), transport: transport)
            if lock.withLock({
                serial[bus.name] = poller
                return running
            }) {
                poller.start()
            }
        case .tcp(let host, let port), .rtuOverTCP(let host, let port):
            let framing: ModbusFraming = { if case .tcp = bus.link { return .mbap } else { return .rtu } }()
            network.add(bus, host: host, port: port, framing: framing, makeState: makeState)
        }
    }
}
