import CSQLite
import Foundation

/// One SQLite connection.
///
/// Not Sendable: a connection's error message, last insert row ID and change count describe its
/// most recent call, so a connection belongs to one isolation domain at a time. Open one per task
/// (SQLite connections are cheap) rather than sharing one.
package final class SQLiteDatabase {
    package enum OpenMode: Sendable {
        /// Reads an existing file; writes fail with `SQLITE_READONLY`.
        case readOnly
        /// Reads and writes an existing file; a missing file is an error.
        case readWrite
        /// Reads and writes, creating the file if it is missing (its directory must exist).
        case readWriteCreate
    }

    package enum TransactionKind: Sendable {
        /// Takes locks when the first statement needs them; a later write may fail with BUSY.
        case deferred
        /// Takes the write lock at BEGIN (waiting up to the busy timeout), so writes inside the
        /// transaction can't fail with BUSY halfway through.
        case immediate

        var beginSQL: String {
            switch self {
            case .deferred: return "BEGIN DEFERRED"
            case .immediate: return "BEGIN IMMEDIATE"
            }
        }
    }

    package let path: String
    package let mode: OpenMode
    private var connection: OpaquePointer?

    /// Opens (or, with `.readWriteCreate`, creates) the database at `path`.
    ///
    /// `busyTimeoutMilliseconds` is how long a statement waits for another connection's lock
    /// before failing with `SQLITE_BUSY`.
    package init(path: String, mode: OpenMode, busyTimeoutMilliseconds: Int32 = 5000) throws {
        self.path = path
        self.mode = mode

        var flags: Int32
        switch mode {
        case .readOnly: flags = SQLITE_OPEN_READONLY
        case .readWrite: flags = SQLITE_OPEN_READWRITE
        case .readWriteCreate: flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        // NOMUTEX ("multi-thread" mode): SQLite skips its per-connection mutex. The Swift type
        // already confines a connection to one isolation domain (it is not Sendable), and the
        // mutex of FULLMUTEX would not make sharing safe anyway — the error message, changes and
        // last row ID read after a call could belong to another thread's call.
        flags |= SQLITE_OPEN_NOMUTEX
        // Extended result codes from the start, so that open errors already carry them
        // (e.g. SQLITE_CANTOPEN_ISDIR rather than SQLITE_CANTOPEN).
        flags |= SQLITE_OPEN_EXRESCODE

        // A C string would end at the NUL and name another file.
        guard !path.utf8.contains(0) else {
            throw SQLiteError(extendedCode: SQLITE_CANTOPEN, message: "the database path \(path.debugDescription) contains a NUL character", operation: .opening)
        }
        var opened: OpaquePointer?
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard code == SQLITE_OK, let opened else {
            // SQLite allocates a handle even when opening fails, to carry the error message;
            // read the message, then close the handle so it doesn't leak.
            let sqliteMessage = opened.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close_v2(opened)
            throw SQLiteError(
                extendedCode: code,
                message: Self.openFailureMessage(code: code, sqliteMessage: sqliteMessage, path: path, mode: mode),
                operation: .opening
            )
        }
        connection = opened
        sqlite3_extended_result_codes(opened, 1)
        sqlite3_busy_timeout(opened, busyTimeoutMilliseconds)
    }

    deinit {
        close()
    }

    /// SQLite says only "unable to open database file"; say which file and, when it is missing,
    /// why the mode didn't create it.
    private static func openFailureMessage(code: Int32, sqliteMessage: String, path: String, mode: OpenMode) -> String {
        guard code & 0xFF == SQLITE_CANTOPEN else { return "\(sqliteMessage): '\(path)'" }
        let files = FileManager.default
        if files.fileExists(atPath: path) {
            return "\(sqliteMessage): '\(path)'"
        }
        switch mode {
        case .readOnly:
            return "no database file at '\(path)'; read-only mode does not create one"
        case .readWrite:
            return "no database file at '\(path)'; read-write mode does not create one (readWriteCreate does)"
        case .readWriteCreate:
            let directory = (path as NSString).deletingLastPathComponent
            if !directory.isEmpty, !files.fileExists(atPath: directory) {
                return "cannot create database file '\(path)': directory '\(directory)' does not exist"
            }
            return "\(sqliteMessage): '\(path)'"
        }
    }

    /// False after `close()`.
    package var isOpen: Bool { connection != nil }

    /// The open handle, or a `.closed` error naming what was attempted.
    func openConnection(for operation: SQLiteError.Operation, sql: String?) throws -> OpaquePointer {
        guard let connection else {
            throw SQLiteError(kind: .closed, extendedCode: SQLITE_MISUSE, message: "the database '\(path)' is closed", operation: operation, sql: sql)
        }
        return connection
    }

    /// Runs a script of zero or more statements separated by semicolons, discarding any rows.
    ///
    /// Statements run one at a time, so those before a failing one have taken effect; wrap the
    /// call in `transaction` to make a script all-or-nothing.
    package func execute(_ sql: String) throws {
        let connection = try openConnection(for: .executing, sql: sql)
        try Self.rejectNUL(in: sql, operation: .executing)
        try sql.withCString { scriptStart in
            var cursor = scriptStart
            while cursor.pointee != 0 {
                var statement: OpaquePointer?
                var tail: UnsafePointer<CChar>?
                let code = sqlite3_prepare_v2(connection, cursor, -1, &statement, &tail)
                guard code == SQLITE_OK else {
                    // The failing statement's end is unknown, so report the script from it on.
                    let rest = String(String(cString: cursor).drop(while: \.isWhitespace))
                    throw SQLiteError.fromSQLite(code, connection: connection, operation: .preparing, sql: rest)
                }
                defer { sqlite3_finalize(statement) }
                // No statement means only whitespace, comments and semicolons were left (SQLite
                // skips empty statements before a real one itself).
                guard let statement, let tail else { break }
                var stepCode = sqlite3_step(statement)
                while stepCode == SQLITE_ROW { stepCode = sqlite3_step(statement) }
                guard stepCode == SQLITE_DONE else {
                    throw SQLiteError.fromSQLite(stepCode, connection: connection, operation: .executing, sql: Self.statementText(statement))
                }
                cursor = tail
            }
        }
    }

    /// Compiles exactly one statement.
    ///
    /// Blank SQL and SQL with a second statement after the first are errors, not silently
    /// ignored: a second statement would otherwise never run.
    package func prepare(_ sql: String) throws -> SQLiteStatement {
        let connection = try openConnection(for: .preparing, sql: sql)
        try Self.rejectNUL(in: sql, operation: .preparing)
        var statement: OpaquePointer?
        var trailingSQL = ""
        let code = sql.withCString { start -> Int32 in
            var tail: UnsafePointer<CChar>?
            let code = sqlite3_prepare_v2(connection, start, -1, &statement, &tail)
            if let tail { trailingSQL = String(cString: tail) }
            return code
        }
        guard code == SQLITE_OK else {
            sqlite3_finalize(statement)
            throw SQLiteError.fromSQLite(code, connection: connection, operation: .preparing, sql: sql)
        }
        guard let statement else {
            throw SQLiteError(kind: .emptySQL, extendedCode: SQLITE_ERROR,
                              message: "no SQL statement to prepare (the text is empty or only whitespace and comments)",
                              operation: .preparing, sql: sql)
        }
        guard SQLScript.isBlank(trailingSQL) else {
            sqlite3_finalize(statement)
            throw SQLiteError(kind: .multipleStatements, extendedCode: SQLITE_ERROR,
                              message: "only one statement can be prepared, but more SQL follows the first: \(SQLiteError.abbreviated(trailingSQL, limit: 60))",
                              operation: .preparing, sql: sql)
        }
        return SQLiteStatement(database: self, statement: statement)
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it (or the COMMIT)
    /// throws, rethrowing the original error.
    ///
    /// Transactions don't nest; BEGIN inside a transaction fails.
    package func transaction<T>(_ kind: TransactionKind = .deferred, _ body: () throws -> T) throws -> T {
        try execute(kind.beginSQL)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            // SQLite may already have rolled back (some errors, such as SQLITE_FULL, end the
            // transaction), and a failed ROLLBACK must not hide the error that caused it.
            if let connection, sqlite3_get_autocommit(connection) == 0 {
                try? execute("ROLLBACK")
            }
            throw error
        }
    }

    /// The rowid of the most recent successful INSERT on this connection (0 if none).
    package var lastInsertRowID: Int64 {
        connection.map { sqlite3_last_insert_rowid($0) } ?? 0
    }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE on this connection.
    package var changes: Int {
        connection.map { Int(sqlite3_changes64($0)) } ?? 0
    }

    /// Makes the running statement (and any started before it finishes) fail with
    /// `SQLITE_INTERRUPT`, e.g. from a progress callback during a long query.
    package func interrupt() {
        if let connection { sqlite3_interrupt(connection) }
    }

    /// Closes the connection; later calls do nothing.
    ///
    /// Statements still alive are not finalized here — they belong to their owners.
    /// `sqlite3_close_v2` keeps the connection's memory until the last of them is finalized,
    /// and they report `.closed` errors from then on.
    package func close() {
        guard let connection else { return }
        self.connection = nil
        sqlite3_close_v2(connection)
    }

    static func statementText(_ statement: OpaquePointer) -> String? {
        sqlite3_sql(statement).map { String(cString: $0) }
    }

    private static func rejectNUL(in sql: String, operation: SQLiteError.Operation) throws {
        guard sql.utf8.contains(0) else { return }
        throw SQLiteError(kind: .nulCharacterInSQL, extendedCode: SQLITE_ERROR,
                          message: "the SQL text contains a NUL character; SQLite would ignore everything after it",
                          operation: operation, sql: sql)
    }
}

@available(*, unavailable)
extension SQLiteDatabase: Sendable {}

/// Lexical checks on SQL text that SQLite's API leaves to the caller.
enum SQLScript {
    /// True when `sql` holds no statement: only whitespace, `--` and `/* */` comments, and
    /// semicolons. Whitespace is what SQLite's tokenizer skips: space, tab, LF, FF, CR.
    static func isBlank(_ sql: String) -> Bool {
        let bytes = Array(sql.utf8)
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0C, 0x0D, UInt8(ascii: ";"):
                index += 1
            case UInt8(ascii: "-") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "-"):
                while index < bytes.count && bytes[index] != 0x0A { index += 1 }
            case UInt8(ascii: "/") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*"):
                // An unterminated comment runs to the end, as in SQLite.
                index += 2
                while index < bytes.count
                    && !(bytes[index] == UInt8(ascii: "*") && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "/")) {
                    index += 1
                }
                index += 2
            default:
                return false
            }
        }
        return true
    }
}
