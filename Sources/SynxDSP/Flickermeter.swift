import Foundation

/// The lamp–eye–brain model of IEC 61000-4-15 Ed.2 §4.3 (block 3's weighting filter): a 60 W incandescent lamp
/// at 230 V or at 120 V. The model follows the lamp voltage, not the supply frequency (both lamps are specified
/// on 50 Hz and 60 Hz supplies).
public struct FlickerLamp: Sendable, Equatable {
    /// Gain and the angular frequencies (rad/s) of `F(s) = K·ω1·s / (s² + 2λ·s + ω1²) · (1 + s/ω2) / ((1 + s/ω3)(1 + s/ω4))`.
    public var k: Double, lambda: Double, omega1: Double, omega2: Double, omega3: Double, omega4: Double
    /// The relative voltage fluctuation (ΔV/V, sinusoidal at 8.8 Hz for 230 V, 8.8 Hz for 120 V) that gives
    /// Pinst = 1 (Table 1).
    public var referenceFluctuation: Double
    /// The lamp's rated voltage.
    public var volts: Double

    /// The 230 V lamp (IEC 61000-4-15 Ed.2 Table 2 coefficients).
    public static let lamp230V = FlickerLamp(
        k: 1.74802, lambda: 2 * .pi * 4.05981, omega1: 2 * .pi * 9.15494, omega2: 2 * .pi * 2.27979,
        omega3: 2 * .pi * 1.22535, omega4: 2 * .pi * 21.9, referenceFluctuation: 0.00250, volts: 230)
    /// The 120 V lamp.
    public static let lamp120V = FlickerLamp(
        k: 1.6357, lambda: 2 * .pi * 4.167375, omega1: 2 * .pi * 9.077169, omega2: 2 * .pi * 2.939902,
        omega3: 2 * .pi * 1.394468, omega4: 2 * .pi * 17.31512, referenceFluctuation: 0.00321, volts: 120)

    /// The lamp for a supply of nominal line-to-neutral `volts`: 120 V below 180 V, else 230 V.
    public static func forNominal(volts: Double) -> FlickerLamp { volts < 180 ? .lamp120V : .lamp230V }
}

/// The IEC 61000-4-15 Ed.2 flickermeter, Class F1 (referenced by IEC 61000-4-30 §5.3), for one voltage channel.
///
/// - Block 1 (input voltage adaptor): the samples are divided by the RMS of the supply, followed by a first-order
///   filter of the mean square with a 27.3 s time constant (the standard asks for about a minute's response to a
///   level change; a step of the level is followed, a fluctuation is not).
/// - Block 2 (squaring demodulator): the normalised samples squared: the fluctuation ΔV/V appears as a
///   component of amplitude ΔV/V at the modulation frequency, beside DC and the carrier at twice the supply's.
/// - Block 3: a sixth-order Butterworth low-pass at 35 Hz (50 Hz supplies) or 42 Hz (60 Hz), a first-order
///   high-pass at 0.05 Hz, and the lamp's weighting filter (`FlickerLamp`).
/// - Block 4: squared and smoothed by a first-order low-pass of 300 ms, scaled so that the lamp's reference
///   fluctuation (0.250 % at 8.8 Hz for 230 V) gives a maximum Pinst of 1: the instantaneous flicker sensation.
/// - Block 5 (`shortTermSeverity`): Pst of the Pinst values of a 10-min interval, by exact percentiles.
///
/// Pinst is kept at `pinstRate` values a second (the standard asks for at least 50). Blocks 1 and 2 and the
/// low-pass run at the sample rate; the low-pass (−138 dB at 500 Hz) is the anti-aliasing filter for the rest of
/// block 3 and block 4, which run on every `innerDecimation`-th value, at 1–1.6 kS/s (qwtb's flicker_sim also
/// decimates after the low-pass): the flickermeter costs about a third of what it did at the full rate.
/// Pure: no I/O and no clock.
public final class Flickermeter {
    /// Pinst values a second handed to block 5.
    public static let pinstRate = 100.0
    /// The time constant of block 1's level (s).
    public static let levelTimeConstant = 27.3
    /// Seconds after the start during which no Pinst comes out: the filters start settled on a steady supply's
    /// DC, but the sudden onset of the supply's carrier rings in the low-pass and the lamp filter (the standard
    /// leaves the settling time to the implementation; pqopen-lib waits 20 s, qwtb's flicker_sim 120 s).
    public static let settlingSeconds = 5.0

