/// Rapid voltage change detection on Urms½, IEC 61000-4-30 Ed.3 §5.11:
/// a channel is steady when its last 100 (50 Hz) or 120 (60 Hz) Urms½ values all lie within ±threshold of their
/// mean; an RVC starts when a value leaves the band around the previous mean, and ends when every channel has
/// again 100/120 consecutive values within ±(threshold − hysteresis) of their mean, the end being backdated to the
/// first of those values. ΔUmax is the largest |Urms½ − mean before|, ΔUss = |mean after − mean before|, each the
/// largest over the channels. An excursion that crosses a dip or swell threshold is a dip or swell, not an RVC
/// (the candidate is discarded and detection re-initialises).
struct RapidVoltageChangeDetector {
    private struct History {
        var values: [Double]
        var next = 0
        var filled = 0
        var sum = 0.0

        init(length: Int) { values = Array(repeating: 0, count: length) }

        var isFull: Bool { filled == values.count }
        var mean: Double { sum / Double(filled) }

        mutating func push(_ v: Double) {
            if isFull { sum -= values[next] } else { filled += 1 }
            values[next] = v
            sum += v
            next = (next + 1) % values.count
        }

        func within(_ band: Double) -> Bool {
            let m = mean
            return values.allSatisfy { abs($0 - m) <= band }
        }
    }

    private enum State {
        case initialising
        case steady
        case event(start: Double, meanBefore: [Double], deltaMax: [Double], valuesSinceStart: Int)
    }

    let phases: [Phase]
    private let length: Int
    private var histories: [History]
    private var times: [Double]
    private var state = State.initialising

    init(phases: [Phase], nominal: NominalFrequency) {
        self.phases = phases
        length = nominal.rvcWindowHalfCycles
        histories = Array(repeating: History(length: length), count: phases.count)
        times = Array(repeating: 0, count: length)
    }

    /// Starts over (after a gap, or while a dip or swell is active).
    mutating func reset() {
        histories = Array(repeating: History(length: length), count: phases.count)
        state = .initialising
    }

    /// Feeds one Urms½ value set. `threshold` and `hysteresis` are in volts.
    mutating func update(
        _ u: HalfCycleRMS, threshold: Double, hysteresis: Double, dipOrSwellActive: Bool
    )
        -> VoltageEvent?
    {
        if dipOrSwellActive {
            reset()
            return nil
        }
        let slot = histories[0].next
        switch state {
        case .initialising:
            push(u, slot: slot)
            if histories.allSatisfy({ $0.isFull && $0.within(threshold) }) { state = .steady }
        case .steady:
            let means = histories.map(\.mean)
            let leaving = u.values.indices.contains { abs(u.values[$0] - means[$0]) > threshold }
            if leaving {
                let deltas = u.values.indices.map { abs(u.values[$0] - means[$0]) }
                state = .event(start: u.start, meanBefore: means, deltaMax: deltas, valuesSinceStart: 1)
            }
            push(u, slot: slot)
        case .event(let start, let before, var deltaMax, let count):
            for i in u.values.indices { deltaMax[i] = max(deltaMax[i], abs(u.values[i] - before[i])) }
            push(u, slot: slot)
            let n = count + 1
            if n > length, histories.allSatisfy({ $0.within(threshold - hysteresis) }) {
                let end = times[histories[0].next]  // the oldest value held: the first of the steady run
                let after = histories.map(\.mean)
                let worst = deltaMax.indices.max { deltaMax[$0] < deltaMax[$1] }!
                let ss = before.indices.map { abs(after[$0] - before[$0]) }.max()!
                state = .steady
                return VoltageEvent(
                    kind: .rapidVoltageChange, start: start, duration: max(0, end - start),
                    reference: 0, magnitude: deltaMax[worst], worstPhase: phases[worst],
                    extremes: Dictionary(uniqueKeysWithValues: zip(phases, deltaMax)),
                    steadyStateChange: ss, incomplete: false)
            }
            state = .event(start: start, meanBefore: before, deltaMax: deltaMax, valuesSinceStart: n)
        }
        return nil
    }

    private mutating func push(_ u: HalfCycleRMS, slot: Int) {
        for i in histories.indices { histories[i].push(u.values[i]) }
        times[slot] = u.start
    }
}
