/// A block of simultaneous samples from every configured channel: `channels[c][k]` is channel c at
/// `startTime + k / sampleRate` (UTC seconds). Blocks may have any length; a block that does not continue where
/// the previous one ended is a gap.
public struct SampleBlock: Sendable {
    public var startTime: Double
    public var channels: [[Double]]
    /// Samples from `startTime` (UTC seconds), one array per configured channel, all of the same length.
    public init(startTime: Double, channels: [[Double]]) {
        self.startTime = startTime
        self.channels = channels
    }
    public var count: Int { channels.first?.count ?? 0 }
}

/// The IEC 61000-4-30 Ed.3 Class A engine for one metering point: fed sampled voltages and currents in blocks of
/// any size, it produces gapless 10/12-cycle basic values bounded by the fundamental's zero crossings and
/// re-synchronised at every UTC 10-min tick (§4.4, §4.6), the 10-s power frequency (§5.1), magnitudes (§5.2,
/// §5.13), harmonics and interharmonics per IEC 61000-4-7 Class I (§5.8, §5.9), unbalance (§5.7), powers
/// (IEEE 1459) and energy, under/over-deviation (Annex D), Urms½-based dips, swells, interruptions (§5.4, §5.5)
/// and rapid voltage changes (§5.11), flicker (§5.3: Pinst, Pst, Plt by IEC 61000-4-15 Class F1), with §4.7
/// flagging, and the 150/180-cycle, 10-min and 2-h aggregates (§4.5).
///
/// Pure: no I/O, no clock, no logging. Results do not depend on how the input is split into blocks. Missing or
/// non-finite samples invalidate the windows they touch; nothing is interpolated across them.
public final class PowerQualityEngine {
    public let configuration: EngineConfiguration
    private let fs: Double
    private let cyclesPerWindow: Int
    private let orderLimit: Int
    private let phaseVoltages: [Int]
    private var ring: SampleRing
    private var tracker: CycleTracker
    private let fft: RealFFT
    private var lines: [Double] = []
    private var scratch: [Double] = []
    private let halfWidth = SynchronousResampler.halfWidth

    private var segmentStartIndex = 0
    private var segmentStartTime: Double?
    private var processedIndex = -1

    private var boundaries: [CycleBoundary] = []
    private var firstBoundaryNumber = 0
    private var newBoundaries: [CycleBoundary] = []

    private struct OpenWindow {
        var first: Int
        var phase: Double
        var tag: Double
    }
    private struct ClosedWindow {
        var start: Double
        var end: Double
        var quality: ValueQuality
        var tag: Double
    }
    private var open: OpenWindow?
    private var pending: [ClosedWindow] = []
    private var lastHalfCycleStart = -Double.infinity
    /// Urms½ windows [start, end) (sample positions) waiting for their samples.
    private var halfCycleWindows: [(start: Double, end: Double)] = []
    /// The reference voltage's own zero crossings (`zeroCrossing`) at the last boundary and inside the cycle it
    /// ended.
    private var lastRising: CycleBoundary?
    private var lastFalling: CycleBoundary?
    private struct PendingCycle {
        var start: Double
        var end: Double
        var measured: Bool
        var synchronised: Bool
    }
    private var pendingCycles: [PendingCycle] = []

    private var events: VoltageEventDetector
    private var rvc: RapidVoltageChangeDetector
    private var eventSpans: [(start: Double, end: Double)] = []
    private var slidingReference: Double
    private var frequency: TenSecondFrequency
    private var shortBlock = IntervalAccumulator(tier: .cycles150_180)
    private var tenMinute = IntervalAccumulator(tier: .tenMinutes)
    private var tenMinuteTag: Double?
    private var twoHour = IntervalAccumulator(tier: .twoHours)
    private var twoHourTag: Double?
    private var energy = EnergyRegisters()
    private var flicker: FlickerIntervals?
    private var outputs: [EngineOutput] = []

