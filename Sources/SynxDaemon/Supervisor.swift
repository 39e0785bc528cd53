import CSystemd
import Foundation
import Logging
import SynxControl
import SynxStore
import SynxSystem

/// Talks to the service manager (sd_notify(3); nothing is sent when NOTIFY_SOCKET is unset) and keeps the
/// watchdog honest: `WATCHDOG=1` is sent only while every part that must make progress does — each serial bus
/// thread is not stuck in one request far beyond its timeout, and the TCP reactor, the recorder and the store
/// writer answer a ping within the stall limit. A hung part stops the pings, so systemd restarts the service.
/// The `STATUS=` line is kept current ("polling 12 meters on 3 buses, 1 offline").
final class Supervisor: DaemonPart, @unchecked Sendable {
    private let registry: MeterRegistry
    private let plant: PollingPlant
    private let recorder: Recorder
    private let writer: StoreWriter
    private let logger: Logger
    private let alerts: AlertCenter
    private let condition = MonotonicCondition()
    /// Steps of the wall clock, watched once a tick.
    private var clock = ClockStepDetector()
    /// When the custody chain's head was last published to the journal (monotonic ms), and which link it was.
    private var custodyPublishedMs: Int64?
    private var custodyPublishedSeq: Int64 = 0
    /// The custody head goes to the journal at most this often, when it has moved (and once more at stop).
    static let custodyPublishIntervalMs: Int64 = 3_600_000
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    private var lastStatus = ""
    private var statusSuffix = ""
    private var reportedStall: String?
    private let lock = NSLock()
    private var reactorPingSince: Int64?
    private var recorderPingSince: Int64?
    /// Microseconds between watchdog pings the manager expects at most (nil: no watchdog).
    let watchdogMicroseconds: UInt64?

    init(
        registry: MeterRegistry, plant: PollingPlant, recorder: Recorder, writer: StoreWriter, alerts: AlertCenter,
        logger: Logger
    ) {
        self.alerts = alerts
        self.registry = registry
        self.plant = plant
        self.recorder = recorder
        self.writer = writer
        self.logger = logger
        var usec: UInt64 = 0
        watchdogMicroseconds = sd_watchdog_enabled(0, &usec) > 0 && usec > 0 ? usec : nil
    }

    static func notify(_ state: String) { _ = sd_notify(0, state) }

    /// The service status line.
    var statusLine: String {
        let c = registry.stateCounts()
        var s =
            "polling \(c.meters) meter\(c.meters == 1 ? "" : "s") on \(plant.busCount) bus\(plant.busCount == 1 ? "" : "es")"
        if c.offline > 0 { s += ", \(c.offline) offline" }
        if c.degraded > 0 { s += ", \(c.degraded) degraded" }
        lock.lock()
        defer { lock.unlock() }
        return s + statusSuffix
    }

    /// Text appended to the status line (e.g. the last reload failure), or "" to clear it.
    func setStatusSuffix(_ s: String) {
        lock.lock()
        statusSuffix = s
        lock.unlock()
    }

    var partName: String { "supervisor" }

    func start() {
        startThread(named: "synx-supervisor") { [self] in
            run()
            finished.signal()
        }
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
    }

    private var tick: TimeInterval {
        guard let w = watchdogMicroseconds else { return 1 }
        return min(1, Double(w) / 4_000_000)
    }

    /// How long a ping may stay unanswered before the part counts as stalled.
    private var stallLimitMs: Int64 {
        guard let w = watchdogMicroseconds else { return 5000 }
        return min(5000, Int64(w / 2000))
    }

    private func run() {
        while true {
            condition.lock()
            if !stopping { condition.wait(milliseconds: Int64(tick * 1000)) }
            let stop = stopping
            condition.unlock()
            if stop { return }
            watchClock()
            publishCustodyHead(every: Supervisor.custodyPublishIntervalMs)
            watchStore()
            watchStaleness()
            alerts.tick()
            let status = statusLine
            var message = ""
            if status != lastStatus {
                message += "STATUS=\(status)\n"
                lastStatus = status
            }
            if watchdogMicroseconds != nil {
                if let stall = stalledPart() {
                    if reportedStall != stall {
                        logger.critical("watchdog: \(stall); no longer telling systemd we are alive")
                        reportedStall = stall
                    }
                } else {
                    message += "WATCHDOG=1\n"
                }
            }
            if !message.isEmpty { Supervisor.notify(message) }
        }
    }

