import Foundation
import ServiceLifecycleTestKit
import Testing
@testable import SyncJobsCore

/// The status a run ends with is the one history records and the log says.
@Suite struct RunStatusTests {
    typealias Incremental = IncrementalRunTests

    static func runner(_ t: TestWorkspace, destination: any Destination, logs: LogCapture) throws -> JobRunner {
        try Incremental.makeSource(t, rows: (1...250).map { ($0, Incremental.ts($0)) })
        let job = try t.job("events", Incremental.sqliteJob())
        return JobRunner(job: job, state: try t.state(), destination: destination, logger: logs.logger)
    }

    static func finished(_ logs: LogCapture) -> [String] {
        logs.entries("Run finished").map { "\($0.message) status=\($0.metadata["status"] ?? "") run=\($0.metadata["run"] ?? "")" }
    }

    /// A graceful shutdown (ServiceLifecycle's, as the daemon's SIGTERM starts it) reaches the run.
    @Test func aRunStoppedByShutdownIsInterruptedInHistoryAndInTheLog() async throws {
        let t = try TestWorkspace()
        let logs = LogCapture()
        let result = try await testGracefulShutdown { shutdown in
            let destination = RecordingDestination(onSend: { sequence in if sequence == 0 { shutdown.triggerGracefulShutdown() } })
            return try await Self.runner(t, destination: destination, logs: logs).run(RunOptions())
        }
        #expect(result.stopped)
        #expect(result.status == .interrupted)
        let run = try #require(try t.state().runs(job: "events", limit: 1).first)
        #expect(run.status == .interrupted)
        #expect(Self.finished(logs) == ["Run finished status=interrupted run=\(run.id)"])
    }

    @Test func aFailedRunIsFailedInHistoryAndInTheLog() async throws {
        let t = try TestWorkspace()
        let logs = LogCapture()
        let result = try await Self.runner(t, destination: RecordingDestination(failOnRequest: 1), logs: logs).run(RunOptions())
        #expect(result.status == .failed)
        let run = try #require(try t.state().runs(job: "events", limit: 1).first)
        #expect(run.status == .failed)
        #expect(Self.finished(logs) == ["Run finished status=failed run=\(run.id)"])
    }

    /// A run cancelled (past the daemon's shutdown grace period) did not run to its end either.
    @Test(.timeLimit(.minutes(1)))
    func aCancelledRunIsInterruptedAndKeepsWhatWasAcknowledged() async throws {
        let t = try TestWorkspace()
        let logs = LogCapture()
        let held = GatedDestination(holdAt: 1)
        let runner = try Self.runner(t, destination: held, logs: logs)
        let task = Task { try await runner.run(RunOptions()) }
        #expect(await held.waitUntilHeld())
        task.cancel()
        let result = try await task.value
        #expect(result.status == .interrupted)
        #expect(result.errorMessage == "the run was interrupted; delivered rows are checkpointed")
        let run = try #require(try t.state().runs(job: "events", limit: 1).first)
        #expect(run.status == .interrupted)
        #expect(run.error == "the run was interrupted; delivered rows are checkpointed")
        #expect(run.counts.rowsSent == 100)
        #expect(try t.state().checkpoint(job: "events")?.lower == .int(Timestamp.parseMillis(Incremental.ts(100))!))
        #expect(Self.finished(logs) == ["Run finished status=interrupted run=\(run.id)"])
    }
}
