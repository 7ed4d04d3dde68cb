import Foundation
import SyncJobsTestSupport
import Testing
@testable import SyncJobsCore

/// What only a PostgreSQL state does: locks that die with their connection, daemons that start
/// together, and the messages of a state that cannot be reached.
@Suite(.serialized, .enabled(if: TestPostgres.shouldRun, TestPostgres.skipNote))
struct PostgresStateTests {
    /// A daemon killed mid-run leaves its lock row, but its connection (and so its advisory
    /// lock) is gone: the next run takes the job over and marks the dead run interrupted.
    @Test func aLockWhoseConnectionDiedIsTakenOverAndItsRunMarkedInterrupted() async throws {
        try await TestPostgres.withDatabase { database in
            let dying = try StateStore(path: database.url)
            let runID = try dying.beginRun(job: "shop", trigger: "scheduled", startedAt: 1_000)
            try dying.acquireLock(job: "shop", runID: runID)
            let other = try StateStore(path: database.url)
            #expect(throws: JobBusyError.self) { try other.acquireLock(job: "shop", runID: nil) }
            #expect(try other.activeRun(job: "shop")?.runID == runID)

            dying.close()
            // The server lets the session's locks go when it sees the connection close.
            #expect(await Self.eventually { (try? other.activeRun(job: "shop")) == nil })
            try other.acquireLock(job: "shop", runID: nil)
            let run = try #require(try other.runs(job: "shop", limit: 1).first)
            #expect(run.status == .interrupted)
            #expect(run.error == "the process running it stopped before the run finished")
        }
    }

    @Test func daemonsOpeningANewStateTogetherMigrateItOnce() async throws {
        try await TestPostgres.withDatabase { database in
            let url = database.url
            let versions = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await JobsBinary.offPool { Result { try StateStore(path: url).database.schemaVersion() } }.get()
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(versions == Array(repeating: StateStore.migrations.count, count: 4))
            #expect(try await database.texts("SELECT count(*)::text FROM syncjobs_schema") == ["1"])
        }
    }

    @Test func anUnreachableStateIsNamedWithoutItsPassword() async throws {
        let port = try await TestPostgres.withDatabase { database in database.endpoint.port }
        // A port nothing listens on: the test server's port + 1 is free unless something else took it.
        let url = "postgres://syncjobs:${SYNCJOBS_TEST_STATE_SECRET}@127.0.0.1:\(port + 1)/state?sslmode=disable"
        setenv("SYNCJOBS_TEST_STATE_SECRET", "hunter2-state", 1)
        let error = try #require(throws: StateError.self) { try StateStore(path: url) }
        #expect(error.message == "cannot open the state: cannot connect to PostgreSQL at 127.0.0.1:\(port + 1) (database 'state'): connection refused; check the host and port, and that the server is running and accepts TCP connections from this machine")
        #expect(!error.message.contains("hunter2"))
    }

    @Test func aMissingStateDatabaseSaysHowToCreateIt() async throws {
        try await TestPostgres.withDatabase { database in
            var endpoint = database.endpoint
            endpoint.database = "no_such_state"
            let error = try #require(throws: StateError.self) { try StateStore(path: endpoint.description + "?sslmode=disable") }
            #expect(error.message == "cannot open the state: database 'no_such_state' does not exist on PostgreSQL at \(endpoint.host):\(endpoint.port); create it, or fix the database name in the connection")
        }
    }

    @Test func aPasswordWrittenInTheStateURLOnTheCommandLineIsRefused() throws {
        let error = try #require(throws: StateError.self) { try StateStore(path: "postgres://syncjobs:hunter2@127.0.0.1:1/state") }
        #expect(!error.message.contains("hunter2"))
        #expect(error.message == "cannot open the state database 'postgres://syncjobs@127.0.0.1:1/state': the PostgreSQL URL 'postgres://syncjobs:…@127.0.0.1:1/state' has a password written in it; secrets must not be written where they are read: write the password as ${VAR} (postgres://user:${PGPASSWORD}@host/db) or leave it out and set PGPASSWORD")
    }

    static func eventually(_ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}
