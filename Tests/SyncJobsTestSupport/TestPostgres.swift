import Foundation
import Logging
import PostgresNIO
import SyncJobsCore
import Synchronization
import Testing

/// A fresh PostgreSQL database per test, on the server `SYNCJOBS_TEST_POSTGRES_URL` names
/// (`scripts/test.sh` starts one with `scripts/postgres-test-cluster.sh` and sets it).
///
/// Tests that need it carry `.enabled(if: TestPostgres.shouldRun, TestPostgres.skipNote)` and call
/// `TestPostgres.withDatabase`. Without the URL, a plain `swift test` skips them with a note on how
/// to start a server; with `SYNCJOBS_REQUIRE_POSTGRES` or `CI` set they run and fail, so a CI run
/// without a server never passes quietly.
package final class TestPostgres: Sendable {
    package static let urlVariable = "SYNCJOBS_TEST_POSTGRES_URL"

    package static var serverURL: String? {
        ProcessInfo.processInfo.environment[urlVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `SYNCJOBS_REQUIRE_POSTGRES` or `CI` set (to anything but empty, `0` or `false`).
    package static var isRequired: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["SYNCJOBS_REQUIRE_POSTGRES", "CI"].contains { name in
            guard let value = environment[name]?.lowercased() else { return false }
            return !["", "0", "false", "no"].contains(value)
        }
    }

    /// Whether tests that need PostgreSQL run: a server is named, or one is required (and then
    /// the test fails in `withDatabase` when none is).
    package static var shouldRun: Bool { serverURL != nil || isRequired }

    package static let skipNote: Comment = """
        needs PostgreSQL: run `scripts/postgres-test-cluster.sh start` and \
        `export SYNCJOBS_TEST_POSTGRES_URL=$(scripts/postgres-test-cluster.sh url)`, or run scripts/test.sh
        """

    static let logger = Logger(label: "syncjobs.test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
    private static let counter = Mutex(0)

    /// The server (its `postgres` database, or whichever the URL names), for administration.
    package let server: PostgresEndpoint
    /// The test's own database on it.
    package let endpoint: PostgresEndpoint
    package let connection: PostgresConnection

    private init(server: PostgresEndpoint, endpoint: PostgresEndpoint, connection: PostgresConnection) {
        self.server = server
        self.endpoint = endpoint
        self.connection = connection
    }

    /// The database's URL, with no password (the test roles need none).
    package var url: String { endpoint.description + "?sslmode=disable" }

    /// Runs `body` with a new, empty database, dropped afterwards whatever happens.
    package static func withDatabase<T>(_ body: (TestPostgres) async throws -> T) async throws -> T {
        guard let serverURL else {
            Issue.record("PostgreSQL is required here (SYNCJOBS_REQUIRE_POSTGRES or CI is set) but \(urlVariable) is not set; run the tests with scripts/test.sh, or start a server with `scripts/postgres-test-cluster.sh start` and export \(urlVariable)")
            throw TestPostgresError("no PostgreSQL server")
        }
        let server = try PostgresEndpoint.parse(url: serverURL, passwords: .inlineAllowed)
        let name = "syncjobs_test_\(ProcessInfo.processInfo.processIdentifier)_\(counter.withLock { $0 += 1; return $0 })_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try await server.connect(logger: logger)
        do {
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        } catch {
            try? await admin.close()
            throw error
        }
        var endpoint = server
        endpoint.database = name
        let database: TestPostgres
        do {
            database = TestPostgres(server: server, endpoint: endpoint, connection: try await endpoint.connect(logger: logger))
        } catch {
            _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name)"), logger: logger)
            try? await admin.close()
            throw error
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(database))
        } catch {
            result = .failure(error)
        }
        try? await database.connection.close()
        // WITH (FORCE): a connection a test left open (a killed process's) does not keep it.
        _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        try? await admin.close()
        return try result.get()
    }

    /// Drops a database a test made on the server by other means (a script).
    package static func dropDatabase(_ name: String, server url: String) async throws {
        let admin = try await PostgresEndpoint.parse(url: url, passwords: .inlineAllowed).connect(logger: logger)
        _ = try? await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(PostgresSQLName.quote(name)) WITH (FORCE)"), logger: logger)
        try? await admin.close()
    }

    /// Runs statements one by one (the extended protocol takes one statement at a time).
    package func execute(_ statements: String...) async throws {
        for statement in statements {
            do {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Self.logger)
            } catch let error as PSQLError {
                throw TestPostgresError("\(statement): \(error.serverInfo?[.message] ?? String(reflecting: error))")
            }
        }
    }

    /// The first column of every row of a query, as text.
    package func texts(_ sql: String) async throws -> [String?] {
        var result: [String?] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger) {
            result.append(try row.decode(String?.self))
        }
        return result
    }
}

/// Double-quoted identifiers, for database names a test makes.
enum PostgresSQLName {
    static func quote(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
}

package struct TestPostgresError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// A loopback port nothing listens on: bound, then closed.
package func closedLoopbackPort() throws -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    try withUnsafeMutablePointer(to: &address) { pointer in
        try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            guard bind(socket, raw, length) == 0, getsockname(socket, raw, &length) == 0 else { throw TestPostgresError("cannot bind a loopback port") }
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
