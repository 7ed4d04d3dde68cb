import Foundation
import Logging
import SyncJobsTestSupport
import Testing
@testable import SyncJobsCore

/// The state's behaviour, once on SQLite and once on PostgreSQL (`--state postgres://…`): the
/// same statements, the same answers. The PostgreSQL case needs a server (see `TestPostgres`).
@Suite(.serialized) struct SharedStateTests {
    enum Backend: String, CustomTestStringConvertible, Sendable {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    /// PostgreSQL whenever a server is named or required (then a missing one fails the test).
    static let backends: [Backend] = TestPostgres.shouldRun ? [.sqlite, .postgres] : [.sqlite]

    /// A workspace whose state is on `backend`: a fresh PostgreSQL database for each test.
    static func withWorkspace(_ backend: Backend, _ body: (TestWorkspace) async throws -> Void) async throws {
        let t = try TestWorkspace()
        switch backend {
        case .sqlite:
            try await body(t)
        case .postgres:
            try await TestPostgres.withDatabase { database in
                t.statePath = database.url
                try await body(t)
            }
        }
    }

    @Test(arguments: backends)
    func aNewStateIsMigratedOnceToTheCurrentSchema(_ backend: Backend) async throws {
        try await Self.withWorkspace(backend) { t in
            let first = try t.state()
            #expect(try first.database.schemaVersion() == StateStore.migrations.count)
            try first.recordFire(job: "hourly", fireTime: 1_000, now: 2_000)
            // Opening again finds the schema current and keeps what is stored.
            let second = try t.state()
            #expect(try second.database.schemaVersion() == StateStore.migrations.count)
            #expect(try second.scheduleState(job: "hourly") == ScheduleState(paused: false, lastFireTime: 1_000))
        }
    }

    @Test(arguments: backends)
    func aJobRunsOnceAtATimeAndTheHolderIsNamed(_ backend: Backend) async throws {
        try await Self.withWorkspace(backend) { t in
            let first = try t.state()
            let second = try t.state()
            try first.acquireLock(job: "shop", runID: 7)
            let busy = try #require(throws: JobBusyError.self) { try second.acquireLock(job: "shop", runID: 8) }
            #expect(busy.runID == 7)
            #expect(busy.pid == getpid())
            #expect(busy.host == ProcessInfo.processInfo.hostName)
            #expect(try second.activeRun(job: "shop")?.runID == 7)
            try second.acquireLock(job: "other", runID: 9)
            try first.releaseLock(job: "shop")
            #expect(try second.activeRun(job: "shop") == nil)
            try second.acquireLock(job: "shop", runID: 8)
            #expect(try first.activeRun(job: "shop")?.runID == 8)
        }
    }

    @Test(arguments: backends)
    func checkpointsKeepEachKindOfIteratorValue(_ backend: Backend) async throws {
        try await Self.withWorkspace(backend) { t in
            let state = try t.state()
            for (job, value) in [("ints", IteratorValue.int(-42)), ("doubles", .double(2.5)), ("texts", .string("i:not an int"))] {
                var checkpoint = Checkpoint(iterator: "cursor", iteratorType: .integer)
                checkpoint.lower = value
                checkpoint.boundary = Boundary(count: 2, hashes: [RowHash(high: 1, low: 2), RowHash(high: 3, low: 4)])
                checkpoint.resume = FileResume(fingerprint: FileFingerprint(device: 1, inode: 2, size: 300, modifiedNanos: 5, changedNanos: 6, head: "h"),
                                               offset: 120, rowNumber: 7, precedingHash: "p")
                checkpoint.resumeMax = value
                try state.storeCheckpoint(job: job, checkpoint, runID: 3)
                let stored = try #require(try state.checkpoint(job: job))
                #expect(stored.lower == value)
                #expect(stored.resumeMax == value)
                #expect(stored.boundary == checkpoint.boundary)
                #expect(stored.resume == checkpoint.resume)
            }
            #expect(try state.resetCheckpoint(job: "ints"))
            #expect(try !state.resetCheckpoint(job: "ints"))
            #expect(try state.checkpoint(job: "ints") == nil)
        }
    }

    @Test(arguments: backends)
    func runsAreRecordedWithTheirCountsAndTheProcessThatRanThem(_ backend: Backend) async throws {
        try await Self.withWorkspace(backend) { t in
            let state = try t.state()
            let first = try state.beginRun(job: "shop", trigger: "scheduled", startedAt: 1_000, fireTime: 900, fireCount: 2)
            let second = try state.beginRun(job: "shop", trigger: "on_demand", startedAt: 5_000)
            #expect(second == first + 1)
            var counts = RunCounts(rowsRead: 10, rowsSent: 8, rowsRejected: 2, requests: 1, retries: 3, throttledMillis: 1_500,
                                   httpRequests: 4)
            counts.eventsSkipped = ["unsupported_event_type": 2]
            try state.updateRun(first, counts: counts, window: ("a", "b"), checkpoint: "id = 9")
            try state.finishRun(first, status: .succeeded, endedAt: 2_000, error: nil)
            let runs = try state.runs(job: "shop", limit: 5)
            #expect(runs.map(\.id) == [second, first])
            #expect(runs.map(\.status) == [.running, .succeeded])
            let done = runs[1]
            #expect(done.counts == counts)
            #expect(done.windowLower == "a" && done.windowUpper == "b" && done.checkpoint == "id = 9")
            #expect(done.fireTime == 900 && done.fireCount == 2 && done.endedAt == 2_000)
            #expect(done.host == ProcessInfo.processInfo.hostName)
            #expect(done.pid == getpid())
        }
    }

