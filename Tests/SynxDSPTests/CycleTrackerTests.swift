import Foundation
import XCTest

@testable import SynxDSP

/// Cycle boundaries (the starts of the 10/12-cycle windows, §4.4, and of the Urms½ windows, §5.4.1) fall on the
/// fundamental's zero crossings across the tracking range, whatever phase the tracker's filters add.
final class CycleTrackerTests: XCTestCase {
    private func boundaries(
        nominal: NominalFrequency, frequency f: Double, fs: Double = 10_000, seconds: Double = 1
    )
        -> [Double]
    {
        let configuration = EngineConfiguration(
            sampleRate: fs, nominalFrequency: nominal, declaredVoltage: 230,
            channels: [ChannelSpec(name: "U1", kind: .voltage, phase: .l1)])
        var tracker = CycleTracker(configuration: configuration)
        var found: [Double] = []
        let phase0 = 0.3  // rad: the first crossing is not at sample 0
        for k in 0..<Int(seconds * fs) {
            let x = 230 * 2.0.squareRoot() * sin(2 * Double.pi * f * Double(k) / fs + phase0)
            tracker.push(x, index: k) { if $0.measured { found.append($0.position) } }
        }
        return found
    }

    func testBoundaries_fallWithinTwoSamplesOfTheFundamentalsPositiveZeroCrossings_acrossTheTrackingRange() {
        let fs = 10_000.0
        for (nominal, frequencies) in [(NominalFrequency.hz50, [42.5, 45, 50, 55, 57.5]), (.hz60, [51.0, 60, 69])] {
            for f in frequencies {
                let found = boundaries(nominal: nominal, frequency: f, fs: fs)
                XCTAssertGreaterThan(found.count, Int(f / 2), "\(f) Hz")
                for p in found.suffix(10) {
                    // Positive-going crossings of sin(2πf·k/fs + 0.3) are at k = (n − 0.3/2π)·fs/f.
                    let cycles = p * f / fs + 0.3 / (2 * .pi)
                    let error = (cycles - cycles.rounded()) * fs / f
                    XCTAssertEqual(
                        error, 0, accuracy: 2, "\(nominal) system at \(f) Hz: boundary \(p) is \(error) samples off")
                }
            }
        }
    }
}
