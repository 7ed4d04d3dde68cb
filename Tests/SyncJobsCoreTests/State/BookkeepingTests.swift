import Foundation
import Logging
import Synchronization
import Testing
@testable import SyncJobsCore

/// Bookkeeping that must not drift across runs: failed and rejected rows, tie counts, checkpoints
/// under `--full-refresh`, and backfill runs and ids.
@Suite struct BookkeepingTests {
    typealias Incremental = IncrementalRunTests

    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func ids(_ batches: [Value]) -> [Int64] {
        batches.compactMap { if case .int(let id)? = $0["user_attributes"]?["id"] { return id } else { return nil } }
    }

    func requestIDs(_ batches: [Value]) -> Set<String> {
        Set(batches.compactMap { if case .string(let id)? = $0["source_request_id"] { return id } else { return nil } })
    }

    // MARK: Failed rows (item 14)

    @Test func aDeliveryThatFailsOnEveryRunIsKeptOnceAndRetryIsTheLastTimeItIsSent() async throws {
        let t = try TestWorkspace()
        try Incremental.makeSource(t, rows: (1...5).map { ($0, Incremental.ts($0)) })
        let job = try t.job("events", Incremental.sqliteJob())
        for run in 1...3 {
            let result = try await t.run(job, destination: RecordingDestination(failOnRequest: 0))
            #expect(result.errorMessage == "the destination is down", "run \(run)")
            #expect(result.counts.rowsUndelivered == 5)
        }
        let state = try t.state()
        #expect(try state.failedCounts(job: "events") == (refused: 0, undelivered: 5))
        let pending = try state.pendingFailed(job: "events", limit: 100)
        #expect(pending.map(\.rowNumber) == [1, 2, 3, 4, 5])
        #expect(pending.map(\.attempts) == [3, 3, 3, 3, 3])
        #expect(pending.map(\.runID) == [3, 3, 3, 3, 3])

        let retried = RecordingDestination()
        let outcome = try await RetryCommand.retry(job: job, state: state, destination: retried, logger: Self.quiet)
        #expect(outcome.error == nil)
        #expect(outcome.attempted == 5)
        #expect(ids(retried.batches) == [1, 2, 3, 4, 5])
        #expect(try state.failedCounts(job: "events") == (refused: 0, undelivered: 0))

        // The checkpoint never passed them, so the next run reads them again: retry delivered
        // them, so they are skipped, not sent a fourth time.
        let next = RecordingDestination()
        let run = try await t.run(job, destination: next)
        #expect(run.succeeded)
        #expect(next.batches.isEmpty)
        #expect(run.counts == RunCounts(rowsRead: 5, rowsSent: 0, rowsRejected: 0, requests: 0, rowsSkipped: 5))
        #expect(try state.checkpoint(job: "events")?.display == "ts = 2026-01-01T00:05:00Z (1 row at this value delivered)")
        // Once passed, they are no longer held: a new row is sent as usual.
        #expect(try state.deliveredByRetry(job: "events") == [])
        try Incremental.insert(t, [(6, Incremental.ts(6))])
        let later = RecordingDestination()
        _ = try await t.run(job, destination: later)
        #expect(ids(later.batches) == [6])
    }

    @Test func theSourceRequestIDIsReadFromTheEndOfABatch() {
        let batch = #"{"environment":"production","user_attributes":{"source_request_id":"x"},"source_request_id":"0123456789abcdef0123456789abcdef"}"#
        #expect(SourceRequestID.in(batch: batch) == "0123456789abcdef0123456789abcdef")
        #expect(SourceRequestID.in(batch: #"{"source_request_id":"0123456789abcdef0123456789abcdeX"}"#) == nil)
        #expect(SourceRequestID.in(batch: "{}") == nil)
    }

    // MARK: Rejected rows (item 15, and rows `jobs retry` delivered later)

