import Foundation
import Logging
import SynxComtrade
import SynxControl
import SynxDSP
import SynxMeters
import SynxModbus
import SynxStore

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
    private let condition = NSCondition()
    private var stopping = false
    private var blocks: [SampleBlock] = []
    private var droppedBlocks = 0
    private let readerDone = DispatchSemaphore(value: 0)
    private let analysisDone = DispatchSemaphore(value: 0)
    /// Blocks the analysis may lag behind before the oldest are dropped (then a gap).
    static let maxQueuedBlocks = 2000
    /// Seconds of raw samples kept for exporting event waveforms (as read: int16 counts, 2 bytes a sample).
    static let retentionSeconds = 20.0
    private struct RawBlock { var sequence: UInt32; var start: Double; var registers: ArraySlice<UInt16> }
    private var raw: [RawBlock] = []
    private var rawInterface: WaveformInterface?

    init(config: MeterConfig, bus: BusConfig, host: String, port: Int, registry: MeterRegistry, writer: StoreWriter,
         alerts: AlertCenter, logger: Logger) throws {
        self.config = config
        self.bus = bus
        client = try LibmodbusClient(link: .tcp(host: host, port: port), timeoutMilliseconds: bus.timing.timeoutMilliseconds)
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
        startThread(named: "synx-wave-\(config.name)") { [self] in readLoop(); client.disconnect(); readerDone.signal() }
        startThread(named: "synx-pq-\(config.name)") { [self] in analysisLoop(); analysisDone.signal() }
    }

    func stop() {
        condition.lock(); stopping = true; condition.broadcast(); condition.unlock()
        readerDone.wait()
        analysisDone.wait()
    }

    private var isStopping: Bool { condition.withLock { stopping } }

    private func pause(_ seconds: Double) {
        condition.lock()
        if !stopping { _ = condition.wait(until: Date().addingTimeInterval(seconds)) }
        condition.unlock()
    }

    // MARK: - Reading

    private func read(_ address: Int, _ count: Int) throws -> [UInt16] {
        try transport.read(.input, unit: config.unit, address: address, count: count)
    }

    private func readLoop() {
        while !isStopping {
            do {
                let interface = try WaveformInterface(capability: read(WaveformInterface.capabilityAddress, WaveformInterface.capabilityLength))
                registry.recordBus(bus.name, connected: true, error: nil, requests: 1, failures: 0)
                try stream(interface)
            } catch {
                let reason = "\(error)"
                registry.recordBus(bus.name, connected: false, error: reason, requests: 1, failures: 1)
                let previous = registry.recordPoll(meter: config.name, state: .offline, error: reason, values: [],
                                                   time: wallClockNow(), model: nil)
                if previous != .offline {
                    alerts.raise(.meterOffline, key: config.name, message: "meter \(config.name) offline: \(reason)",
                                 fields: ["meter": "\(config.name)", "bus": "\(bus.name)", "unit": "\(config.unit)", "reason": "\(reason)"])
                }
                pause(2)
            }
        }
    }

    /// Follows the FIFO from its newest block on, until an error or stop.
    private func stream(_ w: WaveformInterface) throws {
        let scales = w.channels.map { Double($0.scale) }
        var next: UInt32?
        let blockSeconds = Double(w.samplesPerBlock) / Double(w.sampleRate)
        while !isStopping {
            let head = try read(WaveformInterface.capabilityAddress, 14)
            guard let newest = WaveformInterface.newest(head) else { pause(blockSeconds); continue }
            var seq = next ?? newest
            if newest &- seq >= UInt32(w.fifoDepth - 1) {
                // Overrun: the blocks between were overwritten. Skip ahead; the engine sees the gap.
                logger.warning("waveform overrun: blocks lost", metadata: ["lost": "\(newest &- seq)"])
                seq = newest &- UInt32(w.fifoDepth / 2)
            }
            while seq <= newest && !isStopping {
                let r = try read(w.slotAddress(seq), w.blockLength)
                guard UInt32(r[0]) << 16 | UInt32(r[1]) == seq else { break }  // overwritten meanwhile: re-read the head
                var channels = Array(repeating: [Double](repeating: 0, count: w.samplesPerBlock), count: w.channels.count)
                for k in 0..<w.samplesPerBlock {
                    for c in 0..<w.channels.count {
                        channels[c][k] = Double(Int16(bitPattern: r[2 + k * w.channels.count + c])) * scales[c]
                    }
                }
                enqueue(SampleBlock(startTime: w.startTime(seq), channels: channels), interface: w)
                keep(RawBlock(sequence: seq, start: w.startTime(seq), registers: r[2...]), interface: w)
                seq &+= 1
            }
            if seq != next {
                // New blocks: the stream advances (a FIFO whose head stands still turns the data stale).
                let previous = registry.recordPoll(meter: config.name, state: .online, error: nil, values: [], time: wallClockNow(), model: nil)
                if previous == .offline { alerts.clear(.meterOffline, key: config.name, message: "meter \(config.name) back online") }
            }
            next = seq
            // Read the FIFO in rounds (not a head read per block): every 100 ms, or a quarter of the FIFO's span if
            // that is shorter, and never more often than every two blocks.
            pause(max(blockSeconds * 2, min(0.1, blockSeconds * Double(w.fifoDepth) / 4)))
        }
    }

    // MARK: - Event waveforms

    private func keep(_ block: RawBlock, interface w: WaveformInterface) {
        condition.lock()
        defer { condition.unlock() }
        if rawInterface != w { raw.removeAll(); rawInterface = w }
        raw.append(block)
        let capacity = Int(WaveformMeter.retentionSeconds * Double(w.sampleRate) / Double(w.samplesPerBlock))
        if raw.count > capacity + capacity / 8 { raw.removeFirst(raw.count - capacity) }
    }

    /// The samples between `from` and `to` (UTC seconds) still held, as a COMTRADE recording (BINARY: the
    /// meter's own int16 counts with its scales), or nil when they are no longer (or not yet) held. A sample
    /// block missing in between (an overrun) is a jump in the recording's timestamps, not invented samples.
    func recording(from: Double, to: Double) -> ComtradeRecording? {
        condition.lock()
        let blocks = raw.filter { $0.start < to && $0.start >= from - 1 }, w = rawInterface
        condition.unlock()
        guard let w, let first = blocks.first, first.start <= from + 0.001 else { return nil }
        let fs = Double(w.sampleRate), channels = w.channels.count
        var analog = Array(repeating: [Double](), count: channels)
        var timestamps: [Double?] = []
        for b in blocks {
            for k in 0..<w.samplesPerBlock {
                let t = b.start + Double(k) / fs
                guard t >= from, t < to else { continue }
                timestamps.append((t - first.start) * 1e6)
                for c in 0..<channels {
                    analog[c].append(Double(Int16(bitPattern: b.registers[b.registers.startIndex + k * channels + c])) * Double(w.channels[c].scale))
                }
            }
        }
        guard let firstTime = timestamps.first.flatMap({ $0 }) else { return nil }
        let count = timestamps.count
        let phases = ["A", "B", "C", "N"]
        let specs = w.channels.enumerated().map { i, c in
            ComtradeAnalogChannel(index: i + 1, id: "\(c.kind == .voltage ? "U" : "I")\(["L1", "L2", "L3", "N"][Int(c.phase) - 1])",
                                  phase: phases[Int(c.phase) - 1], circuit: config.name, unit: c.kind == .voltage ? "V" : "A")
        }
        let configuration = ComtradeConfiguration(
            stationName: config.name, deviceID: "synxd", analog: specs, lineFrequency: Double(w.nominalFrequency),
            sampleRates: blocks.count == Int(((blocks.last!.sequence &- first.sequence) + 1)) ? [ComtradeSampleRate(rate: fs, lastSample: count)] : [],
            firstSample: ComtradeTimestamp(secondsSinceEpochLocal: first.start + firstTime / 1e6), format: .binary, sampleCount: count)
        return ComtradeRecording(configuration: configuration, sampleNumbers: Array(1...count),
                                 timestamps: timestamps.map { $0.map { $0 - firstTime } }, analog: analog, digital: [])
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
            let batch = blocks, w = interface, stop = stopping
            blocks.removeAll()
            condition.unlock()
            if let w, w != engineInterface {
                do {
                    let configuration = engineConfiguration(w)
                    engine = try PowerQualityEngine(configuration: configuration)
                    engineInterface = w
                    analysed = configuration
                } catch {
                    logger.error("waveform meter cannot be analysed", metadata: ["error": "\(error)"])
                    engine = nil
                }
            }
            for block in batch {
                guard let outputs = try? engine?.process(block) else { continue }
                handle(outputs)
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
            ChannelSpec(name: "\(c.kind == .voltage ? "U" : "I")\(c.phase)", kind: c.kind == .voltage ? .voltage : .current,
                        phase: phases[Int(c.phase) - 1], fullScale: Double(c.scale) * 32767)
        }
        return EngineConfiguration(sampleRate: Double(w.sampleRate), nominalFrequency: w.nominalFrequency == 60 ? .hz60 : .hz50,
                                   declaredVoltage: config.nominalVoltage, channels: channels)
    }

    private func handle(_ outputs: [EngineOutput]) {
        var rows: [SampleRow] = []
        var aggregates: [AggregateRow] = []
        for output in outputs {
            switch output {
            case .basic(let b):
                guard let v = b.values else { continue }
                // Value times are the meter's sample times; the poll time is ours (staleness is judged on our clock).
                registry.recordPoll(meter: config.name, state: .online, error: nil,
                                    values: liveValues(v, time: Int64(b.end * 1000)), time: wallClockNow(), model: nil)
            case .aggregate(let a):
                aggregates.append(aggregateRow(a))
                // The 150/180-cycle values are also the meter's stored series (synxctl query).
                if a.tier == .cycles150_180, let v = a.values {
                    let time = Int64(a.end * 1000)
                    rows += liveValues(v, time: time).map {
                        SampleRow(meter: config.name, measurement: $0.measurement, unit: $0.unit, time: time, value: $0.value, quality: .good)
                    }
                }
            case .frequency(let f):
                let json = f.hertz.map { "{\"frequency_hz\":\($0)}" }
                aggregates.append(AggregateRow(meter: config.name, tier: "10-s", startMs: Int64(f.start * 1000), endMs: Int64(f.end * 1000),
                                               count: f.cycles, invalidCount: 0, quality: f.quality.names, valuesJSON: json))
            case .event(let e):
                record(e)
            case .inputIssue(let issue):
                logger.notice("waveform input: \(issue.kind.rawValue)", metadata: ["samples": "\(issue.samples)"])
            }
        }
        if !rows.isEmpty { writer.enqueue(rows) }
        if !aggregates.isEmpty { writer.enqueue(records: StoreRecords(aggregates: aggregates)) }
    }

    /// An aggregate as stored; the 150/180-cycle tier without harmonic spectra (a row every 3 s), the 10-min and
    /// 2-h tiers with them.
    private func aggregateRow(_ a: Aggregate) -> AggregateRow {
        var values = a.values
        if a.tier == .cycles150_180, values != nil {
            for c in values!.channels.indices {
                values!.channels[c].harmonics.subgroups = []
                values!.channels[c].harmonics.groups = []
                values!.channels[c].harmonics.interharmonicCentredSubgroups = []
            }
        }
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = values.flatMap { try? encoder.encode($0) }.map { String(decoding: $0, as: UTF8.self) }
        return AggregateRow(meter: config.name, tier: a.tier.rawValue, startMs: Int64(a.start * 1000), endMs: Int64(a.end * 1000),
                            count: a.count, invalidCount: a.invalidCount, quality: a.quality.names, valuesJSON: json)
    }

    /// The canonical measurements (docs/measurements.md) of a value set.
    private func liveValues(_ v: PowerQualityValues, time: Int64) -> [LiveValue] {
        var out: [LiveValue] = []
        let channels = analysed?.channels ?? []
        for (spec, c) in zip(channels, v.channels) {
            let p = spec.phase.rawValue
            if spec.kind == .voltage {
                out.append(LiveValue(measurement: spec.phase == .n ? "voltage.ne" : "voltage.\(p)n", value: c.rms, unit: "V", time: time))
                if spec.phase != .n { out.append(LiveValue(measurement: "thd.voltage.\(p)", value: c.harmonics.thdsPercent, unit: "%", time: time)) }
            } else {
                out.append(LiveValue(measurement: "current.\(p)", value: c.rms, unit: "A", time: time))
                if spec.phase != .n { out.append(LiveValue(measurement: "thd.current.\(p)", value: c.harmonics.thdsPercent, unit: "%", time: time)) }
            }
        }
        if let f = v.frequency { out.append(LiveValue(measurement: "frequency", value: f, unit: "Hz", time: time)) }
        if let t = v.totalPower {
            out.append(LiveValue(measurement: "power.active.total", value: t.activeW, unit: "W", time: time))
            out.append(LiveValue(measurement: "power.reactive.total", value: t.fundamentalReactiveVar, unit: "var", time: time))
            out.append(LiveValue(measurement: "power_factor.total", value: t.powerFactor, unit: "", time: time))
        }
        return out.filter { Measurement.named($0.measurement) != nil }
    }

    private func record(_ e: VoltageEvent) {
        let perPhase = Dictionary(uniqueKeysWithValues: e.extremes.map { ($0.key.rawValue, $0.value) })
        writer.enqueue(records: StoreRecords(events: [EventRow(meter: config.name, kind: e.kind.rawValue, startMicroseconds: Int64(e.start * 1e6),
                                         durationMicroseconds: Int64(e.duration * 1e6), magnitude: e.magnitude, reference: e.reference,
                                         steadyStateChange: e.steadyStateChange, worstPhase: e.worstPhase.rawValue,
                                         perPhase: perPhase, incomplete: e.incomplete,
                                         resolutionMicroseconds: Int64(500_000 / (analysed?.nominalFrequency.hertz ?? 50)))]))
        alerts.event(e, meter: config.name, bus: bus.name)
    }
}
