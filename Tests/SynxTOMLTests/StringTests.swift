import XCTest

@testable import SynxTOML

/// TOML §String: basic and literal strings, their multi-line forms, escapes and control characters.
final class StringTests: XCTestCase {
    private func string(_ literal: String, file: StaticString = #filePath, line: UInt = #line) throws -> String? {
        Parsing.string(try Parsing.value(literal, file: file, line: line))
    }

    func testBasicString_decodesEveryEscape() throws {
        XCTAssertEqual(try string(#""a\b\t\n\f\r\"\\z""#), "a\u{8}\t\n\u{C}\r\"\\z")
    }

    func testUnicodeEscapes_fourAndEightDigits_becomeTheirScalars() throws {
        XCTAssertEqual(try string(#""\u00E9 \U0001F600 \u0000""#), "é 😀 \u{0}")
    }

    func testUnicodeEscape_ofASurrogateOrBeyondU10FFFF_isAnError() {
        XCTAssertTrue(Parsing.error(#"v = "\uD800""#)?.message.contains("not a Unicode scalar value") ?? false)
        XCTAssertTrue(Parsing.error(#"v = "\U00110000""#)?.message.contains("not a Unicode scalar value") ?? false)
    }

    func testUnicodeEscape_withTooFewHexDigits_isAnError() {
        XCTAssertTrue(Parsing.error(#"v = "\u12G4""#)?.message.contains("needs 4 hexadecimal digits") ?? false)
    }

    func testUnknownEscapes_areErrors_includingTOML11s() {
        for escape in [#"\a"#, #"\x41"#, #"\e"#, #"\/"#, #"\ "#] {
            XCTAssertTrue(
                Parsing.error("v = \"\(escape)\"")?.message.contains("invalid escape sequence") ?? false, escape)
        }
    }

    func testControlCharacters_areRejected_inEveryKindOfString_butTabIsAllowed() throws {
        for (open, close) in [("\"", "\""), ("'", "'"), ("\"\"\"", "\"\"\""), ("'''", "'''")] {
            for control in ["\u{0}", "\u{8}", "\u{1F}", "\u{7F}", "\r"] {
                XCTAssertNotNil(
                    Parsing.error("v = \(open)a\(control)b\(close)\n"), "\(open) \(control.unicodeScalars.first!.value)"
                )
            }
            XCTAssertEqual(try string("\(open)a\tb\(close)"), "a\tb")
        }
    }

    func testSingleLineStrings_cannotSpanLines() {
        XCTAssertEqual(Parsing.error("v = \"abc\ndef\"\n")?.line, 1)
        XCTAssertEqual(Parsing.error("v = 'abc\ndef'\n")?.line, 1)
    }

    func testLiteralString_keepsBackslashesAsWritten() throws {
        XCTAssertEqual(try string(#"'C:\Users\n\u0041'"#), #"C:\Users\n\u0041"#)
    }

    func testMultilineBasic_dropsTheFirstNewline_andKeepsTheOthersAsLF() throws {
        XCTAssertEqual(
            Parsing.string(try XCTUnwrap(Parsing.root("v = \"\"\"\r\none\r\ntwo\n\"\"\"\n")["v"])), "one\ntwo\n")
    }

    func testMultilineBasic_lineEndingBackslash_trimsBlanksAndNewlines() throws {
        let text = "v = \"\"\"\\\n   The quick \\   \n\n    brown \\\r\n fox.\\\n  \"\"\"\n"
        XCTAssertEqual(Parsing.string(try XCTUnwrap(Parsing.root(text)["v"])), "The quick brown fox.")
    }

    func testMultilineStrings_holdOneOrTwoQuotes_andUpToTwoBeforeTheClosingThree() throws {
        XCTAssertEqual(try string(#""""a "" b""""#), #"a "" b"#)
        XCTAssertEqual(try string(#""""a""""""#), #"a"""#)
        XCTAssertEqual(try string("'''a '' b'''''"), "a '' b''")
        XCTAssertNotNil(Parsing.error(#"v = """a""""""""#))
    }

    func testUnterminatedMultilineString_saysWhereItOpened() {
        let e = Parsing.error("a = 1\nv = '''\nnever\nclosed\n")
        XCTAssertEqual(e?.line, 5)
        XCTAssertTrue(e?.message.contains("opened at line 2") ?? false, e?.message ?? "")
    }

    func testQuotedKeys_mayHoldDotsAndBeEmpty_butNotSpanLines() throws {
        let root = try Parsing.root("\"a.b\" = 1\n\"\" . x = 3\n")
        XCTAssertEqual(Parsing.integer(try XCTUnwrap(root["a.b"])), 1)
        XCTAssertEqual(Parsing.integer(try XCTUnwrap(Parsing.table(root[""])?["x"])), 3)
        XCTAssertEqual(Parsing.integer(try XCTUnwrap(Parsing.root("'' = 2")[""])), 2)
        XCTAssertEqual(Parsing.error("\"\"\"k\"\"\" = 1")?.message, "a key cannot be a multi-line string")
    }
}
