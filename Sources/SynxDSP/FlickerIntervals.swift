/// The engine's flicker measurement, IEC 61000-4-30 §5.3: one IEC 61000-4-15 flickermeter per L–N voltage
/// channel, the Pinst values of the 10-min interval being filled, and the Pst values of the 2-h interval being
/// filled. Pst is computed at the same UTC 10-min ticks as the 10-min aggregates (§4.5.2) and Plt from the Pst
/// of the 2-h interval (§4.5.3, IEC 61000-4-15 Ed.2 §4.7.3).
///
/// Decisions where the standards leave room:
/// - Pinst values are assigned to intervals by the time of the sample that completed them.
/// - After the start of the input or a gap, the flickermeters start over and give no Pinst for
///   `Flickermeter.settlingSeconds`; an interval whose Pinst values do not cover its 10 minutes has its Pst
///   computed from the values it has and marked `incomplete`, so the first interval after a start is always marked.
/// - Pst carries the 10-min aggregate's `flagged` (and other) flags: a dip, swell or interruption in the interval
///   flags its Pst (§4.7). Plt carries the union of its Pst's flags, and is `incomplete` unless it is made of 12
///   complete Pst.
struct FlickerIntervals {
    private let fs: Double
    private let nominal: NominalFrequency
    private let lamp: FlickerLamp
    let phases: [Phase]
    private var meters: [Flickermeter]
    /// Times (UTC s) of the buffered Pinst values, ascending, and the values per channel.
    private var times: [Double] = []
    private var values: [[Double]]
    private var pst: [FlickerSeverity] = []
    /// Pinst values a complete 10-min interval holds.
    private let perInterval: Double

    /// Flickermeters for `configuration`'s L–N voltage channels; nil when flicker is off.
    init?(configuration c: EngineConfiguration) {
        guard let lamp = c.flicker.lamp(declaredVoltage: c.declaredVoltage) else { return nil }
        fs = c.sampleRate
        nominal = c.nominalFrequency
        self.lamp = lamp
        phases = c.phaseVoltageChannels.map { c.channels[$0].phase }
        meters = []
        values = Array(repeating: [], count: phases.count)
        let decimation = max(1, Int((fs / Flickermeter.pinstRate).rounded()))
        perInterval = 600 * fs / Double(decimation)
        restart()
    }

    /// Starts the flickermeters over (the start of the input, a gap): they settle again before Pinst comes out.
    mutating func restart() {
        meters = phases.map { _ in Flickermeter(sampleRate: fs, nominalFrequency: nominal, lamp: lamp) }
    }

    /// Forgets the Pinst values at or after `t`: the input resumed earlier than it had reached (time went
    /// backwards), and its values will come again.
    mutating func forget(from t: Double) {
        let keep = firstIndex(atOrAfter: t)
        times.removeSubrange(keep...)
        for i in values.indices { values[i].removeSubrange(keep...) }
    }

    /// Feeds the sample `k` of each of `channels` (the L–N voltages, in `phases` order) taken at `time`. The
    /// flickermeters give their values on the same samples (`Flickermeter.push`), so the lists stay aligned.
    @inline(__always)
    mutating func push(_ ring: SampleRing, channels: [Int], index k: Int, time: Double) {
        var produced = 0
        for i in meters.indices {
            if let p = meters[i].push(ring[channels[i], k]) {
                values[i].append(p)
                produced += 1
            }
        }
        if produced > 0 { times.append(time) }
    }

    /// The largest Pinst per phase among the values of [start, end); empty when there are none.
    func pinstMax(from start: Double, to end: Double) -> [Phase: Double] {
        let a = firstIndex(atOrAfter: start)
        let b = firstIndex(atOrAfter: end)
        guard a < b else { return [:] }
        return Dictionary(uniqueKeysWithValues: phases.indices.map { (phases[$0], values[$0][a..<b].max()!) })
    }

    /// Pst of the 10-min interval ending at `tag`, with the flags of its 10-min aggregate (`quality`; its
    /// `incomplete` is replaced by the Pinst coverage); nil when no Pinst fell in it. Forgets the interval's values.
    mutating func closeTenMinutes(tag: Double, quality: ValueQuality) -> FlickerSeverity? {
        let from = firstIndex(atOrAfter: tag - 600)
        let to = firstIndex(atOrAfter: tag)
        defer {
            times.removeFirst(to)
            for i in values.indices { values[i].removeFirst(to) }
        }
        guard from < to else { return nil }
        var q = quality.subtracting([.incomplete, .gap])
        if Double(to - from) < perInterval - 2 { q.insert(.incomplete) }
        var severity: [Phase: Double] = [:]
        var maxima: [Phase: Double] = [:]
        for (i, p) in phases.enumerated() {
            let interval = Array(values[i][from..<to])
            severity[p] = Flickermeter.shortTermSeverity(interval)
            maxima[p] = interval.max()
        }
        return FlickerSeverity(severity: severity, pinstMax: maxima, count: to - from, quality: q)
    }

    /// Adds a Pst to the 2-h interval being filled.
    mutating func accumulate(_ value: FlickerSeverity) { pst.append(value) }

    /// Plt of the 2-h interval being filled, from its Pst values; nil when it has none. Starts the next interval.
    mutating func closeTwoHours() -> FlickerSeverity? {
        defer { pst.removeAll() }
        guard !pst.isEmpty else { return nil }
        var q = pst.reduce(into: ValueQuality()) { $0.formUnion($1.quality) }
        if pst.count < 12 { q.insert(.incomplete) }
        var severity: [Phase: Double] = [:]
        var maxima: [Phase: Double] = [:]
        for p in phases {
            severity[p] = Flickermeter.longTermSeverity(pst.map { $0.severity[p] ?? 0 })
            maxima[p] = pst.compactMap { $0.pinstMax[p] }.max()
        }
        return FlickerSeverity(severity: severity, pinstMax: maxima, count: pst.count, quality: q)
    }

    /// The index of the first buffered Pinst at or after `t` (binary search).
    private func firstIndex(atOrAfter t: Double) -> Int {
        var lo = 0
        var hi = times.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if times[mid] < t { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}
