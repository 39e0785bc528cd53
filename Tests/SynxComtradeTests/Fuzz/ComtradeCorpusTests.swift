import Foundation
import XCTest

/// Replays every kept fuzz input (seeds, the minimised corpus, and every crash found) of the COMTRADE reader.
final class ComtradeCorpusTests: XCTestCase {
    func testEveryKeptFuzzInput_runsWithoutTrapping() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/comtrade")
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil).filter {
            !$0.hasDirectoryPath
        }
        XCTAssertGreaterThanOrEqual(files.count, 2, "the seeds are kept in \(dir.path)")
        for f in files { fuzzComtrade(Array(try Data(contentsOf: f))) }
    }
}