    @Test(arguments: backends)
    func rejectedAndFailedRowsAreKeptOnceAndSettledByRetry(_ backend: Backend) async throws {
        try await Self.withWorkspace(backend) { t in
            let state = try t.state()
            let batch = #"{"events":[],"source_request_id":"0123456789abcdef0123456789abcdef"}"#
            var refused = RejectedRow(runID: 1, rowNumber: 4, reason: "HTTP 400", row: "{}")
            refused.retryable = RetryableBatch(batch: batch, eventTime: 77)
            let bad = RejectedRow(runID: 1, rowNumber: 9, reason: "not a number", row: #"{"id":"x"}"#)
            try state.recordRejected(job: "mp", runID: 1, [refused, bad])
            try state.recordRejected(job: "mp", runID: 2, [bad])
            let rejected = try state.rejectedRows(job: "mp", limit: 10)
            #expect(rejected.total == 2)
            #expect(rejected.rows.map(\.rowNumber) == [4, 9])
            #expect(rejected.rows.map(\.timesSeen) == [1, 2])
            #expect(rejected.rows.map(\.runID) == [1, 2])

            try state.recordFailed(job: "mp", [FailedRow(runID: 2, rowNumber: 4, kind: .refused, reason: "HTTP 400 again", batch: batch, eventTime: 77)])
            let pending = try state.pendingFailed(job: "mp", limit: 10)
            #expect(pending.count == 1)
            #expect(pending.first?.attempts == 2)
            #expect(pending.first?.reason == "HTTP 400 again")
            #expect(try state.failedCounts(job: "mp") == (refused: 1, undelivered: 0))
            try state.settleRetried(delivered: pending.map(\.id), refused: [])
            #expect(try state.pendingFailed(job: "mp", limit: 10).isEmpty)
            let after = try state.rejectedRows(job: "mp", limit: 10)
            #expect(after.total == 1)
            #expect(after.deliveredByRetry == 1)
        }
    }

    @Test(arguments: backends)
    func theLastFireTimeNeverMovesBackAndResumingSkipsWhatPassedWhilePaused(_ backend: Backend) async throws {
        try await Self.withWorkspace(backend) { t in
            let state = try t.state()
            try state.recordFire(job: "hourly", fireTime: 5_000, now: 5_100)
            try state.recordFire(job: "hourly", fireTime: 3_000, now: 5_200)
            #expect(try state.scheduleState(job: "hourly") == ScheduleState(paused: false, lastFireTime: 5_000))
            try state.setPaused(job: "hourly", true, now: 6_000)
            #expect(try state.scheduleState(job: "hourly") == ScheduleState(paused: true, lastFireTime: 5_000))
            try state.setPaused(job: "hourly", false, now: 9_000)
            #expect(try state.scheduleState(job: "hourly") == ScheduleState(paused: false, lastFireTime: 9_000))
            try state.setPaused(job: "new", false, now: 9_500)
            #expect(try state.scheduleState(job: "new") == ScheduleState(paused: false, lastFireTime: 9_500))
        }
    }

    @Test(arguments: backends)
    func backfillsContinueUnderTheirOwnIdAndDeliveredBatchesAreForgottenOnceCovered(_ backend: Backend) async throws {
        try await Self.withWorkspace(backend) { t in
            let state = try t.state()
            let first = try state.beginBackfill(job: "e", lower: "a", upper: "b", fresh: false, now: 1)
            #expect(first.resumed == false)
            #expect(try state.beginBackfill(job: "e", lower: "a", upper: "b", fresh: false, now: 2) == (first.id, true))
            let again = try state.beginBackfill(job: "e", lower: "a", upper: "b", fresh: true, now: 3)
            #expect(again.id == first.id + 1 && again.resumed == false)
            try state.completeBackfill(again.id, now: 4)
            try state.recordBackfillWindow(job: "e", BackfillWindowKey(lower: "a", upper: "b"), runID: 1, rowsSent: 5)
            #expect(try state.completedBackfillWindows(job: "e") == [BackfillWindowKey(lower: "a", upper: "b")])

            try state.recordDeliveredBatches(job: "e", destination: "fme", ids: ["x", "y"], at: 1_000)
            #expect(try state.uncoveredDeliveries(job: "e", destination: "fme") == ["x", "y"])
            let run = try state.beginRun(job: "e", trigger: "on_demand", startedAt: 1_500)
            try state.finishRun(run, status: .succeeded, endedAt: 2_000, error: nil)
            #expect(try state.uncoveredDeliveries(job: "e", destination: "fme") == [])
        }
    }

    /// A whole incremental run on the state, then one that finds nothing new.
    @Test(arguments: backends)
    func anIncrementalJobStoresItsCheckpointAndTheNextRunReadsOnlyNewRows(_ backend: Backend) async throws {
        try await Self.withWorkspace(backend) { t in
            _ = try t.write("data/e.csv", "id,ts\n1,2026-11-01T00:00:00Z\n2,2026-11-02T00:00:00Z\n")
            let job = try t.job("e", """
                type: user
                source: { file: ../data/e.csv }
                mapping:
                  - { column: id, to: user_identities.customer_id }
                  - { ignore: ts }
                sync: { mode: incremental, iterator: ts, iterator_type: timestamp }
                destination: { path: ../out/e.ndjson, environment: production }
                """)
            let first = try await t.run(job)
            #expect(first.status == .succeeded)
            #expect(first.counts.rowsSent == 2)
            #expect(first.checkpoint == "ts = 2026-11-02T00:00:00Z (1 row at this value delivered)")
            let second = try await t.run(job)
            #expect(second.counts.rowsSent == 0)
            #expect(second.counts.rowsSkipped == 1)
            #expect(try t.state().runs(job: "e", limit: 5).map(\.status) == [.succeeded, .succeeded])
        }
    }
}
