import Foundation
import Logging
import SyncJobsCore
import SyncJobsTestSupport
import Testing

@Suite struct PostgresEndpointTests {
    @Test func readsAURLWithPortDatabaseAndSSLMode() throws {
        let endpoint = try PostgresEndpoint.parse(url: "postgres://analyst@db.example.com:6543/warehouse?sslmode=require")
        #expect(endpoint == PostgresEndpoint(host: "db.example.com", port: 6543, database: "warehouse", user: "analyst",
                                             password: .fromEnvironmentDefault, tls: .require))
        #expect(endpoint.description == "postgres://analyst@db.example.com:6543/warehouse")
        let defaults = try PostgresEndpoint.parse(url: "postgresql://a%40b@localhost/my%20db")
        #expect(defaults == PostgresEndpoint(host: "localhost", port: 5432, database: "my db", user: "a@b", tls: .prefer))
    }

    @Test func aPasswordInTheURLMustBeAReference() throws {
        let endpoint = try PostgresEndpoint.parse(url: "postgres://analyst:${WAREHOUSE_PASSWORD}@db:5432/warehouse")
        #expect(endpoint.password == .reference(.environment("WAREHOUSE_PASSWORD")))
        #expect(throws: PostgresEndpointError("the PostgreSQL URL 'postgres://analyst:…@db:5432/warehouse' has a password written in it; secrets must not be written where they are read: write the password as ${VAR} (postgres://user:${PGPASSWORD}@host/db) or leave it out and set PGPASSWORD")) {
            try PostgresEndpoint.parse(url: "postgres://analyst:hunter2@db:5432/warehouse")
        }
        // A URL read from the environment may carry it.
        let fromEnvironment = try PostgresEndpoint.parse(url: "postgres://analyst:hunter2@db:5432/warehouse", passwords: .inlineAllowed)
        #expect(fromEnvironment.password == .inline("hunter2"))
        #expect(!fromEnvironment.description.contains("hunter2"))
    }

    @Test func badURLsSayWhatIsWrong() {
        let fix = "write it as postgres://user@host:5432/database?sslmode=require, with the password as ${VAR} or in PGPASSWORD"
        #expect(throws: PostgresEndpointError("'mysql://a@b/c' is not a PostgreSQL URL; \(fix)")) { try PostgresEndpoint.parse(url: "mysql://a@b/c") }
        #expect(throws: PostgresEndpointError("the PostgreSQL URL 'postgres://a@b' names no database; \(fix)")) { try PostgresEndpoint.parse(url: "postgres://a@b") }
        #expect(throws: PostgresEndpointError("the PostgreSQL URL 'postgres://db/x' names no user; \(fix)")) { try PostgresEndpoint.parse(url: "postgres://db/x") }
        #expect(throws: PostgresEndpointError("the port in 'postgres://a@b:99999/c' is not a number from 1 to 65535; \(fix)")) { try PostgresEndpoint.parse(url: "postgres://a@b:99999/c") }
        #expect(throws: PostgresEndpointError("sslmode 'always' in 'postgres://a@b/c?sslmode=always' is not one of disable, prefer, require, verify-full")) {
            try PostgresEndpoint.parse(url: "postgres://a@b/c?sslmode=always")
        }
    }

    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test(.enabled(if: TestPostgres.shouldRun, TestPostgres.skipNote))
    func refusedCredentialsNameServerUserAndDatabaseButNotThePassword() async throws {
        try await TestPostgres.withDatabase { db in
            var endpoint = db.endpoint
            endpoint.user = "syncjobs_password"
            endpoint.password = .reference(.environment("TEST_PG_PASSWORD"))
            endpoint.tls = .disable
            let error = await #expect(throws: PostgresConnectError.self) {
                try await endpoint.connect(logger: Self.logger, environment: ["TEST_PG_PASSWORD": "wrong-secret"])
            }
            #expect(error?.message == "PostgreSQL at 127.0.0.1:\(db.endpoint.port) refused the login of user 'syncjobs_password' to database '\(db.endpoint.database)': password authentication failed for user \"syncjobs_password\"; check the user and the password (the password is read from ${TEST_PG_PASSWORD})")
            let connection = try await endpoint.connect(logger: Self.logger, environment: ["TEST_PG_PASSWORD": "syncjobs-test-password"])
            try await connection.close()
        }
    }

    @Test(.enabled(if: TestPostgres.shouldRun, TestPostgres.skipNote))
    func aMissingDatabaseIsNamed() async throws {
        try await TestPostgres.withDatabase { db in
            var endpoint = db.endpoint
            endpoint.database = "no_such_db"
            let error = await #expect(throws: PostgresConnectError.self) { try await endpoint.connect(logger: Self.logger) }
            #expect(error?.message == "database 'no_such_db' does not exist on PostgreSQL at 127.0.0.1:\(db.endpoint.port); create it, or fix the database name in the connection")
        }
    }

    @Test func anUnreachableHostIsNamed() async throws {
        let port = try closedLoopbackPort()
        let endpoint = PostgresEndpoint(host: "127.0.0.1", port: port, database: "warehouse", user: "analyst", tls: .disable)
        let error = #expect(throws: PostgresConnectError.self) { try endpoint.connectWaiting(logger: Self.logger) }
        #expect(error?.message == "cannot connect to PostgreSQL at 127.0.0.1:\(port) (database 'warehouse'): connection refused; check the host and port, and that the server is running and accepts TCP connections from this machine")
    }
}
