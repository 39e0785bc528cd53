import CFFTW
import Foundation

/// Resamples one basic window, whose ends fall between samples, onto exactly M equally spaced points spanning
/// exactly its 10/12 cycles, so the DFT that follows is synchronised (IEC 61000-4-7 §4.4.1: the window must
/// equal an integer number of cycles within ±0.03 %; here the error is only the zero-crossing interpolation).
///
/// Interpolation is band-limited: a Kaiser-windowed sinc (64 taps, β = 9, ≈ 90 dB stop band), tabulated at
/// 1/256 sample and linearly interpolated. It passes everything below 0.45·fs within 10⁻⁴, so harmonics up to
/// 0.45·fs keep their amplitude (a linear or cubic interpolator loses several percent near the 50th order at
/// 6.4 kS/s). The window must have `halfWidth` samples of history on both sides in the ring.
struct SynchronousResampler {
    static let halfWidth = 32
    private static let phases = 256
    private static let beta = 9.0
    private static let table: [Double] = {
        let w = Double(halfWidth)
        let count = 2 * halfWidth * phases + 1
        func besselI0(_ x: Double) -> Double {
            var sum = 1.0, term = 1.0, k = 1.0
            while term > 1e-17 * sum { term *= (x / (2 * k)) * (x / (2 * k)); sum += term; k += 1 }
            return sum
        }
        let norm = besselI0(beta)
        return (0..<count).map { i in
            let t = Double(i) / Double(phases) - w
            let sinc = t == 0 ? 1.0 : sin(Double.pi * t) / (Double.pi * t)
            let r = t / w
            return sinc * besselI0(beta * max(0, 1 - r * r).squareRoot()) / norm
        }
    }()

    /// Writes `output.count` points spanning [a, b) of `channel` into `output`.
    static func resample(_ ring: SampleRing, channel: Int, from a: Double, to b: Double,
                         into output: UnsafeMutableBufferPointer<Double>) {
        let m = output.count, q = phases, w = halfWidth
        let step = (b - a) / Double(m)
        table.withUnsafeBufferPointer { table in
            ring.withChannel(channel) { samples, mask in
                for j in 0..<m {
                    let x = a + Double(j) * step
                    let k0 = Int(x.rounded(.down))
                    // Tap for sample k0 + 1 - w + i sits at kernel offset (x - k0) + w - 1 - i; walking i upwards
                    // walks the table downwards by one sample (q entries) per tap, at a fixed interpolation fraction.
                    let position = (x - Double(k0) + Double(w - 1) + Double(w)) * Double(q)
                    let top = Int(position)
                    let f = position - Double(top)
                    var sum = 0.0
                    var t = top
                    for k in (k0 - w + 1)...(k0 + w) {
                        let h = table[t] + f * (table[t + 1] - table[t])
                        sum += samples[k & mask] * h
                        t -= q
                    }
                    output[j] = sum
                }
            }
        }
    }
}

/// A real-input FFT of fixed length M through FFTW3 (plans are made once, under one process-wide lock because
/// FFTW's planner is not thread-safe; executing a plan is).
final class RealFFT {
    let length: Int
    let input: UnsafeMutableBufferPointer<Double>
    private let output: UnsafeMutablePointer<fftw_complex>
    private let plan: fftw_plan
    private static let plannerLock = NSLock()

    init(length: Int) {
        self.length = length
        input = UnsafeMutableBufferPointer(start: fftw_alloc_real(length), count: length)
        output = fftw_alloc_complex(length / 2 + 1)
        RealFFT.plannerLock.lock()
        plan = fftw_plan_dft_r2c_1d(Int32(length), input.baseAddress, output, UInt32(FFTW_ESTIMATE))
        RealFFT.plannerLock.unlock()
    }

    deinit {
        RealFFT.plannerLock.lock()
        fftw_destroy_plan(plan)
        RealFFT.plannerLock.unlock()
        fftw_free(input.baseAddress)
        fftw_free(output)
    }

    /// Transforms `input`; returns the RMS line spectrum C_k (k = 0 … M/2) and the complex RMS phasor of line
    /// `phasorLine` (IEC 61000-4-7 §4.4: Y_k = √2/N Σ x e^{-j2πkm/N}; the DC line is not scaled by √2).
    func spectrum(into lines: inout [Double], phasorLine: Int) -> Phasor {
        fftw_execute(plan)
        let n = Double(length), count = length / 2 + 1
        if lines.count != count { lines = Array(repeating: 0, count: count) }
        let scale = 2.0.squareRoot() / n
        for k in 0..<count {
            let c = output[k]
            let magnitude = (c.0 * c.0 + c.1 * c.1).squareRoot()
            lines[k] = k == 0 ? magnitude / n : magnitude * scale
        }
        let p = output[phasorLine]
        return Phasor(re: p.0 * scale, im: p.1 * scale)
    }
}
