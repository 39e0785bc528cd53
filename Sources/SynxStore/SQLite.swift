import CSQLite

/// A failed SQLite call, with the result code and SQLite's own message.
public struct StoreError: Error, CustomStringConvertible, Equatable, Sendable {
    public var code: Int32
    public var message: String
    /// Whether the disk (or the database size limit) is full: rows stay queued and are retried.
    public var isDiskFull: Bool { code & 0xFF == SQLITE_FULL }
    public var description: String { "store: \(message) (SQLite code \(code))" }
}

/// One SQLite connection; used by one thread at a time.
final class Connection {
    let handle: OpaquePointer

    init(path: String, readOnly: Bool) throws {
        var db: OpaquePointer?
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw StoreError(code: rc, message: "\(path): \(msg)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 5000)
    }

    deinit { sqlite3_close_v2(handle) }

    func error(_ rc: Int32) -> StoreError { StoreError(code: rc, message: String(cString: sqlite3_errmsg(handle))) }

    func execute(_ sql: String) throws {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    func prepare(_ sql: String) throws -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc) }
        return Statement(stmt, connection: self)
    }

    /// Runs `body` between `begin` (`BEGIN` for a read snapshot, `BEGIN IMMEDIATE` to write) and `COMMIT`; if
    /// it throws, the transaction is rolled back and its error rethrown.
    func transaction<T>(_ begin: String, _ body: () throws -> T) throws -> T {
        try execute(begin)
        let result: T
        do {
            result = try body()
        } catch {
            // The body's error is the one to report: if ROLLBACK fails too, SQLite has already rolled the
            // transaction back itself (a failed statement ends it, or the connection is unusable anyway).
            _ = try? execute("ROLLBACK")
            throw error
        }
        try execute("COMMIT")
        return result
    }

    func scalarInt(_ sql: String) throws -> Int64 {
        let s = try prepare(sql)
        guard try s.step() else { return 0 }
        return s.int(0)
    }
}

/// A prepared statement.
final class Statement {
    let stmt: OpaquePointer
    unowned let connection: Connection

    init(_ stmt: OpaquePointer, connection: Connection) {
        self.stmt = stmt
        self.connection = connection
    }

    deinit { sqlite3_finalize(stmt) }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(stmt, index, value) }
    func bind(_ index: Int32, _ value: Double?) {
        if let value { sqlite3_bind_double(stmt, index, value) } else { sqlite3_bind_null(stmt, index) }
    }
    func bind(_ index: Int32, _ value: String) { sqlite3_bind_text(stmt, index, value, -1, synx_sqlite_transient()) }

    /// Steps once; true while a row is available.
    @discardableResult
    func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw connection.error(rc)
    }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(stmt, column) }
    func double(_ column: Int32) -> Double? {
        sqlite3_column_type(stmt, column) == SQLITE_NULL ? nil : sqlite3_column_double(stmt, column)
    }
    func text(_ column: Int32) -> String { sqlite3_column_text(stmt, column).map { String(cString: $0) } ?? "" }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(stmt, column) == SQLITE_NULL }
}

extension Statement {
    func bind(_ index: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes {
            _ = sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32($0.count), synx_sqlite_transient())
        }
    }

    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(stmt, column))
        guard count > 0, let p = sqlite3_column_blob(stmt, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }

    /// The columns of the current row in a form that is the same byte for byte whoever reads them: each value
    /// with its SQLite type, integers in decimal, reals as their IEEE 754 bits, text and blobs with their length.
    func canonicalRow() -> [UInt8] {
        var out: [UInt8] = []
        for c in 0..<sqlite3_column_count(stmt) {
            switch sqlite3_column_type(stmt, c) {
            case SQLITE_INTEGER: out += Array("i\(int(c))".utf8)
            case SQLITE_FLOAT: out += Array("r\(String(sqlite3_column_double(stmt, c).bitPattern, radix: 16))".utf8)
            case SQLITE_TEXT:
                // The stored bytes as they are (a NUL or invalid UTF-8 inside is part of what is hashed).
                let count = Int(sqlite3_column_bytes(stmt, c))
                let bytes =
                    sqlite3_column_text(stmt, c).map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
                out += Array("t\(bytes.count):".utf8) + bytes
            case SQLITE_BLOB:
                let bytes = blob(c)
                out += Array("b\(bytes.count):".utf8) + bytes
            default: out += Array("n".utf8)
            }
            out.append(0x1F)
        }
        out.append(0x1E)
        return out
    }
}
