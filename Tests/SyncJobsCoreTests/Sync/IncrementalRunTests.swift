import Foundation
import Testing
@testable import SyncJobsCore

/// The exact incremental behaviours promised in README ("Incremental runs and checkpoints").
@Suite struct IncrementalRunTests {
    static func sqliteJob(iteratorType: String = "timestamp", from: String? = "2026-01-01T00:00:00Z", lookback: String? = nil,
                          mode: String = "incremental") -> String {
        var sync = "sync:\n  mode: \(mode)\n"
        if mode == "incremental" {
            sync += "  iterator: ts\n  iterator_type: \(iteratorType)\n"
            if let from { sync += "  from: \(from)\n" }
            if let lookback { sync += "  lookback: \(lookback)\n" }
        }
        return """
            name: events
            type: user
            source:
              sqlite: ../data/src.db
              query: SELECT id, user, ts FROM events
            mapping:
              - { column: user, to: user_identities.customer_id }
              - { column: id, to: user_attributes.id }
              - { ignore: ts }
            \(sync)destination: { path: ../out/events.ndjson, environment: production }
            """
    }

    static func makeSource(_ t: TestWorkspace, rows: [(Int, String?)]) throws {
        try t.sqlite("data/src.db", "PRAGMA journal_mode=WAL; CREATE TABLE events (id INTEGER, user TEXT, ts);")
        try insert(t, rows)
    }

    static func insert(_ t: TestWorkspace, _ rows: [(Int, String?)]) throws {
        guard !rows.isEmpty else { return }
        let values = rows.map { id, ts in "(\(id), 'u\(id)', \(ts.map { "'\($0)'" } ?? "NULL"))" }.joined(separator: ",")
        try t.execute("data/src.db", "INSERT INTO events VALUES \(values)")
    }

    /// "2026-01-01T00:MM:00Z" for minute m (m < 60), "2026-01-01T01:..." beyond.
    static func ts(_ minute: Int) -> String {
        String(format: "2026-01-01T%02d:%02d:00Z", minute / 60, minute % 60)
    }

    func ids(_ batches: [Value]) -> [Int64] {
        batches.compactMap { if case .int(let id)? = $0["user_attributes"]?["id"] { return id } else { return nil } }
    }

