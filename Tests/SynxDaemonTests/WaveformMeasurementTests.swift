import SynxDSP
import SynxMeters
import XCTest

@testable import SynxDaemon

/// Every value the engine produces has a canonical measurement name with its unit (synxd and synx-analyze share
/// the table).
final class WaveformMeasurementTests: XCTestCase {
    func testEveryChannelOfEveryKindAndPhase_hasCanonicalNamesWithTheirUnits() {
        for kind in [ChannelKind.voltage, .current] {
            for phase in Phase.allCases {
                let names = CanonicalMeasurements.names(of: ChannelSpec(name: "x", kind: kind, phase: phase))
                for (name, unit) in [names.rms] + (names.thd.map { [$0] } ?? []) {
                    XCTAssertEqual(
                        Measurement.named(name)?.unit, unit,
                        "\(kind) \(phase): \(name) is not in the catalog with unit \(unit)")
                }
                XCTAssertEqual(names.thd == nil, phase == .n, "THD is measured on the phases, not on N")
            }
        }
        XCTAssertEqual(
            CanonicalMeasurements.names(of: ChannelSpec(name: "U4", kind: .voltage, phase: .n)).rms.name, "voltage.ne")
    }
}
