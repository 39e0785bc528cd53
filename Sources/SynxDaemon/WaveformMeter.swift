import Foundation
import Logging
import SynxControl
import SynxDSP
import SynxMeters
import SynxModbus
import SynxStore
import SynxSystem

/// A meter that streams samples through the waveform interface: one thread reads its sample blocks in
/// order over its own Modbus/TCP connection and hands them to a second thread running the IEC 61000-4-30
/// engine, so a slow computation never delays reading. A block that was overwritten before it was read (an
/// overrun), or a reconnect, leaves a gap in the block times, which the engine marks invalid — no samples are
/// invented. Results: the 10/12-cycle values in the live table, the 150/180-cycle aggregates as stored
/// samples, voltage events in the store and the journal.
final class WaveformMeter: @unchecked Sendable {
    let config: MeterConfig
    let bus: BusConfig
    private let client: LibmodbusClient
    private let transport: ModbusBus
    private let registry: MeterRegistry
    private let writer: StoreWriter
    private let alerts: AlertCenter
    private var logger: Logger
    private let condition = MonotonicCondition()
    private var stopping = false
    private var blocks: [SampleBlock] = []
    private var droppedBlocks = 0
    private let readerDone = DispatchSemaphore(value: 0)
    private let analysisDone = DispatchSemaphore(value: 0)
    /// Blocks the analysis may lag behind before the oldest are dropped (then a gap). A block holds at most
    /// 123 samples (one read), about 1.3 KB as decoded doubles: at most about 2.6 MB per meter.
    static let maxQueuedBlocks = 2000
    /// How long a stream may deliver nothing the engine can use before the meter is `degraded`.
    static let nothingUsableAfterMs: Int64 = 5000
    /// The last seconds of raw samples, for exporting event waveforms.
    let ring = WaveformRing()
    /// What the stream delivered (guarded by `condition`): when the engine last produced a value (monotonic
    /// ms), and the last reason it could not, with counts of each kind of trouble.
    private var lastValueAt: Int64?
    private var trouble: String?
    private var troubleCounts: [String: Int] = [:]
    /// The reader's and the analysis thread's log lines that a lying device could repeat without end.
    private var readerLog = RepeatLimiter()
    private var analysisLog = RepeatLimiter()
    /// Whether the current stream has delivered blocks (reader thread only).
    private var streamDelivered = false

    init(
        config: MeterConfig, bus: BusConfig, host: String, port: Int, registry: MeterRegistry, writer: StoreWriter,
        alerts: AlertCenter, logger: Logger
    ) throws {
        self.config = config
        self.bus = bus
        client = try LibmodbusClient(
            link: .tcp(host: host, port: port), timeoutMilliseconds: bus.timing.timeoutMilliseconds)
        transport = ModbusBus(transport: client, timing: bus.timing)
        self.registry = registry
        self.writer = writer
        self.alerts = alerts
        var logger = logger
        logger[metadataKey: "meter"] = "\(config.name)"
        logger[metadataKey: "bus"] = "\(bus.name)"
        self.logger = logger
        registry.register(bus: bus, endpoint: client.endpoint)
        registry.register(meter: config)
    }

    func start() {
        startThread(named: "synx-wave-\(config.name)") { [self] in
            readLoop()
            client.disconnect()
            readerDone.signal()
        }
        startThread(named: "synx-pq-\(config.name)") { [self] in
            analysisLoop()
            analysisDone.signal()
        }
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
        readerDone.wait()
        analysisDone.wait()
    }

    private var isStopping: Bool { condition.withLock { stopping } }

    /// Waits `seconds` (10 ms … 10 s, so no device can make the reader spin) or until stop.
    private func pause(_ seconds: Double) {
        let wait = seconds.isFinite ? min(max(seconds, 0.01), 10) : 0.01
        condition.lock()
        if !stopping { condition.wait(milliseconds: Int64((wait * 1000).rounded(.up))) }
        condition.unlock()
    }

