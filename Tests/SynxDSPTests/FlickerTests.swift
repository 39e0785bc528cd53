import Foundation
import XCTest

@testable import SynxDSP

/// The IEC 61000-4-15 Ed.2 flickermeter against the standard's tables (230 V lamp, 50 Hz supply;
/// `../shared/reference/pq-methods.md` §3.2): sinusoidal fluctuations giving Pinst,max = 1 ± 8 % (Table 1a), and
/// rectangular changes giving Pst = 1 ± 5 % (Table 5), with Pst linear in ΔV/V.
final class FlickerTests: XCTestCase {
    /// `seconds` of √2·230·sin(2π·50·t)·(1 + d/2·m(t)) at `fs`, m a sine of `fm` Hz or, `rectangular`, its sign
    /// (the test-signal convention of the standard: d = ΔV/V, peak to peak).
    private func signal(fs: Double, seconds: Double, d: Double, fm: Double, rectangular: Bool) -> [Double] {
        (0..<Int(seconds * fs)).map { k in
            let t = Double(k) / fs
            let s = sin(2 * .pi * fm * t)
            let m = rectangular ? (s >= 0 ? 1.0 : -1.0) : s
            return 2.0.squareRoot() * 230 * sin(2 * .pi * 50 * t) * (1 + d / 2 * m)
        }
    }

    private func pinst(fs: Double, seconds: Double, d: Double, fm: Double, rectangular: Bool = false) -> [Double] {
        let meter = Flickermeter(sampleRate: fs, nominalFrequency: .hz50, lamp: .lamp230V)
        meter.process(signal(fs: fs, seconds: seconds, d: d, fm: fm, rectangular: rectangular))
        return meter.takeInstantaneous()
    }

    /// Table 1a (Ed.2): ΔV/V (%) of a sinusoidal fluctuation at each frequency that gives Pinst,max = 1.00.
    static let table1: [(hz: Double, percent: Double)] = [
        (0.5, 2.325), (1, 1.397), (1.5, 1.067), (2, 0.879), (2.5, 0.747), (3, 0.645), (3.5, 0.564), (4, 0.497),
        (4.5, 0.442), (5, 0.396), (5.5, 0.357), (6, 0.325), (6.5, 0.300), (7, 0.280), (7.5, 0.265), (8, 0.256),
        (8.8, 0.250), (9.5, 0.254), (10, 0.261), (10.5, 0.271), (11, 0.283), (11.5, 0.298), (12, 0.314),
        (13, 0.351), (14, 0.393), (15, 0.438), (16, 0.486), (17, 0.537), (18, 0.590), (19, 0.646), (20, 0.704),
        (21, 0.764), (22, 0.828), (23, 0.894), (24, 0.964), (25, 1.037), (33.3333, 2.128),
    ]

    func testSinusoidalFluctuations_ofTable1_givePinstMaxOfOne_within8Percent() {
        let fs = 1600.0
        for row in Self.table1 {
            let window = max(4, 3 / row.hz)
            let values = pinst(
                fs: fs, seconds: Flickermeter.settlingSeconds + 1 + window, d: row.percent / 100, fm: row.hz)
            let max = values.dropFirst(Int(Flickermeter.pinstRate)).max() ?? 0
            XCTAssertEqual(max, 1, accuracy: 0.08, "\(row.hz) Hz, ΔV/V \(row.percent) %")
        }
    }

    /// Table 5 (Ed.2): ΔV/V (%) of rectangular changes at each rate (changes per minute) that gives Pst = 1.00.
    static let table5: [(cpm: Double, percent: Double)] = [
        (1, 2.715), (2, 2.191), (7, 1.450), (39, 0.894), (110, 0.722), (1620, 0.407), (4000, 2.343),
    ]

    func testRectangularChanges_ofTable5_givePstOfOne_within5Percent_andPstIsLinearInTheFluctuation() {
        // 4 kS/s for the fast changes, whose steps' harmonics alias at 1 kS/s (Pst 9 % high at 4000 a minute).
        func pst(_ cpm: Double, _ percent: Double) -> Double {
            let values = pinst(
                fs: cpm >= 1000 ? 4000 : 1000, seconds: 610, d: percent / 100, fm: cpm / 120, rectangular: true)
            return Flickermeter.shortTermSeverity(Array(values.suffix(Int(600 * Flickermeter.pinstRate))))
        }
        for row in Self.table5 {
            XCTAssertEqual(
                pst(row.cpm, row.percent), 1, accuracy: 0.05, "\(row.cpm) changes/min, ΔV/V \(row.percent) %")
        }
        // Linearity (Ed.2 §6): ΔV/V scaled by 0.1…5 scales Pst the same, within 5 %.
        for factor in [0.1, 0.5, 2, 5] {
            XCTAssertEqual(pst(110, 0.722 * factor), factor, accuracy: 0.05 * factor, "110 changes/min × \(factor)")
        }
    }

    func testSteadySupply_hasNoFlicker_andPltIsTheCubicMeanOfPst() {
        let values = pinst(fs: 1600, seconds: 20, d: 0, fm: 1)
        XCTAssertEqual(values.count, Int((20 - Flickermeter.settlingSeconds) * Flickermeter.pinstRate), accuracy: 2)
        // What is left is the supply's carrier (twice its frequency after block 2) that leaks through the
        // standard's 35-Hz Butterworth (−55 dB at 100 Hz) and the lamp filter: Pinst 1.5·10⁻⁴, Pst 0.009.
        XCTAssertLessThan(values.max() ?? 1, 2e-4, "no start-up transient once settled")
        XCTAssertLessThan(Flickermeter.shortTermSeverity(values), 0.01)
        XCTAssertEqual(Flickermeter.longTermSeverity(Array(repeating: 0.8, count: 12)), 0.8, accuracy: 1e-12)
        XCTAssertEqual(
            Flickermeter.longTermSeverity([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), cbrt(1.0 / 12), accuracy: 1e-12)
    }
}
