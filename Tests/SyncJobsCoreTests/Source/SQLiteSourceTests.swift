import Foundation
import Testing
@testable import SyncJobsCore

/// SQLite sources: what each journal mode promises writers, files that are not databases or are
/// locked, and queries ending in comments.
@Suite struct SQLiteSourceTests {
    typealias Incremental = IncrementalRunTests

    func ids(_ batches: [Value]) -> [Int64] {
        batches.compactMap { if case .int(let id)? = $0["user_attributes"]?["id"] { return id } else { return nil } }
    }

    /// `data/src.db` in the default rollback journal (`delete`) with events 1…250, one a minute.
    static func rollbackSource(_ t: TestWorkspace) throws {
        try t.sqlite("data/src.db", "CREATE TABLE events (id INTEGER, user TEXT, ts);")
        try Incremental.insert(t, (1...250).map { ($0, Incremental.ts($0)) })
    }

    /// Inserts from a connection that does not wait for locks (busy timeout 0) and says how it went.
    static func insertWithoutWaiting(_ path: String, _ values: String) -> String {
        do {
            let db = try SQLiteDatabase(path: path, mode: .readWrite, busyTimeoutMilliseconds: 0)
            defer { db.close() }
            try db.execute("INSERT INTO events VALUES \(values)")
            return "inserted"
        } catch let error as SQLiteError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func walDatabasesAreReadInPlaceAndOthersFromACopy() throws {
        let t = try TestWorkspace()
        try Self.rollbackSource(t)
        #expect(try SQLiteSource(path: t.path("data/src.db"), selection: .table("events")).readsInPlace == false)
        try t.sqlite("data/wal.db", "PRAGMA journal_mode=WAL; CREATE TABLE events (id INTEGER);")
        #expect(try SQLiteSource(path: t.path("data/wal.db"), selection: .table("events")).readsInPlace == true)
    }

    @Test func aRollbackJournalSourceLetsWritersCommitWhileTheRunWaitsOnItsDestination() async throws {
        let t = try TestWorkspace()
        try Self.rollbackSource(t)
        let job = try t.job("events", Incremental.sqliteJob())
        let path = t.path("data/src.db")
        let attempts = LockedBox<[String]>([])
        // While the second request is with the destination, the application commits a row tied
        // with the high watermark and one above it, without waiting for any lock.
        let destination = RecordingDestination(onSend: { sequence in
            guard sequence == 1 else { return }
            let outcome = Self.insertWithoutWaiting(path, "(900, 'u900', '\(Incremental.ts(250))'), (901, 'u901', '\(Incremental.ts(300))')")
            attempts.withValue { $0.append(outcome) }
        })
        let run = try await t.run(job, destination: destination)
        #expect(attempts.value == ["inserted"])
        #expect(run.succeeded)
        // Exactly the rows up to the high watermark of the run's start, from one snapshot.
        #expect(run.windowUpper == Incremental.ts(250))
        #expect(ids(destination.batches) == Array(1...250))

        let next = RecordingDestination()
        _ = try await t.run(job, destination: next)
        #expect(ids(next.batches) == [900, 901])
    }

    @Test func aFullSyncOfARollbackJournalSourceLetsWritersCommitToo() async throws {
        let t = try TestWorkspace()
        try Self.rollbackSource(t)
        let job = try t.job("events", Incremental.sqliteJob(mode: "full"))
        let path = t.path("data/src.db")
        let attempts = LockedBox<[String]>([])
        let destination = RecordingDestination(onSend: { sequence in
            guard sequence == 1 else { return }
            attempts.withValue { $0.append(Self.insertWithoutWaiting(path, "(902, 'u902', NULL)")) }
        })
        _ = try await t.run(job, destination: destination)
        #expect(attempts.value == ["inserted"])
        #expect(ids(destination.batches) == Array(1...250))

        let next = RecordingDestination()
        _ = try await t.run(job, destination: next)
        #expect(ids(next.batches) == Array(1...250) + [902])
    }

    @Test func aFileThatIsNotADatabaseIsReportedAsNotADatabase() async throws {
        let t = try TestWorkspace()
        try t.write("data/users.db", "id,email\n1,a@example.com\n")
        let job = try t.job("users", """
            type: user
            source: { sqlite: ../data/users.db, table: users }
            mapping:
              - { column: email, to: user_identities.email }
            destination: { path: ../out/users.ndjson, environment: production }
            """)
        let run = try await t.run(job, destination: RecordingDestination())
        #expect(run.errorMessage == "'\(t.path("data/users.db"))' is not a SQLite database (file is not a database); point 'source.sqlite' at a SQLite database file, or read CSV, TSV, NDJSON and JSON files with 'source.file'")
    }

    @Test(.timeLimit(.minutes(1)))
    func aDatabaseLockedByAWriterIsWaitedForThenReportedAsLocked() throws {
        let t = try TestWorkspace()
        try Self.rollbackSource(t)
        let path = t.path("data/src.db")
        let writer = try SQLiteDatabase(path: path, mode: .readWrite)
        try writer.execute("BEGIN EXCLUSIVE")
        let error = try #require(throws: SourceError.self) {
            try SQLiteSource(path: path, selection: .table("events"), lockWait: .milliseconds(200))
        }
        #expect(error.message == "the SQLite database '\(path)' is locked by another connection (still locked after 200 ms); retry later, once the writer has committed")
        try writer.execute("COMMIT")

        // A lock released within the wait is waited out.
        let locked = DispatchSemaphore(value: 0)
        let holder = Thread {
            guard let db = try? SQLiteDatabase(path: path, mode: .readWrite), (try? db.execute("BEGIN EXCLUSIVE")) != nil else { return }
            locked.signal()
            Thread.sleep(forTimeInterval: 0.3)
            try? db.execute("COMMIT")
            db.close()
        }
        holder.start()
        #expect(locked.wait(timeout: .now() + 10) == .success)
        let source = try SQLiteSource(path: path, selection: .table("events"), lockWait: .seconds(10))
        #expect(source.columns == ["id", "user", "ts"])
        source.close()
    }

