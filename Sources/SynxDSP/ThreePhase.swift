/// Quantities that combine channels of one basic window: unbalance (IEC 61000-4-30 §5.7, NEMA MG1) and powers
/// (IEEE 1459-2010), from the windows' fundamental phasors and sample-domain means.
struct ThreePhase {
    var voltageUnbalance: Unbalance?
    var currentUnbalance: Unbalance?
    var phasePower: [PhasePower] = []
    var totalPower: TotalPower?

    /// `mean(x, y)` is the window mean of the product of channels x and y.
    init(configuration cfg: EngineConfiguration, phasors: [Phasor], rms: [Double], mean: (Int, Int) -> Double) {
        let lines: [Phase] = [.l1, .l2, .l3]
        let u = lines.compactMap { cfg.channel(.voltage, $0) }
        let i = lines.compactMap { cfg.channel(.current, $0) }
        func lineToLine(_ x: Int, _ y: Int) -> Double {
            max(0, mean(x, x) + mean(y, y) - 2 * mean(x, y)).squareRoot()
        }
        var ll: [Double] = []
        if u.count == 3 {
            ll = [lineToLine(u[0], u[1]), lineToLine(u[1], u[2]), lineToLine(u[2], u[0])]
            voltageUnbalance = Unbalance(phasors[u[0]], phasors[u[1]], phasors[u[2]])
            voltageUnbalance?.nemaPercent = Unbalance.nemaPercent(lineToLine: ll)
        }
        if i.count == 3 { currentUnbalance = Unbalance(phasors[i[0]], phasors[i[1]], phasors[i[2]]) }

        for phase in lines {
            guard let v = cfg.channel(.voltage, phase), let c = cfg.channel(.current, phase) else { continue }
            let s1 = phasors[v] * phasors[c].conjugate
            var p = PhasePower(
                phase: phase, activeW: mean(v, c), fundamentalActiveW: s1.re,
                fundamentalReactiveVar: s1.im, apparentVA: rms[v] * rms[c], fundamentalApparentVA: 0,
                nonFundamentalApparentVA: 0, powerFactor: 0, displacementPowerFactor: 0)
            p.deriveFactors()
            phasePower.append(p)
        }
        guard !phasePower.isEmpty else { return }
        var se = phasePower.reduce(0) { $0 + $1.apparentVA }
        if phasePower.count == 3 {
            // IEEE 1459-2010 §3.2.2.5, four-wire: Ue from phase and line voltages, Ie including the neutral.
            let phaseSquares = u.reduce(0) { $0 + rms[$1] * rms[$1] }
            let ue = ((3 * phaseSquares + ll.reduce(0) { $0 + $1 * $1 }) / 18).squareRoot()
            let neutralSquare: Double
            if let n = cfg.channel(.current, .n) {
                neutralSquare = rms[n] * rms[n]
            } else {
                neutralSquare = max(0, i.reduce(0.0) { sum, x in sum + i.reduce(0.0) { $0 + mean(x, $1) } })
            }
            let ie = ((i.reduce(0) { $0 + rms[$1] * rms[$1] } + neutralSquare) / 3).squareRoot()
            se = 3 * ue * ie
        }
        var total = TotalPower(
            activeW: phasePower.reduce(0) { $0 + $1.activeW },
            fundamentalActiveW: phasePower.reduce(0) { $0 + $1.fundamentalActiveW },
            fundamentalReactiveVar: phasePower.reduce(0) { $0 + $1.fundamentalReactiveVar },
            effectiveApparentVA: se, powerFactor: 0, displacementPowerFactor: 0)
        total.deriveFactors()
        totalPower = total
    }
}

extension Unbalance {
    /// Symmetrical components of three fundamental phasors, IEC 61000-4-30 §5.7.1 (a = e^{j2π/3}):
    /// U1 = (Ua + a·Ub + a²·Uc)/3, U2 = (Ua + a²·Ub + a·Uc)/3, U0 = (Ua + Ub + Uc)/3; u2 = |U2|/|U1|, u0 = |U0|/|U1|.
    public init(_ a: Phasor, _ b: Phasor, _ c: Phasor) {
        let op = Phasor(magnitude: 1, angle: 2 * Double.pi / 3)
        let op2 = op * op
        let positive = (a + op * b + op2 * c) * (1.0 / 3)
        let negative = (a + op2 * b + op * c) * (1.0 / 3)
        let zero = (a + b + c) * (1.0 / 3)
        let u1 = positive.magnitude
        self.init(
            negativeSequencePercent: u1 > 0 ? negative.magnitude / u1 * 100 : 0,
            zeroSequencePercent: u1 > 0 ? zero.magnitude / u1 * 100 : 0, nemaPercent: nil)
    }

    /// NEMA MG1 line-voltage unbalance: 100 · max |U_LL,i − mean| / mean of the three line-to-line RMS values.
    public static func nemaPercent(lineToLine v: [Double]) -> Double {
        let mean = v.reduce(0, +) / Double(v.count)
        return mean > 0 ? v.map { abs($0 - mean) }.max()! / mean * 100 : 0
    }
}