    /// A step of the wall clock is reported (journal, `status`) and recorded in the store (retention counts forward
    /// steps out of the age of older data). The buses re-anchor their schedules themselves, at their next poll.
    private func watchClock() {
        guard let step = clock.check() else { return }
        let now = wallClockNow()
        alerts.clockStep(stepMs: step, detectedMs: now)
        registry.recordClockStep(stepMs: step, detectedMs: now)
        writer.enqueue(records: StoreRecords(clockSteps: [ClockStep(detectedMs: now, stepMs: step)]))
    }

    /// The custody chain's last link goes to the journal hourly while it moves (and, from the daemon, once more
    /// after the store's last commit at stop).
    private func publishCustodyHead(every intervalMs: Int64) {
        guard let head = writer.statistics.custodyHead, head.seq != custodyPublishedSeq else { return }
        let now = monotonicMilliseconds()
        if let last = custodyPublishedMs, now - last < intervalMs { return }
        custodyPublishedMs = now
        custodyPublishedSeq = head.seq
        Supervisor.publish(custodyHead: head, logger: logger)
    }

    /// Writes the custody chain's head to the journal, outside the store: a chain rebuilt by someone who can
    /// write the store no longer passes through the links published before (`docs/reliability.md`, "Tamper
    /// evidence").
    static func publish(custodyHead head: (seq: Int64, link: String)?, logger: Logger) {
        guard let head else { return }
        logger.notice(
            "custody chain head: link \(head.seq) is \(head.link)",
            metadata: [
                "message_id": "\(custodyHeadMessageID)", "custody_seq": "\(head.seq)", "custody_link": "\(head.link)",
            ])
    }

    /// Store write failures (disk full, I/O errors) are an alert until a commit succeeds again.
    private func watchStore() {
        let s = writer.statistics
        if let error = s.lastError {
            alerts.raise(
                .store, key: "store",
                message: "the store cannot write: \(error); \(s.queuedRows) rows are queued in memory",
                fields: ["error": "\(error)", "queued_rows": "\(s.queuedRows)", "dropped_rows": "\(s.droppedRows)"])
        } else {
            alerts.clear(.store, key: "store", message: "the store writes again; \(s.queuedRows) rows queued")
        }
    }

    /// Meters that answer but deliver nothing new (a frozen waveform FIFO, a schedule that stopped).
    private func watchStaleness() {
        let stale = Dictionary(
            uniqueKeysWithValues: registry.staleMeters(monotonicNow: monotonicMilliseconds()).map {
                ($0.name, $0.ageMs)
            })
        for name in registry.meterNames {
            if let age = stale[name] {
                alerts.raise(
                    .staleData, key: name, message: "meter \(name) answers but its data is \(age / 1000) s old",
                    fields: ["meter": "\(name)", "age_s": "\(age / 1000)"])
            } else {
                alerts.clear(.staleData, key: name, message: "meter \(name) delivers fresh data again")
            }
        }
    }

    /// The first part that has not made progress within its limit, described; nil when all are alive.
    private func stalledPart() -> String? {
        let now = monotonicMilliseconds()
        for poller in plant.serialPollers {
            if let (bus, since, limit) = poller.busyFor(), now - since > limit {
                return "bus \(bus) stuck in one request for \((now - since) / 1000) s"
            }
        }
        lock.lock()
        let reactorSince = reactorPingSince
        let recorderSince = recorderPingSince
        if reactorPingSince == nil { reactorPingSince = now }
        if recorderPingSince == nil { recorderPingSince = now }
        lock.unlock()
        if reactorSince == nil {
            plant.network.reactor.post { [self] in
                lock.lock()
                reactorPingSince = nil
                lock.unlock()
            }
        }
        if recorderSince == nil {
            recorder.async { [self] in
                lock.lock()
                recorderPingSince = nil
                lock.unlock()
            }
        }
        if let s = reactorSince, now - s > stallLimitMs { return "the TCP reactor has not run for \(now - s) ms" }
        if let s = recorderSince, now - s > stallLimitMs { return "the recorder has not run for \(now - s) ms" }
        if let last = writer.statistics.lastRoundMonotonicMs, now - last > stallLimitMs + 2000 {
            return "the store writer has not completed a round for \(now - last) ms"
        }
        return nil
    }
}
