/// The rules of TOML 1.0.0 on what may define or extend a table (§Table, §Keys, §Inline Table, §Array of
/// Tables): a table is defined once; a header may define a table that a deeper header only implied; dotted
/// keys extend only tables that dotted keys made; inline tables and arrays written as values are complete
/// as written; a `[[name]]` header appends to an array of tables and to nothing else.
extension TOMLParser {
    /// `[a.b.c]`: the table it defines.
    func defineTable(_ path: [String], line: Int, at offset: Int) throws -> TOMLTable {
        let parent = try headerParent(of: path, line: line, at: offset)
        let name = path[path.count - 1]
        guard let existing = parent.entries[name] else {
            return try newTable(named: name, in: parent, origin: .header, line: line, at: offset)
        }
        if case .table(let table) = existing.value, table.origin == .implicit {
            table.origin = .header
            table.line = line
            return table
        }
        if case .table = existing.value {
            throw failure("table [\(Self.display(path))] is already defined (line \(existing.line))", at: offset)
        }
        throw failure(
            "\(Self.display(path)) is already defined as \(existing.value.typeDescription) (line \(existing.line))",
            at: offset)
    }

    /// `[[a.b.c]]`: the new table it appends to the array of tables.
    func appendArrayTable(_ path: [String], line: Int, at offset: Int) throws -> TOMLTable {
        let parent = try headerParent(of: path, line: line, at: offset)
        let name = path[path.count - 1]
        try checkDepth(parent.depth + 2, at: offset)
        let table = TOMLTable(origin: .header, line: line, depth: parent.depth + 2)
        guard let existing = parent.entries[name] else {
            parent.insert(name, .array(TOMLArray(items: [.table(table)], isArrayOfTables: true)), line: line)
            return table
        }
        guard case .array(let array) = existing.value, array.isArrayOfTables else {
            var what = existing.value.typeDescription
            if case .array = existing.value { what += " written as a value" }
            throw failure(
                "[[\(Self.display(path))]] cannot extend \(Self.display(path)): it is \(what) (line \(existing.line))",
                at: offset)
        }
        array.append(table)
        return table
    }

    /// The table holding the last key of a header's path, creating the tables on the way: a header goes
    /// through any table but an inline one, and into the latest element of an array of tables.
    private func headerParent(of path: [String], line: Int, at offset: Int) throws -> TOMLTable {
        var table = root
        for index in 0..<(path.count - 1) {
            let name = path[index]
            guard let existing = table.entries[name] else {
                table = try newTable(named: name, in: table, origin: .implicit, line: line, at: offset)
                continue
            }
            let next: TOMLTable?
            switch existing.value {
            case .table(let nested) where nested.origin != .inline: next = nested
            case .array(let array) where array.isArrayOfTables: next = array.lastTable
            default: next = nil
            }
            guard let next else {
                throw failure(
                    "\(Self.display(path[...index])) is already defined as \(Self.describe(existing.value)) "
                        + "(line \(existing.line)), so [\(Self.display(path))] cannot extend it", at: offset)
            }
            table = next
        }
        return table
    }

    /// The table a dotted key `a.b.c = …` writes into and the key's last part, creating the tables on the
    /// way; fails if the key is already defined.
    func resolveDottedKey(
        _ path: [String], in start: TOMLTable, line: Int,
        at offset: Int
    ) throws -> (TOMLTable, String) {
        var table = start
        for index in 0..<(path.count - 1) {
            let name = path[index]
            guard let existing = table.entries[name] else {
                table = try newTable(named: name, in: table, origin: .dottedKey, line: line, at: offset)
                continue
            }
            guard case .table(let next) = existing.value, next.origin == .dottedKey else {
                throw failure(
                    "\(Self.display(path[...index])) is already defined as \(Self.describe(existing.value)) "
                        + "(line \(existing.line)), so a dotted key cannot extend it", at: offset)
            }
            table = next
        }
        let name = path[path.count - 1]
        if let existing = table.entries[name] {
            throw failure("\(Self.display(path)) is already defined (line \(existing.line))", at: offset)
        }
        return (table, name)
    }

    private func newTable(
        named name: String, in parent: TOMLTable, origin: TOMLTable.Origin,
        line: Int, at offset: Int
    ) throws -> TOMLTable {
        try checkDepth(parent.depth + 1, at: offset)
        let table = TOMLTable(origin: origin, line: line, depth: parent.depth + 1)
        parent.insert(name, .table(table), line: line)
        return table
    }

    /// Refuses a table or array nested deeper than `maximumDepth`.
    func checkDepth(_ depth: Int, at offset: Int? = nil) throws {
        guard depth <= Self.maximumDepth else {
            throw failure("tables and arrays are nested deeper than \(Self.maximumDepth) levels", at: offset)
        }
    }

    /// What a key holds, for messages; an inline table is named so, as that is why nothing may extend it.
    private static func describe(_ value: TOMLValue) -> String {
        if case .table(let table) = value, table.origin == .inline { return "an inline table" }
        return value.typeDescription
    }

    /// A key path as written in TOML: bare where it can be, quoted where it must be.
    static func display<C: Collection>(_ path: C) -> String where C.Element == String {
        path.map { key in
            !key.isEmpty && key.utf8.allSatisfy(isBareKeyByte) ? key : quoted(key)
        }.joined(separator: ".")
    }

    private static func quoted(_ key: String) -> String {
        var s = "\""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "\"": s += "\\\""
            case "\\": s += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: s += "\\u" + hex(scalar.value)
            default: s.unicodeScalars.append(scalar)
            }
        }
        return s + "\""
    }
}