    @Test func queriesEndingInACommentOrASemicolonAreWrappedIntact() {
        #expect(SQLiteQueryText.wrappable("SELECT id FROM events\n-- newest last") == "SELECT id FROM events\n-- newest last\n")
        #expect(SQLiteQueryText.wrappable("SELECT id FROM events; -- done;\n\n") == "SELECT id FROM events -- done;\n")
        #expect(SQLiteQueryText.wrappable("SELECT id FROM events /* all */ ;;") == "SELECT id FROM events /* all */")
        #expect(SQLiteQueryText.wrappable("SELECT 'a;--' AS \"x;\" FROM [t;];") == "SELECT 'a;--' AS \"x;\" FROM [t;]")
        #expect(SQLiteQueryText.wrappable("SELECT 'it''s' AS x -- a 'quote\n;") == "SELECT 'it''s' AS x -- a 'quote\n")
        #expect(SQLiteQueryText.wrappable("SELECT 1") == "SELECT 1")
    }

    @Test func aQueryWhoseLastLineIsACommentPlansAndRuns() async throws {
        let t = try TestWorkspace()
        try Incremental.makeSource(t, rows: [(1, Incremental.ts(1)), (2, Incremental.ts(2))])
        let query = """
              query: |
                SELECT id, user, ts FROM events;
                -- every event; the newest last
            """
        let full = try t.job("events", Incremental.sqliteJob(mode: "full")
            .replacingOccurrences(of: "  query: SELECT id, user, ts FROM events", with: query))
        let plan = try await PlanCommand.describe(full, state: try t.state(), now: StateStore.now())
        #expect(plan.contains("\nread: SELECT * FROM (SELECT id, user, ts FROM events\n-- every event; the newest last\n)\nrows to read: 2\n"))
        let destination = RecordingDestination()
        let run = try await t.run(full, destination: destination)
        #expect(run.succeeded)
        #expect(ids(destination.batches) == [1, 2])

        let incremental = try t.job("events", Incremental.sqliteJob()
            .replacingOccurrences(of: "  query: SELECT id, user, ts FROM events", with: query))
        let sent = RecordingDestination()
        let second = try await t.run(incremental, destination: sent)
        #expect(second.succeeded)
        #expect(ids(sent.batches) == [1, 2])
    }
}
