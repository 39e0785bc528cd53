import Foundation

/// Plausible, slowly varying three-phase values for one simulated meter: voltages, currents and powers
/// consistent with each other (S = U·I, P = S·PF, Q = √(S² − P²)), line-to-line voltages from the phasors
/// at 120°, and energy counters that integrate the power.
struct PowerModel {
    let unit: Scenario.Unit
    let phase: Double
    var energyImportKWh: Double
    var energyReactiveKVArh: Double

    init(unit: Scenario.Unit, seed: UInt64) {
        self.unit = unit
        phase = Double((seed &* 2_654_435_761 &+ UInt64(unit.id) &* 40503) % 1000) / 1000 * 2 * .pi
        energyImportKWh = unit.energyStartKWh
        energyReactiveKVArh = unit.energyStartKWh / 4
    }

    /// What a PQ-capable meter (`synx-sim-pq`) computes itself for one phase: harmonic subgroups in % of the
    /// fundamental (orders 2–50), THD from them, and its own Pst and Plt.
    private func powerQuality(_ v: inout [String: Double], phase n: String, index i: Int, at t: Double) {
        let drift = sin(2 * .pi * t / 97 + Double(i))
        let voltage: [Int: Double] = [3: 1.5, 5: 3.5 + 0.5 * drift, 7: 2, 11: 1, 13: 0.8]
        let current: [Int: Double] = [3: 10, 5: 20 + 4 * drift, 7: 12, 11: 6, 13: 4]
        var voltageSquares = 0.0
        var currentSquares = 0.0
        for order in 2...50 {
            let uh = voltage[order] ?? (order % 2 == 1 ? 0.1 : 0.05)
            let ih = current[order] ?? (order % 2 == 1 ? 0.5 : 0.2)
            v["harmonic.voltage.\(n).h\(order)"] = uh
            v["harmonic.current.\(n).h\(order)"] = ih
            voltageSquares += uh * uh
            currentSquares += ih * ih
        }
        v["thd.voltage.\(n)"] = voltageSquares.squareRoot()
        v["thd.current.\(n)"] = currentSquares.squareRoot()
        v["flicker.pst.\(n)"] = 0.4 + 0.2 * sin(2 * .pi * t / 600 + Double(i))
        v["flicker.plt.\(n)"] = 0.45
    }

    /// The power-quality map's event counters since the simulator started: a dip every 5 s, a swell every 2 min,
    /// no interruption (so a report over a short test sees the meter's own counts rise).
    private func eventCounters(_ v: inout [String: Double], at t: Double) {
        v["events.dip.count"] = (t / 5).rounded(.down)
        v["events.swell.count"] = (t / 120).rounded(.down)
        v["events.interruption.count"] = 0
    }

    /// The values at `t` seconds after start; advances the energy counters by `dt` seconds.
    mutating func values(at t: Double, dt: Double) -> [String: Double] {
        var v: [String: Double] = [:]
        let u = (0..<3).map { i in unit.nominalVoltage * (1 + 0.01 * sin(2 * .pi * t / 37 + phase + Double(i))) }
        let a = (0..<3).map { i in unit.current * (1 + 0.2 * sin(2 * .pi * t / 113 + phase + 2 * Double(i))) }
        let pf = min(1, unit.powerFactor + 0.02 * sin(2 * .pi * t / 53 + phase))
        var p = 0.0
        var q = 0.0
        var s = 0.0
        for i in 0..<3 {
            let n = "l\(i + 1)"
            let si = u[i] * a[i]
            let pi = si * pf
            let qi = (si * si - pi * pi).squareRoot()
            v["voltage.\(n)n"] = u[i]
            v["current.\(n)"] = a[i]
            v["power.apparent.\(n)"] = si
            v["power.active.\(n)"] = pi
            v["power.reactive.\(n)"] = qi
            v["power_factor.\(n)"] = pf
            v["thd.voltage.\(n)"] = 2 + 0.5 * sin(2 * .pi * t / 97 + Double(i))
            v["thd.current.\(n)"] = 8 + 2 * sin(2 * .pi * t / 89 + Double(i))
            if unit.profile == "synx-sim-pq" { powerQuality(&v, phase: n, index: i, at: t) }
            p += pi
            q += qi
            s += si
        }
        for (name, i, j) in [("l12", 0, 1), ("l23", 1, 2), ("l31", 2, 0)] {
            v["voltage.\(name)"] = (u[i] * u[i] + u[j] * u[j] + u[i] * u[j]).squareRoot()  // phasors 120° apart
        }
        v["voltage.ln_avg"] = u.reduce(0, +) / 3
        if unit.profile == "synx-sim-pq" { eventCounters(&v, at: t) }
        v["unbalance.voltage.u2"] = (u.max()! - u.min()!) / (u.reduce(0, +) / 3) * 100 / 2
        v["voltage.ll_avg"] = (v["voltage.l12"]! + v["voltage.l23"]! + v["voltage.l31"]!) / 3
        v["current.n"] = abs(a[0] - (a[1] + a[2]) / 2)
        v["current.avg"] = a.reduce(0, +) / 3
        v["current.total"] = a.reduce(0, +)
        v["power.active.total"] = p
        v["power.reactive.total"] = q
        v["power.apparent.total"] = s
        v["power_factor.total"] = p / s
        v["frequency"] = 50 + 0.03 * sin(2 * .pi * t / 71 + phase)
        energyImportKWh += p * dt / 3_600_000
        energyReactiveKVArh += q * dt / 3_600_000
        v["energy.active.import"] = energyImportKWh
        v["energy.active.export"] = 0
        v["energy.reactive.import"] = energyReactiveKVArh
        v["energy.reactive.export"] = 0
        v["energy.apparent.total"] = energyImportKWh * 1.05
        for i in 1...3 {
            v["energy.active.import.l\(i)"] = energyImportKWh / 3
            v["energy.active.export.l\(i)"] = 0
        }
        return v
    }
}
