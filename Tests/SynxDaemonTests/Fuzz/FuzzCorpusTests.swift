import Foundation
import XCTest

/// Replays every kept fuzz input (seeds, the minimised corpus, and every crash found) of this module's targets.
final class FuzzCorpusTests: XCTestCase {
    func testConfigurationInputs_runWithoutTrapping() throws { try replay("config", fuzzConfiguration) }
    func testControlRequestInputs_runWithoutTrapping() throws { try replay("control-request", fuzzControlRequest) }
    func testMetricsRequestInputs_runWithoutTrapping() throws { try replay("metrics-request", fuzzMetricsRequest) }

    private func replay(_ target: String, _ body: ([UInt8]) -> Void) throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/\(target)")
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil).filter {
            !$0.hasDirectoryPath
        }
        XCTAssertGreaterThanOrEqual(files.count, 1, "the seeds are kept in \(dir.path)")
        for f in files { body(Array(try Data(contentsOf: f))) }
    }
}
