/// The database under a `StateStore`: SQLite (the default, a file beside the jobs) or PostgreSQL
/// (`--state postgres://…`, shared by several daemons).
///
/// The state's SQL is written once, in the dialect both accept: `?N` parameters (the PostgreSQL
/// connection spells them `$N`), `ON CONFLICT … DO UPDATE`, `RETURNING`, `coalesce`, and `CASE`
/// where SQLite would write two-argument `max`. What the two do differently — schema types, the
/// schema version, write transactions, job locks — is behind this protocol.
///
/// Calls block until the database answers. The state's statements are short (a row or a few),
/// and SQLite's already block the same way; PostgreSQL's wait on SwiftNIO's event loop, which is
/// not the concurrency pool's thread, so a waiting call cannot stall the answer it waits for.
protocol StateConnection: AnyObject {
    var dialect: StateDialect { get }
    /// Where the state is, for messages: a file path, or `host:port/database` (never a password).
    var displayName: String { get }

    /// Runs statements that return nothing (a migration), separated by semicolons.
    func executeScript(_ sql: String) throws
    /// Runs one statement and returns its rows.
    func rows(_ sql: String, _ parameters: [Value]) throws -> [[Value]]
    /// Runs `body` in a write transaction: SQLite takes the write lock at its start (`BEGIN
    /// IMMEDIATE`), so no statement inside can fail halfway for a busy database. Does not nest.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T

    /// The schema version the migrations have brought the database to (0 for a new one).
    func schemaVersion() throws -> Int
    /// Records the schema version; called inside the migrations' transaction.
    func setSchemaVersion(_ version: Int) throws

    /// Takes the job lock's database side: PostgreSQL takes a session advisory lock, which dies
    /// with the connection, so a daemon killed mid-run frees its jobs. Returns false when another
    /// session holds it. SQLite has nothing to take (its lock row names a local process).
    func tryLockJob(_ job: String) throws -> Bool
    func unlockJob(_ job: String) throws
    /// Whether some session holds the job's advisory lock; nil where the dialect has none.
    func isJobLockHeld(_ job: String) throws -> Bool?

    func close()
}

enum StateDialect: Sendable {
    case sqlite, postgres
}

extension StateConnection {
    func run(_ sql: String, _ parameters: [Value] = []) throws {
        _ = try rows(sql, parameters)
    }
}
