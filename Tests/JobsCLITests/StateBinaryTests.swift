import Foundation
import Testing
@testable import SyncJobsCore

/// The state database shared by several `jobs` processes.
@Suite struct StateBinaryTests {
    @Test func readOnlyCommandsDoNotWaitForAWriterOfTheStateDatabase() async throws {
        let project = try Project()
        let first = try await project.jobs("run", "shop-users-full")
        #expect(first.status == 0, "\(first.stderr)")
        // Another process (the daemon, a run) is inside a write transaction, and stays there until
        // the commands below have finished.
        let writer = try SQLiteDatabase(path: project.root + "/.jobs/state.db", mode: .readWrite, busyTimeoutMilliseconds: 0)
        try writer.execute("BEGIN IMMEDIATE; INSERT INTO schedules (job, paused, updated_at) VALUES ('other', 1, 0);")
        defer { writer.close() }

        let status = try await project.jobs("status", "shop-users-full")
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.hasPrefix("shop-users-full (user, full)\n"))
        #expect(status.stdout.contains("    #1 succeeded "))
        let history = try await project.jobs("history", "shop-users-full")
        #expect(history.status == 0, "\(history.stderr)")
        #expect(history.stdout.hasPrefix("#1 on_demand succeeded started "))
        let plan = try await project.jobs("plan", "shop-users")
        #expect(plan.status == 0, "\(plan.stderr)")
        // What the writer has not committed is not seen.
        let json = try await project.jobs("status", "--json")
        #expect(json.status == 0, "\(json.stderr)")
        #expect(!json.stdout.contains("\"other\""))
        try writer.execute("COMMIT")
    }
}
