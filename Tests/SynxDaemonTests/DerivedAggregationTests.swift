import SynxMeters
import SynxStore
import XCTest

@testable import SynxDaemon

/// Meter-derived aggregation of polled values: RMS-of-RMS, means, counter increases across rollovers and
/// resets, coverage, UTC-aligned tiers.
final class DerivedAggregationTests: XCTestCase {
    private func meter() throws -> MeterConfig {
        try DaemonConfig.parse(
            text: """
                [[bus]]
                name = "b"
                type = "tcp"
                host = "h"
                [[meter]]
                name = "m"
                bus = "b"
                unit = 1
                profile = "synx-sim"
                slow_poll_interval_ms = 1000
                """, file: "t"
        ).meters[0]
    }

    private func point(_ name: String, _ m: MeterConfig) -> RegisterPoint {
        m.profile.points.first { $0.measurement.name == name }!
    }

    func testThreeSecondTier_rmsMeanCoverage_andACounterRollover() throws {
        let m = try meter()
        let aggregator = DerivedAggregator(meter: m)
        let u = point("voltage.l1n", m)
        let f = point("frequency", m)
        let e = point("energy.active.import", m)
        XCTAssertEqual(e.type, .acc32)
        let wrap = 4_294_967_296 * e.scale
        let t0: Int64 = 1_800_000_000_000  // a multiple of 3 s
        var closed: [DerivedRow] = []
        // Interval [t0, t0+3s): polls at 0 s and 2 s (the 1-s poll failed): coverage 2/3.
        closed += aggregator.add([(u, 230), (f, 50.0), (e, wrap - 0.05)], time: t0)
        closed += aggregator.add([(u, 240), (f, 50.2), (e, wrap - 0.01)], time: t0 + 2000)
        XCTAssertTrue(closed.isEmpty)
        // The next interval: the counter rolls over (wrap − 0.01 → 0.02 is an increase of 0.03).
        closed += aggregator.add([(u, 231), (f, 49.9), (e, 0.02)], time: t0 + 3000)
        let three = closed.filter { $0.tier == "3s" }
        XCTAssertEqual(three.count, 3)
        let voltage = try XCTUnwrap(three.first { $0.measurement == "voltage.l1n" })
        XCTAssertEqual(voltage.value, ((230.0 * 230 + 240 * 240) / 2).squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(voltage.method, .rms)
        XCTAssertEqual(voltage.endMs, t0 + 3000)
        XCTAssertEqual(voltage.coverage, 2.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(three.first { $0.measurement == "frequency" }).value, 50.1, accuracy: 1e-9)
        XCTAssertEqual(
            try XCTUnwrap(three.first { $0.measurement == "energy.active.import" }).value, 0.04, accuracy: 1e-9)

        closed = aggregator.add([(u, 231), (f, 50), (e, 0.03)], time: t0 + 6000)
        let energy = try XCTUnwrap(closed.first { $0.tier == "3s" && $0.measurement == "energy.active.import" })
        XCTAssertEqual(energy.value, 0.03, accuracy: 1e-9, "the rollover is an increase, not a fall of 4.3 GWh")
        XCTAssertEqual(energy.notes, ["rollover"])
        XCTAssertEqual(energy.method, .increase)
    }

    func testCounterReset_countsFromZero_andTiersAreUTCAligned() throws {
        let m = try meter()
        let aggregator = DerivedAggregator(meter: m)
        let e = point("energy.active.import", m)
        let t0: Int64 = 1_800_000_000_000
        _ = aggregator.add([(e, 1000)], time: t0)
        _ = aggregator.add([(e, 1001)], time: t0 + 1000)
        _ = aggregator.add([(e, 0.5)], time: t0 + 2000)  // the meter's counter was reset
        let closed = aggregator.add([(e, 0.6)], time: t0 + 600_000)
        let three = try XCTUnwrap(closed.first { $0.tier == "3s" })
        XCTAssertEqual(three.value, 1.5, accuracy: 1e-9)
        XCTAssertEqual(three.notes, ["reset"])
        let tenMinutes = try XCTUnwrap(closed.first { $0.tier == "10min" })
        XCTAssertEqual(tenMinutes.endMs % 600_000, 0)
        XCTAssertEqual(tenMinutes.endMs, t0 + 600_000)
        XCTAssertEqual(tenMinutes.expected, 600)
    }

    /// A Pst or Plt the meter computed itself (a profile mapping `flicker.pst.l1`) is a statistic over the
    /// meter's own interval: stored as polled, never averaged into a meter-derived tier.
    func testFlickerSeverities_areNotAggregatedAgain() throws {
        let m = try meter()
        let aggregator = DerivedAggregator(meter: m)
        let u = point("voltage.l1n", m)
        var pst = u
        pst.measurement = try XCTUnwrap(Measurement.named("flicker.pst.l1"))
        XCTAssertEqual(pst.measurement.kind, .severity)
        let t0: Int64 = 1_800_000_000_000
        var closed = aggregator.add([(u, 230), (pst, 0.8)], time: t0)
        closed += aggregator.add([(u, 230), (pst, 0.9)], time: t0 + 3000)
        XCTAssertEqual(closed.map(\.measurement), ["voltage.l1n"])
        XCTAssertNil(DerivedAggregator.method(for: pst.measurement))
    }
}
