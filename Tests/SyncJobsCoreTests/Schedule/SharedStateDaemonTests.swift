import Foundation
import Synchronization
import SyncJobsTestSupport
import Testing
@testable import SyncJobsCore

/// Several daemons on one PostgreSQL state and one jobs folder, on one manual clock: each fire
/// time of each job runs exactly once, on one of them.
@Suite(.serialized, .enabled(if: TestPostgres.shouldRun, TestPostgres.skipNote))
struct SharedStateDaemonTests {
    static let t0 = SchedulerTests.ms("2026-11-22T10:00:00Z")
    static let hour = SchedulerTests.hour

    static func hourlyJobs(_ t: TestWorkspace, count: Int) throws -> [String] {
        try (1...count).map { n in
            let name = String(format: "job%02d", n)
            _ = try t.write("data/\(name).csv", "id,ts\n\(n),2026-11-22T09:00:00Z\n")
            _ = try t.job(name, """
                type: user
                source: { file: ../data/\(name).csv }
                mapping:
                  - { column: id, to: user_identities.customer_id }
                  - { ignore: ts }
                sync: { mode: incremental, iterator: ts, iterator_type: timestamp }
                schedule: { type: interval, frequency: hourly, start: 2026-11-22T10:00:00Z }
                destination: { path: ../out/\(name).ndjson, environment: production }
                """)
            return name
        }
    }

    @Test(.timeLimit(.minutes(10)), arguments: [2, 3])
    func everyFireTimeOfTwentyJobsRunsExactlyOnceAcrossDaemons(daemons: Int) async throws {
        try await TestPostgres.withDatabase { database in
            let t = try TestWorkspace()
            t.statePath = database.url
            let names = try Self.hourlyJobs(t, count: 20)
            let clock = ManualSchedulerClock(now: Self.t0 + 60_000)
            let logs = (0..<daemons).map { _ in LogCapture() }
            let running = logs.map { DaemonUnderTest(t, clock: clock, logs: $0) }
            let state = try t.state()
            let hours = 4
            for h in 0..<hours {
                let fire = Self.t0 + Int64(h) * Self.hour
                // Generous: 20 runs per hour on a busy 2-core machine; the clock only moves on once
                // every job has covered the hour, so a slow machine makes the test slow, not wrong.
                let covered = try await waitUntil(timeout: .seconds(150), every: .milliseconds(20)) {
                    names.allSatisfy { (try? state.scheduleState(job: $0).lastFireTime) == fire }
                }
                #expect(covered, "fire time \(Timestamp.format(millis: fire)) not covered for every job; \(Self.problems(logs))")
                // The next hour, a minute in: every daemon sees the next fire time come due.
                if h < hours - 1 { clock.advance(to: fire + Self.hour + 60_000) }
            }
            for daemon in running { try await daemon.stop() }

            let fires = (0..<hours).reversed().map { Self.t0 + Int64($0) * Self.hour }
            for name in names {
                let runs = try state.runs(job: name, limit: 20)
                #expect(runs.map(\.fireTime) == fires.map(Optional.some), "\(name)")
                #expect(runs.allSatisfy { $0.status == .succeeded && $0.fireCount == 1 }, "\(name)")
            }
            // The runs were shared out; each started on exactly one daemon.
            let started = logs.map { $0.entries("Run started").count }
            #expect(started.reduce(0, +) == names.count * hours, "\(started)")
            #expect(started.filter { $0 > 0 }.count >= 2, "only one daemon ran jobs: \(started)")
        }
    }

    /// What the daemons logged about runs that could not start, for a failure message.
    static func problems(_ logs: [LogCapture]) -> String {
        logs.flatMap { $0.entries("Run could not start; its fire time stays due") }
            .map { "\($0.metadata["job"] ?? ""): \($0.metadata["error"] ?? "")" }.joined(separator: " | ")
    }
}
