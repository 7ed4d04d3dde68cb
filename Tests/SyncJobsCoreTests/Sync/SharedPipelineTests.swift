import Foundation
import Logging
import Testing
@testable import SyncJobsCore

/// `jobs plan` and `jobs retry` go through the run's own stages, so they cannot drift from it.
@Suite struct SharedPipelineTests {
    typealias Incremental = IncrementalRunTests
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func ids(_ batches: [Value]) -> [Int64] {
        batches.compactMap { if case .int(let id)? = $0["user_attributes"]?["id"] { return id } else { return nil } }
    }

    @Test func planPreviewsExactlyTheBatchesTheNextRunSends() async throws {
        let t = try TestWorkspace()
        try Incremental.makeSource(t, rows: [(1, Incremental.ts(1)), (2, nil), (3, Incremental.ts(3)), (4, Incremental.ts(4)),
                                              (5, Incremental.ts(5)), (6, Incremental.ts(6))])
        let job = try t.job("events", Incremental.sqliteJob())
        let plan = try await PlanCommand.describe(job, state: try t.state(), now: StateStore.now())
        let run = RecordingDestination()
        _ = try await t.run(job, destination: run)
        // The first three batches the run sent, pretty-printed as plan prints them, in plan's text.
        for batch in run.batches.prefix(3) {
            #expect(plan.contains(JSONWriter.pretty(batch)), "\(plan)")
        }
        #expect(!plan.contains(JSONWriter.pretty(run.batches[3])))
        // The map stage stopped once the preview had its batches: four rows were read (one rejected).
        #expect(plan.contains("""
            rejected among the first 4 rows read:
              row 1 (in ts order; ts = null): iterator column 'ts' is null
            """), "\(plan)")
    }

    @Test func planSkipsWhatRetryDeliveredAsTheNextRunWill() async throws {
        let t = try TestWorkspace()
        try Incremental.makeSource(t, rows: (1...3).map { ($0, Incremental.ts($0)) })
        let job = try t.job("events", Incremental.sqliteJob())
        _ = try await t.run(job, destination: RecordingDestination(failOnRequest: 0))
        _ = try await RetryCommand.retry(job: job, state: t.state(), destination: RecordingDestination(), logger: Self.quiet)
        let plan = try await PlanCommand.describe(job, state: try t.state(), now: StateStore.now())
        #expect(plan.contains("first batches: none (no row in the window maps to a batch)"), "\(plan)")
        #expect(plan.contains("(3 rows skipped as already delivered)"), "\(plan)")
    }

    @Test func retryPacksWithinTheDestinationsLimitsAndSendsThroughTheDeliverStage() async throws {
        let t = try TestWorkspace()
        try Incremental.makeSource(t, rows: (1...5).map { ($0, Incremental.ts($0)) })
        let job = try t.job("events", Incremental.sqliteJob())
        _ = try await t.run(job, destination: RecordingDestination(failOnRequest: 0))
        let destination = RecordingDestination(maxInFlight: 2, packing: PackingLimits(maxBatches: 2, maxBytes: 256 * 1024))
        let outcome = try await RetryCommand.retry(job: job, state: t.state(), destination: destination, logger: Self.quiet)
        #expect(outcome.error == nil)
        #expect(destination.requests.map(\.batchCount) == [2, 2, 1])
        #expect(ids(destination.batches).sorted() == [1, 2, 3, 4, 5])
        #expect(outcome.counts.requests == 3)
    }
}
