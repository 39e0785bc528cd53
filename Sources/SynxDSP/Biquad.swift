import Foundation

/// A biquad section (direct form II transposed), designed by the bilinear transform.
struct Biquad {
    var b0 = 1.0, b1 = 0.0, b2 = 0.0, a1 = 0.0, a2 = 0.0
    var z1 = 0.0, z2 = 0.0

    static func lowPass(cutoff: Double, q: Double, sampleRate: Double) -> Biquad {
        let w = 2 * Double.pi * cutoff / sampleRate
        let c = cos(w)
        let alpha = sin(w) / (2 * q)
        let a0 = 1 + alpha
        return Biquad(
            b0: (1 - c) / 2 / a0, b1: (1 - c) / a0, b2: (1 - c) / 2 / a0,
            a1: -2 * c / a0, a2: (1 - alpha) / a0)
    }

    static func highPass(cutoff: Double, q: Double, sampleRate: Double) -> Biquad {
        let w = 2 * Double.pi * cutoff / sampleRate
        let c = cos(w)
        let alpha = sin(w) / (2 * q)
        let a0 = 1 + alpha
        return Biquad(
            b0: (1 + c) / 2 / a0, b1: -(1 + c) / a0, b2: (1 + c) / 2 / a0,
            a1: -2 * c / a0, a2: (1 - alpha) / a0)
    }

    mutating func callAsFunction(_ x: Double) -> Double {
        let y = b0 * x + z1
        z1 = b1 * x - a1 * y + z2
        z2 = b2 * x - a2 * y
        return y
    }
}

extension Biquad {
    /// The section of the analog `H(s) = (n2·s² + n1·s + n0) / (d2·s² + d1·s + d0)` at `fs` by the bilinear transform
    /// (s = 2·fs·(1 − z⁻¹)/(1 + z⁻¹); pre-warp a corner first where it matters).
    init(analog n2: Double, _ n1: Double, _ n0: Double, over d2: Double, _ d1: Double, _ d0: Double, fs: Double) {
        let c = 2 * fs
        let c2 = c * c
        let a0 = d2 * c2 + d1 * c + d0
        self.init(
            b0: (n2 * c2 + n1 * c + n0) / a0, b1: (2 * n0 - 2 * n2 * c2) / a0, b2: (n2 * c2 - n1 * c + n0) / a0,
            a1: (2 * d0 - 2 * d2 * c2) / a0, a2: (d2 * c2 - d1 * c + d0) / a0)
    }

    /// The gain for a constant input.
    var dcGain: Double { (b0 + b1 + b2) / (1 + a1 + a2) }

    /// Sets the state to what a constant input `x` leaves once it has settled, so a filter started on a signal
    /// with a DC level does not ring.
    mutating func settle(at x: Double) {
        let y = dcGain * x
        z2 = b2 * x - a2 * y
        z1 = b1 * x - a1 * y + z2
    }

    /// The phase (radians) the section adds to a sinusoid of `omega` radians per sample: the argument of
    /// H(e^{jω}), in (−π, π] (a low-pass section lags by 0…π, a high-pass section leads by 0…π).
    func phase(at omega: Double) -> Double {
        let numerator = (re: b0 + b1 * cos(omega) + b2 * cos(2 * omega), im: -(b1 * sin(omega) + b2 * sin(2 * omega)))
        let denominator = (re: 1 + a1 * cos(omega) + a2 * cos(2 * omega), im: -(a1 * sin(omega) + a2 * sin(2 * omega)))
        return atan2(numerator.im, numerator.re) - atan2(denominator.im, denominator.re)
    }
}
