import XCTest

@testable import SynxTOML

/// TOML §Table, §Keys, §Inline Table, §Array of Tables: what may define or extend a table, and the lines the
/// parser records.
final class TableTests: XCTestCase {
    func testDottedKeys_buildNestedTables() throws {
        let root = try Parsing.root("a.b.c = 1\na . b . d = 2\n")
        let b = try XCTUnwrap(Parsing.table(Parsing.table(root["a"])?["b"]))
        XCTAssertEqual(b.entries.keys.sorted(), ["c", "d"])
    }

    func testAKeyDefinedTwice_isAnError_naming_theFirstLine() {
        let e = Parsing.error("name = 1\n\nname = 2\n")
        XCTAssertEqual(e?.line, 3)
        XCTAssertEqual(e?.message, "name is already defined (line 1)")
    }

    func testATableDefinedTwice_isAnError() {
        XCTAssertEqual(Parsing.error("[a]\nx = 1\n[a]\n")?.message, "table [a] is already defined (line 1)")
        XCTAssertNotNil(Parsing.error("[a.b]\n[a]\n[a]\n"))
    }

    func testATableImpliedByADeeperHeader_mayBeDefinedOnceLater() throws {
        let root = try Parsing.root("[a.b]\nx = 1\n[a]\ny = 2\n")
        let a = try XCTUnwrap(Parsing.table(root["a"]))
        XCTAssertEqual(a.entries.keys.sorted(), ["b", "y"])
        XCTAssertEqual(a.line, 3, "the line of its own header, once it has one")
    }

    func testATableMadeByDottedKeys_cannotBeDefinedByAHeader_butMayHoldSubTables() throws {
        XCTAssertNotNil(Parsing.error("[fruit]\napple.color = 'red'\n[fruit.apple]\n"))
        let root = try Parsing.root("[fruit]\napple.color = 'red'\n[fruit.apple.texture]\nsmooth = true\n")
        XCTAssertNotNil(Parsing.table(Parsing.table(Parsing.table(root["fruit"])?["apple"])?["texture"]))
    }

    func testDottedKeys_cannotExtendATableDefinedByAHeader() {
        XCTAssertNotNil(Parsing.error("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n"))
        XCTAssertNotNil(Parsing.error("[a.b]\n[a]\nb.x = 1\n"))
    }

    func testInlineTables_areCompleteAsWritten() {
        XCTAssertNotNil(Parsing.error("a = {x = 1}\na.y = 2\n"))
        XCTAssertNotNil(Parsing.error("a = {x = 1}\n[a]\n"))
        XCTAssertEqual(
            Parsing.error("a = {x = 1}\n[a.b]\n")?.message,
            "a is already defined as an inline table (line 1), so [a.b] cannot extend it")
        XCTAssertNotNil(Parsing.error("a = {x = 1, x = 2}\n"))
    }

    func testInlineTables_onOneLine_withDottedKeys_noTrailingComma() throws {
        let root = try Parsing.root("p = { name.first = 'Ada', name.last = 'Lovelace', tags = [\n 'x',\n] }\n")
        XCTAssertEqual(Parsing.table(Parsing.table(root["p"])?["name"])?.entries.count, 2)
        XCTAssertNotNil(Parsing.error("p = { a = 1, }\n"))
        XCTAssertNotNil(Parsing.error("p = { a = 1,\n b = 2 }\n"))
    }

    func testArraysOfTables_appendInOrder_andHeadersBelowGoIntoTheLatest() throws {
        let root = try Parsing.root("[[m]]\nn = 1\n[m.opts]\nx = 1\n[[m]]\nn = 2\n[[m.sub]]\n[[m.sub]]\n")
        let m = try XCTUnwrap(Parsing.array(root["m"]))
        XCTAssertEqual(m.items.count, 2)
        XCTAssertNotNil(Parsing.table(m.items[0]).flatMap { Parsing.table($0["opts"]) })
        XCTAssertEqual(Parsing.table(m.items[1]).flatMap { Parsing.array($0["sub"]) }?.items.count, 2)
    }

    func testArrayOfTables_andStaticArray_andTable_doNotMix() {
        XCTAssertEqual(
            Parsing.error("a = [1]\n[[a]]\n")?.message,
            "[[a]] cannot extend a: it is an array written as a value (line 1)")
        XCTAssertNotNil(Parsing.error("a = [{}]\n[a.b]\n"))
        XCTAssertNotNil(Parsing.error("[a]\n[[a]]\n"))
        XCTAssertNotNil(Parsing.error("[[a]]\n[a]\n"))
        XCTAssertNotNil(Parsing.error("[[a.b]]\n[[a]]\n"), "a was implied as a table before [[a]]")
    }

    func testArrays_spanLines_withCommentsAndATrailingComma_andMixTypes() throws {
        let root = try Parsing.root("a = [ # first\n  1, 'two',\n  # between\n  [3.0], {x = 4},\n]\n")
        XCTAssertEqual(Parsing.array(root["a"])?.items.count, 4)
        XCTAssertNotNil(Parsing.error("a = [1,,2]\n"))
        XCTAssertNotNil(Parsing.error("a = [,]\n"))
        XCTAssertNotNil(Parsing.error("a = [1 2]\n"))
    }

    func testLines_ofHeadersAndKeys_areRecordedAsMet() throws {
        let text =
            "top = 1\n\n[[bus]]\nname = 'a'\n\n[[bus]]\n# comment\nname = 'b'\nopt.x = 1\ns = \"\"\"\n\n\"\"\"\nafter = 2\n"
        let root = try Parsing.root(text)
        XCTAssertEqual(root.entries["top"]?.line, 1)
        XCTAssertEqual(root.entries["bus"]?.line, 3)
        let second = try XCTUnwrap(Parsing.array(root["bus"]).flatMap { Parsing.table($0.items[1]) })
        XCTAssertEqual(second.line, 6)
        XCTAssertEqual(second.entries["name"]?.line, 8)
        XCTAssertEqual(second.entries["opt"]?.line, 9)
        XCTAssertEqual(second.entries["after"]?.line, 13, "lines inside a multi-line string are counted")
    }

    func testWhitespace_aroundHeaderKeys_isAllowed_butNotBetweenDoubleBrackets() throws {
        XCTAssertNotNil(Parsing.table(try Parsing.root("[ a . 'b c' ]\n")["a"]))
        XCTAssertNotNil(Parsing.array(try Parsing.root("[[ a ]]\n")["a"]))
        XCTAssertNotNil(Parsing.error("[ [a]]\n"))
        XCTAssertNotNil(Parsing.error("[[a] ]\n"))
    }

    func testCRLF_endsLines_butABareCRIsAnError() throws {
        XCTAssertEqual(Parsing.integer(try XCTUnwrap(Parsing.root("a = 1\r\n[t]\r\nb = 2 # c\r\n")["a"])), 1)
        XCTAssertNotNil(Parsing.error("a = 1\rb = 2\n"))
    }
}
