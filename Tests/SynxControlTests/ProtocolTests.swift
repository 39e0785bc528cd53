import Foundation
import SynxControl
import XCTest

final class ProtocolTests: XCTestCase {
    func testRequest_encodesAsOneSortedJSONLine() throws {
        let data = try Framing.encode(Request(command: .live, meter: "main"))
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "{\"command\":\"live\",\"meter\":\"main\",\"version\":2}\n")
    }

    func testResponse_roundTrips() throws {
        let r = Response(status: .ok, live: LiveValues(meter: "m", state: .online,
                                                      values: [LiveValue(measurement: "frequency", value: 49.98, unit: "Hz", time: 5)]))
        let line = try Framing.encode(r).dropLast()
        XCTAssertEqual(try Framing.decode(Response.self, from: line), r)
    }

    func testFailure_carriesStatusAndMessage() throws {
        let line = try Framing.encode(Response.failure(.noSuchMeter, "no meter named \"x\""))
        XCTAssertEqual(String(decoding: line, as: UTF8.self), "{\"message\":\"no meter named \\\"x\\\"\",\"status\":\"noSuchMeter\",\"version\":2}\n")
    }

    func testClient_reportsAMissingDaemonClearly() {
        XCTAssertThrowsError(try ControlClient(socketPath: "/nonexistent/synxd.sock").send(Request(command: .status))) { error in
            XCTAssertTrue("\(error)".contains("is synxd running?"), "\(error)")
        }
    }
}
