import Foundation
import XCTest

@testable import SynxTOML

/// The official TOML test suite (https://github.com/toml-lang/toml-test), the cases its list
/// `files-toml-1.0.0` names: every `valid/…toml` must parse to the values of its `.json` (toml-test's tagged
/// JSON), every `invalid/…toml` must be rejected. The suite is not in this repository: scripts/peer-venv
/// fetches the pinned version (scripts/fetch-toml-test) into .build-deps/toml-test.
final class ConformanceTests: XCTestCase {
    static let suite = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build-deps/toml-test/tests")

    /// The suite's cases for TOML 1.0.0, or a failure saying how to get them (never a skip).
    private func cases(_ kind: String) throws -> [String] {
        let list = Self.suite.appendingPathComponent("files-toml-1.0.0")
        guard let text = try? String(contentsOf: list, encoding: .utf8) else {
            XCTFail("the toml-test suite is missing (\(list.path)): run scripts/peer-venv")
            return []
        }
        let names = text.split(separator: "\n").map(String.init).filter {
            $0.hasPrefix(kind + "/") && $0.hasSuffix(".toml")
        }
        XCTAssertFalse(names.isEmpty, "no \(kind) cases in \(list.path)")
        return names
    }

    private func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Self.suite.appendingPathComponent(name)))
    }

    func testValidCases_parseToTheValuesOfTheirJSON() throws {
        var passed = 0
        let names = try cases("valid")
        for name in names {
            let expected = try JSONSerialization.jsonObject(
                with: Data(contentsOf: Self.suite.appendingPathComponent(String(name.dropLast(5)) + ".json")))
            do {
                let root = try TOMLParser.parse(try bytes(name))
                if let problem = TaggedJSON.mismatch(.table(root), expected, at: "") {
                    XCTFail("\(name): \(problem)")
                } else {
                    passed += 1
                }
            } catch {
                XCTFail("\(name): rejected: \(error)")
            }
        }
        print("toml-test valid (TOML 1.0.0): \(passed)/\(names.count) parsed to the expected values")
    }

    func testInvalidCases_areRejectedWithALine() throws {
        var rejected = 0
        let names = try cases("invalid")
        for name in names {
            let input = try bytes(name)
            do {
                _ = try TOMLParser.parse(input)
                XCTFail("\(name): accepted")
            } catch let error as TOMLSyntaxError {
                let lines = input.filter { $0 == UInt8(ascii: "\n") }.count + 1
                XCTAssertTrue((1...lines).contains(error.line) && error.column >= 1, "\(name): \(error)")
                rejected += 1
            }
        }
        print("toml-test invalid (TOML 1.0.0): \(rejected)/\(names.count) rejected")
    }
}
