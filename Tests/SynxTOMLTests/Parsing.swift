import XCTest

@testable import SynxTOML

/// Shorthands the parser's tests share.
enum Parsing {
    static func root(_ text: String) throws -> TOMLTable { try TOMLParser.parse(Array(text.utf8)) }

    /// The value of `key` in a one-line document `key = <literal>`.
    static func value(_ literal: String, file: StaticString = #filePath, line: UInt = #line) throws -> TOMLValue {
        let root = try root("v = \(literal)\n")
        return try XCTUnwrap(root["v"], file: file, line: line)
    }

    /// The error `text` is rejected with; fails the test if it is accepted.
    static func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> TOMLSyntaxError? {
        do {
            _ = try root(text)
            XCTFail("accepted: \(text.debugDescription)", file: file, line: line)
        } catch let error as TOMLSyntaxError {
            return error
        } catch {
            XCTFail("not a TOMLSyntaxError: \(error)", file: file, line: line)
        }
        return nil
    }

    static func string(_ value: TOMLValue) -> String? {
        if case .string(let s) = value { return s }
        return nil
    }

    static func integer(_ value: TOMLValue) -> Int64? {
        if case .integer(let i) = value { return i }
        return nil
    }

    static func float(_ value: TOMLValue) -> Double? {
        if case .float(let d) = value { return d }
        return nil
    }

    static func table(_ value: TOMLValue?) -> TOMLTable? {
        if case .table(let t)? = value { return t }
        return nil
    }

    static func array(_ value: TOMLValue?) -> TOMLArray? {
        if case .array(let a)? = value { return a }
        return nil
    }
}