    /// Notes why the stream delivered nothing usable, counted by `kind`, and logs it (rate-limited).
    private func noteTrouble(_ kind: String, _ message: String, onAnalysisThread: Bool) {
        let now = monotonicMilliseconds()
        condition.withLock {
            trouble = message
            troubleCounts[kind, default: 0] += 1
        }
        let admitted = onAnalysisThread ? analysisLog.admit(kind, now: now) : readerLog.admit(kind, now: now)
        guard let heldBack = admitted else { return }
        var meta: Logger.Metadata = ["problem": "\(kind)"]
        if heldBack > 0 { meta["repeated"] = "\(heldBack)" }
        logger.warning("\(message)", metadata: meta)
    }

    /// The meter's state after a round of reading: online while the engine produces values, degraded (with
    /// the reason and counts) when the device answers but nothing usable has come out for a while.
    private func judge(streamingSince: Int64, lastBlockAt: Int64) {
        let now = monotonicMilliseconds()
        let (last, noted, counts) = condition.withLock { (lastValueAt, trouble, troubleCounts) }
        var reason = noted
        if now - lastBlockAt > WaveformMeter.nothingUsableAfterMs {
            reason = "no new sample block for \((now - lastBlockAt) / 1000) s (the device's newest block stands still)"
        }
        let state: MeterState
        var error: String?
        if let last, now - last <= WaveformMeter.nothingUsableAfterMs {
            state = .online
        } else if now - streamingSince > WaveformMeter.nothingUsableAfterMs {
            state = .degraded
            let tally = counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            error =
                "nothing measured for \((now - (last ?? streamingSince)) / 1000) s: \(reason ?? "no complete window yet")"
                + (tally.isEmpty ? "" : " (\(tally))")
        } else {
            return  // starting: the engine needs a window or two
        }
        let previous = registry.recordPoll(
            meter: config.name, state: state, error: error, values: [], time: wallClockNow(), model: nil)
        if previous == .offline {
            alerts.clear(.meterOffline, key: config.name, message: "meter \(config.name) back online")
        }
        if state == .degraded && previous != .degraded {
            logger.warning("waveform meter degraded", metadata: ["reason": "\(error ?? "")"])
        }
    }

    // MARK: - Reading

    private func read(_ address: Int, _ count: Int) throws -> [UInt16] {
        try transport.read(.input, unit: config.unit, address: address, count: count)
    }

    private func readLoop() {
        var backoff = 0.0
        while !isStopping {
            do {
                let capability = try read(WaveformInterface.capabilityAddress, WaveformInterface.capabilityLength)
                let interface = try WaveformInterface(capability: capability)
                try interface.checkClock(
                    newest: WaveformInterface.newest(capability), hostSeconds: Double(wallClockNow()) / 1000)
                registry.recordBus(bus.name, connected: true, error: nil, requests: 1, failures: 0)
                try stream(interface)
            } catch {
                if streamDelivered { backoff = 0 }  // it worked until now: retry soon
                let reason = "\(error)"
                registry.recordBus(bus.name, connected: false, error: reason, requests: 1, failures: 1)
                let previous = registry.recordPoll(
                    meter: config.name, state: .offline, error: reason, values: [],
                    time: wallClockNow(), model: nil)
                if previous != .offline {
                    alerts.raise(
                        .meterOffline, key: config.name, message: "meter \(config.name) offline: \(reason)",
                        fields: [
                            "meter": "\(config.name)", "bus": "\(bus.name)", "unit": "\(config.unit)",
                            "reason": "\(reason)",
                        ])
                }
                backoff = min(max(backoff * 2, 2), 30)
                pause(backoff)
            }
        }
    }