    @Test func firstRunStartsAtFromAndTheNextSendsNothing() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: [(1, "2025-12-31T23:59:59Z"), (2, Self.ts(0)), (3, Self.ts(5)), (4, Self.ts(5)), (5, Self.ts(3))])
        let job = try t.job("events", Self.sqliteJob())
        let first = RecordingDestination()
        let run1 = try await t.run(job, destination: first)
        #expect(run1.succeeded)
        #expect(ids(first.batches) == [2, 5, 3, 4])
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

    @Test func tiesThatArriveAfterARunAreSentOnceAndNeverAgain() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: [(1, Self.ts(1)), (2, Self.ts(2)), (3, Self.ts(2))])
        let job = try t.job("events", Self.sqliteJob())
        let run1 = RecordingDestination()
        _ = try await t.run(job, destination: run1)
        #expect(ids(run1.batches) == [1, 2, 3])

        try Self.insert(t, [(4, Self.ts(2)), (5, Self.ts(3)), (6, Self.ts(1))])
        let run2 = RecordingDestination()
        let result = try await t.run(job, destination: run2)
        // 4 ties with the checkpoint value; 5 is newer; 6 is a late row below the checkpoint (lookback's job).
        #expect(ids(run2.batches) == [4, 5])
        #expect(result.counts.rowsSkipped == 2)

        let run3 = RecordingDestination()
        _ = try await t.run(job, destination: run3)
        #expect(run3.batches.isEmpty)
    }

    @Test func rowsArrivingDuringARunWaitForTheNextOne() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: (1...150).map { ($0, Self.ts($0 % 3 == 0 ? 20 : 10)) })
        let job = try t.job("events", Self.sqliteJob())
        let path = t.path("data/src.db")
        // While the first request is being delivered, the warehouse commits more rows: one tied with
        // the high watermark and one above it.
        let writer = RecordingDestination(onSend: { sequence in
            guard sequence == 0 else { return }
            let db = try SQLiteDatabase(path: path, mode: .readWrite)
            try db.execute("INSERT INTO events VALUES (900, 'u900', '\(Self.ts(20))'), (901, 'u901', '\(Self.ts(30))')")
            db.close()
        })
        let run1 = try await t.run(job, destination: writer)
        #expect(run1.succeeded)
        #expect(run1.windowUpper == "2026-01-01T00:20:00Z")
        #expect(ids(writer.batches).count == 150)
        #expect(!ids(writer.batches).contains(900))

        let next = RecordingDestination()
        _ = try await t.run(job, destination: next)
        #expect(ids(next.batches) == [900, 901])
    }

    @Test func theCheckpointCoversOnlyTheAcknowledgedPrefix() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: (1...250).map { ($0, Self.ts($0)) })
        let job = try t.job("events", Self.sqliteJob())
        let failing = RecordingDestination(failOnRequest: 2)
        let run1 = try await t.run(job, RunOptions(checkpointEvery: 100), destination: failing)
        #expect(!run1.succeeded)
        #expect(run1.errorMessage == "the destination is down")
        #expect(ids(failing.batches) == Array(1...200))
        let checkpoint = try #require(try t.state().checkpoint(job: "events"))
        #expect(checkpoint.lower.map { job.sync.iteratorType!.display($0) } == Self.ts(200))
        #expect(checkpoint.boundary.count == 1)

        let history = try t.state().runs(job: "events", limit: 1)
        #expect(history.first?.status == .failed)
        #expect(history.first?.error == "the destination is down")
        #expect(history.first?.counts.rowsSent == 200)

        let retry = RecordingDestination()
        let run2 = try await t.run(job, destination: retry)
        #expect(run2.succeeded)
        #expect(ids(retry.batches) == Array(201...250))
    }

    @Test func outOfOrderAcknowledgementsNeverMoveThePrefixPastAFailure() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: (1...700).map { ($0, Self.ts($0)) })
        let job = try t.job("events", Self.sqliteJob())
        // Four requests in flight; request 3 answers first, with a failure, while 0 to 2 are still out.
        let destination = SlowDestination(failOnRequest: 3, maxInFlight: 4)
        let run1 = try await t.run(job, destination: destination)
        #expect(!run1.succeeded)
        let checkpoint = try #require(try t.state().checkpoint(job: "events"))
        #expect(checkpoint.lower.map { job.sync.iteratorType!.display($0) } == Self.ts(300))

        let next = RecordingDestination()
        _ = try await t.run(job, destination: next)
        #expect(ids(next.batches) == Array(301...700))
    }

    @Test func longRunsStoreTheCheckpointEvery10000Rows() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: (1...25_000).map { ($0, String(format: "2026-01-01T00:00:%02d.%03dZ", $0 / 1000, $0 % 1000)) })
        let job = try t.job("events", Self.sqliteJob())
        let statePath = t.path(".jobs/state.db")
        let seen = LockedBox<[Int]>([])
        // Observe the stored checkpoint from another connection while the run goes on.
        let observer = RecordingDestination(onSend: { sequence in
            guard sequence % 50 == 1 else { return }
            let state = try StateStore(path: statePath)
            if case .int(let ms)? = try state.checkpoint(job: "events")?.lower {
                seen.withValue { $0.append(Int(ms - 1_767_225_600_000)) }
            }
        })
        let run = try await t.run(job, destination: observer)
        #expect(run.counts.rowsSent == 25_000)
        // Requests 101 and 151 see the checkpoint stored at row 10,000, request 201 the one stored
        // at row 20,000 (requests 1 and 51 see none yet).
        #expect(seen.value == [10_000, 10_000, 20_000])
    }

    @Test func lookbackReReadsARecentWindow() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: (1...10).map { ($0, Self.ts($0)) })
        let plain = try t.job("events", Self.sqliteJob())
        _ = try await t.run(plain, destination: RecordingDestination())
        // A transaction that committed late: its timestamp is below the checkpoint.
        try Self.insert(t, [(11, Self.ts(8))])
        let withoutLookback = RecordingDestination()
        _ = try await t.run(plain, destination: withoutLookback)
        #expect(ids(withoutLookback.batches).isEmpty)

        let looking = try t.job("events", Self.sqliteJob(lookback: "3m"))
        let withLookback = RecordingDestination()
        let run = try await t.run(looking, destination: withLookback)
        #expect(run.windowLower == Self.ts(7))
        #expect(ids(withLookback.batches) == [7, 8, 11, 9, 10])
    }

    @Test func nullAndUnparseableIteratorsAreRejectedWithTheirReason() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: [(1, Self.ts(1)), (2, nil), (3, "yesterday"), (4, Self.ts(2))])
        try t.execute("data/src.db", "INSERT INTO events VALUES (5, 'u5', 1767225600)")
        let job = try t.job("events", Self.sqliteJob())
        let destination = RecordingDestination()
        let run = try await t.run(job, destination: destination)
        #expect(ids(destination.batches) == [1, 4])
        #expect(run.counts.rowsRejected == 3)
        #expect(run.rejectedSamples.map(\.reason) == [
            "iterator column 'ts' is null",
            "iterator column 'ts' holds 'yesterday', which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z",
            "iterator column 'ts' holds 1767225600, which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z; it looks like unix seconds (2026-01-01T00:00:00Z): set 'iterator_type: unix_s'",
        ])
        let recorded = try t.state().rejectedRows(job: "events", limit: 10)
        #expect(recorded.total == 3)
        #expect(recorded.rows.first?.row == #"{"id":2,"user":"u2","ts":null}"#)
    }

    @Test func integerIteratorsComparePushedDownInSQL() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: [])
        try t.execute("data/src.db", "INSERT INTO events VALUES (1, 'u1', 9), (2, 'u2', '10'), (3, 'u3', 100), (4, 'u4', 10.5), (5, 'u5', 2)")
        let job = try t.job("events", Self.sqliteJob(iteratorType: "integer", from: "5"))
        let destination = RecordingDestination()
        let run = try await t.run(job, destination: destination)
        // Text '10' is read as 10; 10.5 is not an integer; 2 is below from.
        #expect(ids(destination.batches) == [1, 2, 3])
        #expect(run.rejectedSamples.map(\.reason) == ["iterator column 'ts' holds 10.5, which is not an integer"])
        #expect(try t.state().checkpoint(job: "events")?.lower == .int(100))
    }

    @Test func fullSyncsReadEveryRowEveryRun() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: [(1, Self.ts(1)), (2, nil)])
        let job = try t.job("events", Self.sqliteJob(mode: "full"))
        for _ in 0..<2 {
            let destination = RecordingDestination()
            _ = try await t.run(job, destination: destination)
            #expect(ids(destination.batches) == [1, 2])
        }
        #expect(try t.state().checkpoint(job: "events") == nil)
    }

    @Test func fullRefreshDryRunAndLimit() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: (1...30).map { ($0, Self.ts($0)) })
        let job = try t.job("events", Self.sqliteJob())

        let dry = try await t.run(job, RunOptions(dryRun: true))
        #expect(dry.counts == RunCounts(rowsRead: 30, rowsSent: 30, rowsRejected: 0, requests: 1))
        #expect(dry.runID == nil)
        #expect(try t.state().checkpoint(job: "events") == nil)
        #expect(try t.state().runs(job: "events", limit: 5).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: t.path("out/events.ndjson")))

        let limited = RecordingDestination()
        _ = try await t.run(job, RunOptions(limit: 10), destination: limited)
        #expect(ids(limited.batches) == Array(1...10))
        let rest = RecordingDestination()
        _ = try await t.run(job, destination: rest)
        #expect(ids(rest.batches) == Array(11...30))

        let refreshed = RecordingDestination()
        _ = try await t.run(job, RunOptions(fullRefresh: true), destination: refreshed)
        #expect(ids(refreshed.batches) == Array(1...30))
    }

    @Test func aChangedIteratorNeedsAReset() async throws {
        let t = try TestWorkspace()
        try Self.makeSource(t, rows: [(1, Self.ts(1))])
        _ = try await t.run(try t.job("events", Self.sqliteJob()), destination: RecordingDestination())
        let changed = try t.job("events", Self.sqliteJob().replacingOccurrences(of: "iterator: ts", with: "iterator: id")
            .replacingOccurrences(of: "iterator_type: timestamp", with: "iterator_type: integer")
            .replacingOccurrences(of: "from: 2026-01-01T00:00:00Z", with: "from: 0"))
        let run = try await t.run(changed, destination: RecordingDestination())
        #expect(run.errorMessage == "the stored checkpoint is for iterator 'ts' (timestamp), but the job now uses 'id' (integer); run 'jobs reset events --yes' to start again from sync.from")
    }
}

