import Foundation
import Logging
import PostgresNIO
import Testing
@testable import SyncJobsCore
import SyncJobsTestSupport

/// The tie and boundary cases of `IncrementalRunTests` (the SQLite source) and the catch-up and
/// backfill cases of `ScheduledRunTests`, run against PostgreSQL with the same expectations: the
/// iterator predicate and ordering are pushed into PostgreSQL's SQL instead of SQLite's.
// Serialized: opening a PostgreSQL source waits on the driver from the calling thread (the source
// seam is synchronous there), and many such tests at once would hold the cooperative pool's few
// threads from the rest of the suite's timed tests.
@Suite(.serialized, .enabled(if: TestPostgres.shouldRun, TestPostgres.skipNote))
struct PostgresIncrementalTests {
    static func job(_ t: TestWorkspace, _ db: TestPostgres, iteratorType: String = "timestamp", from: String? = "2026-01-01T00:00:00Z",
                    lookback: String? = nil, column: String = "ts") throws -> JobDefinition {
        var sync = "sync:\n  mode: incremental\n  iterator: \(column)\n  iterator_type: \(iteratorType)\n"
        if let from { sync += "  from: \(from)\n" }
        if let lookback { sync += "  lookback: \(lookback)\n" }
        return try t.job("events", """
            name: events
            type: user
            source:
              postgres: \(db.url)
              query: SELECT id, "user", ts, n FROM events
            mapping:
              - { column: user, to: user_identities.customer_id }
              - { column: id, to: user_attributes.id }
              - { ignore: ts }
              - { ignore: n }
            \(sync)destination: { path: ../out/events.ndjson, environment: production }
            """)
    }