    /// Follows the FIFO from its newest block on, until an error or stop. The block times are checked against
    /// the host's clock at every round (a device that resets its clock is re-read from its capability block).
    private func stream(_ w: WaveformInterface) throws {
        var next: UInt32?
        let blockSeconds = Double(w.samplesPerBlock) / Double(w.sampleRate)
        let streamingSince = monotonicMilliseconds()
        var lastBlockAt = streamingSince
        streamDelivered = false
        condition.withLock {
            trouble = nil
            troubleCounts = [:]
        }
        while !isStopping {
            let head = try read(WaveformInterface.capabilityAddress, 14)
            let epoch = (8..<12).reduce(UInt64(0)) { $0 << 16 | UInt64(head[$1]) }
            guard epoch == w.epochMicroseconds else {
                throw WaveformInterface.Invalid(description: "waveform stream restarted (its block-0 time changed)")
            }
            let newest = WaveformInterface.newest(head)
            try w.checkClock(newest: newest, hostSeconds: Double(wallClockNow()) / 1000)
            guard let newest else {
                pause(blockSeconds)
                judge(streamingSince: streamingSince, lastBlockAt: lastBlockAt)
                continue
            }
            var seq = next ?? newest
            if seq &- newest >= 2 && seq &- newest < 1 << 31 {
                // The newest block is behind one already read: the device restarted its stream. Start afresh, and
                // keep none of the old stream's samples for export (their sequence numbers would repeat).
                ring.removeAll()
                throw WaveformInterface.Invalid(
                    description: "waveform stream went back from block \(seq &- 1) to \(newest)")
            }
            // seq == newest + 1: nothing new since the last round (newest &- seq would wrap to 2³² − 1).
            if seq &- newest != 1 && newest &- seq >= UInt32(w.fifoDepth - 1) {
                // Overrun: the blocks between were overwritten. Skip ahead; the engine sees the gap.
                noteTrouble("overrun", "waveform overrun: \(newest &- seq) blocks lost", onAnalysisThread: false)
                seq = newest &- UInt32(w.fifoDepth / 2)
            }
            while seq <= newest && !isStopping {
                let r = try read(w.slotAddress(seq), w.blockLength)
                guard let channels = w.samples(ofSlot: r, sequence: seq) else {
                    // Overwritten meanwhile (or a device that never serves the block it names): re-read the head.
                    noteTrouble(
                        "sequence", "waveform slot of block \(seq) holds another block", onAnalysisThread: false)
                    break
                }
                enqueue(SampleBlock(startTime: w.startTime(seq), channels: channels), interface: w)
                ring.keep(sequence: seq, start: w.startTime(seq), registers: r[2...], interface: w)
                seq &+= 1
            }
            if seq != next {
                lastBlockAt = monotonicMilliseconds()
                streamDelivered = true
            }
            next = seq
            judge(streamingSince: streamingSince, lastBlockAt: lastBlockAt)
            // Read the FIFO in rounds (not a head read per block): every 100 ms, or a quarter of the FIFO's span if
            // that is shorter, and never more often than every two blocks.
            pause(max(blockSeconds * 2, min(0.1, blockSeconds * Double(w.fifoDepth) / 4)))
        }
    }

    // MARK: - Analysis

    /// The stream's description as the reader last saw it (guarded by `condition`).
    private var interface: WaveformInterface?
    /// The engine's configuration, built once per stream description (analysis thread only).
    private var analysed: EngineConfiguration?

    private func enqueue(_ block: SampleBlock, interface w: WaveformInterface) {
        condition.lock()
        if interface != w { interface = w }
        blocks.append(block)
        if blocks.count > WaveformMeter.maxQueuedBlocks {
            blocks.removeFirst(blocks.count - WaveformMeter.maxQueuedBlocks)
            droppedBlocks += 1
        }
        condition.broadcast()
        condition.unlock()
    }

    private func analysisLoop() {
        var engine: PowerQualityEngine?
        var engineInterface: WaveformInterface?
        while true {
            condition.lock()
            while blocks.isEmpty && !stopping { condition.wait() }
            let batch = blocks
            let w = interface
            let stop = stopping
            blocks.removeAll()
            condition.unlock()
            if let w, w != engineInterface {
                do {
                    let configuration = engineConfiguration(w)
                    engine = try PowerQualityEngine(configuration: configuration)
                    engineInterface = w
                    analysed = configuration
                } catch {
                    noteTrouble("unanalysable", "waveform stream cannot be analysed: \(error)", onAnalysisThread: true)
                    engine = nil
                }
            }
            if engine == nil && !batch.isEmpty {
                noteTrouble("unanalysable", "waveform stream cannot be analysed", onAnalysisThread: true)
            }
            for block in batch {
                guard let engine else { break }
                do {
                    handle(try engine.process(block))
                } catch {
                    noteTrouble("engine", "waveform engine refused a block: \(error)", onAnalysisThread: true)
                }
            }
            if stop {
                if let outputs = engine?.finish() { handle(outputs) }
                return
            }
        }
    }