/// Incremental runs over files: unordered rows, a snapshot per run, resume by byte offset.
@Suite struct IncrementalFileTests {
    static let job = """
        name: clicks
        type: event
        source: { file: ../data/clicks.csv }
        mapping:
          - { column: user, to: user_identities.customer_id }
          - { column: id, to: events.data.custom_attributes.id }
          - { static: Click, to: events.data.event_name }
          - { column: at, to: events.data.timestamp_unixtime_ms }
        sync: { mode: incremental, iterator: at, iterator_type: timestamp, from: 2026-01-01T00:00:00Z }
        destination: { path: ../out/clicks.ndjson, environment: production }
        """

    func ids(_ batches: [Value]) -> [String] {
        batches.compactMap {
            guard case .array(let events)? = $0["events"], case .string(let id)? = events.first?["data"]?["custom_attributes"]?["id"] else { return nil }
            return id
        }
    }

    func csv(_ rows: [(Int, Int)]) -> String {
        rows.map { "\($0.0),u\($0.0),\(IncrementalRunTests.ts($0.1))\n" }.joined()
    }

    @Test func unorderedRowsAreFilteredAndTiesRemembered() async throws {
        let t = try TestWorkspace()
        try t.write("data/clicks.csv", "id,user,at\n" + csv([(1, 5), (2, 1), (3, 9), (4, 9), (5, 3)]))
        let job = try t.job("clicks", Self.job)
        let first = RecordingDestination()
        _ = try await t.run(job, destination: first)
        #expect(ids(first.batches) == ["1", "2", "3", "4", "5"])
        #expect(try t.state().checkpoint(job: "clicks")?.display == "at = 2026-01-01T00:09:00Z (2 rows at this value delivered)")

        // The export is appended to: a tie with the checkpoint, a newer row and an older one.
        try t.write("data/clicks.csv", "id,user,at\n" + csv([(1, 5), (2, 1), (3, 9), (4, 9), (5, 3), (6, 9), (7, 12), (8, 2)]))
        let second = RecordingDestination()
        let run = try await t.run(job, destination: second)
        #expect(ids(second.batches) == ["6", "7"])
        #expect(run.counts.rowsSkipped == 2)
        #expect(try t.state().checkpoint(job: "clicks")?.display == "at = 2026-01-01T00:12:00Z (1 row at this value delivered)")
    }

