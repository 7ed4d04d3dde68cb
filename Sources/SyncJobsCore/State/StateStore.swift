import Foundation

/// One connection to the SQLite database holding checkpoints, run history, rejected and failed
/// rows, schedules, backfills and job locks. Each concern is an extension in its own file.
///
/// Not Sendable: a connection belongs to the task that opened it (the compiler checks that none
/// crosses tasks). Whoever works concurrently opens its own — the daemon one for its loop and one
/// per run it starts — which is cheap: opening a database whose schema is current reads two
/// pragmas and takes no write lock. WAL mode with a busy timeout lets those connections, and
/// several `jobs` processes, share the file; every write is a short transaction, and locks are
/// taken with `BEGIN IMMEDIATE`.
package final class StateStore {
    let database: SQLiteDatabase
    package let path: String

    package init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        do {
            database = try SQLiteDatabase(path: path, mode: .readWriteCreate)
            // Only what needs a write lock takes one: read-only commands (status, history, plan)
            // must open the database while another process holds a write transaction.
            if try scalarText("PRAGMA journal_mode") != "wal" { try database.execute("PRAGMA journal_mode=WAL") }
            try database.execute("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            if try currentVersion() != Self.migrations.count { try migrate() }
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError("cannot open the state database '\(Paths.display(path))': \(error)")
        }
    }

    func scalarText(_ sql: String, _ parameters: [Value] = []) throws -> String? {
        let statement = try database.prepare(sql)
        try statement.bind(parameters)
        guard try statement.step(), case .string(let value) = try statement.value(at: 0) else { return nil }
        return value
    }

    func scalarInt(_ sql: String, _ parameters: [Value] = []) throws -> Int64? {
        let statement = try database.prepare(sql)
        try statement.bind(parameters)
        guard try statement.step(), case .int(let value) = try statement.value(at: 0) else { return nil }
        return value
    }

    func run(_ sql: String, _ parameters: [Value]) throws {
        let statement = try database.prepare(sql)
        try statement.bind(parameters)
        while try statement.step() {}
    }

    /// Runs one operation on the connection; a SQLite error comes out naming the state database.
    func withDatabase<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StateError {
            throw error
        } catch let error as JobBusyError {
            throw error
        } catch {
            throw StateError("state database '\(Paths.display(path))': \(error)")
        }
    }

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