    private let fs: Double
    private var meanSquare: Double?
    private let levelAlpha: Double
    /// Block 1's lowest level, (1 % of the lamp's voltage)², and the largest square of a sample, (1000 × it)².
    private let levelFloor: Double
    private let squareCap: Double
    private var highPass: Biquad
    private var lowPass: [Biquad]
    private var weighting: [Biquad]
    private let smoothingAlpha: Double
    private var smoothed = 0.0
    private let scale: Double
    private let decimation: Int
    /// Low-pass outputs per value handed on to the high-pass, a divisor of `decimation`.
    private let innerDecimation: Int
    private var innerPhase = 0
    private var phase = 0
    /// Samples still to go before Pinst values come out.
    private var settling: Int
    private let samplesPerPeriod: Int
    private var firstPeriod: [Double] = []

    /// A flickermeter for samples at `sampleRate` of a `nominalFrequency` supply, weighted for `lamp`. Class F1
    /// accuracy for the fastest rectangular changes of Table 5 (4000 a minute) needs about 4 kS/s: at 1 kS/s the
    /// steps' harmonics alias and Pst reads 9 % high (`FlickerTests`); sinusoidal fluctuations (Table 1) are met
    /// from 1.6 kS/s. Waveform meters stream 10 kS/s or more.
    public init(sampleRate: Double, nominalFrequency: NominalFrequency, lamp: FlickerLamp) {
        fs = sampleRate
        levelAlpha = 1 - exp(-1 / (Flickermeter.levelTimeConstant * sampleRate))
        levelFloor = pow(0.01 * lamp.volts, 2)
        squareCap = pow(1000 * lamp.volts, 2)
        let decimation = max(1, Int((sampleRate / Flickermeter.pinstRate).rounded()))
        self.decimation = decimation
        // The largest divisor of `decimation` that keeps the inner rate at 1 kS/s or more.
        innerDecimation = (1...decimation).last { decimation % $0 == 0 && sampleRate / Double($0) >= 1000 } ?? 1
        let inner = sampleRate / Double(innerDecimation)
        let wh = 2 * Double.pi * 0.05
        highPass = Biquad(analog: 0, 1, 0, over: 0, 1, wh, fs: inner)
        // Sixth-order Butterworth: three sections of Q 0.5176, 0.7071, 1.9319, the corner pre-warped.
        let corner = nominalFrequency == .hz50 ? 35.0 : 42.0
        let wc = 2 * sampleRate * tan(Double.pi * corner / sampleRate)
        lowPass = [0.517_638_090_2, 0.707_106_781_2, 1.931_851_652_6].map { q in
            Biquad(analog: 0, 0, wc * wc, over: 1, wc / q, wc * wc, fs: sampleRate)
        }
        let l = lamp
        weighting = [
            Biquad(analog: 0, l.k * l.omega1, 0, over: 1, 2 * l.lambda, l.omega1 * l.omega1, fs: inner),
            // (1 + s/ω2) / ((1 + s/ω3)(1 + s/ω4)) = (s/ω2 + 1) / (s²/(ω3ω4) + s(1/ω3 + 1/ω4) + 1)
            Biquad(
                analog: 0, 1 / l.omega2, 1, over: 1 / (l.omega3 * l.omega4), 1 / l.omega3 + 1 / l.omega4, 1,
                fs: inner),
        ]
        smoothingAlpha = 1 - exp(-1 / (0.3 * inner))
        settling = Int(Flickermeter.settlingSeconds * sampleRate)
        samplesPerPeriod = Int((sampleRate / nominalFrequency.hertz).rounded())
        // Block 4's scale: the reference fluctuation d at fm = 8.8 Hz reaches block 4 as A·sin(ωm t), with A = d·|H(jωm)|
        // (blocks 3's gain); squared and smoothed it is A²/2 with a ripple at 2fm of relative amplitude
        // 1/√(1 + (2ωm·τ)²), so its maximum is A²/2·(1 + ripple).
        let wm = 2 * Double.pi * 8.8
        let gain = Flickermeter.analogGain(at: wm, lamp: lamp, corner: corner)
        let a = lamp.referenceFluctuation * gain
        let ripple = 1 / (1 + pow(2 * wm * 0.3, 2)).squareRoot()
        scale = 1 / (a * a / 2 * (1 + ripple))
    }

    /// |H(jω)| of block 3 (high-pass, Butterworth low-pass and lamp weighting), from their analog prototypes.
    static func analogGain(at w: Double, lamp l: FlickerLamp, corner: Double) -> Double {
        let wh = 2 * Double.pi * 0.05
        let wc = 2 * Double.pi * corner
        let highPass = w / (w * w + wh * wh).squareRoot()
        let lowPass = 1 / (1 + pow(w / wc, 12)).squareRoot()
        // K·ω1·jω / (ω1² − ω² + j·2λω)
        let bandPass =
            l.k * l.omega1 * w / (pow(l.omega1 * l.omega1 - w * w, 2) + pow(2 * l.lambda * w, 2)).squareRoot()
        let shelf =
            (1 + pow(w / l.omega2, 2)).squareRoot()
            / ((1 + pow(w / l.omega3, 2)) * (1 + pow(w / l.omega4, 2))).squareRoot()
        return highPass * lowPass * bandPass * shelf
    }

