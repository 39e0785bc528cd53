import Foundation

/// A boundary between two fundamental cycles: a positive-going zero crossing of the reference voltage's
/// fundamental at a fractional absolute sample position, or, when there is no usable signal, a flywheel boundary
/// one reference period after the previous one (`measured == false`).
struct CycleBoundary: Equatable {
    var position: Double
    var measured: Bool
}

/// Finds fundamental cycle boundaries in the reference voltage, IEC 61000-4-30 §5.1 and §4.4: harmonics and
/// DC are attenuated first (2nd-order Butterworth high-pass at f0/5, 4th-order Butterworth low-pass at f0, so a
/// 3rd harmonic is 38 dB down and cannot cause extra crossings), crossings are interpolated between samples,
/// and a hysteresis of 0.5 % of the nominal peak arms the detector so noise on a dead line gives no crossings.
/// The filters shift the fundamental's phase (by −164° at 50 Hz, −127° at 42.5 Hz, −195° at 57.5 Hz): each crossing
/// found on the filtered signal is moved back by that shift, computed from the filters at the measured frequency, so
/// the boundary is the fundamental's own zero crossing, within a sample or two across the tracking range.
/// Without crossings for 1.5 periods the tracker free-runs on the last measured period (a flywheel), so
/// windows continue through interruptions.
struct CycleTracker {
    private var filters: [Biquad]
    private let armLevel: Double
    private let warmupSamples: Int
    private let shortestPeriod: Double, longestPeriod: Double, nominalPeriod: Double
    private var previous = 0.0
    private var armed = false
    private var samplesSinceReset = 0
    private(set) var last: CycleBoundary?
    /// The median period of the last ten measured cycles within the tracking range (once three are measured in a
    /// row), in samples: a crossing displaced by a magnitude step or a phase jump (filter transient) does not move
    /// it.
    private(set) var referencePeriod: Double {
        didSet { delay = filterDelay(period: referencePeriod) }
    }
    /// The filters' delay of the fundamental at `referencePeriod` (samples): how far a crossing of the filtered
    /// signal lies after the fundamental's own.
    private var delay = 0.0
    private var measuredRun: [Double] = []

    init(configuration: EngineConfiguration) {
        let fs = configuration.sampleRate
        let f0 = configuration.nominalFrequency.hertz
        filters = [
            .highPass(cutoff: f0 / 5, q: 0.5.squareRoot(), sampleRate: fs),
            .lowPass(cutoff: f0, q: 0.541_196_1, sampleRate: fs),
            .lowPass(cutoff: f0, q: 1.306_563, sampleRate: fs),
        ]
        armLevel = 0.005 * 2.0.squareRoot() * configuration.declaredVoltage
        nominalPeriod = fs / f0
        let range = configuration.nominalFrequency.trackingRange
        shortestPeriod = fs / range.upperBound
        longestPeriod = fs / range.lowerBound
        referencePeriod = nominalPeriod
        warmupSamples = Int(5 * nominalPeriod)
        delay = filterDelay(period: nominalPeriod)
    }

    /// How far past the ends of the tracking range a cycle may measure and still count: the interpolated crossings
    /// of a steady 42.5 Hz supply put about every other cycle a fraction of a sample outside 42.5 Hz.
    static let rangeTolerance = 0.002

    /// Whether a cycle between two boundaries counts for frequency: both ends measured and within range.
    func isMeasuredCycle(from a: CycleBoundary, to b: CycleBoundary) -> Bool {
        a.measured && b.measured && isPlausiblePeriod(b.position - a.position)
    }

    /// Whether `length` samples is a cycle of the tracking range (with `rangeTolerance`).
    func isPlausiblePeriod(_ length: Double) -> Bool {
        let t = CycleTracker.rangeTolerance
        return (shortestPeriod * (1 - t)...longestPeriod * (1 + t)).contains(length)
    }

    /// Forgets the signal (after a gap): filters restart and settle again before crossings count.
    mutating func reset() {
        for i in filters.indices {
            filters[i].z1 = 0
            filters[i].z2 = 0
        }
        previous = 0
        armed = false
        samplesSinceReset = 0
        last = nil
        measuredRun = []
    }

    /// How many samples the filters delay the fundamental of `period` samples: their phase lag over the
    /// fundamental's angular frequency (the high-pass's lead and the low-passes' lag summed section by section).
    func filterDelay(period: Double) -> Double {
        let omega = 2 * Double.pi / period
        return -filters.reduce(0) { $0 + $1.phase(at: omega) } / omega
    }

    /// Feeds the reference sample with absolute index `n`; reports any boundary it completes.
    mutating func push(_ x: Double, index n: Int, emit: (CycleBoundary) -> Void) {
        var y = x
        for i in filters.indices { y = filters[i](y) }
        defer {
            previous = y
            samplesSinceReset += 1
        }
        guard samplesSinceReset >= warmupSamples else { return }
        let now = Double(n)
        // Boundaries lie `delay` before the filtered crossings that find them: the flywheel waits 1.5 periods
        // after the crossing, not after the boundary.
        if let l = last, now - (l.position + delay) > 1.5 * referencePeriod {
            let synthetic = CycleBoundary(position: l.position + referencePeriod, measured: false)
            last = synthetic
            emit(synthetic)
        } else if last == nil, samplesSinceReset >= warmupSamples + Int(1.5 * nominalPeriod) {
            // No crossing since the filters settled: free-run from here.
            let synthetic = CycleBoundary(position: now, measured: false)
            last = synthetic
            emit(synthetic)
        }
        if y < -armLevel { armed = true }
        guard armed, previous < 0, y >= 0 else { return }
        armed = false
        let position = Double(n - 1) + (-previous) / (y - previous) - delay
        // A crossing too soon after a measured one is noise; after a flywheel boundary any crossing re-locks.
        if let l = last, position - l.position < (l.measured ? 0.5 * shortestPeriod : 1) { return }
        let boundary = CycleBoundary(position: position, measured: true)
        if let l = last, isMeasuredCycle(from: l, to: boundary) {
            if measuredRun.isEmpty { measuredRun = [l.position] }
            measuredRun.append(position)
            if measuredRun.count > 11 { measuredRun.removeFirst() }
            // The median of the run's periods, once it has three: robust to the one or two cycles whose filtered
            // crossings a magnitude step or a phase jump displaced (the flywheel runs on this period when the
            // reference dies, and Urms½ windows fall back to it as it returns).
            if measuredRun.count >= 4 {
                let periods = zip(measuredRun.dropFirst(), measuredRun).map { $0 - $1 }.sorted()
                referencePeriod = periods[periods.count / 2]
            }
        } else {
            measuredRun = []
        }
        last = boundary
        emit(boundary)
    }
}
