import EventsAPIServer
import Foundation
import Testing
@testable import SyncJobsCore

/// The daemon in-process on a manual clock: a fire time counts as covered only once a run that
/// started after it has finished; runs that cannot start are tried again after a backoff.
@Suite struct DaemonTests {
    static let t0 = SchedulerTests.ms("2026-11-22T10:00:00Z")
    static let hour = SchedulerTests.hour

    static func hourlyJob(_ t: TestWorkspace, destination: String = "{ path: ../out/hourly.ndjson, environment: production }") throws {
        try t.sqlite("data/src.db", """
            PRAGMA journal_mode=WAL; CREATE TABLE e (id INTEGER, ts TEXT);
            INSERT INTO e VALUES (1, '2026-11-22T09:10:00Z'), (2, '2026-11-22T09:20:00Z'), (3, '2026-11-22T09:30:00Z');
            """)
        _ = try t.job("hourly", """
            type: user
            source: { sqlite: ../data/src.db, table: e }
            mapping:
              - { column: id, to: user_identities.customer_id }
              - { ignore: ts }
            sync: { mode: incremental, iterator: ts, iterator_type: timestamp }
            schedule: { type: interval, frequency: hourly, start: 2026-11-22T10:00:00Z }
            destination: \(destination)
            """)
    }

    /// One line per entry: level, message, and the metadata that says what happened.
    static func lines(_ entries: [LogCapture.Entry], keys: [String]) -> [String] {
        entries.map { entry in
            ([entry.level.rawValue, entry.message] + keys.compactMap { key in entry.metadata[key].map { "\(key)=\($0)" } })
                .joined(separator: " ")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aFireTimeWhileAManualRunHoldsTheLockRunsWhenTheLockIsFree() async throws {
        let t = try TestWorkspace()
        try Self.hourlyJob(t)
        let state = try t.state()
        // A manual `jobs run hourly` holds the job's lock (this process is alive, so it is not stale).
        try state.acquireLock(job: "hourly", runID: nil)
        let clock = ManualSchedulerClock(now: Self.t0 + 60_000)
        let logs = LogCapture()
        let destination = RecordingDestination()
        let daemon = DaemonUnderTest(t, clock: clock, logs: logs, makeDestination: { _ in destination })

        // 10:01: the run cannot start; the daemon tries again 15 s later, then 30 s after that.
        #expect(await clock.waitForSleeper(until: Self.t0 + 75_000))
        #expect(try state.runs(job: "hourly", limit: 5).isEmpty)
        #expect(try state.scheduleState(job: "hourly").lastFireTime == nil)
        clock.advance(to: Self.t0 + 75_000)
        #expect(await clock.waitForSleeper(until: Self.t0 + 105_000))

        // The manual run ends; the next attempt runs the 10:00 fire time, and the daemon then
        // sleeps until 11:00.
        try state.releaseLock(job: "hourly")
        clock.advance(to: Self.t0 + 105_000)
        #expect(await clock.waitForSleeper(until: Self.t0 + Self.hour))
        try await daemon.stop()

        let runs = try state.runs(job: "hourly", limit: 5)
        #expect(runs.map(\.trigger) == ["scheduled"])
        #expect(runs.map(\.status) == [.succeeded])
        #expect(runs.map(\.fireTime) == [Self.t0])
        #expect(runs.map(\.fireCount) == [1])
        #expect(runs.map(\.startedAt) == [Self.t0 + 105_000])
        #expect(try state.scheduleState(job: "hourly").lastFireTime == Self.t0)
        #expect(destination.batches.compactMap(\.customerID) == ["1", "2", "3"])
        let holder = "job 'hourly' is already running: a run, process \(getpid()) on \(ProcessInfo.processInfo.hostName), started "
        let attempts = logs.entries("Run could not start")
        #expect(Self.lines(attempts, keys: ["job", "fire_time", "attempt", "next_attempt"]) == [
            "warning Run could not start: the job is running elsewhere; its fire time stays due job=hourly fire_time=2026-11-22T10:00:00Z attempt=1 next_attempt=2026-11-22T10:01:15Z",
            "warning Run could not start: the job is running elsewhere; its fire time stays due job=hourly fire_time=2026-11-22T10:00:00Z attempt=2 next_attempt=2026-11-22T10:01:45Z",
        ])
        #expect(attempts.allSatisfy { $0.metadata["holder"]?.hasPrefix(holder) == true })
    }

