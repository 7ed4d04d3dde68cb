import Foundation
import Testing
@testable import SyncJobsCore

/// The daemon on a clock only the test moves: when a job fires, how fire times that pass during a
/// run coalesce, daily fires across Berlin's daylight-saving nights, and a graceful shutdown while
/// a run waits on its destination. Each asserts one outcome: the run records, the checkpoint and
/// the fire time covered.
@Suite struct DaemonClockTests {
    static let t0 = DaemonTests.t0
    static let hour = SchedulerTests.hour
    /// The daemon looks at the job files every 2 s of its clock, so a sleeper until `instant +
    /// fileCheck` shows the daemon has handled `instant`.
    static let fileCheck: Int64 = 2_000

    static func ms(_ iso: String) -> Int64 { SchedulerTests.ms(iso) }

    /// An hourly job from 10:00 reading table `e` (id, ts) of `data/src.db`.
    static func hourlyJob(_ t: TestWorkspace, rows: [(Int, String)]) throws {
        try t.sqlite("data/src.db", "PRAGMA journal_mode=WAL; CREATE TABLE e (id INTEGER, ts TEXT);")
        if !rows.isEmpty {
            try t.execute("data/src.db", "INSERT INTO e VALUES " + rows.map { "(\($0.0), '\($0.1)')" }.joined(separator: ","))
        }
        _ = try t.job("hourly", """
            type: user
            source: { sqlite: ../data/src.db, table: e }
            mapping:
              - { column: id, to: user_identities.customer_id }
              - { ignore: ts }
            sync: { mode: incremental, iterator: ts, iterator_type: timestamp }
            schedule: { type: interval, frequency: hourly, start: 2026-11-22T10:00:00Z }
            destination: { path: ../out/hourly.ndjson, environment: production }
            """)
    }

    struct RunSummary: Equatable, CustomStringConvertible {
        var status: RunStatus
        var startedAt: Int64
        var fireTime: Int64?
        var fireCount: Int
        var rowsRead: Int
        var rowsSent: Int

        init(_ status: RunStatus, startedAt: Int64, fireTime: Int64?, fireCount: Int, rowsRead: Int, rowsSent: Int) {
            (self.status, self.startedAt, self.fireTime, self.fireCount, self.rowsRead, self.rowsSent) =
                (status, startedAt, fireTime, fireCount, rowsRead, rowsSent)
        }

        init(_ record: RunRecord) {
            self.init(record.status, startedAt: record.startedAt, fireTime: record.fireTime, fireCount: record.fireCount,
                      rowsRead: record.counts.rowsRead, rowsSent: record.counts.rowsSent)
        }

        var description: String {
            "\(status) started \(Timestamp.format(millis: startedAt)) fire \(fireTime.map(Timestamp.format(millis:)) ?? "-") ×\(fireCount) read \(rowsRead) sent \(rowsSent)"
        }
    }

    /// Every run of `job`, oldest first; all scheduled.
    static func runs(_ state: StateStore, _ job: String) throws -> [RunSummary] {
        let records = try state.runs(job: job, limit: 100)
        #expect(records.allSatisfy { $0.trigger == "scheduled" })
        return records.reversed().map(RunSummary.init)
    }