    private func engineConfiguration(_ w: WaveformInterface) -> EngineConfiguration {
        let phases: [Phase] = [.l1, .l2, .l3, .n]
        let channels = w.channels.enumerated().map { i, c in
            ChannelSpec(
                name: "\(c.kind == .voltage ? "U" : "I")\(c.phase)", kind: c.kind == .voltage ? .voltage : .current,
                phase: phases[Int(c.phase) - 1], fullScale: Double(c.scale) * 32767)
        }
        var engine = EngineConfiguration(
            sampleRate: Double(w.sampleRate), nominalFrequency: w.nominalFrequency == 60 ? .hz60 : .hz50,
            declaredVoltage: config.nominalVoltage, channels: channels)
        engine.flicker = config.flickerLamp
        return engine
    }

    private func handle(_ outputs: [EngineOutput]) {
        var rows: [SampleRow] = []
        var aggregates: [AggregateRow] = []
        for output in outputs {
            switch output {
            case .basic(let b):
                guard let v = b.values else { continue }
                condition.withLock { lastValueAt = monotonicMilliseconds() }
                // Value times are the meter's sample times; the poll time is ours (staleness is judged on our clock).
                guard let end = ticks(b.end, 1000) else { continue }
                registry.recordPoll(
                    meter: config.name, state: .online, error: nil,
                    values: WaveformMeter.liveValues(v, channels: analysed?.channels ?? [], time: end)
                        + WaveformMeter.flickerValues(b.pinstMax, .pinst, time: end),
                    time: wallClockNow(), model: nil)
            case .aggregate(let a):
                guard let row = aggregateRow(a), let time = ticks(a.end, 1000) else { continue }
                aggregates.append(row)
                // The 150/180-cycle values are also the meter's stored series (synxctl query).
                var series: [LiveValue] = []
                if a.tier == .cycles150_180, let v = a.values {
                    series = WaveformMeter.liveValues(v, channels: analysed?.channels ?? [], time: time)
                }
                // Pst and Plt are stored as series too, at their intervals' ends (their flags are the 10-min and
                // 2-h aggregates' and `incomplete` by Pinst coverage, kept in the flicker part of the aggregate row).
                if let f = a.flicker {
                    series = WaveformMeter.flickerValues(f.severity, a.tier == .tenMinutes ? .pst : .plt, time: time)
                }
                rows += series.map {
                    SampleRow(
                        meter: config.name, measurement: $0.measurement, unit: $0.unit, time: time, value: $0.value,
                        quality: .good)
                }
            case .frequency(let f):
                let json = f.hertz.map { "{\"frequency_hz\":\($0)}" }
                guard let start = ticks(f.start, 1000), let end = ticks(f.end, 1000) else { continue }
                aggregates.append(
                    AggregateRow(
                        meter: config.name, tier: "10-s", startMs: start, endMs: end,
                        count: f.cycles, invalidCount: 0, quality: f.quality.names, valuesJSON: json))
            case .event(let e):
                record(e)
            case .inputIssue(let issue):
                noteTrouble(
                    issue.kind.rawValue, "waveform input: \(issue.kind.rawValue) (\(issue.samples) samples)",
                    onAnalysisThread: true)
            }
        }
        if !rows.isEmpty { writer.enqueue(rows) }
        if !aggregates.isEmpty { writer.enqueue(records: StoreRecords(aggregates: aggregates)) }
    }

    /// An aggregate as stored; the 150/180-cycle tier without harmonic spectra (a row every 3 s), the 10-min and
    /// 2-h tiers with them.
    private func aggregateRow(_ a: Aggregate) -> AggregateRow? {
        guard let start = ticks(a.start, 1000), let end = ticks(a.end, 1000) else { return nil }
        var values = a.values
        if a.tier == .cycles150_180, values != nil {
            for c in values!.channels.indices {
                values!.channels[c].harmonics.subgroups = []
                values!.channels[c].harmonics.groups = []
                values!.channels[c].harmonics.interharmonicCentredSubgroups = []
            }
        }
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let channels = analysed?.channels ?? []
        // A value set that cannot be encoded is stored without values (the row, its interval and flags remain).
        let json = values.flatMap {
            try? encoder.encode(StoredValues(values: $0, flicker: a.flicker, tier: a.tier, channels: channels))
        }
            .map { String(decoding: $0, as: UTF8.self) }
        return AggregateRow(
            meter: config.name, tier: a.tier.rawValue, startMs: start, endMs: end,
            count: a.count, invalidCount: a.invalidCount, quality: a.quality.names, valuesJSON: json)
    }