    @Test(.timeLimit(.minutes(1)))
    func aFireTimeWhoseRunCannotStartForAMissingSecretRunsOnceTheSecretIsThere() async throws {
        try await withEventsAPI { server in
            let t = try TestWorkspace()
            let variable = "SYNCJOBS_DAEMON_TEST_KEY_\(UUID().uuidString.replacingOccurrences(of: "-", with: ""))"
            try t.write("secret.txt", "test-secret\n")
            try Self.hourlyJob(t, destination: """

                  type: mparticle
                  url: \(server.baseURL)
                  api_key: ${\(variable)}
                  api_secret: { file: ../secret.txt }
                  environment: production
                """)
            let state = try t.state()
            let clock = ManualSchedulerClock(now: Self.t0 + 30_000)
            let logs = LogCapture()
            // The daemon's own destination factory, which reads the secret from the environment.
            let daemon = DaemonUnderTest(t, clock: clock, logs: logs)

            #expect(await clock.waitForSleeper(until: Self.t0 + 45_000))
            #expect(try state.runs(job: "hourly", limit: 5).isEmpty)
            #expect(try state.scheduleState(job: "hourly").lastFireTime == nil)
            #expect(server.acceptedBatches.isEmpty)

            setenv(variable, "test-key", 1)
            defer { unsetenv(variable) }
            clock.advance(to: Self.t0 + 45_000)
            #expect(await clock.waitForSleeper(until: Self.t0 + Self.hour))
            try await daemon.stop()

            let runs = try state.runs(job: "hourly", limit: 5)
            #expect(runs.map(\.trigger) == ["scheduled"])
            #expect(runs.map(\.status) == [.succeeded])
            #expect(runs.map(\.fireTime) == [Self.t0])
            #expect(runs.map(\.fireCount) == [1])
            #expect(try state.scheduleState(job: "hourly").lastFireTime == Self.t0)
            #expect(server.deliveredCustomers == ["1", "2", "3"])
            #expect(Self.lines(logs.entries("Run could not start"), keys: ["job", "fire_time", "attempt", "next_attempt", "error"]) == [
                "error Run could not start; its fire time stays due job=hourly fire_time=2026-11-22T10:00:00Z attempt=1 next_attempt=2026-11-22T10:00:45Z error=destination.api_key reads the environment variable \(variable), which is not set; export it before running the job",
            ])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aCatchUpInterruptedByShutdownLeavesItsFireTimesDueAndTheNextDaemonRunsThem() async throws {
        let t = try TestWorkspace()
        try t.sqlite("data/src.db", "PRAGMA journal_mode=WAL; CREATE TABLE e (id INTEGER, ts TEXT);")
        var all: [String] = []
        for day in 18...21 {
            let values = (0..<150).map { i in "(\(day * 1000 + i), '2026-11-\(day)T05:\(String(format: "%02d:%02d", i / 60, i % 60))Z')" }
            try t.execute("data/src.db", "INSERT INTO e VALUES " + values.joined(separator: ","))
            all += (0..<150).map { String(day * 1000 + $0) }
        }
        _ = try t.job("daily", """
            type: user
            source: { sqlite: ../data/src.db, table: e }
            mapping:
              - { column: id, to: user_identities.customer_id }
              - { ignore: ts }
            sync: { mode: incremental, iterator: ts, iterator_type: timestamp, from: 2026-11-18T00:00:00Z }
            schedule: { type: interval, frequency: daily, start: 2026-11-18T06:00:00Z }
            destination: { path: ../out/daily.ndjson, environment: production }
            """)
        let state = try t.state()
        let now = SchedulerTests.ms("2026-11-22T06:30:00Z")
        let fire = SchedulerTests.ms("2026-11-22T06:00:00Z")
        let clock = ManualSchedulerClock(now: now)
        let logs = LogCapture()

        // Five fire times (18th to 22nd) are due; the run catches up in daily windows. Shutdown
        // comes while its third request is with the destination.
        let held = GatedDestination(holdAt: 2)
        let first = DaemonUnderTest(t, clock: clock, logs: logs, makeDestination: { _ in held })
        #expect(await held.waitUntilHeld())
        let stopping = Task { try await first.stop() }
        // The shutdown reaches the run before its held request is answered.
        #expect(await Self.waitFor { logs.entries("Daemon stopping").count == 1 })
        held.release()
        try await stopping.value

        let interrupted = try #require(try state.runs(job: "daily", limit: 5).first)
        #expect(interrupted.trigger == "scheduled")
        #expect(interrupted.status == .interrupted)
        #expect(interrupted.fireTime == fire)
        #expect(interrupted.fireCount == 5)
        #expect(try state.scheduleState(job: "daily").lastFireTime == nil)
        let delivered = held.batches.compactMap(\.customerID)
        #expect(delivered.count >= 300 && delivered.count < 600)
        #expect(delivered == Array(all.prefix(delivered.count)))
        #expect(interrupted.counts.rowsSent == delivered.count)
        // The daemon logs the status history records.
        #expect(Self.lines(logs.entries("Run finished"), keys: ["status", "rows.sent"]) == ["info Run finished status=interrupted rows.sent=\(delivered.count)"])

        // A new daemon at the same instant still owes the five fire times: one run covers them
        // and resumes from the checkpoint.
        let rest = RecordingDestination()
        let second = DaemonUnderTest(t, clock: clock, logs: logs, makeDestination: { _ in rest })
        #expect(await clock.waitForSleeper(until: SchedulerTests.ms("2026-11-23T06:00:00Z")))
        try await second.stop()

        let runs = try state.runs(job: "daily", limit: 5)
        #expect(runs.count == 2)
        #expect(runs.first?.trigger == "scheduled")
        #expect(runs.first?.status == .succeeded)
        #expect(runs.first?.fireTime == fire)
        #expect(runs.first?.fireCount == 5)
        #expect(try state.scheduleState(job: "daily").lastFireTime == fire)
        #expect(delivered + rest.batches.compactMap(\.customerID) == all)
    }

    static func waitFor(_ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }
}
