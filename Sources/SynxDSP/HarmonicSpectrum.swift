import Foundation

/// A complex RMS phasor (cosine reference, angle relative to the start of its basic window).
public struct Phasor: Sendable, Equatable, Codable {
    public var re: Double
    public var im: Double
    /// The phasor `re + j·im`.
    public init(re: Double, im: Double) {
        self.re = re
        self.im = im
    }
    /// The phasor of `magnitude` at `angle` (radians).
    public init(magnitude: Double, angle: Double) {
        re = magnitude * cos(angle)
        im = magnitude * sin(angle)
    }

    public var magnitude: Double { (re * re + im * im).squareRoot() }
    public var angle: Double { atan2(im, re) }

    static func + (a: Phasor, b: Phasor) -> Phasor { Phasor(re: a.re + b.re, im: a.im + b.im) }
    static func * (a: Phasor, b: Phasor) -> Phasor {
        Phasor(re: a.re * b.re - a.im * b.im, im: a.re * b.im + a.im * b.re)
    }
    static func * (a: Phasor, s: Double) -> Phasor { Phasor(re: a.re * s, im: a.im * s) }
    var conjugate: Phasor { Phasor(re: re, im: -im) }
}

/// Harmonic and interharmonic content of one channel over one basic window, IEC 61000-4-7 §3 and §5.5–5.6
/// (Class I): harmonic subgroups G_sg,n and groups G_g,n for n = 1 … order limit (index 0 holds the DC line),
/// interharmonic centred subgroups C_isg,n between orders n and n+1, THDS and PWHD (orders 14–40) in percent of
/// the fundamental subgroup. Values are RMS in the channel's unit. Orders whose group reaches above 0.42·fs are not
/// measured at the channel's sample rate and are left out (the arrays are shorter).
public struct HarmonicSpectrum: Sendable, Equatable, Codable {
    public var subgroups: [Double]
    public var groups: [Double]
    public var interharmonicCentredSubgroups: [Double]
    public var thdsPercent: Double
    public var pwhdPercent: Double

    enum CodingKeys: String, CodingKey {
        case subgroups, groups
        case interharmonicCentredSubgroups = "interharmonic_centred_subgroups"
        case thdsPercent = "thds_percent"
        case pwhdPercent = "pwhd_percent"
    }

    /// Groups the RMS DFT lines C_k of a window of `cyclesPerWindow` cycles (5 Hz lines at 50 Hz).
    public init(lines c: [Double], cyclesPerWindow nc: Int, orderLimit: Int) {
        let half = nc / 2
        let top = max(1, min(orderLimit, (c.count - 1 - half) / nc))
        func sq(_ k: Int) -> Double { k >= 0 && k < c.count ? c[k] * c[k] : 0 }
        var subgroups = [c.first ?? 0]
        var groups = [c.first ?? 0]
        var inter: [Double] = []
        for n in 1...top {
            let k = n * nc
            subgroups.append((sq(k - 1) + sq(k) + sq(k + 1)).squareRoot())
            var g = (sq(k - half) + sq(k + half)) / 2
            for i in (1 - half)..<half { g += sq(k + i) }
            groups.append(g.squareRoot())
        }
        for n in 0..<top {
            var s = 0.0
            for i in 2...(nc - 2) { s += sq(n * nc + i) }
            inter.append(s.squareRoot())
        }
        self.subgroups = subgroups
        self.groups = groups
        interharmonicCentredSubgroups = inter
        let fundamental = subgroups[1]
        var thd = 0.0
        var pwhd = 0.0
        for n in stride(from: 2, through: top, by: 1) {
            let r = subgroups[n] / fundamental
            thd += r * r
            if n >= 14 && n <= 40 { pwhd += Double(n) * r * r }
        }
        thdsPercent = fundamental > 0 ? thd.squareRoot() * 100 : 0
        pwhdPercent = fundamental > 0 ? pwhd.squareRoot() * 100 : 0
    }

    init(
        subgroups: [Double], groups: [Double], interharmonicCentredSubgroups: [Double],
        thdsPercent: Double, pwhdPercent: Double
    ) {
        self.subgroups = subgroups
        self.groups = groups
        self.interharmonicCentredSubgroups = interharmonicCentredSubgroups
        self.thdsPercent = thdsPercent
        self.pwhdPercent = pwhdPercent
    }

    /// Highest harmonic order held.
    public var orderLimit: Int { subgroups.count - 1 }
}