    @Test func aRowRejectedOnEveryRunIsStoredOnceWithACountAndTheLastRun() async throws {
        let t = try TestWorkspace()
        try Incremental.makeSource(t, rows: [(1, nil), (2, "yesterday"), (3, Incremental.ts(3))])
        let job = try t.job("events", Incremental.sqliteJob())
        for _ in 1...3 {
            let run = try await t.run(job, destination: RecordingDestination())
            #expect(run.counts.rowsRejected == 2)
        }
        let recorded = try t.state().rejectedRows(job: "events", limit: 10)
        #expect(recorded.total == 2)
        #expect(recorded.rows.map(\.row) == [#"{"id":1,"user":"u1","ts":null}"#, #"{"id":2,"user":"u2","ts":"yesterday"}"#])
        #expect(recorded.rows.map(\.timesSeen) == [3, 3])
        #expect(recorded.rows.map(\.runID) == [3, 3])
        #expect(recorded.rows.map(\.firstRunID) == [1, 1])

        let output = CapturedOutput()
        _ = StatusCommand.execute(workspace: t.workspace, job: "events", json: false, output: output)
        let lines = output.stdout.split(separator: "\n").map(String.init)
        let heading = try #require(lines.firstIndex(of: "  rejected rows: 2"), "\(output.stdout)")
        #expect(lines[heading + 1].hasPrefix("    run #3 row "))
        #expect(lines[heading + 1].hasSuffix(": iterator column 'ts' is null (rejected 3 times since run #1)"))
    }

    /// Refuses the batches of the customers in `refused` (as an HTTP 400 would), accepts the rest.
    final class RefusingDestination: Destination, Sendable {
        let refused: Mutex<Set<String>>
        let accepted = Mutex<[String]>([])
        init(refusing: Set<String>) { refused = Mutex(refusing) }
        var maxInFlight: Int { 1 }

        func send(_ request: PackedRequest) async throws -> DeliveryResult {
            var result = DeliveryResult()
            for index in 0..<request.batchCount {
                let batch = try JSONParser.parse(String(decoding: request.batch(index), as: UTF8.self))
                let customer = batch.customerID ?? ""
                if refused.withLock({ $0.contains(customer) }) {
                    result.rejected.append(RejectedBatch(index: index, reason: "HTTP 400: BAD_REQUEST: refused \(customer)"))
                } else {
                    accepted.withLock { $0.append(customer) }
                }
            }
            return result
        }

        func makeDurable() async throws {}
        func close() async throws {}
    }

