import Foundation
import XCTest

/// Replays every kept fuzz input (seeds, the minimised corpus, and every crash found) of the report period's
/// parsers.
final class ReportPeriodCorpusTests: XCTestCase {
    func testEveryKeptFuzzInput_runsWithoutTrapping() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/report-period")
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil).filter {
            !$0.hasDirectoryPath
        }
        XCTAssertGreaterThanOrEqual(files.count, 4, "the seeds are kept in \(dir.path)")
        for f in files { fuzzReportPeriod(Array(try Data(contentsOf: f))) }
    }
}
