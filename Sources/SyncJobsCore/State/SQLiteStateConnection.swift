import Foundation

/// The state in a SQLite file: WAL mode with a busy timeout, so the daemon's connections and
/// several `jobs` processes share it; the schema version in `PRAGMA user_version`.
final class SQLiteStateConnection: StateConnection {
    let database: SQLiteDatabase
    let path: String
    /// Prepared statements by their SQL: the state runs the same few dozen statements over and
    /// over (one per rejected row, say), and preparing is most of a small statement's cost.
    private var statements: [String: SQLiteStatement] = [:]

    var dialect: StateDialect { .sqlite }
    var displayName: String { Paths.display(path) }

    init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        database = try SQLiteDatabase(path: path, mode: .readWriteCreate)
        // Only what needs a write lock takes one: read-only commands (status, history, plan)
        // must open the database while another process holds a write transaction.
        if try rows("PRAGMA journal_mode", []).first?.first != .string("wal") { try database.execute("PRAGMA journal_mode=WAL") }
        try database.execute("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
    }

    func executeScript(_ sql: String) throws { try database.execute(sql) }

    func rows(_ sql: String, _ parameters: [Value]) throws -> [[Value]] {
        let statement: SQLiteStatement
        if let cached = statements[sql] {
            statement = cached
        } else {
            statement = try database.prepare(sql)
            if statements.count >= 64 { statements.removeAll() }
            statements[sql] = statement
        }
        try statement.bind(parameters)
        var result: [[Value]] = []
        while try statement.step() { result.append(try statement.row()) }
        try statement.reset()
        return result
    }

    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try database.transaction(.immediate, body)
    }

    func schemaVersion() throws -> Int {
        if case .int(let version)? = try rows("PRAGMA user_version", []).first?.first { return Int(version) }
        return 0
    }

    func setSchemaVersion(_ version: Int) throws {
        try database.execute("PRAGMA user_version = \(version)")
    }

    func tryLockJob(_ job: String) throws -> Bool { true }
    func unlockJob(_ job: String) throws {}
    func isJobLockHeld(_ job: String) throws -> Bool? { nil }

    func close() {
        statements.removeAll()
        database.close()
    }
}