    private func record(_ e: VoltageEvent) {
        let perPhase = Dictionary(uniqueKeysWithValues: e.extremes.map { ($0.key.rawValue, $0.value) })
        guard let start = ticks(e.start, 1e6), let duration = ticks(e.duration, 1e6) else { return }
        writer.enqueue(
            records: StoreRecords(events: [
                EventRow(
                    meter: config.name, kind: e.kind.rawValue, startMicroseconds: start,
                    durationMicroseconds: duration, magnitude: e.magnitude, reference: e.reference,
                    steadyStateChange: e.steadyStateChange, worstPhase: e.worstPhase.rawValue,
                    perPhase: perPhase, incomplete: e.incomplete,
                    resolutionMicroseconds: Int64(500_000 / (analysed?.nominalFrequency.hertz ?? 50)))
            ]))
        alerts.event(e, meter: config.name, bus: bus.name)
    }
}

/// An aggregate's values as stored: the engine's value set (`docs/analyzer.md`, INTERVAL `values`); `measurements`,
/// the values under their canonical names (with each phase's harmonic subgroups `harmonic.voltage.l1.h2`… in the
/// 10-min and 2-h tiers, and `flicker.pst.l1`… or `flicker.plt.l1`…), which compliance reports read; and, for the
/// 10-min and 2-h tiers, `flicker`: `{"pst"|"plt": {"l1": …}, "pinst_max": {…}, "count": N, "quality": […]}`.
private struct StoredValues: Encodable {
    var values: PowerQualityValues
    var flicker: FlickerSeverity?
    var tier: AggregationTier
    var channels: [ChannelSpec]

    private struct Flicker: Encodable {
        var severity: [String: Double]
        var pinstMax: [String: Double]
        var count: Int
        var quality: [String]
        var statistic: String

        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(severity, forKey: AnyKey(statistic))
            try c.encode(pinstMax, forKey: AnyKey("pinst_max"))
            try c.encode(count, forKey: AnyKey("count"))
            try c.encode(quality, forKey: AnyKey("quality"))
        }
    }
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: Encoder) throws {
        try values.encode(to: encoder)
        var named = CanonicalMeasurements.values(of: values, channels: channels)
        if tier != .cycles150_180 { named += CanonicalMeasurements.harmonics(of: values, channels: channels) }
        let statistic: FlickerStatistic = tier == .twoHours ? .plt : .pst
        if let f = flicker { named += CanonicalMeasurements.flicker(f.severity, statistic) }
        var c = encoder.container(keyedBy: AnyKey.self)
        try c.encode(
            Dictionary(named.map { ($0.name, $0.value) }) { first, _ in first }, forKey: AnyKey("measurements"))
        guard let f = flicker else { return }
        let keyed = { (d: [Phase: Double]) in Dictionary(uniqueKeysWithValues: d.map { ($0.key.rawValue, $0.value) }) }
        try c.encode(
            Flicker(
                severity: keyed(f.severity), pinstMax: keyed(f.pinstMax), count: f.count, quality: f.quality.names,
                statistic: statistic.rawValue),
            forKey: AnyKey("flicker"))
    }
}

/// `seconds` × `perSecond` as an integer (towards zero), or nil where that is no Int64: times come from the
/// device's clock, and a time that cannot be stored is dropped, never trapped on. (The reader keeps block
/// times within `WaveformInterface.clockWindowSeconds` of the host's clock, so this only guards.)
private func ticks(_ seconds: Double, _ perSecond: Double) -> Int64? {
    let v = (seconds * perSecond).rounded(.towardZero)
    return v.isFinite && abs(v) < 9.2e18 ? Int64(v) : nil
}
