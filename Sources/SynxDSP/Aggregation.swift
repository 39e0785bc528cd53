/// Accumulates value sets by the IEC 61000-4-30 §4.5 rule: X = √(Σ Xᵢ² / N) for RMS-type quantities, the
/// arithmetic mean for powers and frequency. Every constituent has equal weight.
struct ValuesAccumulator {
    private var template: PowerQualityValues?
    private var sums: [Double] = []
    private(set) var count = 0
    private var frequencySum = 0.0, frequencyCount = 0

    mutating func add(_ values: PowerQualityValues) {
        if template == nil { template = values }
        var copy = values
        var i = 0
        copy.visitValues { x, rule in
            if i == sums.count { sums.append(0) }
            sums[i] += rule == .rms ? x * x : x
            i += 1
        }
        if let f = values.frequency {
            frequencySum += f
            frequencyCount += 1
        }
        count += 1
    }

    func result(declaredVoltage: Double) -> PowerQualityValues? {
        guard var values = template, count > 0 else { return nil }
        let n = Double(count)
        var i = 0
        values.visitValues { x, rule in
            x = rule == .rms ? (sums[i] / n).squareRoot() : sums[i] / n
            i += 1
        }
        values.frequency = frequencyCount > 0 ? frequencySum / Double(frequencyCount) : nil
        values.deriveRatios(declaredVoltage: declaredVoltage)
        return values
    }
}

/// One aggregation interval being filled: its constituents' values, counts and qualities.
struct IntervalAccumulator {
    let tier: AggregationTier
    private(set) var start: Double?
    private(set) var values = ValuesAccumulator()
    private(set) var invalidCount = 0
    private(set) var quality: ValueQuality = []
    private(set) var energy = EnergyRegisters()

    init(tier: AggregationTier) { self.tier = tier }

    var isEmpty: Bool { start == nil }
    var constituents: Int { values.count + invalidCount }

    mutating func add(
        start s: Double, quality q: ValueQuality, values v: PowerQualityValues?,
        energy e: EnergyRegisters
    ) {
        if start == nil { start = s }
        quality.formUnion(q.subtracting(.gap))
        if let v {
            values.add(v)
        } else {
            invalidCount += 1
            quality.insert(.incomplete)
        }
        energy = e
    }

    mutating func markIncomplete() { quality.insert(.incomplete) }

    /// The aggregate tagged `end`, and a fresh accumulator.
    mutating func close(end: Double, declaredVoltage: Double) -> Aggregate? {
        defer { self = IntervalAccumulator(tier: tier) }
        guard let start else { return nil }
        return Aggregate(
            tier: tier, start: start, end: end, count: values.count, invalidCount: invalidCount,
            quality: quality, values: values.result(declaredVoltage: declaredVoltage),
            energy: energy)
    }
}

/// UTC interval arithmetic for the aggregation ticks (10 s, 10 min, 2 h).
enum UTCInterval {
    /// The end of the interval of length `length` that contains `t` (an interval is [k·L, (k+1)·L)).
    static func end(containing t: Double, length: Double) -> Double {
        ((t / length).rounded(.down) + 1) * length
    }
}

/// The 10-s power frequency accumulator, IEC 61000-4-30 §5.1.1.
struct TenSecondFrequency {
    /// How long after its interval's start the first cycle may begin in an interval that lost none (s): a cycle
    /// straddling the tick belongs to the interval before, so the first whole one begins within a period of the
    /// tick; later (the input began, or the tracker was settling after a gap) and the value is `incomplete`.
    let latestFirstCycle: Double
    private(set) var intervalEnd: Double?
    private var cycles = 0
    private var duration = 0.0
    private var quality: ValueQuality = []

    init(latestFirstCycle: Double) { self.latestFirstCycle = latestFirstCycle }

    /// Adds one cycle [start, end) in UTC seconds; returns the previous interval's value when the cycle begins
    /// a later one. Cycles overlapping a 10-s tick are discarded.
    mutating func add(
        cycleFrom start: Double, to end: Double, measured: Bool, quality q: ValueQuality
    )
        -> FrequencyValue?
    {
        let tick = UTCInterval.end(containing: start, length: 10)
        var finished: FrequencyValue?
        if let current = intervalEnd, tick > current { finished = close() }
        if intervalEnd == nil {
            intervalEnd = tick
            if start > tick - 10 + latestFirstCycle { quality.insert(.incomplete) }
        }
        quality.formUnion(q)
        if measured, end <= tick {
            cycles += 1
            duration += end - start
        }
        return finished
    }

    mutating func mark(_ q: ValueQuality) { if intervalEnd != nil { quality.formUnion(q) } }

    mutating func close() -> FrequencyValue? {
        defer {
            intervalEnd = nil
            cycles = 0
            duration = 0
            quality = []
        }
        guard let end = intervalEnd else { return nil }
        return FrequencyValue(
            start: end - 10, end: end, hertz: cycles > 0 ? Double(cycles) / duration : nil,
            cycles: cycles, quality: quality)
    }
}