    /// An engine for `configuration`; throws what `EngineConfiguration.validate()` finds wrong with it.
    public init(configuration: EngineConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        fs = configuration.sampleRate
        let nominal = configuration.nominalFrequency
        cyclesPerWindow = nominal.cyclesPerBasicWindow
        orderLimit = min(configuration.harmonicOrders, Int(0.42 * fs / nominal.hertz - 0.5))
        phaseVoltages = configuration.phaseVoltageChannels
        ring = SampleRing(channels: configuration.channels.count, minimumCapacity: Int(2 * fs))
        tracker = CycleTracker(configuration: configuration)
        // Enough points per cycle that even the longest tracked cycle is upsampled, never decimated.
        let perCycle = PowerQualityEngine.smoothLength(atLeast: fs / nominal.trackingRange.lowerBound)
        fft = RealFFT(length: perCycle * cyclesPerWindow)
        let phases = phaseVoltages.map { configuration.channels[$0].phase }
        events = VoltageEventDetector(phases: phases, thresholds: configuration.thresholds)
        rvc = RapidVoltageChangeDetector(phases: phases, nominal: nominal)
        slidingReference = configuration.declaredVoltage
        flicker = FlickerIntervals(configuration: configuration)
        frequency = TenSecondFrequency(latestFirstCycle: 1.5 / nominal.trackingRange.lowerBound)
    }

    /// The highest harmonic order this configuration measures: 50, or fewer when its group would reach above
    /// 0.42·fs, where the synchronising interpolator stops being flat (44 at 6.4 kS/s and 60 Hz).
    public var harmonicOrderLimit: Int { orderLimit }

    /// Processes one block; returns what it completed, in order.
    public func process(_ block: SampleBlock) throws -> [EngineOutput] {
        guard block.channels.count == configuration.channels.count else {
            throw EngineError.blockShape("\(block.channels.count) channels, expected \(configuration.channels.count)")
        }
        let n = block.count
        guard block.channels.allSatisfy({ $0.count == n }) else {
            throw EngineError.blockShape("channels of different lengths")
        }
        guard block.startTime.isFinite else { throw EngineError.blockShape("start time is not finite") }
        outputs = []
        guard n > 0 else { return [] }
        if segmentStartTime == nil {
            startSegment(at: block.startTime)
        } else {
            let offset = (block.startTime - time(Double(ring.end))) * fs
            if offset > 0.5 {
                discontinuity(.gap, samples: Int(offset.rounded()), resumeAt: block.startTime)
            } else if offset < -0.5 {
                discontinuity(.timeWentBackwards, samples: Int((-offset).rounded()), resumeAt: block.startTime)
            }
        }
        // Runs of finite samples are processed; a non-finite sample in any channel is a gap (§4 flagging of
        // missing data: nothing is interpolated across it).
        var finite = [Bool](repeating: true, count: n)
        for channel in block.channels {
            channel.withUnsafeBufferPointer { x in
                for k in 0..<n where !x[k].isFinite { finite[k] = false }
            }
        }
        var i = 0
        while i < n {
            var j = i
            while j < n, finite[j] { j += 1 }
            ingest(block, from: i, to: j)
            guard j < n else { break }
            var k = j
            while k < n, !finite[k] { k += 1 }
            discontinuity(.nonFinite, samples: k - j, resumeAt: block.startTime + Double(k) / fs)
            i = k
        }
        return outputs
    }

    /// Ends the input: completes what can be completed and closes every open aggregate as incomplete.
    public func finish() -> [EngineOutput] {
        outputs = []
        guard segmentStartTime != nil else { return [] }
        endSegment(invalidateOpenWindow: false)
        if let v = frequency.close() {
            var v = v
            v.quality.insert(.incomplete)
            outputs.append(.frequency(v))
        }
        if !shortBlock.isEmpty { closeShortBlock(end: time(Double(ring.end)), incomplete: true) }
        if let tag = tenMinuteTag { closeTenMinute(tag: tag, incomplete: true) }
        if let tag = twoHourTag { closeTwoHour(tag: tag, incomplete: true) }
        segmentStartTime = nil
        return outputs
    }

    // MARK: - Input

    private func time(_ position: Double) -> Double {
        segmentStartTime! + (position - Double(segmentStartIndex)) / fs
    }

    private func position(ofTime t: Double) -> Double {
        Double(segmentStartIndex) + (t - segmentStartTime!) * fs
    }

    private func startSegment(at t: Double) {
        segmentStartIndex = ring.end
        segmentStartTime = t
    }

