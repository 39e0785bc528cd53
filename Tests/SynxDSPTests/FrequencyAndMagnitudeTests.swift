import XCTest

@testable import SynxDSP

/// IEC 61000-4-30 §5.1 (power frequency) and §5.2 (magnitude) against signals with known answers.
final class FrequencyAndMagnitudeTests: XCTestCase {
    private let distortion = [SyntheticSignal.Harmonic(order: 3, percent: 5), .init(order: 5, percent: 6, phase: 1)]

    func testTenSecondFrequency_withinTenMillihertz_overTheFiftyHertzTrackingRange() throws {
        for (f, fs) in [(42.5, 6_400.0), (49.5, 10_000), (50.0, 12_800), (50.73, 6_400), (57.5, 25_600)] {
            var s = SyntheticSignal(sampleRate: fs, frequency: f)
            s.harmonics = distortion
            let values = try s.run(seconds: 21).frequencies.filter { $0.quality.isEmpty }
            XCTAssertGreaterThanOrEqual(values.count, 1, "\(f) Hz at \(fs) S/s: no complete 10-s value")
            for v in values {
                XCTAssertEqual(v.start.truncatingRemainder(dividingBy: 10), 0, "10-s values are UTC aligned")
                XCTAssertEqual(try XCTUnwrap(v.hertz), f, accuracy: 0.010, "\(f) Hz at \(fs) S/s")
            }
        }
    }

    func testTenSecondFrequency_withinTenMillihertz_overTheSixtyHertzTrackingRange() throws {
        for (f, fs) in [(51.0, 6_400.0), (60.0, 10_000), (69.0, 12_800)] {
            var s = SyntheticSignal(sampleRate: fs, frequency: f)
            s.harmonics = distortion
            let values = try s.run(seconds: 21, configuration: s.configuration(nominal: .hz60)).frequencies
                .filter { $0.quality.isEmpty }
            XCTAssertGreaterThanOrEqual(values.count, 1)
            for v in values { XCTAssertEqual(try XCTUnwrap(v.hertz), f, accuracy: 0.010, "\(f) Hz at \(fs) S/s") }
        }
    }

    /// At the ends of the tracking range a 10-s value counts its interval's whole cycles as at nominal frequency
    /// (it used to count about half at 42.5 Hz, the crossings' interpolation putting every other cycle a hair
    /// outside the range). A value that is not marked counts every whole cycle of its 10 s (at most the one
    /// straddling a tick is left out); the first interval, whose first 0.1 s went to the tracker settling, is
    /// marked `incomplete` (it used to go unmarked with 4–7 cycles fewer, at 50 Hz too).
    func testTenSecondFrequency_atTheEndsOfTheTrackingRange_countsTheWholeCyclesAsAtNominal() throws {
        for (f, nominal) in [(42.5, NominalFrequency.hz50), (50.0, .hz50), (57.5, .hz50), (51.0, .hz60), (69.0, .hz60)]
        {
            let s = SyntheticSignal(sampleRate: 10_000, frequency: f)
            let values = try s.run(seconds: 21, configuration: s.configuration(nominal: nominal)).frequencies
                .filter { $0.quality.isEmpty }
            XCTAssertGreaterThanOrEqual(values.count, 1, "\(f) Hz")
            for v in values {
                XCTAssertGreaterThanOrEqual(v.cycles, Int(f * 10) - 1, "\(f) Hz: \(v.cycles) cycles counted")
                XCTAssertEqual(try XCTUnwrap(v.hertz), f, accuracy: 0.010, "\(f) Hz")
            }
        }
    }

    func testBasicWindows_areTenCyclesOfTheActualFrequency_andGapless() throws {
        let s = SyntheticSignal(sampleRate: 10_000, frequency: 49.5)
        let windows = try s.run(seconds: 3).basics
        XCTAssertGreaterThan(windows.count, 10)
        for (a, b) in zip(windows, windows.dropFirst()) { XCTAssertEqual(a.end, b.start, accuracy: 1e-9) }
        for w in windows.dropFirst() { XCTAssertEqual(w.end - w.start, 10 / 49.5, accuracy: 2e-6) }
        let twelve = try SyntheticSignal(sampleRate: 10_000, frequency: 60)
            .run(
                seconds: 2,
                configuration: SyntheticSignal(sampleRate: 10_000, frequency: 60).configuration(nominal: .hz60)
            )
            .basics
        XCTAssertEqual(try XCTUnwrap(twelve.last).end - twelve.last!.start, 12 / 60.0, accuracy: 2e-6)
    }

    func testMagnitude_withinPointOnePercentOfUdin_from10To150PercentOfUdin() throws {
        for (fraction, f, fs) in [(0.10, 50.0, 6_400.0), (0.5, 49.5, 10_000), (1.0, 50.2, 12_800), (1.5, 50.0, 25_600)]
        {
            var s = SyntheticSignal(sampleRate: fs, frequency: f)
            s.rms = [230 * fraction, 230 * fraction * 0.97, 230 * fraction * 1.02]
            s.harmonics = distortion
            let expected = s.rms.map { $0 * (1 + 0.05 * 0.05 + 0.06 * 0.06).squareRoot() }
            // Dips and swells flag these windows (10 % and 150 % of Udin); flagged values are still measured.
            let windows = try s.run(seconds: 2).measuredBasics
            XCTAssertGreaterThan(windows.count, 5)
            for w in windows {
                for p in 0..<3 {
                    XCTAssertEqual(
                        w.values!.channels[p].rms, expected[p], accuracy: 0.001 * 230,
                        "\(fraction) Udin, \(f) Hz, \(fs) S/s, L\(p + 1)")
                }
            }
        }
    }

    func testUnderAndOverDeviation_matchTheAnnexDTestVectors() {
        func values(_ u: Double) -> PowerQualityValues {
            var c = ChannelValues(
                rms: u,
                harmonics: HarmonicSpectrum(lines: Array(repeating: 0, count: 40), cyclesPerWindow: 10, orderLimit: 1))
            c.underRms = min(u, 1)
            c.overRms = max(u, 1)
            return PowerQualityValues(channels: [c], phasePower: [])
        }
        var under = ValuesAccumulator()
        var over = ValuesAccumulator()
        for _ in 0..<5 {
            under.add(values(0.7875))
            under.add(values(1))
            over.add(values(1.1917))
            over.add(values(1))
        }
        XCTAssertEqual(under.result(declaredVoltage: 1)!.channels[0].underDeviationPercent!, 9.9957, accuracy: 0.0005)
        XCTAssertEqual(under.result(declaredVoltage: 1)!.channels[0].overDeviationPercent!, 0, accuracy: 1e-12)
        XCTAssertEqual(over.result(declaredVoltage: 1)!.channels[0].overDeviationPercent!, 10.0034, accuracy: 0.0005)
    }
}
