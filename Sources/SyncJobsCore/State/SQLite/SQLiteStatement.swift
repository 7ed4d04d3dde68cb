import CSQLite

/// One prepared statement; made by `SQLiteDatabase.prepare`.
///
/// Keeps its database object alive, so dropping the database while a statement is in use can't
/// close the connection under it. Not Sendable, for the same reasons as the database.
package final class SQLiteStatement {
    private let database: SQLiteDatabase
    private let statement: OpaquePointer

    init(database: SQLiteDatabase, statement: OpaquePointer) {
        self.database = database
        self.statement = statement
    }

    deinit {
        sqlite3_finalize(statement)
    }

    /// The statement's SQL as written, with its placeholders (never the bound values).
    package var sql: String {
        SQLiteDatabase.statementText(statement) ?? ""
    }

    package var columnCount: Int32 {
        sqlite3_column_count(statement)
    }

    /// The result columns' names (the `AS` alias, else SQLite's choice), read once.
    package private(set) lazy var columnNames: [String] = (0..<columnCount).map { index in
        sqlite3_column_name(statement, index).map { String(cString: $0) } ?? ""
    }

    /// The number of parameters: the largest `?NNN` index, counting each `?` separately.
    package var parameterCount: Int32 {
        sqlite3_bind_parameter_count(statement)
    }

    // MARK: - Binding

    /// Resets the statement and binds `values` to parameters 1, 2, 3, …
    ///
    /// The count must match the statement's parameters, so a forgotten value is an error rather
    /// than a silent NULL or a value left over from the previous run.
    package func bind(_ values: [Value]) throws {
        _ = try connection(for: .binding)
        guard values.count == Int(parameterCount) else {
            throw SQLiteError(kind: .parameterCountMismatch, extendedCode: SQLITE_RANGE,
                              message: "the statement has \(parameterCount) parameter(s) but \(values.count) value(s) were given",
                              operation: .binding, sql: sql)
        }
        // Binding needs a reset statement. The result of the previous step (reported by step
        // already) is what sqlite3_reset returns, so it is not an error here.
        sqlite3_reset(statement)
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1))
        }
    }

    /// Binds one value to the 1-based parameter `index`. The statement must be reset (or never
    /// stepped).
    ///
    /// Strings are TEXT (copied by SQLite), booleans the integers 0 and 1, and arrays and objects
    /// their compact JSON text, which SQLite's JSON functions read.
    package func bind(_ value: Value, at index: Int32) throws {
        let connection = try connection(for: .binding)
        let code: Int32
        switch value {
        case .null:
            code = sqlite3_bind_null(statement, index)
        case .bool(let flag):
            code = sqlite3_bind_int64(statement, index, flag ? 1 : 0)
        case .int(let integer):
            code = sqlite3_bind_int64(statement, index, integer)
        case .double(let number):
            code = sqlite3_bind_double(statement, index, number)
        case .string(let text), .number(let text):
            code = bindText(text, at: index)
        case .array, .object:
            code = bindText(JSONWriter.compact(value), at: index)
        }
        guard code == SQLITE_OK else {
            throw SQLiteError.fromSQLite(code, connection: connection, operation: .binding, sql: sql)
        }
    }

    private func bindText(_ text: String, at index: Int32) -> Int32 {
        // The explicit byte length keeps embedded NUL characters; SQLITE_TRANSIENT makes SQLite
        // copy the bytes, which live only for the duration of the closure.
        text.withCString { bytes in
            sqlite3_bind_text64(statement, index, bytes, sqlite3_uint64(text.utf8.count), csqlite_transient(), UInt8(SQLITE_UTF8))
        }
    }

    // MARK: - Running

    /// Advances to the next row: true when a row is available, false when the statement is done.
    @discardableResult
    package func step() throws -> Bool {
        let connection = try connection(for: .stepping)
        let code = sqlite3_step(statement)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw SQLiteError.fromSQLite(code, connection: connection, operation: .stepping, sql: sql)
        }
    }

    /// Rewinds the statement so it can run again; bindings stay.
    ///
    /// Throws the error of the last step if that step failed, as `sqlite3_reset` reports it.
    package func reset() throws {
        let connection = try connection(for: .resetting)
        let code = sqlite3_reset(statement)
        guard code == SQLITE_OK else {
            throw SQLiteError.fromSQLite(code, connection: connection, operation: .resetting, sql: sql)
        }
    }

    // MARK: - Reading the current row

    /// The column's value by storage class: INTEGER → `.int`, FLOAT → `.double`, TEXT → `.string`,
    /// NULL → `.null`. A BLOB is an error naming the column, because rows become JSON and a BLOB
    /// has no faithful JSON form; the query should convert it (`hex(…)`) or leave it out.
    package func value(at index: Int32) throws -> Value {
        _ = try connection(for: .reading)
        guard (0..<columnCount).contains(index) else {
            throw SQLiteError(kind: .columnOutOfRange, extendedCode: SQLITE_RANGE,
                              message: "column index \(index) is out of range; the statement has \(columnCount) column(s)",
                              operation: .reading, sql: sql)
        }
        switch sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER:
            return .int(sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT:
            return .double(sqlite3_column_double(statement, index))
        case SQLITE_TEXT:
            return .string(text(at: index) ?? "")
        case SQLITE_NULL:
            return .null
        default:
            let name = columnNames[Int(index)]
            throw SQLiteError(kind: .blobColumn(column: name), extendedCode: SQLITE_MISMATCH,
                              message: "column '\(name)' holds a BLOB; syncjobs sends JSON values only — select it as hex(\(name)) or leave it out of the query",
                              operation: .reading, sql: sql)
        }
    }

    /// Appends the first `count` columns of the current row to `batch` as cells, by storage class
    /// as `value(at:)` reads them, copying text straight from SQLite's buffer. Returns the index
    /// of a BLOB column instead, which has no JSON form (the caller says so).
    func appendCells(_ count: Int, to batch: inout RowBatch) -> Int32? {
        for index in 0..<Int32(count) {
            switch sqlite3_column_type(statement, index) {
            case SQLITE_INTEGER:
                batch.append(int: sqlite3_column_int64(statement, index))
            case SQLITE_FLOAT:
                batch.append(double: sqlite3_column_double(statement, index))
            case SQLITE_TEXT:
                let text = sqlite3_column_text(statement, index)
                // The byte count, read after the text as SQLite requires, keeps embedded NULs.
                let length = Int(sqlite3_column_bytes(statement, index))
                batch.append(text: UnsafeRawBufferPointer(start: text, count: text == nil ? 0 : length))
            case SQLITE_NULL:
                batch.appendNull()
            default:
                return index
            }
        }
        return nil
    }

    /// All columns of the current row, as `value(at:)` reads them.
    package func row() throws -> [Value] {
        try (0..<columnCount).map { try value(at: $0) }
    }

    /// The column as an integer, with SQLite's conversions (NULL and non-numeric text give 0).
    /// For the wrapper's own tables, whose types are known.
    package func int64(at index: Int32) -> Int64 {
        sqlite3_column_int64(statement, index)
    }

    /// The column as text with SQLite's conversions (numbers become their text), or nil for NULL.
    package func text(at index: Int32) -> String? {
        guard sqlite3_column_type(statement, index) != SQLITE_NULL,
              let bytes = sqlite3_column_text(statement, index)
        else { return nil }
        // The byte count, read after the text as SQLite requires, keeps embedded NULs.
        let count = Int(sqlite3_column_bytes(statement, index))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    private func connection(for operation: SQLiteError.Operation) throws -> OpaquePointer {
        try database.openConnection(for: operation, sql: sql)
    }
}

@available(*, unavailable)
extension SQLiteStatement: Sendable {}