    private func ingest(_ block: SampleBlock, from: Int, to: Int) {
        let chunk = ring.capacity / 4
        var i = from
        while i < to {
            let j = min(to, i + chunk)
            let base = ring.end
            for c in block.channels.indices {
                block.channels[c].withUnsafeBufferPointer { all in
                    ring.append(UnsafeBufferPointer(rebasing: all[i..<j]), channel: c, at: base)
                }
            }
            ring.advance(to: base + (j - i))
            let reference = phaseVoltages[0]
            for k in base..<(base + j - i) {
                newBoundaries.removeAll(keepingCapacity: true)
                tracker.push(ring[reference, k], index: k) { newBoundaries.append($0) }
                flicker?.push(ring, channels: phaseVoltages, index: k, time: time(Double(k)))
                processedIndex = k
                for b in newBoundaries { onBoundary(b) }
            }
            i = j
        }
    }

    private func discontinuity(_ kind: InputIssue.Kind, samples: Int, resumeAt t: Double) {
        outputs.append(.inputIssue(InputIssue(kind: kind, time: time(Double(ring.end)), samples: samples)))
        endSegment(invalidateOpenWindow: true)
        if kind == .timeWentBackwards { flicker?.forget(from: t) }
        frequency.mark(.gap)
        startSegment(at: t)
    }

    /// Ends a stretch of continuous input: events in progress end incomplete, windows that can still be
    /// computed are, the open window becomes an invalid one (a gap) or is dropped (end of input).
    private func endSegment(invalidateOpenWindow: Bool) {
        let now = time(Double(ring.end))
        for e in events.abort(at: now) { record(e) }
        rvc.reset()
        countCycles(all: true)
        while !pending.isEmpty { emit(pending.removeFirst()) }
        if invalidateOpenWindow, let o = open {
            let start = windowPosition(o.first, o.phase)
            emit(ClosedWindow(start: start, end: Double(ring.end), quality: .gap, tag: o.tag))
        }
        open = nil
        tracker.reset()
        flicker?.restart()
        firstBoundaryNumber += boundaries.count
        boundaries.removeAll()
        halfCycleWindows.removeAll()
        lastRising = nil
        lastFalling = nil
        lastHalfCycleStart = -.infinity
    }

    // MARK: - Cycle boundaries

    private func boundary(_ m: Int) -> CycleBoundary { boundaries[m - firstBoundaryNumber] }

    /// Position of boundary m plus a fraction of the following cycle.
    private func windowPosition(_ m: Int, _ phase: Double) -> Double {
        let b = boundary(m).position
        return phase == 0 ? b : b + phase * (boundary(m + 1).position - b)
    }

    private func onBoundary(_ b: CycleBoundary) {
        boundaries.append(b)
        let m = firstBoundaryNumber + boundaries.count - 1
        // Urms½ windows (§5.4.1) are one cycle long and start at every zero crossing, rising and falling: the cycle
        // that boundary m ends, and before it the one between the falling crossings inside the cycle before and
        // inside this one. Each spans two whole half cycles of the actual signal, so a frequency change at constant
        // amplitude leaves Urms½ unchanged (windows one mean period long read up to 4 % off after a step, which
        // was reported as a rapid voltage change). They are evaluated once their samples are all in.
        let rising = zeroCrossing(near: b.position, rising: true, measured: b.measured)
        if let r = lastRising {
            let falling = zeroCrossing(
                near: (r.position + rising.position) / 2, rising: false, measured: r.measured && b.measured)
            if let f = lastFalling { halfCycleWindows.append(urmsWindow(from: f, to: falling)) }
            halfCycleWindows.append(urmsWindow(from: r, to: rising))
            lastFalling = falling
        }
        lastRising = rising
        while let w = halfCycleWindows.first, w.end + 0.5 <= Double(processedIndex) {
            halfCycleWindows.removeFirst()
            evaluateHalfCycle(from: w.start, to: w.end)
        }
        if m >= firstBoundaryNumber + 1 {
            let previous = boundary(m - 1)
            pendingCycles.append(
                PendingCycle(
                    start: previous.position, end: b.position,
                    measured: tracker.isMeasuredCycle(from: previous, to: b),
                    synchronised: previous.measured && b.measured))
        }
        advanceWindow(m)
        emitReadyWindows()
        let keep = min(open?.first ?? m, m - 3)
        if keep > firstBoundaryNumber {
            boundaries.removeFirst(keep - firstBoundaryNumber)
            firstBoundaryNumber = keep
        }
    }