    /// Feeds one sample (volts); returns a Pinst value when one is due: every `1/pinstRate` s from
    /// `settlingSeconds` after the first supply period, which sets block 1's level and starts the filters settled
    /// on its DC. Every flickermeter of a sample rate gives its values on the same samples, whatever the signal.
    @inline(__always)
    public func push(_ x: Double) -> Double? {
        guard let ms = meanSquare else {
            firstPeriod.append(x)
            if firstPeriod.count == samplesPerPeriod { start() }
            return nil
        }
        return step(x, meanSquare: ms)
    }

    private func start() {
        // A dead first period (an unconnected phase) starts from the floor: the schedule does not wait for a signal.
        meanSquare = max(firstPeriod.reduce(0) { $0 + min($1 * $1, squareCap) } / Double(firstPeriod.count), levelFloor)
        // A steady supply gives block 2 a DC of 1 (its mean): the filters start settled on it.
        var level = 1.0
        for i in lowPass.indices {
            lowPass[i].settle(at: level)
            level *= lowPass[i].dcGain
        }
        highPass.settle(at: level)
        let period = firstPeriod
        firstPeriod.removeAll()
        // The first period is within the settling time: no Pinst comes of it.
        for x in period { _ = step(x, meanSquare: meanSquare!) }
    }

    @inline(__always)
    private func step(_ x: Double, meanSquare ms: Double) -> Double? {
        // Block 1: the level follows the mean square slowly, never below the floor (hours of a dead line would
        // otherwise take it so near 0 that the returning supply overflows), and a sample's square is capped (a
        // finite but absurd sample would make it infinite and the filters NaN for good).
        let square = min(x * x, squareCap)
        let level = max(ms + levelAlpha * (square - ms), levelFloor)
        meanSquare = level
        // Block 2.
        let u = square / level
        // Block 3, the low-pass first: the carrier is gone before the high-pass's long memory sees it.
        var y = u
        for i in lowPass.indices { y = lowPass[i](y) }
        if settling > 0 { settling -= 1 }
        innerPhase += 1
        guard innerPhase == innerDecimation else { return nil }
        innerPhase = 0
        y = highPass(y)
        for i in weighting.indices { y = weighting[i](y) }
        // Block 4.
        smoothed += smoothingAlpha * (y * y - smoothed)
        guard settling == 0 else { return nil }
        phase += innerDecimation
        guard phase >= decimation else { return nil }
        phase = 0
        return smoothed * scale
    }

    /// Block 5: Pst of the Pinst values of one interval (10 min), from exact percentiles of their distribution:
    /// `Pst = √(0.0314·P0.1 + 0.0525·P1s + 0.0657·P3s + 0.28·P10s + 0.08·P50s)`, P_x the level exceeded x % of
    /// the time, the smoothed ones means of neighbouring levels (IEC 61000-4-15 Ed.2 §4.7.2). 0 for no values.
    public static func shortTermSeverity(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        func exceeded(_ percent: Double) -> Double {
            // The level exceeded `percent` % of the time: the (100 − percent) % quantile, interpolated.
            let position = (1 - percent / 100) * Double(sorted.count - 1)
            let i = Int(position.rounded(.down))
            let f = position - Double(i)
            return i + 1 < sorted.count ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i]
        }
        let p50s = (exceeded(30) + exceeded(50) + exceeded(80)) / 3
        let p10s = (exceeded(6) + exceeded(8) + exceeded(10) + exceeded(13) + exceeded(17)) / 5
        let p3s = (exceeded(2.2) + exceeded(3) + exceeded(4)) / 3
        let p1s = (exceeded(0.7) + exceeded(1) + exceeded(1.5)) / 3
        let p01 = exceeded(0.1)
        return (0.0314 * p01 + 0.0525 * p1s + 0.0657 * p3s + 0.28 * p10s + 0.08 * p50s).squareRoot()
    }

    /// Plt of consecutive Pst values (12 for the 2-h interval): `(Σ Pst³ / N)^(1/3)` (IEC 61000-4-15 Ed.2 §4.7.3).
    public static func longTermSeverity(_ pst: [Double]) -> Double {
        guard !pst.isEmpty else { return 0 }
        return cbrt(pst.reduce(0) { $0 + $1 * $1 * $1 } / Double(pst.count))
    }
}