    @Test func anInterruptedPassResumesAfterTheLastAcknowledgedRow() async throws {
        let t = try TestWorkspace()
        let rows = (1...300).map { ($0, ($0 * 7919) % 600) }
        try t.write("data/clicks.csv", "id,user,at\n" + csv(rows))
        let job = try t.job("clicks", Self.job)
        let failing = RecordingDestination(failOnRequest: 1)
        let run1 = try await t.run(job, destination: failing)
        #expect(!run1.succeeded)
        #expect(ids(failing.batches) == (1...100).map(String.init))
        let interrupted = try #require(try t.state().checkpoint(job: "clicks"))
        #expect(interrupted.resume?.rowNumber == 100)
        #expect(interrupted.lower == .int(1_767_225_600_000))

        let rest = RecordingDestination()
        let run2 = try await t.run(job, destination: rest)
        #expect(run2.notes == ["resuming the interrupted pass over the file at row 101"])
        #expect(ids(rest.batches) == (101...300).map(String.init))
        let done = try #require(try t.state().checkpoint(job: "clicks"))
        #expect(done.resume == nil)
        #expect(done.lower.map { job.sync.iteratorType!.display($0) } == IncrementalRunTests.ts(rows.map(\.1).max()!))
    }

    @Test func malformedRecordsAreRejectedAndTheRunGoesOn() async throws {
        let t = try TestWorkspace()
        try t.write("data/clicks.csv", "id,user,at\n1,u1,\(IncrementalRunTests.ts(1))\n2,u2\n3,u3,\(IncrementalRunTests.ts(2))\n")
        let job = try t.job("clicks", Self.job)
        let destination = RecordingDestination()
        let run = try await t.run(job, destination: destination)
        #expect(ids(destination.batches) == ["1", "3"])
        #expect(run.rejectedSamples.map(\.rowNumber) == [2])
        #expect(run.rejectedSamples.first?.reason.contains("2 fields") == true)
    }
}

/// A destination whose requests take different times, so acknowledgements arrive out of order.
final class SlowDestination: Destination, @unchecked Sendable {
    let failOnRequest: Int
    let maxInFlight: Int

    init(failOnRequest: Int, maxInFlight: Int) {
        self.failOnRequest = failOnRequest
        self.maxInFlight = maxInFlight
    }

    func send(_ request: PackedRequest) async throws -> DeliveryResult {
        // Later requests answer sooner than earlier ones.
        try await Task.sleep(for: .milliseconds(max(1, 40 - request.sequence * 8)))
        if request.sequence == failOnRequest { throw RecordingDestination.Failure() }
        return .accepted
    }

    func makeDurable() async throws {}
    func close() async throws {}
}

final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func withValue(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}