    @Test(.timeLimit(.minutes(1)))
    func aJobRunsAtItsFireTimeAndNotBefore() async throws {
        let t = try TestWorkspace()
        try Self.hourlyJob(t, rows: [(1, "2026-11-22T09:10:00Z"), (2, "2026-11-22T09:20:00Z"), (3, "2026-11-22T09:30:00Z")])
        let state = try t.state()
        let clock = ManualSchedulerClock(now: Self.t0 - 30 * 60_000)
        let destination = RecordingDestination()
        let daemon = DaemonUnderTest(t, clock: clock, logs: LogCapture(), makeDestination: { _ in destination })

        // The daemon sleeps until exactly 10:00.
        #expect(await clock.waitForSleeper(until: Self.t0))
        // One millisecond before, it has looked and started nothing.
        clock.advance(to: Self.t0 - 1)
        #expect(await clock.waitForSleeper(until: Self.t0 - 1 + Self.fileCheck))
        #expect(try Self.runs(state, "hourly") == [])
        #expect(destination.batches.isEmpty)
        #expect(try state.scheduleState(job: "hourly").lastFireTime == nil)

        // At 10:00 the run starts; once it has finished the daemon sleeps until 11:00.
        clock.advance(to: Self.t0)
        #expect(await clock.waitForSleeper(until: Self.t0 + Self.hour))
        try await daemon.stop()

        #expect(try Self.runs(state, "hourly") == [
            RunSummary(.succeeded, startedAt: Self.t0, fireTime: Self.t0, fireCount: 1, rowsRead: 3, rowsSent: 3),
        ])
        #expect(try state.checkpoint(job: "hourly")?.lower == .int(Self.ms("2026-11-22T09:30:00Z")))
        #expect(try state.scheduleState(job: "hourly").lastFireTime == Self.t0)
        #expect(destination.batches.compactMap(\.customerID) == ["1", "2", "3"])
    }

    @Test(.timeLimit(.minutes(1)))
    func jobFilesAddedOrRemovedArePickedUpAtTheNextLookTwoSecondsOfTheClockApart() async throws {
        let t = try TestWorkspace()
        let start = Self.t0 - 30 * 60_000
        let clock = ManualSchedulerClock(now: start)
        let logs = LogCapture()
        let daemon = DaemonUnderTest(t, clock: clock, logs: logs, makeDestination: { _ in RecordingDestination() })
        #expect(await clock.waitForSleeper(until: start + Self.fileCheck))

        // Added: loaded at the next look, after which the daemon sleeps until its first fire time.
        try Self.hourlyJob(t, rows: [])
        clock.advance(to: start + Self.fileCheck)
        #expect(await clock.waitForSleeper(until: Self.t0))
        #expect(DaemonTests.lines(logs.entries("Job"), keys: ["job"]) == ["notice Job loaded job=hourly"])

        // Removed: dropped at the next look; nothing is left to fire.
        try FileManager.default.removeItem(atPath: t.path("jobs/hourly.yaml"))
        clock.advance(to: start + 2 * Self.fileCheck)
        #expect(await clock.waitForSleeper(until: start + 3 * Self.fileCheck))
        #expect(DaemonTests.lines(logs.entries("Job"), keys: ["job"]) == ["notice Job loaded job=hourly", "notice Job removed job=hourly"])
        try await daemon.stop()
        #expect(try t.state().runs(job: "hourly", limit: 5).isEmpty)
    }

    @Test(.timeLimit(.minutes(1)))
    func fireTimesPassingWhileARunIsInProgressBecomeOneRunWithTheirCount() async throws {
        let t = try TestWorkspace()
        // Rows 4 and 5 are later than the first run's start, so only the second run reads them.
        try Self.hourlyJob(t, rows: [(1, "2026-11-22T09:10:00Z"), (2, "2026-11-22T09:20:00Z"), (3, "2026-11-22T09:30:00Z"),
                                     (4, "2026-11-22T10:30:00Z"), (5, "2026-11-22T12:15:00Z")])
        let state = try t.state()
        let clock = ManualSchedulerClock(now: Self.t0)
        let held = GatedDestination(holdAt: 0)
        let daemon = DaemonUnderTest(t, clock: clock, logs: LogCapture(), makeDestination: { _ in held })

        // The 10:00 run waits on its destination while 11:00, 12:00 and 13:00 pass.
        #expect(await held.waitUntilHeld())
        let later = Self.t0 + 3 * Self.hour + 5 * 60_000
        clock.advance(to: later)
        #expect(await clock.waitForSleeper(until: later + Self.fileCheck))
        #expect(try Self.runs(state, "hourly") == [
            RunSummary(.running, startedAt: Self.t0, fireTime: Self.t0, fireCount: 1, rowsRead: 0, rowsSent: 0),
        ])

        // When it finishes, one run covers the three fire times, and the daemon sleeps until 14:00.
        held.release()
        #expect(await clock.waitForSleeper(until: Self.t0 + 4 * Self.hour))
        try await daemon.stop()

        #expect(try Self.runs(state, "hourly") == [
            RunSummary(.succeeded, startedAt: Self.t0, fireTime: Self.t0, fireCount: 1, rowsRead: 3, rowsSent: 3),
            // It reads row 3 again at the checkpoint's value, skips it as delivered, and sends 4 and 5.
            RunSummary(.succeeded, startedAt: later, fireTime: Self.t0 + 3 * Self.hour, fireCount: 3, rowsRead: 3, rowsSent: 2),
        ])
        #expect(try state.checkpoint(job: "hourly")?.lower == .int(Self.ms("2026-11-22T12:15:00Z")))
        #expect(try state.scheduleState(job: "hourly").lastFireTime == Self.t0 + 3 * Self.hour)
        #expect(held.batches.compactMap(\.customerID) == ["1", "2", "3", "4", "5"])
    }

    /// README "Schedules": a daily job keeps `start`'s wall time; 02:30 on the spring-forward night
    /// runs at 03:00 CEST, the end of the gap, and on the fall-back night at its first occurrence.
    @Test(.timeLimit(.minutes(1)))
    func aDailyJobInBerlinFiresAtTheDocumentedInstantsAcrossBothDaylightSavingNights() async throws {
        let t = try TestWorkspace()
        try t.sqlite("data/src.db", "PRAGMA journal_mode=WAL; CREATE TABLE e (id INTEGER, ts TEXT);")
        for (name, start, end) in [("spring", "2026-03-28T02:30:00+01:00", "\n  end: 2026-03-30T12:00:00+02:00"),
                                   ("autumn", "2026-10-24T02:30:00+02:00", "")] {
            _ = try t.job(name, """
                type: user
                source: { sqlite: ../data/src.db, table: e }
                mapping:
                  - { column: id, to: user_identities.customer_id }
                  - { ignore: ts }
                sync: { mode: incremental, iterator: ts, iterator_type: timestamp }
                schedule:
                  type: interval
                  frequency: daily
                  start: \(start)
                  timezone: Europe/Berlin\(end)
                destination: { path: ../out/\(name).ndjson, environment: production }
                """)
        }
        let state = try t.state()
        let clock = ManualSchedulerClock(now: Self.ms("2026-03-28T00:00:00Z"))
        let daemon = DaemonUnderTest(t, clock: clock, logs: LogCapture())

        let spring = ["2026-03-28T01:30:00Z",  // 02:30 CET
                      "2026-03-29T01:00:00Z",  // 02:30 does not exist: 03:00 CEST
                      "2026-03-30T00:30:00Z"]  // 02:30 CEST
        let autumn = ["2026-10-24T00:30:00Z",  // 02:30 CEST
                      "2026-10-25T00:30:00Z",  // 02:30 happens twice: the first, CEST
                      "2026-10-26T01:30:00Z"]  // 02:30 CET
        // Each time the daemon sleeps until exactly the next instant (so the run before it has
        // finished); the clock then moves there.
        for instant in (spring + autumn).map(Self.ms) {
            #expect(await clock.waitForSleeper(until: instant), "\(Timestamp.format(millis: instant))")
            clock.advance(to: instant)
        }
        #expect(await clock.waitForSleeper(until: Self.ms("2026-10-27T01:30:00Z")))
        try await daemon.stop()

        for (job, instants) in [("spring", spring), ("autumn", autumn)] {
            #expect(try Self.runs(state, job) == instants.map(Self.ms).map {
                RunSummary(.succeeded, startedAt: $0, fireTime: $0, fireCount: 1, rowsRead: 0, rowsSent: 0)
            })
            #expect(try state.scheduleState(job: job).lastFireTime == Self.ms(instants[2]))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aGracefulShutdownWhileARunWaitsOnItsDestinationInterruptsItAtTheAcknowledgedRows() async throws {
        let t = try TestWorkspace()
        let stamps = (1...500).map { Timestamp.format(millis: Self.ms("2026-11-22T08:00:00Z") + Int64($0) * 1_000) }
        try Self.hourlyJob(t, rows: stamps.enumerated().map { ($0.offset + 1, $0.element) })
        let state = try t.state()
        let clock = ManualSchedulerClock(now: Self.t0)
        let logs = LogCapture()
        // Requests of 100 rows, one in flight. While the second is held, the run reads rows 201
        // to 300 and waits to send them: it is certainly mid-run.
        let held = GatedDestination(holdAt: 1)
        let daemon = DaemonUnderTest(t, clock: clock, logs: logs, makeDestination: { _ in held })
        #expect(await held.waitUntilHeld())

        // SIGTERM, as ServiceLifecycle delivers it; the held answer comes once shutdown has begun.
        let stopping = Task { try await daemon.stop() }
        #expect(await DaemonTests.waitFor { logs.entries("Daemon stopping").count == 1 })
        held.release()
        try await stopping.value

        // The run sends what it had read and stops: 300 rows, all acknowledged and checkpointed.
        #expect(try Self.runs(state, "hourly") == [
            RunSummary(.interrupted, startedAt: Self.t0, fireTime: Self.t0, fireCount: 1, rowsRead: 300, rowsSent: 300),
        ])
        #expect(try state.checkpoint(job: "hourly")?.lower == .int(Self.ms(stamps[299])))
        #expect(try state.runs(job: "hourly", limit: 1).first?.checkpoint == "ts = \(stamps[299]) (1 row at this value delivered)")
        #expect(try state.scheduleState(job: "hourly").lastFireTime == nil)
        #expect(try state.activeRun(job: "hourly") == nil)
        #expect(held.batches.compactMap(\.customerID) == (1...300).map(String.init))
        #expect(DaemonTests.lines(logs.entries("Run finished"), keys: ["status", "rows.sent"]) == [
            "info Run finished status=interrupted rows.sent=300",
        ])
        #expect(logs.entries("Daemon stopped").count == 1)
    }
}
