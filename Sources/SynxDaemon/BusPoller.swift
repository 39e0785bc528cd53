import Foundation
import Logging
import SynxControl
import SynxMeters
import SynxModbus
import SynxStore

/// Polls every meter of one bus on the bus's own thread: one request at a time, each meter on a
/// schedule aligned to the wall clock (a 1 s meter polls at each whole second).
///
/// A meter that fails is marked offline with the reason and retried with backoff, so a dead meter costs
/// its neighbours at most one timeout per retry; a link that cannot be opened puts the whole bus in
/// backoff, so its meters fail at once instead of each waiting for a connect timeout.
final class BusPoller: @unchecked Sendable {
    let config: BusConfig
    private let bus: ModbusBus
    private let schedules: [MeterSchedule]
    private let registry: MeterRegistry
    private let writer: StoreWriter
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    /// Wall-clock ms before which the link is not retried, and why it is down.
    private var linkRetryAt: Int64 = 0
    private var linkBackoffMs: Int64 = 0
    private var linkError: ModbusError?

    static let maxBackoffMs: Int64 = 10_000

    init(config: BusConfig, transport: ModbusTransport, meters: [MeterConfig], registry: MeterRegistry,
         writer: StoreWriter, logger: Logger) {
        self.config = config
        bus = ModbusBus(transport: transport, timing: config.timing)
        let now = wallClockMilliseconds()
        schedules = meters.map { MeterSchedule(config: $0, now: now) }
        self.registry = registry
        self.writer = writer
        var logger = logger
        logger[metadataKey: "bus"] = "\(config.name)"
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in
            run()
            bus.transport.disconnect()
            finished.signal()
        }
        thread.name = "synx-bus-\(config.name)"
        thread.start()
    }

    /// Stops after the request in progress and waits for the thread to end.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
    }

    private func run() {
        guard !schedules.isEmpty else { return }
        while true {
            let next = schedules.min { $0.nextDue < $1.nextDue }!
            condition.lock()
            while !stopping, wallClockMilliseconds() < next.nextDue {
                _ = condition.wait(until: Date(timeIntervalSince1970: Double(next.nextDue) / 1000))
            }
            let stop = stopping
            condition.unlock()
            if stop { return }
            poll(next)
        }
    }

    private func poll(_ m: MeterSchedule) {
        let start = wallClockMilliseconds()
        let lateness = start - m.nextDue
        registry.recordTiming(bus: config.name, lateness: Double(lateness), jitter: m.lastLateness.map { Double(abs(lateness - $0)) })
        m.lastLateness = lateness
        let includeSlow = start >= m.nextSlowDue
        var failures: [ModbusError] = []
        var image = RegisterImage()
        var requests = 0

        if start < linkRetryAt, let linkError {
            failures.append(linkError)
        } else {
            do {
                let plan = try m.plan(bus: bus)
                for block in plan.fast.blocks + (includeSlow ? plan.slow.blocks : []) {
                    requests += 1
                    do {
                        let words = try bus.read(block.table, unit: m.config.unit, address: block.address, count: block.count)
                        image.store(words, table: block.table, address: block.address)
                    } catch let error as ModbusError {
                        failures.append(error)
                        // An unreachable meter or link: do not spend another timeout on its other blocks.
                        if case .exception = error.kind { continue }
                        break
                    }
                }
            } catch let error as ModbusError {
                failures.append(error)
            } catch {
                failures.append(ModbusError(.garbage("\(error)"), function: "discover", unit: m.config.unit))
            }
        }
        noteLink(failures: failures, requests: requests)

        let points = (m.profile?.points ?? []).filter { $0.rate == .fast || includeSlow }
        var rows: [SampleRow] = []
        var live: [LiveValue] = []
        var readCount = 0
        for p in points {
            let reading = image.reading(of: p)
            let row: (Double?, SampleQuality)
            switch reading {
            case .value(let v):
                row = (v, .good)
                readCount += 1
                live.append(LiveValue(measurement: p.measurement.name, value: v, unit: p.measurement.unit, time: start))
            case .invalid: row = (nil, .invalid)
            case .unread: row = (nil, .missing)
            case .notImplemented: continue
            }
            rows.append(SampleRow(meter: m.config.name, measurement: p.measurement.name, unit: p.measurement.unit,
                                  time: start, value: row.0, quality: row.1))
        }
        writer.enqueue(rows)

        let state: MeterState = failures.isEmpty ? .online : (readCount > 0 ? .degraded : .offline)
        let reason = failures.first.map { describe($0, meter: m) }
        let previous = registry.recordPoll(meter: m.config.name, state: state, error: reason, values: live,
                                           time: start, model: m.profile?.model)
        logTransition(m, from: previous, to: state, reason: reason)
        m.advance(after: start, failed: state == .offline, includedSlow: includeSlow)
    }

    /// Tracks the link: a connection failure puts the bus in backoff; any answer clears it.
    private func noteLink(failures: [ModbusError], requests: Int) {
        let connectionFailure = failures.first { if case .connection = $0.kind { return true } else { return false } }
        if let connectionFailure {
            if linkError == nil || wallClockMilliseconds() >= linkRetryAt {
                linkBackoffMs = min(max(linkBackoffMs * 2, 500), BusPoller.maxBackoffMs)
                linkRetryAt = wallClockMilliseconds() + linkBackoffMs
            }
            linkError = connectionFailure
            bus.transport.disconnect()
        } else if requests > 0 {
            linkError = nil
            linkBackoffMs = 0
        }
        registry.recordBus(config.name, connected: linkError == nil && requests > 0,
                           error: linkError?.reason, requests: requests, failures: failures.count)
    }

    private func describe(_ error: ModbusError, meter: MeterSchedule) -> String {
        if case .exception(2) = error.kind {
            return "\(error) — the device has no such register; check profile \"\(meter.config.profile.name)\""
        }
        return error.description
    }

    private func logTransition(_ m: MeterSchedule, from previous: MeterState, to state: MeterState, reason: String?) {
        guard previous != state else { return }
        var meta: Logger.Metadata = ["meter": "\(m.config.name)", "unit": "\(m.config.unit)"]
        if let reason { meta["reason"] = "\(reason)" }
        switch state {
        case .offline: logger.warning("meter offline", metadata: meta)
        case .degraded: logger.warning("meter degraded", metadata: meta)
        case .online where previous != .unknown: logger.notice("meter back online", metadata: meta)
        case .online: logger.info("meter online", metadata: meta)
        case .unknown: break
        }
    }
}

