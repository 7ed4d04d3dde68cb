import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The state in PostgreSQL, shared by every daemon and `jobs` command pointed at it.
///
/// Calls wait on the connection's futures (see `StateConnection` for why blocking is safe here).
/// The schema version is a one-row table; migrations take a transaction-level advisory lock, so
/// daemons starting together migrate once. Job locks are session advisory locks on the run's own
/// connection.
final class PostgresStateConnection: StateConnection {
    private let connection: PostgresConnection
    private let endpoint: PostgresEndpoint
    /// postgres-nio logs queries at debug level, binds included: nothing of that may reach a log.
    private let logger = Logger(label: "syncjobs.state.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    /// `?N` statements as `$N`, by their text.
    private var translated: [String: String] = [:]
    private var inTransaction = false

    var dialect: StateDialect { .postgres }
    var displayName: String { endpoint.description }

    init(endpoint: PostgresEndpoint) throws {
        self.endpoint = endpoint
        do {
            connection = try endpoint.connectWaiting(logger: logger)
        } catch {
            throw StateError("cannot open the state: \(error)")
        }
    }

    deinit { close() }

    func close() {
        guard !connection.isClosed else { return }
        try? connection.close().wait()
    }

    func executeScript(_ sql: String) throws {
        // postgres-nio sends every query as a prepared statement, which holds one command.
        for statement in Self.statements(of: sql) { _ = try wait(PostgresQuery(unsafeSQL: statement)) }
    }

    /// A script's statements, split at semicolons outside quoted text.
    static func statements(of script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var quote: Character?
        for character in script {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == ";" {
                if !current.allSatisfy(\.isWhitespace) { statements.append(current) }
                current = ""
                continue
            }
            current.append(character)
        }
        if !current.allSatisfy(\.isWhitespace) { statements.append(current) }
        return statements
    }

    func rows(_ sql: String, _ parameters: [Value]) throws -> [[Value]] {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .null: bindings.appendNull()
            case .bool(let b): bindings.append(b ? Int64(1) : Int64(0))
            case .int(let i): bindings.append(i)
            case .double(let d): bindings.append(d)
            case .string(let s), .number(let s): bindings.append(s)
            case .array, .object: bindings.append(JSONWriter.compact(parameter))
            }
        }
        let text = translated[sql] ?? Self.dollarParameters(sql)
        translated[sql] = text
        let result = try wait(PostgresQuery(unsafeSQL: text, binds: bindings))
        return try result.rows.map { row in try row.map(Self.value(of:)) }
    }

    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        precondition(!inTransaction, "state transactions do not nest")
        try run("BEGIN")
        inTransaction = true
        defer { inTransaction = false }
        do {
            let result = try body()
            try run("COMMIT")
            return result
        } catch {
            try? run("ROLLBACK")
            throw error
        }
    }

    func schemaVersion() throws -> Int {
        // Inside the migrations' transaction, wait for a daemon migrating at the same moment.
        if inTransaction { try run("SELECT pg_advisory_xact_lock(?1)", [.int(Self.migrationLockKey)]) }
        // A scan of the catalog under this statement's snapshot: `to_regclass` would answer from
        // the session's cache, which can still say "no such table" after another daemon's
        // migration has committed.
        let exists = try rows("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'syncjobs_schema'", [])
        guard exists.first?.first == .int(1) else { return 0 }
        return Int(StateStore.int(try rows("SELECT coalesce(max(version), 0) FROM syncjobs_schema", []).first?.first ?? .null))
    }

    func setSchemaVersion(_ version: Int) throws {
        try executeScript("CREATE TABLE IF NOT EXISTS syncjobs_schema (version BIGINT NOT NULL); DELETE FROM syncjobs_schema")

        try run("INSERT INTO syncjobs_schema (version) VALUES (?1)", [.int(Int64(version))])
    }

    func tryLockJob(_ job: String) throws -> Bool {
        try rows("SELECT pg_try_advisory_lock(?1)", [.int(Self.lockKey(job))]).first?.first == .bool(true)
    }

    func unlockJob(_ job: String) throws {
        try run("SELECT pg_advisory_unlock(?1)", [.int(Self.lockKey(job))])
    }

    func isJobLockHeld(_ job: String) throws -> Bool? {
        // A bigint advisory key shows in pg_locks as its high and low 32 bits.
        let key = UInt64(bitPattern: Self.lockKey(job))
        return try !rows("""
            SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1
                AND classid::bigint = ?1 AND objid::bigint = ?2
            """, [.int(Int64(key >> 32)), .int(Int64(key & 0xFFFF_FFFF))]).isEmpty
    }

    /// The advisory lock key of a job: FNV-1a of its name, so every daemon computes the same one.
    static func lockKey(_ job: String) -> Int64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ("syncjobs.job:" + job).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return Int64(bitPattern: hash)
    }

    static let migrationLockKey: Int64 = lockKey("\u{0}migrations")

    private func wait(_ query: PostgresQuery) throws -> PostgresQueryResult {
        do {
            return try connection.query(query, logger: logger).wait()
        } catch {
            throw StateError(PostgresErrorText.describe(error))
        }
    }

    /// `?N` parameters as PostgreSQL's `$N`, outside quoted text.
    static func dollarParameters(_ sql: String) -> String {
        var out = ""
        var quote: Character?
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
                out.append(character)
            } else if character == "'" || character == "\"" {
                quote = character
                out.append(character)
            } else {
                out.append(character == "?" ? "$" : character)
            }
        }
        return out
    }

    private static func value(of cell: PostgresCell) throws -> Value {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8: return .int(try cell.decode(Int64.self))
        case .float4, .float8: return .double(try cell.decode(Double.self))
        case .bool: return .bool(try cell.decode(Bool.self))
        default: return .string(try cell.decode(String.self))
        }
    }
}
