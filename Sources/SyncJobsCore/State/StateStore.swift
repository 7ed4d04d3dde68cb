import Foundation

/// One connection to the database holding checkpoints, run history, rejected and failed rows,
/// schedules, backfills and job locks: a SQLite file (the default), or PostgreSQL when the path
/// is a `postgres://` URL, so that several daemons share one state. Each concern is an extension
/// in its own file, written once for both (see `StateConnection`).
///
/// Not Sendable: a connection belongs to the task that opened it (the compiler checks that none
/// crosses tasks). Whoever works concurrently opens its own — the daemon one for its loop and one
/// per run it starts — which is cheap: opening a database whose schema is current reads its
/// version and takes no write lock. Every write is a short transaction.
package final class StateStore {
    let database: any StateConnection
    package let path: String

    package init(path: String) throws {
        self.path = path
        do {
            if PostgresEndpoint.isURL(path) {
                // A URL from JOBS_STATE may hold its password; one on the command line may not
                // (other users see it in the process list).
                let endpoint = try PostgresEndpoint.fromCommandLine(path, fromEnvironment: path == ProcessInfo.processInfo.environment["JOBS_STATE"])
                database = try PostgresStateConnection(endpoint: endpoint)
            } else {
                database = try SQLiteStateConnection(path: path)
            }
            if try database.schemaVersion() != Self.migrations(for: database.dialect).count { try migrate() }
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError("cannot open the state database '\(Self.display(path))': \(error)")
        }
    }

    /// The state's location for messages: a file path, or a URL without its password.
    package static func display(_ path: String) -> String {
        guard PostgresEndpoint.isURL(path) else { return Paths.display(path) }
        return (try? PostgresEndpoint.parse(url: path, passwords: .inlineAllowed))?.description ?? PostgresEndpoint.redacted(path)
    }

    var dialect: StateDialect { database.dialect }

    func rows(_ sql: String, _ parameters: [Value] = []) throws -> [[Value]] {
        try database.rows(sql, parameters)
    }

    func scalarText(_ sql: String, _ parameters: [Value] = []) throws -> String? {
        guard case .string(let value)? = try database.rows(sql, parameters).first?.first else { return nil }
        return value
    }

    func scalarInt(_ sql: String, _ parameters: [Value] = []) throws -> Int64? {
        guard case .int(let value)? = try database.rows(sql, parameters).first?.first else { return nil }
        return value
    }

    func run(_ sql: String, _ parameters: [Value]) throws {
        try database.run(sql, parameters)
    }

    /// Runs `body` in a write transaction (see `StateConnection.writeTransaction`).
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try database.writeTransaction(body)
    }

    /// Runs one operation on the connection; a database error comes out naming the state database.
    func withDatabase<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StateError {
            throw error
        } catch let error as JobBusyError {
            throw error
        } catch {
            throw StateError("state database '\(database.displayName)': \(error)")
        }
    }

    package func close() { database.close() }

    static func int(_ value: Value) -> Int64 {
        if case .int(let i) = value { return i }
        return 0
    }

    static func text(_ value: Value) -> String? {
        if case .string(let s) = value { return s }
        return nil
    }

    /// Milliseconds since the epoch, the unit of every instant the state keeps.
    package static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

/// A connection is confined to one task: open another rather than share this one.
@available(*, unavailable)
extension StateStore: Sendable {}

package struct StateError: Error, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
