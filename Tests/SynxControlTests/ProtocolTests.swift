import Foundation
import SynxControl
import XCTest

final class ProtocolTests: XCTestCase {
    func testRequest_encodesAsOneSortedJSONLine() throws {
        let data = try Framing.encode(Request(command: .live, meter: "main"))
        XCTAssertEqual(
            String(decoding: data, as: UTF8.self), "{\"command\":\"live\",\"meter\":\"main\",\"version\":2}\n")
    }

    func testResponse_roundTrips() throws {
        let r = Response(
            status: .ok,
            live: LiveValues(
                meter: "m", state: .online,
                values: [LiveValue(measurement: "frequency", value: 49.98, unit: "Hz", time: 5)]))
        let line = try Framing.encode(r).dropLast()
        XCTAssertEqual(try Framing.decode(Response.self, from: line), r)
    }

    func testFailure_carriesStatusAndMessage() throws {
        let line = try Framing.encode(Response.failure(.noSuchMeter, "no meter named \"x\""))
        XCTAssertEqual(
            String(decoding: line, as: UTF8.self),
            "{\"message\":\"no meter named \\\"x\\\"\",\"status\":\"noSuchMeter\",\"version\":2}\n")
    }

    func testClient_reportsAMissingDaemonClearly() {
        XCTAssertThrowsError(try ControlClient(socketPath: "/nonexistent/synxd.sock").send(Request(command: .status))) {
            error in
            XCTAssertTrue("\(error)".contains("is synxd running?"), "\(error)")
        }
    }

    /// The revision history in `Protocol.swift`'s comment and `docs/PROTOCOL.md`'s table list the same changes, row
    /// by row: the same versions in the same order, and every name a comment row quotes is in its table row.
    func testRevisionHistory_ofTheSourceAndOfTheDocument_agree() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let source = try String(
            contentsOf: root.appendingPathComponent("Sources/SynxControl/Protocol.swift"), encoding: .utf8)
        let document = try String(contentsOf: root.appendingPathComponent("docs/PROTOCOL.md"), encoding: .utf8)
        /// The capture groups of `pattern` matching the whole of `line`, or nil.
        func groups(_ pattern: String, _ line: Substring) -> [String]? {
            let text = String(line)
            let regex = try! NSRegularExpression(pattern: "^" + pattern + "$")
            guard let m = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
            return (1..<m.numberOfRanges).map { String(text[Range(m.range(at: $0), in: text)!]) }
        }
        // Comment rows: "/// - N: text", continued by "///   text".
        var comment: [(version: String, text: String)] = []
        for line in source.split(separator: "\n") {
            if let g = groups(#"/// - (\d+): (.*)"#, line) {
                comment.append((g[0], g[1]))
            } else if line.hasPrefix("///   "), !comment.isEmpty {
                comment[comment.count - 1].text += " " + line.dropFirst(6)
            }
        }
        let table = document.split(separator: "\n").compactMap { line in
            groups(#"\| (\d+) \| (.*) \|"#, line).map { (version: $0[0], text: $0[1]) }
        }
        XCTAssertEqual(comment.map(\.version), table.map(\.version))
        func names(_ text: String) -> Set<String> {
            let regex = try! NSRegularExpression(pattern: "`([^`]+)`")
            return Set(
                regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map {
                    String(text[Range($0.range(at: 1), in: text)!])
                })
        }
        for (c, t) in zip(comment, table) {
            XCTAssertTrue(
                names(c.text).isSubset(of: names(t.text)),
                "\(c.text) quotes \(names(c.text).subtracting(names(t.text))) not in: \(t.text)")
            XCTAssertFalse(names(c.text).isEmpty, c.text)
        }
    }
}
