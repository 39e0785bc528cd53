import Foundation
import XCTest

/// Replays every kept fuzz input (seeds, the minimised corpus, and every crash found) of the store's blob decoders.
final class StoreBlobCorpusTests: XCTestCase {
    func testEveryKeptFuzzInput_runsWithoutTrapping() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/store-blob")
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil).filter {
            !$0.hasDirectoryPath
        }
        XCTAssertGreaterThanOrEqual(files.count, 2, "the seeds are kept in \(dir.path)")
        for f in files { fuzzStoreBlob(Array(try Data(contentsOf: f))) }
    }
}
