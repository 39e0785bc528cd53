import Foundation
import SynxControl
import XCTest

/// A waveform meter end to end: synx-sim samples a three-phase system and serves it through the waveform
/// register interface over Modbus/TCP; synxd streams it into the IEC 61000-4-30 engine; synxctl shows the
/// live 10-cycle values, the stored 150-cycle values and the events.
final class WaveformEndToEndTests: XCTestCase {
    var h: Harness!
    override func setUpWithError() throws { h = try Harness(String(name.filter(\.isLetter).suffix(24))) }
    override func tearDown() { h?.tearDown() }

    func testDipAndHarmonic_fromTheSimulatedWaveform_reachEventsLiveAndStore() throws {
        let port = try h.startSimulator(scenario: """
        [[waveform]]
        id = 5
        sample_rate = 6400
        current = 20
        harmonics = "5:4"
        [[waveform_change]]
        id = 5
        phase = 2
        from_s = 5
        duration_s = 0.1
        factor = 0.6
        """)
        try h.startDaemon(config: h.daemonSection + h.tcpBus("pq", port: port) + h.meter("pqm", bus: "pq", unit: 5, profile: "waveform"))

        var events: [EventRecord] = []
        h.waitUntil("the dip in synxctl events", timeout: 30) {
            let (code, out, _) = try h.synxctl(["events", "--meter", "pqm", "--json"])
            guard code == 0 else { return false }
            events = try JSONDecoder().decode([EventRecord].self, from: Data(out.utf8))
            return !events.isEmpty
        }
        XCTAssertEqual(events.map(\.kind), ["dip"])
        let dip = try XCTUnwrap(events.first)
        let residual = (pow(230 * 0.6, 2) + pow(230 * 0.04, 2)).squareRoot()
        XCTAssertEqual(dip.magnitude, residual, accuracy: 0.002 * 230, "Class A: ±0.2 % of Udin")
        XCTAssertEqual(Double(dip.durationMicroseconds) / 1e6, 0.1, accuracy: 0.02, "Class A: ±1 cycle")
        XCTAssertEqual(dip.worstPhase, "l2")
        XCTAssertEqual(try XCTUnwrap(dip.perPhase["l1"]), (230 * 230 + 9.2 * 9.2).squareRoot(), accuracy: 0.46)

        let (lcode, lout, lerr) = try h.synxctl(["live", "pqm", "--json"])
        XCTAssertEqual(lcode, 0, lerr)
        let live = try JSONDecoder().decode(LiveValues.self, from: Data(lout.utf8))
        let value = { (name: String) in live.values.first { $0.measurement == name }?.value }
        XCTAssertEqual(try XCTUnwrap(value("voltage.l1n")), (230 * 230 + 9.2 * 9.2).squareRoot(), accuracy: 0.23)
        XCTAssertEqual(try XCTUnwrap(value("thd.voltage.l3")), 4, accuracy: 0.2)
        XCTAssertEqual(try XCTUnwrap(value("frequency")), 50, accuracy: 0.01)
        XCTAssertEqual(try XCTUnwrap(value("current.l1")), 20 * (1 + 0.0016).squareRoot(), accuracy: 0.05)

        h.waitUntil("150-cycle values stored", timeout: 15) {
            let (code, out, _) = try h.synxctl(["query", "pqm", "voltage.l2n", "--from", "1h", "--json"])
            guard code == 0 else { return false }
            return try JSONDecoder().decode(QueryResult.self, from: Data(out.utf8)).samples.count >= 2
        }
        let (_, qout, _) = try h.synxctl(["query", "pqm", "voltage.l1n", "--from", "1h", "--json"])
        let samples = try JSONDecoder().decode(QueryResult.self, from: Data(qout.utf8)).samples
        for (a, b) in zip(samples, samples.dropFirst()) { XCTAssertEqual(Double(b.time - a.time), 3000, accuracy: 20, "150 cycles at 50 Hz") }
        XCTAssertEqual(try XCTUnwrap(samples.last?.value), (230 * 230 + 9.2 * 9.2).squareRoot(), accuracy: 0.23)
        XCTAssertEqual(try h.meter("pqm").state, .online)
    }
}
