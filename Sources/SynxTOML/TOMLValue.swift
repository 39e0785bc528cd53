/// A value of a TOML 1.0.0 document (https://toml.io/en/v1.0.0): the tree the parser builds and the
/// accessors of `TOMLSection` read.
///
/// Arrays and tables are classes: the parser extends them in place while it reads headers and dotted keys
/// (appending the hundredth `[[meter]]` must not copy the ninety-nine before it), and nothing changes them
/// once the document is parsed.
enum TOMLValue {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    /// An offset date-time, a local date-time, a local date or a local time (TOML §Offset Date-Time … §Local Time).
    case dateTime(TOMLDateTime)
    case array(TOMLArray)
    case table(TOMLTable)

    /// The value's type in the specification's words, with its article, for messages ("found an integer").
    var typeDescription: String {
        switch self {
        case .string: return "a string"
        case .integer: return "an integer"
        case .float: return "a float"
        case .boolean: return "a boolean"
        case .dateTime: return "a datetime"
        case .array(let array): return array.isArrayOfTables ? "an array of tables" : "an array"
        case .table: return "a table"
        }
    }
}

/// A TOML array: either a value written `[…]` (closed once written) or an array of tables that each
/// `[[name]]` header extends (TOML §Array of Tables). The two cannot be mixed.
final class TOMLArray {
    private(set) var items: [TOMLValue]
    let isArrayOfTables: Bool

    init(items: [TOMLValue], isArrayOfTables: Bool) {
        self.items = items
        self.isArrayOfTables = isArrayOfTables
    }

    /// Appends the table of one more `[[name]]` header.
    func append(_ table: TOMLTable) { items.append(.table(table)) }

    /// The table the latest `[[name]]` header appended, which deeper headers extend.
    var lastTable: TOMLTable? {
        if case .table(let table)? = items.last { return table }
        return nil
    }
}

/// A TOML table, with the line each key was first met on and the line of the table's own header, so that
/// errors found after parsing ("duplicate meter name") can point at the file's line.
final class TOMLTable {
    /// How a table came to exist: this decides what may later add to it (TOML §Table, §Keys, §Inline Table).
    enum Origin {
        /// Created on the way to a deeper header (`[a]` by `[a.b]`): one `[a]` header may still define it.
        case implicit
        /// Defined by its own `[a]` header or as an element of `[[a]]`: no header may define it again.
        case header
        /// Created by a dotted key (`a.b = 1`): more dotted keys of the same table may extend it, no header may.
        case dottedKey
        /// Written `{…}`: complete as written, nothing may extend it.
        case inline
    }

    /// One key of the table and the line it was first met on.
    struct Entry {
        var value: TOMLValue
        let line: Int
    }

    private(set) var entries: [String: Entry] = [:]
    /// The line of the table's header, or where the table was first met; nil for the document's root.
    var line: Int?
    var origin: Origin
    /// Containers between this table and the root (the root is 0), bounded by `TOMLParser.maximumDepth`.
    let depth: Int

    init(origin: Origin, line: Int?, depth: Int) {
        self.origin = origin
        self.line = line
        self.depth = depth
    }

    subscript(key: String) -> TOMLValue? { entries[key]?.value }

    /// Adds a key the table does not have yet (the parser checks that first, to say where it was defined).
    func insert(_ key: String, _ value: TOMLValue, line: Int) {
        entries[key] = Entry(value: value, line: line)
    }
}