    static func makeSource(_ db: TestPostgres, rows: [(Int, String?)]) async throws {
        try await db.execute(#"CREATE TABLE events (id integer, "user" text, ts timestamptz, n numeric)"#)
        try await insert(db, rows)
    }

    static func insert(_ db: TestPostgres, _ rows: [(Int, String?)]) async throws {
        guard !rows.isEmpty else { return }
        let values = rows.map { id, ts in "(\(id), 'u\(id)', \(ts.map { "'\($0)'" } ?? "NULL"), \(id))" }.joined(separator: ",")
        try await db.execute("INSERT INTO events VALUES \(values)")
    }

    static let ts = IncrementalRunTests.ts

    func ids(_ batches: [Value]) -> [Int64] {
        batches.compactMap { if case .int(let id)? = $0["user_attributes"]?["id"] { return id } else { return nil } }
    }

    @Test func firstRunStartsAtFromAndTheNextSendsNothing() async throws {
        try await TestPostgres.withDatabase { db in
            let t = try TestWorkspace()
            try await Self.makeSource(db, rows: [(1, "2025-12-31T23:59:59Z"), (2, Self.ts(0)), (3, Self.ts(5)), (4, Self.ts(5)), (5, Self.ts(3))])
            let job = try Self.job(t, db)
            let first = RecordingDestination()
            let run1 = try await t.run(job, destination: first)
            #expect(run1.succeeded, "\(run1.errorMessage ?? "")")
            // Ties come in the query's order; 3 and 4 share 00:05.
            #expect(ids(first.batches).prefix(2) == [2, 5])
            #expect(Set(ids(first.batches).suffix(2)) == [3, 4])
            #expect(run1.counts == RunCounts(rowsRead: 4, rowsSent: 4, rowsRejected: 0, requests: 1))
            #expect(run1.windowLower == "2026-01-01T00:00:00Z")
            #expect(run1.windowUpper == "2026-01-01T00:05:00Z")
            let checkpoint = try #require(try t.state().checkpoint(job: "events"))
            #expect(checkpoint.lower == .int(1_767_225_900_000))
            #expect(checkpoint.boundary.count == 2)
            #expect(checkpoint.display == "ts = 2026-01-01T00:05:00Z (2 rows at this value delivered)")

            let second = RecordingDestination()
            let run2 = try await t.run(job, destination: second)
            #expect(second.batches.isEmpty)
            #expect(run2.counts == RunCounts(rowsRead: 2, rowsSent: 0, rowsRejected: 0, requests: 0, rowsSkipped: 2))
            #expect(try t.state().checkpoint(job: "events") == checkpoint)
        }
    }

    @Test func tiesThatArriveAfterARunAreSentOnceAndNeverAgain() async throws {
        try await TestPostgres.withDatabase { db in
            let t = try TestWorkspace()
            try await Self.makeSource(db, rows: [(1, Self.ts(1)), (2, Self.ts(2)), (3, Self.ts(2))])
            let job = try Self.job(t, db)
            let run1 = RecordingDestination()
            _ = try await t.run(job, destination: run1)
            #expect(ids(run1.batches).sorted() == [1, 2, 3])

            try await Self.insert(db, [(4, Self.ts(2)), (5, Self.ts(3)), (6, Self.ts(1))])
            let run2 = RecordingDestination()
            let result = try await t.run(job, destination: run2)
            // 4 ties with the checkpoint value; 5 is newer; 6 is a late row below the checkpoint (lookback's job).
            #expect(ids(run2.batches) == [4, 5])
            #expect(result.counts.rowsSkipped == 2)

            let run3 = RecordingDestination()
            _ = try await t.run(job, destination: run3)
            #expect(run3.batches.isEmpty)
        }
    }

    @Test func rowsArrivingDuringARunWaitForTheNextOne() async throws {
        try await TestPostgres.withDatabase { db in
            let t = try TestWorkspace()
            try await Self.makeSource(db, rows: (1...150).map { ($0, Self.ts($0 % 3 == 0 ? 20 : 10)) })
            let job = try Self.job(t, db)
            let endpoint = db.endpoint
            // While the first request is being delivered, the warehouse commits more rows: one tied
            // with the high watermark and one above it.
            let writer = RecordingDestination(onSend: { sequence in
                guard sequence == 0 else { return }
                let connection = try endpoint.connectWaiting(logger: Logger(label: "test"))
                defer { _ = try? connection.close().wait() }
                _ = try connection.query(PostgresQuery(unsafeSQL: "INSERT INTO events VALUES (900, 'u900', '\(Self.ts(20))', 900), (901, 'u901', '\(Self.ts(30))', 901)"),
                                         logger: Logger(label: "test")).wait()
            })
            let run1 = try await t.run(job, destination: writer)
            #expect(run1.succeeded, "\(run1.errorMessage ?? "")")
            #expect(run1.windowUpper == "2026-01-01T00:20:00Z")
            #expect(ids(writer.batches).count == 150)
            #expect(!ids(writer.batches).contains(900))

            let next = RecordingDestination()
            _ = try await t.run(job, destination: next)
            #expect(ids(next.batches) == [900, 901])
        }
    }

    @Test func theCheckpointCoversOnlyTheAcknowledgedPrefix() async throws {
        try await TestPostgres.withDatabase { db in
            let t = try TestWorkspace()
            try await Self.makeSource(db, rows: (1...250).map { ($0, Self.ts($0)) })
            let job = try Self.job(t, db)
            let failing = RecordingDestination(failOnRequest: 2)
            let run1 = try await t.run(job, RunOptions(checkpointEvery: 100), destination: failing)
            #expect(!run1.succeeded)
            #expect(run1.errorMessage == "the destination is down")
            #expect(ids(failing.batches) == Array(1...200))
            let checkpoint = try #require(try t.state().checkpoint(job: "events"))
            #expect(checkpoint.lower.map { job.sync.iteratorType!.display($0) } == Self.ts(200))
            #expect(checkpoint.boundary.count == 1)

            let retry = RecordingDestination()
            let run2 = try await t.run(job, destination: retry)
            #expect(run2.succeeded)
            #expect(ids(retry.batches) == Array(201...250))
        }
    }

    @Test func lookbackReReadsARecentWindow() async throws {
        try await TestPostgres.withDatabase { db in
            let t = try TestWorkspace()
            try await Self.makeSource(db, rows: (1...10).map { ($0, Self.ts($0)) })
            let plain = try Self.job(t, db)
            _ = try await t.run(plain, destination: RecordingDestination())
            // A transaction that committed late: its timestamp is below the checkpoint.
            try await Self.insert(db, [(11, Self.ts(8))])
            let withoutLookback = RecordingDestination()
            _ = try await t.run(plain, destination: withoutLookback)
            #expect(ids(withoutLookback.batches).isEmpty)

            let looking = try Self.job(t, db, lookback: "3m")
            let withLookback = RecordingDestination()
            let run = try await t.run(looking, destination: withLookback)
            #expect(run.windowLower == Self.ts(7))
            // 8 and 11 tie at 00:08; PostgreSQL returns ties in either order.
            let sent = ids(withLookback.batches)
            #expect(sent.count == 5)
            #expect(sent.first == 7 && Set(sent.dropFirst().prefix(2)) == [8, 11] && Array(sent.suffix(2)) == [9, 10])
        }
    }

    @Test func nullAndInfiniteIteratorsAreRejectedWithTheirReason() async throws {
        try await TestPostgres.withDatabase { db in
            let t = try TestWorkspace()
            try await Self.makeSource(db, rows: [(1, Self.ts(1)), (2, nil), (3, "infinity"), (4, Self.ts(2))])
            let job = try Self.job(t, db)
            let destination = RecordingDestination()
            let run = try await t.run(job, destination: destination)
            #expect(ids(destination.batches) == [1, 4])
            #expect(run.counts.rowsRejected == 2)
            #expect(run.rejectedSamples.map(\.reason) == [
                "iterator column 'ts' is null",
                "iterator column 'ts' holds 'infinity', which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z",
            ])
            let recorded = try t.state().rejectedRows(job: "events", limit: 10)
            #expect(recorded.total == 2)
            #expect(recorded.rows.map(\.row).sorted() == [#"{"id":2,"user":"u2","ts":null,"n":2}"#, #"{"id":3,"user":"u3","ts":"infinity","n":3}"#])
        }
    }

    @Test func integerAndNumericIteratorsComparePushedDownInSQL() async throws {
        try await TestPostgres.withDatabase { db in
            let t = try TestWorkspace()
            try await db.execute(#"CREATE TABLE events (id integer, "user" text, ts timestamptz, n numeric)"#,
                                 "INSERT INTO events VALUES (1, 'u1', NULL, 9), (2, 'u2', NULL, 10), (3, 'u3', NULL, 100), (4, 'u4', NULL, 10.5), (5, 'u5', NULL, 2)")
            let job = try Self.job(t, db, iteratorType: "integer", from: "5", column: "n")
            let destination = RecordingDestination()
            let run = try await t.run(job, destination: destination)
            // 10.5 is not an integer; 2 is below from.
            #expect(ids(destination.batches) == [1, 2, 3])
            #expect(run.rejectedSamples.map(\.reason) == ["iterator column 'n' holds 10.5, which is not an integer"])
            #expect(try t.state().checkpoint(job: "events")?.lower == .int(100))
        }
    }

    /// The high watermark, the boundary count and the rows come from one snapshot: rows another
    /// connection commits after the source opened (a tie with the watermark, a late row below it)
    /// are not in this run's statements. (With READ COMMITTED each statement would see them.)
    @Test func theWatermarkTheBoundaryCountAndTheRowsComeFromOneSnapshot() async throws {
        try await TestPostgres.withDatabase { db in
            let t = try TestWorkspace()
            try await Self.makeSource(db, rows: [(1, Self.ts(1)), (2, Self.ts(2))])
            let job = try Self.job(t, db)
            let source = try SourceOpener.open(job)
            defer { source.close() }
            let minute2 = try #require(Timestamp.parseMillis(Self.ts(2)))
            var window = ReadWindow(column: "ts", columnIndex: 2, type: .timestamp, lower: job.sync.from, upper: nil, ceiling: nil)
            window.upper = try source.highWatermark(window)
            #expect(window.upper == .int(minute2))
            try await Self.insert(db, [(3, Self.ts(2)), (4, Self.ts(1))])
            #expect(try source.countRows(at: .int(minute2), window: window) == 1)
            let stream = try source.rows(window, resume: nil, limit: nil)
            var batch = RowBatch(columnCount: source.columns.count, capacity: 0)
            var ids: [Value] = []
            while try await stream.next(into: &batch) {
                ids += (0..<batch.count).map { batch.value(batch.cell($0, 0)) }
            }
            await stream.close()
            #expect(ids == [.int(1), .int(2)])
        }
    }

    @Test func aFirstRunFromAPastStartCatchesUpInWindowsAndBackfillsLeaveTheCheckpointAlone() async throws {
        try await TestPostgres.withDatabase { db in
            let t = try TestWorkspace()
            try await db.execute("CREATE TABLE e (id integer, ts timestamptz)")
            for day in 18...21 {
                try await db.execute("INSERT INTO e VALUES " + (0..<2).map { "(\(day * 100 + $0), '2026-11-\(day)T05:0\($0):00Z')" }.joined(separator: ","))
            }
            let job = try t.job("daily", """
                type: user
                source: { postgres: "\(db.url)", table: e }
                mapping:
                  - { column: id, to: user_identities.customer_id }
                  - { ignore: ts }
                sync: { mode: incremental, iterator: ts, iterator_type: timestamp, from: 2026-11-18T00:00:00Z }
                schedule: { type: interval, frequency: daily, start: 2026-11-01T06:00:00Z }
                destination: { path: ../out/daily.ndjson, environment: production }
                """)
            let destination = RecordingDestination()
            let run = try await t.run(job, RunOptions(now: SchedulerTests.ms("2026-11-22T00:00:00Z")), destination: destination)
            #expect(run.notes == ["catching up from 2026-11-18T00:00:00Z in 4 daily windows, oldest first; the checkpoint is stored at each window"])
            #expect(run.counts.rowsSent == 8)
            #expect(try t.state().checkpoint(job: "daily")?.display == "ts = 2026-11-21T05:01:00Z (1 row at this value delivered)")

            let before = try t.state().checkpoint(job: "daily")
            let output = CapturedOutput()
            let status = await BackfillCommand.execute(workspace: t.workspace, job: "daily", from: "2026-11-18T00:00:00Z",
                                                       to: "2026-11-20T00:00:00Z", dryRun: false, again: false, output: output,
                                                       logger: .init(label: "test"))
            #expect(status == .ok)
            #expect(output.stdout == """
                2026-11-18T00:00:00Z .. 2026-11-19T00:00:00Z: run #2 sent 2, rejected 0
                2026-11-19T00:00:00Z .. 2026-11-20T00:00:00Z: run #3 sent 2, rejected 0
                daily: backfilled 2 windows, sent 4 rows; the live checkpoint is unchanged
                """)
            #expect(try t.state().checkpoint(job: "daily") == before)
        }
    }
}
