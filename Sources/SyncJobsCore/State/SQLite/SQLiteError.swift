import CSQLite
import Foundation

/// A failure from SQLite, or from the wrapper's own checks around it.
///
/// Carries the result code, SQLite's message and the SQL (or, when opening, the path) involved —
/// never bound values, which may be customer data that must not reach logs.
package struct SQLiteError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// What went wrong, for the failures the wrapper detects itself; `.sqlite` for everything
    /// SQLite reported.
    package enum Kind: Sendable, Equatable {
        /// SQLite returned a failure code; `extendedCode` and `message` are its own.
        case sqlite
        /// `prepare` got text with no statement in it (empty, whitespace, comments).
        case emptySQL
        /// `prepare` got more than one statement.
        case multipleStatements
        /// SQL text containing a NUL character, where SQLite would silently stop reading.
        case nulCharacterInSQL
        /// A column read as a `Value` holds a BLOB, which has no JSON counterpart.
        case blobColumn(column: String)
        /// A column index outside the result row.
        case columnOutOfRange
        /// `bind(_:)` got a different number of values than the statement has parameters.
        case parameterCountMismatch
        /// The database was closed.
        case closed
    }

    /// The step that failed, for the message.
    package enum Operation: String, Sendable {
        case opening, preparing, executing, binding, stepping, resetting, reading
    }

    package var kind: Kind
    /// SQLite's extended result code (`SQLITE_CONSTRAINT_UNIQUE` = 2067, …). For failures the
    /// wrapper detects itself, the closest primary code: `SQLITE_MISMATCH` for BLOB columns,
    /// `SQLITE_RANGE` for bad indexes or counts, `SQLITE_MISUSE` after close, else `SQLITE_ERROR`.
    package var extendedCode: Int32
    package var message: String
    package var operation: Operation
    /// The statement that failed (or, for a failed script, the script from the failing statement
    /// on); nil when opening or when no SQL is involved.
    package var sql: String?

    package init(kind: Kind = .sqlite, extendedCode: Int32, message: String, operation: Operation, sql: String? = nil) {
        self.kind = kind
        self.extendedCode = extendedCode
        self.message = message
        self.operation = operation
        self.sql = sql
    }

    /// The primary result code: the low byte of the extended code (`SQLITE_CONSTRAINT` = 19, …).
    package var resultCode: Int32 { extendedCode & 0xFF }

    /// Another connection holds a lock that the busy timeout did not outlast.
    package var isBusy: Bool { resultCode == SQLITE_BUSY }
    /// A lock conflict inside this connection (a shared-cache or same-connection conflict).
    package var isLocked: Bool { resultCode == SQLITE_LOCKED }
    /// A UNIQUE, NOT NULL, CHECK, FOREIGN KEY or PRIMARY KEY constraint failed.
    package var isConstraint: Bool { resultCode == SQLITE_CONSTRAINT }
    /// `interrupt()` stopped the statement.
    package var isInterrupted: Bool { resultCode == SQLITE_INTERRUPT }
    /// The database file could not be opened (missing, unreadable, its directory missing).
    package var isCantOpen: Bool { resultCode == SQLITE_CANTOPEN }
    /// The file is not a SQLite database (or is encrypted).
    package var isNotADatabase: Bool { resultCode == SQLITE_NOTADB }
    /// A write on a connection or file that is read-only.
    package var isReadOnly: Bool { resultCode == SQLITE_READONLY }
    /// A column read as a `Value` held a BLOB.
    package var isBlobColumn: Bool {
        if case .blobColumn = kind { return true }
        return false
    }

    /// `SQLite error 1: no such table: users (while preparing: SELECT * FROM users)`; SQL is
    /// shortened to one line of at most 200 characters.
    package var description: String {
        var text = "SQLite error \(resultCode)"
        if extendedCode != resultCode { text += " (extended \(extendedCode))" }
        text += ": \(message) (while \(operation.rawValue)"
        if let sql { text += ": \(Self.abbreviated(sql))" }
        return text + ")"
    }

    package var errorDescription: String? { description }

    /// The SQL on one line, whitespace runs collapsed, cut at `limit` characters.
    static func abbreviated(_ sql: String, limit: Int = 200) -> String {
        let oneLine = sql.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        guard oneLine.count > limit else { return oneLine }
        return oneLine.prefix(limit) + "…"
    }

    /// The error SQLite reported for `code` on `connection`.
    ///
    /// `sqlite3_errmsg` describes the most recent failed call on the connection, so this must run
    /// right after that call — one reason a connection must not be shared between threads.
    static func fromSQLite(_ code: Int32, connection: OpaquePointer?, operation: Operation, sql: String?) -> SQLiteError {
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            ?? String(cString: sqlite3_errstr(code))
        return SQLiteError(extendedCode: code, message: message, operation: operation, sql: sql)
    }
}