    // MARK: - Urms½ and events

    /// The Urms½ window from crossing `a` to crossing `b`, or one reference period from `a` when either is not a
    /// crossing found in the signal (a flywheel boundary; a boundary whose crossing a phase jump moved out of
    /// reach, as the reference returns after an interruption) or the two are not a plausible cycle apart: a window
    /// of any other length would misread the phases that stayed live.
    private func urmsWindow(from a: CycleBoundary, to b: CycleBoundary) -> (start: Double, end: Double) {
        guard a.measured, b.measured, tracker.isPlausiblePeriod(b.position - a.position) else {
            return (a.position, a.position + tracker.referencePeriod)
        }
        return (a.position, b.position)
    }

    /// The rising (or falling) zero crossing of the reference voltage itself, unfiltered, nearest to `position`
    /// within an eighth of a period (`measured`); else `position` itself, not `measured` (none there, or the cycle
    /// is not `measured`: a flywheel boundary, a dead line). Consecutive crossings of a periodic signal are exactly one period apart,
    /// harmonics or not, and neither a step of the magnitude nor of the frequency moves them, while the tracker's
    /// filtered crossings ring for a few cycles after either: Urms½ windows between these crossings hold whole
    /// half cycles.
    private func zeroCrossing(near position: Double, rising: Bool, measured: Bool) -> CycleBoundary {
        let none = CycleBoundary(position: position, measured: false)
        guard measured else { return none }
        let reach = tracker.referencePeriod / 8
        let first = max(Int((position - reach).rounded(.down)), ring.start + 1)
        let last = min(Int((position + reach).rounded(.up)), processedIndex)
        guard first <= last else { return none }
        let reference = phaseVoltages[0]
        let sign = rising ? 1.0 : -1.0
        var best: Double?
        var previous = sign * ring[reference, first - 1]
        for k in first...last {
            let x = sign * ring[reference, k]
            if previous < 0, x >= 0 {
                let crossing = Double(k - 1) + -previous / (x - previous)
                if best == nil || abs(crossing - position) < abs(best! - position) { best = crossing }
            }
            previous = x
        }
        return best.map { CycleBoundary(position: $0, measured: true) } ?? none
    }

    private var eventReference: Double {
        configuration.reference == .sliding ? slidingReference : configuration.declaredVoltage
    }

    private func evaluateHalfCycle(from a: Double, to b: Double) {
        let values = phaseVoltages.map { ring.mean($0, $0, from: a, to: b).squareRoot() }
        let u = HalfCycleRMS(start: time(a), end: time(b), values: values)
        let completed = events.update(u, reference: eventReference)
        for e in completed { record(e) }
        let udin = configuration.declaredVoltage
        let t = configuration.thresholds
        let dipOrSwell = events.isDipOrSwellActive || completed.contains { $0.kind != .interruption }
        if var e = rvc.update(
            u, threshold: udin * t.rvcPercent / 100, hysteresis: udin * t.rvcHysteresisPercent / 100,
            dipOrSwellActive: dipOrSwell)
        {
            e.reference = udin
            outputs.append(.event(e))
        }
        lastHalfCycleStart = a
    }

    private func record(_ e: VoltageEvent) {
        eventSpans.append((e.start, e.end))
        outputs.append(.event(e))
    }

    /// Whether [start, end) overlaps a dip, swell or interruption, finished or in progress (§4.7).
    private func isFlagged(_ start: Double, _ end: Double) -> Bool {
        eventSpans.contains { $0.start < end && $0.end >= start } || events.activeStarts.contains { $0 < end }
    }

    // MARK: - Basic windows

