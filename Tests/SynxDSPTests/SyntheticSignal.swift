import Foundation

@testable import SynxDSP

/// Test signals with analytically known content: a three-phase system whose frequency, magnitudes, harmonics,
/// interharmonics and rectangular magnitude changes (dips, swells, steps) are given exactly.
struct SyntheticSignal {
    struct Harmonic {
        var order: Double
        var percent: Double
        var phase = 0.0
    }
    /// A change of one phase's fundamental magnitude to `factor` over [start, start + duration) (seconds from t0).
    struct Change {
        var phase: Int
        var start: Double
        var duration: Double
        var factor: Double
    }

    var sampleRate: Double
    var frequency: Double
    var rms: [Double] = [230, 230, 230]
    var angles: [Double] = [0, -2 * Double.pi / 3, 2 * Double.pi / 3]
    var harmonics: [Harmonic] = []
    /// Interharmonics as absolute frequencies.
    var interharmonics: [(hertz: Double, percent: Double)] = []
    var changes: [Change] = []
    /// Currents: RMS and lag behind their voltage (radians); empty for a voltage-only signal.
    var currents: [(rms: Double, lag: Double)] = []
    var currentHarmonics: [Harmonic] = []
    /// Start time, UTC seconds.
    var t0 = 1_700_000_000.0

    func configuration(nominal: NominalFrequency = .hz50, udin: Double = 230) -> EngineConfiguration {
        var channels = (0..<rms.count).map {
            ChannelSpec(name: "U\($0 + 1)", kind: .voltage, phase: Phase.allCases[$0])
        }
        channels += (0..<currents.count).map {
            ChannelSpec(name: "I\($0 + 1)", kind: .current, phase: Phase.allCases[$0])
        }
        return EngineConfiguration(
            sampleRate: sampleRate, nominalFrequency: nominal, declaredVoltage: udin,
            channels: channels)
    }

    /// Samples [first, first + count) of every channel.
    func samples(from first: Int, count: Int) -> [[Double]] {
        var out: [[Double]] = Array(repeating: Array(repeating: 0, count: count), count: rms.count + currents.count)
        let w = 2 * Double.pi * frequency
        for k in 0..<count {
            let t = Double(first + k) / sampleRate
            for p in rms.indices {
                var factor = 1.0
                for c in changes where c.phase == p && t >= c.start && t < c.start + c.duration { factor = c.factor }
                let a = rms[p] * 2.0.squareRoot()
                var x = a * factor * sin(w * t + angles[p])
                for h in harmonics { x += a * h.percent / 100 * sin(h.order * (w * t + angles[p]) + h.phase) }
                for ih in interharmonics { x += a * ih.percent / 100 * sin(2 * Double.pi * ih.hertz * t) }
                out[p][k] = x
            }
            for (i, c) in currents.enumerated() {
                let a = c.rms * 2.0.squareRoot()
                var x = a * sin(w * t + angles[i] - c.lag)
                for h in currentHarmonics { x += a * h.percent / 100 * sin(h.order * (w * t + angles[i]) + h.phase) }
                out[rms.count + i][k] = x
            }
        }
        return out
    }

    /// Runs an engine over `seconds` of this signal in blocks of `blockSize` samples, then finishes it.
    func run(seconds: Double, blockSize: Int = 4096, configuration: EngineConfiguration? = nil) throws -> [EngineOutput]
    {
        let engine = try PowerQualityEngine(configuration: configuration ?? self.configuration())
        let total = Int(seconds * sampleRate)
        var outputs: [EngineOutput] = []
        var k = 0
        while k < total {
            let n = min(blockSize, total - k)
            outputs += try engine.process(
                SampleBlock(
                    startTime: t0 + Double(k) / sampleRate,
                    channels: samples(from: k, count: n)))
            k += n
        }
        return outputs + engine.finish()
    }
}

extension Array where Element == EngineOutput {
    var basics: [BasicWindow] { compactMap { if case .basic(let b) = $0 { b } else { nil } } }
    var frequencies: [FrequencyValue] { compactMap { if case .frequency(let f) = $0 { f } else { nil } } }
    var events: [VoltageEvent] { compactMap { if case .event(let e) = $0 { e } else { nil } } }
    var issues: [InputIssue] { compactMap { if case .inputIssue(let i) = $0 { i } else { nil } } }
    func aggregates(_ tier: AggregationTier) -> [Aggregate] {
        compactMap { if case .aggregate(let a) = $0, a.tier == tier { a } else { nil } }
    }
    /// Valid basic windows that neither start the input nor are marked.
    var cleanBasics: [BasicWindow] { basics.filter { $0.quality.isEmpty && $0.values != nil } }
    /// Valid, synchronised basic windows, flagged or not.
    var measuredBasics: [BasicWindow] {
        basics.filter { $0.values != nil && $0.quality.isDisjoint(with: [.unsynchronised, .gap]) }
    }
}