/// One meter's place in its bus's schedule and its resolved register map.
final class MeterSchedule {
    let config: MeterConfig
    /// Wall-clock ms of the next poll, and of the next poll that includes slow registers.
    var nextDue: Int64
    var nextSlowDue: Int64
    var consecutiveFailures = 0
    /// How late the previous poll started (ms); jitter is the change of it from poll to poll.
    var lastLateness: Int64?
    /// The register map, once known (SunSpec meters learn theirs by discovery).
    private(set) var profile: MeterProfile?
    private var plans: (fast: ReadPlan, slow: ReadPlan)?

    init(config: MeterConfig, now: Int64) {
        self.config = config
        nextDue = alignedAfter(now, interval: Int64(config.pollIntervalMs))
        nextSlowDue = nextDue
        if config.profile.discovery == .fixed { setProfile(config.profile) }
    }

    /// The reads of a poll, discovering the register map first if needed.
    func plan(bus: ModbusBus) throws -> (fast: ReadPlan, slow: ReadPlan) {
        if let plans { return plans }
        let unit = config.unit
        do {
            let model = try SunSpec.discover { address, count in try bus.read(.holding, unit: unit, address: address, count: count) }
            setProfile(SunSpec.profile(for: model))
        } catch let error as SunSpec.DiscoveryError {
            throw ModbusError(.garbage("SunSpec discovery: \(error)"), function: "discover", unit: unit)
        }
        return plans!
    }

    private func setProfile(_ p: MeterProfile) {
        profile = p
        plans = (ReadPlan(points: p.points.filter { $0.rate == .fast }, mergeGap: p.mergeGap),
                 ReadPlan(points: p.points.filter { $0.rate == .slow }, mergeGap: p.mergeGap))
    }

    /// Moves to the next slot after a poll that started at `start`, backing off after failures.
    func advance(after start: Int64, failed: Bool, includedSlow: Bool) {
        let interval = Int64(config.pollIntervalMs)
        consecutiveFailures = failed ? consecutiveFailures + 1 : 0
        var delay = interval
        if consecutiveFailures > 1 {
            let cap = max(interval, BusPoller.maxBackoffMs)
            delay = min(interval << min(consecutiveFailures - 1, 16), cap)
        }
        let now = wallClockMilliseconds()
        nextDue = alignedAfter(max(start + delay - interval, now), interval: interval)
        if includedSlow { nextSlowDue = alignedAfter(now, interval: Int64(config.slowPollIntervalMs)) }
    }
}

/// The first multiple of `interval` strictly after `t` (so a 1 s meter polls at whole seconds).
func alignedAfter(_ t: Int64, interval: Int64) -> Int64 { (t / interval + 1) * interval }

/// UTC milliseconds since the Unix epoch.
func wallClockMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