    private func advanceWindow(_ m: Int) {
        guard let w = open else {
            open = OpenWindow(
                first: m, phase: 0,
                tag: UTCInterval.end(
                    containing: time(boundary(m).position),
                    length: 600))
            return
        }
        let last = w.first + cyclesPerWindow + (w.phase > 0 ? 1 : 0)
        guard m >= last else { return }
        let start = windowPosition(w.first, w.phase)
        let end = windowPosition(w.first + cyclesPerWindow, w.phase)
        var quality: ValueQuality = []
        for k in w.first..<last {
            let a = boundary(k)
            let b = boundary(k + 1)
            if !(a.measured && b.measured) {
                quality.insert(.unsynchronised)
            } else if !tracker.isMeasuredCycle(from: a, to: b) {
                quality.insert(.frequencyOutOfRange)
            }
        }
        pending.append(ClosedWindow(start: start, end: end, quality: quality, tag: w.tag))
        if time(end) >= w.tag - 1e-9 {
            // The window reaching the 10-min tick ends that interval; the next one starts at the tick (§4.6).
            let p = position(ofTime: w.tag)
            var j = m
            while j > firstBoundaryNumber, boundary(j).position > p { j -= 1 }
            let phase =
                j < m ? max(0, (p - boundary(j).position) / (boundary(j + 1).position - boundary(j).position)) : 0
            open = OpenWindow(first: j, phase: phase, tag: w.tag + 600)
        } else {
            open = OpenWindow(first: w.first + cyclesPerWindow, phase: w.phase, tag: w.tag)
        }
    }

    /// Cycles go to the 10-s frequency once every Urms½ window that could flag them has been evaluated.
    private func countCycles(all: Bool = false) {
        while let c = pendingCycles.first, all || lastHalfCycleStart >= c.end {
            pendingCycles.removeFirst()
            let start = time(c.start)
            let end = time(c.end)
            var q: ValueQuality = isFlagged(start, end) ? .flagged : []
            if !c.synchronised { q.insert(.unsynchronised) }
            if let v = frequency.add(cycleFrom: start, to: end, measured: c.measured, quality: q) {
                outputs.append(.frequency(v))
            }
        }
    }

    private func emitReadyWindows() {
        countCycles()
        while let w = pending.first, lastHalfCycleStart >= w.end,
            processedIndex >= Int(w.end) + halfWidth + 1
        {
            pending.removeFirst()
            emit(w)
        }
        if !eventSpans.isEmpty {
            let horizon = time(pending.first?.start ?? Double(processedIndex)) - 2
            eventSpans.removeAll { $0.end < horizon }
        }
    }

    private func emit(_ w: ClosedWindow) {
        let start = time(w.start)
        let end = time(w.end)
        var quality = w.quality
        if isFlagged(start, end) { quality.insert(.flagged) }
        var values: PowerQualityValues?
        if !quality.contains(.gap), ring.holds(Int(w.start) - halfWidth - 1, Int(w.end) + halfWidth + 2) {
            values = computeValues(w, quality: &quality)
        } else {
            quality.insert(.gap)
        }
        if let total = values?.totalPower { energy.integrate(total, seconds: end - start) }
        if let v = values, !quality.contains(.flagged) {
            let mean = phaseVoltages.map { v.channels[$0].rms }.reduce(0, +) / Double(phaseVoltages.count)
            slidingReference = 0.9967 * slidingReference + 0.0033 * mean
        }
        let basic = BasicWindow(
            start: start, end: end, quality: quality, values: values, tenMinuteTag: w.tag,
            energy: energy, pinstMax: flicker?.pinstMax(from: start, to: end) ?? [:])
        outputs.append(.basic(basic))
        aggregate(basic)
    }

    private func computeValues(_ w: ClosedWindow, quality: inout ValueQuality) -> PowerQualityValues {
        let cfg = configuration
        let a = w.start
        let b = w.end
        var channels: [ChannelValues] = []
        var phasors: [Phasor] = []
        for (c, spec) in cfg.channels.enumerated() {
            let rms = ring.mean(c, c, from: a, to: b).squareRoot()
            SynchronousResampler.resample(ring, channel: c, from: a, to: b, into: fft.input, scratch: &scratch)
            phasors.append(fft.spectrum(into: &lines, phasorLine: cyclesPerWindow))
            var values = ChannelValues(
                rms: rms,
                harmonics: HarmonicSpectrum(
                    lines: lines,
                    cyclesPerWindow:
                        cyclesPerWindow, orderLimit: orderLimit))
            if spec.kind == .voltage {
                values.underRms = min(rms, cfg.declaredVoltage)
                values.overRms = max(rms, cfg.declaredVoltage)
                values.deriveDeviations(declaredVoltage: cfg.declaredVoltage)
            }
            if let limit = spec.fullScale, ring.reaches(c, limit: limit, from: a, to: b) { quality.insert(.clipped) }
            channels.append(values)
        }
        let mean = { (x: Int, y: Int) in self.ring.mean(x, y, from: a, to: b) }
        let unbalance = ThreePhase(configuration: cfg, phasors: phasors, rms: channels.map(\.rms), mean: mean)
        var values = PowerQualityValues(
            channels: channels, voltageUnbalance: unbalance.voltageUnbalance,
            currentUnbalance: unbalance.currentUnbalance,
            phasePower: unbalance.phasePower, totalPower: unbalance.totalPower,
            frequency: nil)
        if !quality.contains(.unsynchronised) { values.frequency = Double(cyclesPerWindow) * fs / (b - a) }
        return values
    }