    @Test func rowsThatRetryDeliveredAreNoLongerListedAsRejected() async throws {
        let t = try TestWorkspace()
        try Incremental.makeSource(t, rows: (1...4).map { ($0, Incremental.ts($0)) })
        let job = try t.job("events", Incremental.sqliteJob())
        let destination = RefusingDestination(refusing: ["u2", "u3"])
        _ = try await t.run(job, destination: destination)
        let state = try t.state()
        #expect(try state.rejectedRows(job: "events", limit: 10).total == 2)

        destination.refused.withLock { $0 = ["u3"] }
        let outcome = try await RetryCommand.retry(job: job, state: state, destination: destination, logger: Self.quiet)
        #expect(outcome.counts.rowsSent == 1)
        let after = try state.rejectedRows(job: "events", limit: 10)
        #expect(after.total == 1)
        #expect(after.deliveredByRetry == 1)
        #expect(after.rows.map(\.reason) == ["the destination refused the batch: HTTP 400: BAD_REQUEST: refused u3"])

        let output = CapturedOutput()
        _ = StatusCommand.execute(workspace: t.workspace, job: "events", json: false, output: output)
        #expect(output.stdout.contains("""
              rejected rows: 1 (and 1 refused earlier, since delivered by 'jobs retry')
                run #1 row 3 (in ts order): the destination refused the batch: HTTP 400: BAD_REQUEST: refused u3
            """), "\(output.stdout)")
    }

    // MARK: Tie counts with lookback (item 16)

    @Test func withLookbackTheRowsAtTheCheckpointAreCountedOnce() async throws {
        let t = try TestWorkspace()
        try Incremental.makeSource(t, rows: [(1, Incremental.ts(1)), (2, Incremental.ts(5))])
        let job = try t.job("events", Incremental.sqliteJob(lookback: "1h"))
        for run in 1...3 {
            let destination = RecordingDestination()
            let result = try await t.run(job, destination: destination)
            // Lookback re-sends the window every run, by design…
            #expect(ids(destination.batches) == [1, 2], "run \(run)")
            // …but the one row at the checkpoint's value stays one row.
            #expect(result.checkpoint == "ts = 2026-01-01T00:05:00Z (1 row at this value delivered)", "run \(run)")
        }
    }

    @Test func withLookbackAFilePassCountsTheRowsAtTheCheckpointOnce() async throws {
        let t = try TestWorkspace()
        try t.write("data/users.csv", "id,user,ts\n1,u1,\(Incremental.ts(1))\n2,u2,\(Incremental.ts(5))\n3,u3,\(Incremental.ts(5))\n")
        let job = try t.job("users", """
            type: user
            source: { file: ../data/users.csv }
            mapping:
              - { column: user, to: user_identities.customer_id }
              - { column: id, to: user_attributes.id }
              - { ignore: ts }
            sync: { mode: incremental, iterator: ts, iterator_type: timestamp, lookback: 1h }
            """)
        for run in 1...3 {
            let result = try await t.run(job, destination: RecordingDestination())
            #expect(result.checkpoint == "ts = 2026-01-01T00:05:00Z (2 rows at this value delivered)", "run \(run)")
        }
    }

    // MARK: --full-refresh with --limit (item 18)

    @Test func aLimitedFullRefreshNeverMovesTheCheckpointBack() async throws {
        let t = try TestWorkspace()
        try Incremental.makeSource(t, rows: (1...200).map { ($0, Incremental.ts($0)) })
        let job = try t.job("events", Incremental.sqliteJob())
        _ = try await t.run(job, destination: RecordingDestination())
        let stored = try #require(try t.state().checkpoint(job: "events"))
        #expect(stored.display == "ts = 2026-01-01T03:20:00Z (1 row at this value delivered)")

        let refresh = RecordingDestination()
        let limited = try await t.run(job, RunOptions(fullRefresh: true, limit: 5), destination: refresh)
        #expect(ids(refresh.batches) == [1, 2, 3, 4, 5])
        #expect(limited.checkpoint == stored.display)
        #expect(try t.state().checkpoint(job: "events") == stored)

        let next = RecordingDestination()
        let run = try await t.run(job, destination: next)
        #expect(next.batches.isEmpty)
        #expect(run.counts.rowsSkipped == 1)

        // A full refresh that reads everything ends at the same value; the rows there stay remembered.
        let full = try await t.run(job, RunOptions(fullRefresh: true), destination: RecordingDestination())
        #expect(full.counts.rowsSent == 200)
        #expect(try t.state().checkpoint(job: "events") == stored)
    }

    @Test func aLimitedFullRefreshOfAFileKeepsTheFinishedPass() async throws {
        let t = try TestWorkspace()
        let rows = (1...50).map { "\($0),u\($0),\(Incremental.ts($0))" }.joined(separator: "\n")
        try t.write("data/users.csv", "id,user,ts\n\(rows)\n")
        let job = try t.job("users", """
            type: user
            source: { file: ../data/users.csv }
            mapping:
              - { column: user, to: user_identities.customer_id }
              - { column: id, to: user_attributes.id }
              - { ignore: ts }
            sync: { mode: incremental, iterator: ts, iterator_type: timestamp }
            """)
        _ = try await t.run(job, destination: RecordingDestination())
        let stored = try #require(try t.state().checkpoint(job: "users"))
        _ = try await t.run(job, RunOptions(fullRefresh: true, limit: 5), destination: RecordingDestination())
        #expect(try t.state().checkpoint(job: "users") == stored)
        let next = RecordingDestination()
        _ = try await t.run(job, destination: next)
        #expect(next.batches.isEmpty)
    }

    // MARK: Backfill (item 7, and its run records)

    @Test func backfillIDsDifferFromTheOriginalDeliveryAndStayTheSameWhenResumed() async throws {
        let t = try TestWorkspace()
        let job = try ScheduledRunTests.job(t)
        try ScheduledRunTests.insertDay(t, 18, rows: 2)
        try ScheduledRunTests.insertDay(t, 19, rows: 60)
        try t.execute("data/src.db", "INSERT INTO e SELECT id + 60, substr(ts, 1, 14) || '30:00Z' FROM e WHERE id >= 1900")
        let live = RecordingDestination()
        _ = try await t.run(job, destination: live)
        #expect(live.batches.count == 122)
        let before = try t.state().checkpoint(job: "daily")

        // The second window (120 rows, two requests) fails on its second request.
        let made = Mutex<[RecordingDestination]>([])
        func destinations(failing: Bool) -> (JobDefinition) throws -> any Destination {
            { _ in
                made.withLock { list in
                    let destination = RecordingDestination(failOnRequest: failing && list.count == 1 ? 1 : nil)
                    list.append(destination)
                    return destination
                }
            }
        }
        let commandTime = SchedulerTests.ms("2026-11-22T00:00:00Z")
        func backfill(again: Bool = false, failing: Bool = false) async -> (SyncJobsCore.ExitStatus, CapturedOutput) {
            let output = CapturedOutput()
            let status = await BackfillCommand.execute(workspace: t.workspace, job: "daily", from: "2026-11-18T00:00:00Z",
                                                       to: "2026-11-20T00:00:00Z", dryRun: false, again: again, output: output,
                                                       logger: Self.quiet, now: commandTime,
                                                       makeDestination: destinations(failing: failing))
            return (status, output)
        }
        let (failedStatus, failedOutput) = await backfill(failing: true)
        #expect(failedStatus == .runFailed)
        #expect(failedOutput.stderr == "daily: backfill window 2026-11-19T00:00:00Z .. 2026-11-20T00:00:00Z failed (run #3): the destination is down; rerun the same command to continue from this window")
        let (status, output) = await backfill()
        #expect(status == .ok)
        #expect(output.stdout == """
            2026-11-19T00:00:00Z .. 2026-11-20T00:00:00Z: run #4 sent 120, rejected 0
            daily: backfilled 1 window, sent 120 rows; 1 window already sent, skipped (use --again to send them again); the live checkpoint is unchanged
            """)
        let sent = made.withLock { $0 }
        #expect(sent.map(\.batches.count) == [2, 100, 120])
        let liveIDs = requestIDs(live.batches)
        let backfillIDs = requestIDs(sent.flatMap(\.batches))
        // Nothing the backfill sent carries an id of the original delivery…
        #expect(backfillIDs.isDisjoint(with: liveIDs))
        #expect(backfillIDs.count == 122)
        // …and the resumed window re-sent its first request with the same ids.
        #expect(requestIDs(sent[1].batches).isSubset(of: requestIDs(sent[2].batches)))
        #expect(try t.state().checkpoint(job: "daily") == before)

        // --again is a new backfill: new ids again.
        let (againStatus, _) = await backfill(again: true)
        #expect(againStatus == .ok)
        let third = made.withLock { Array($0.dropFirst(3)) }
        #expect(third.map(\.batches.count) == [2, 120])
        #expect(requestIDs(third.flatMap(\.batches)).isDisjoint(with: backfillIDs.union(liveIDs)))

        // Each window's run has its own start and end, not the command's.
        let runs = try t.state().runs(job: "daily", limit: 10).filter { $0.trigger == "backfill" }.reversed().map { $0 }
        #expect(runs.count == 5)
        for (previous, run) in zip(runs, runs.dropFirst()) {
            #expect(run.startedAt > commandTime)
            #expect(try #require(previous.endedAt) <= run.startedAt)
        }
        // The failed window shows what it delivered before failing.
        #expect(runs[1].status == .failed)
        #expect(runs[1].counts.rowsSent == 100)
    }

    /// Hands requests on until `holdAt`, then waits until released.
    final class GatedDestination: Destination, Sendable {
        let holdAt: Int
        let reached = AsyncStream<Void>.makeStream()
        let release = AsyncStream<Void>.makeStream()
        init(holdAt: Int) { self.holdAt = holdAt }
        var maxInFlight: Int { 1 }

        func send(_ request: PackedRequest) async throws -> DeliveryResult {
            if request.sequence == holdAt {
                reached.continuation.yield()
                for await _ in release.stream { break }
            }
            return .accepted
        }

        func makeDurable() async throws {}
        func close() async throws {}
    }

    @Test func aRunWithoutACheckpointRecordsWhatItDeliveredWhileItRuns() async throws {
        let t = try TestWorkspace()
        let job = try ScheduledRunTests.job(t)
        try ScheduledRunTests.insertDay(t, 19, rows: 60)
        try t.execute("data/src.db", "INSERT INTO e SELECT id + 60, substr(ts, 1, 14) || '30:00Z' FROM e")
        let destination = GatedDestination(holdAt: 1)
        let window = ExplicitWindow(lower: .int(SchedulerTests.ms("2026-11-19T00:00:00Z")), upper: .int(SchedulerTests.ms("2026-11-20T00:00:00Z")))
        let runner = JobRunner(job: job, state: try t.state(), destination: destination, logger: Self.quiet)
        async let result = runner.run(RunOptions(trigger: "backfill", checkpointEvery: 100, window: window, idScope: "backfill/1"))
        for await _ in destination.reached.stream { break }
        // The second request is in flight: the run record already shows the first one's rows, as
        // a killed window would leave it.
        let record = try #require(try t.state().runs(job: "daily", limit: 1).first)
        #expect(record.status == .running)
        #expect(record.counts.rowsSent == 100)
        destination.release.continuation.yield()
        #expect(try await result.counts.rowsSent == 120)
    }
}