    // MARK: - Aggregation

    private func aggregate(_ w: BasicWindow) {
        let endsInterval = w.end >= w.tenMinuteTag - 1e-9
        if let tag = tenMinuteTag, w.tenMinuteTag != tag {
            // The window that should have closed the interval never came (gap, or time went backwards).
            if !shortBlock.isEmpty { closeShortBlock(end: tag, incomplete: true) }
            closeTenMinute(tag: tag, incomplete: true)
        }
        if tenMinuteTag == nil {
            tenMinuteTag = w.tenMinuteTag
            if w.start > w.tenMinuteTag - 600 + 0.5 { tenMinute.markIncomplete() }
        }
        shortBlock.add(start: w.start, quality: w.quality, values: w.values, energy: w.energy)
        tenMinute.add(start: w.start, quality: w.quality, values: w.values, energy: w.energy)
        if shortBlock.constituents == 15 || endsInterval {
            closeShortBlock(end: w.end, incomplete: shortBlock.constituents < 15)
        }
        if endsInterval { closeTenMinute(tag: w.tenMinuteTag, incomplete: false) }
    }

    private func closeShortBlock(end: Double, incomplete: Bool) {
        if incomplete { shortBlock.markIncomplete() }
        if let a = shortBlock.close(end: end, declaredVoltage: configuration.declaredVoltage) {
            outputs.append(.aggregate(a))
        }
    }

    private func closeTenMinute(tag: Double, incomplete: Bool) {
        if incomplete { tenMinute.markIncomplete() }
        tenMinuteTag = nil
        let pst = flicker?.closeTenMinutes(tag: tag, quality: tenMinute.quality)
        guard var a = tenMinute.close(end: tag, declaredVoltage: configuration.declaredVoltage) else { return }
        a.flicker = pst
        outputs.append(.aggregate(a))
        // 2-h: twelve 10-min values in (2k h, 2(k+1) h], tagged with the even hour that ends them.
        let twoHourEnd = UTCInterval.end(containing: a.end - 300, length: 7200)
        if let t = twoHourTag, t != twoHourEnd { closeTwoHour(tag: t, incomplete: true) }
        twoHourTag = twoHourEnd
        twoHour.add(start: a.start, quality: a.quality, values: a.values, energy: a.energy)
        if let pst { flicker?.accumulate(pst) }
        if a.end >= twoHourEnd - 1e-9 { closeTwoHour(tag: twoHourEnd, incomplete: twoHour.constituents < 12) }
    }

    private func closeTwoHour(tag: Double, incomplete: Bool) {
        if incomplete { twoHour.markIncomplete() }
        twoHourTag = nil
        let plt = flicker?.closeTwoHours()
        if var a = twoHour.close(end: tag, declaredVoltage: configuration.declaredVoltage) {
            a.flicker = plt
            outputs.append(.aggregate(a))
        }
    }

    /// The smallest 2^a·3^b·5^c ≥ n (a length FFTW transforms fastest), at least 128 points per cycle.
    static func smoothLength(atLeast n: Double) -> Int {
        var best = Int.max
        var p2 = 1
        while p2 < 1 << 20 {
            var p3 = p2
            while p3 < 1 << 20 {
                var p5 = p3
                while p5 < 1 << 20 {
                    if Double(p5) >= max(n, 128), p5 < best { best = p5 }
                    p5 *= 5
                }
                p3 *= 3
            }
            p2 *= 2
        }
        return best
    }
}
