import Foundation
import Testing
@testable import SyncJobsCore

/// The scheduler driven by an injected clock: each test hands the state machine instants; nothing sleeps.
@Suite struct SchedulerTests {
    static func ms(_ iso: String) -> Int64 { Timestamp.parseMillis(iso)! }
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    func spec(_ frequency: ScheduleSpec.Frequency, _ start: String, zone: String? = nil) -> ScheduleSpec {
        ScheduleSpec(kind: .interval, frequency: frequency, start: Self.ms(start), timezone: zone)
    }

    @Test func aMonthOfHourlyRunsAcrossADSTChangeStartsEachHourOnce() {
        var machine = SchedulerStateMachine()
        let start = Self.ms("2026-03-01T00:00:00+01:00")
        machine.update(name: "hourly", schedule: spec(.hourly, "2026-03-01T00:00:00+01:00", zone: "Europe/Berlin"),
                       lastFire: nil, paused: false, now: start - Self.hour)
        var fired: [Int64] = []
        var now = start - Self.hour
        let end = Self.ms("2026-04-01T00:00:00+02:00")
        while now <= end {
            // The clock advances to the scheduler's own wake-up time, as the daemon's sleep does.
            now = machine.nextWake(now: now) ?? end + 1
            guard now <= end else { break }
            for case .start(let job, let fireTime, let count) in machine.due(now: now, capacity: 4) {
                #expect(count == 1)
                #expect(fireTime == now)
                fired.append(fireTime)
                machine.finished(name: job)
            }
        }
        #expect(fired.count == 744)
        #expect(zip(fired, fired.dropFirst()).allSatisfy { $1 - $0 == Self.hour })
        #expect(fired.contains(Self.ms("2026-03-29T01:00:00Z")))
    }

    @Test func monthlyFromThe31stFiresOnEachMonthsLastDayAtMost() {
        var machine = SchedulerStateMachine()
        machine.update(name: "m", schedule: spec(.monthly, "2026-01-31T09:00:00Z"), lastFire: nil, paused: false,
                       now: Self.ms("2026-01-01T00:00:00Z"))
        var fired: [String] = []
        var now = Self.ms("2026-01-01T00:00:00Z")
        while let wake = machine.nextWake(now: now), wake < Self.ms("2027-01-01T00:00:00Z") {
            now = wake
            for case .start(let job, let fireTime, _) in machine.due(now: now, capacity: 1) {
                fired.append(String(Timestamp.format(millis: fireTime).prefix(10)))
                machine.finished(name: job)
            }
        }
        #expect(fired == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30",
                          "2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30", "2026-12-31"])
    }

    @Test func aRunLongerThanItsIntervalNeverOverlapsAndCoalesces() {
        var machine = SchedulerStateMachine()
        let t0 = Self.ms("2026-11-22T10:00:00Z")
        machine.update(name: "slow", schedule: spec(.hourly, "2026-11-22T10:00:00Z"), lastFire: nil, paused: false, now: t0)
        #expect(machine.due(now: t0, capacity: 4) == [.start(job: "slow", fireTime: t0, fireCount: 1)])
        // Still running at the next two fire times: nothing starts.
        #expect(machine.due(now: t0 + Self.hour, capacity: 4).isEmpty)
        #expect(machine.due(now: t0 + 2 * Self.hour, capacity: 4).isEmpty)
        #expect(machine.nextWake(now: t0 + 2 * Self.hour) == nil)
        machine.finished(name: "slow")
        let now = t0 + 2 * Self.hour + Self.hour / 2
        #expect(machine.nextWake(now: now) == now)
        #expect(machine.due(now: now, capacity: 4) == [.start(job: "slow", fireTime: t0 + 2 * Self.hour, fireCount: 2)])
    }

    @Test func firesMissedWhileDownCoalesceIntoOneRun() {
        var machine = SchedulerStateMachine()
        let lastFire = Self.ms("2026-11-19T06:00:00Z")
        machine.update(name: "daily", schedule: spec(.daily, "2026-11-01T06:00:00Z"), lastFire: lastFire, paused: false,
                       now: Self.ms("2026-11-22T07:00:00Z"))
        #expect(machine.due(now: Self.ms("2026-11-22T07:00:00Z"), capacity: 4)
                == [.start(job: "daily", fireTime: Self.ms("2026-11-22T06:00:00Z"), fireCount: 3)])
    }

    @Test func pausedJobsAreSkippedAndCapacityIsShared() {
        var machine = SchedulerStateMachine()
        let now = Self.ms("2026-11-22T12:00:00Z")
        for (name, start) in [("a", "2026-11-22T09:00:00Z"), ("b", "2026-11-22T10:00:00Z"), ("c", "2026-11-22T11:00:00Z")] {
            machine.update(name: name, schedule: spec(.daily, start), lastFire: nil, paused: false, now: now)
        }
        machine.update(name: "p", schedule: spec(.hourly, "2026-11-22T00:00:00Z"), lastFire: nil, paused: true, now: now)
        // Oldest pending fire first; two slots.
        #expect(machine.due(now: now, capacity: 2) == [
            .start(job: "a", fireTime: Self.ms("2026-11-22T09:00:00Z"), fireCount: 1),
            .start(job: "b", fireTime: Self.ms("2026-11-22T10:00:00Z"), fireCount: 1),
        ])
        machine.finished(name: "a")
        #expect(machine.due(now: now, capacity: 1) == [.start(job: "c", fireTime: Self.ms("2026-11-22T11:00:00Z"), fireCount: 1)])
        #expect(machine.due(now: now, capacity: 4).isEmpty)
    }

    @Test func aRunThatCannotStartIsTriedAgainWithBackoffAndItsFireTimesStayDue() throws {
        var machine = SchedulerStateMachine()
        let t0 = Self.ms("2026-11-22T10:00:00Z")
        machine.update(name: "h", schedule: spec(.hourly, "2026-11-22T10:00:00Z"), lastFire: nil, paused: false, now: t0)
        var now = t0 + 60_000
        #expect(machine.due(now: now, capacity: 4) == [.start(job: "h", fireTime: t0, fireCount: 1)])
        // Each failed start waits longer: 15 s, 30 s, 1, 2 and 4 min, then every 5 min.
        var delays: [Int64] = []
        for attempt in 1...7 {
            let retry = machine.notCovered(name: "h", now: now)
            let next = try #require(retry)
            #expect(next.attempt == attempt)
            delays.append(next.retryAt - now)
            #expect(machine.nextWake(now: now) == next.retryAt)
            #expect(machine.due(now: next.retryAt - 1, capacity: 4).isEmpty)
            now = next.retryAt
            // The fire time is still due.
            #expect(machine.due(now: now, capacity: 4) == [.start(job: "h", fireTime: t0, fireCount: 1)])
        }
        #expect(delays == [15_000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000])
        // Still failing at 11:01, when the 11:00 fire time has passed too; then the job file changes,
        // so it is tried at once, and one run covers both fire times.
        now = t0 + Self.hour + 60_000
        machine.notCovered(name: "h", now: now)
        machine.retryNow(name: "h")
        #expect(machine.nextWake(now: now) == now)
        #expect(machine.due(now: now, capacity: 4) == [.start(job: "h", fireTime: t0 + Self.hour, fireCount: 2)])
        machine.finished(name: "h")
        #expect(machine.jobs["h"]?.lastFire == t0 + Self.hour)
        #expect(machine.nextWake(now: now) == t0 + 2 * Self.hour)
    }

    @Test func onceFiresOnceAndOnDemandNever() {
        var machine = SchedulerStateMachine()
        let now = Self.ms("2026-11-22T12:00:00Z")
        machine.update(name: "now", schedule: ScheduleSpec(kind: .once), lastFire: nil, paused: false, now: now)
        machine.update(name: "later", schedule: ScheduleSpec(kind: .once, start: now + Self.hour), lastFire: nil, paused: false, now: now)
        machine.update(name: "manual", schedule: .onDemand, lastFire: nil, paused: false, now: now)
        #expect(machine.due(now: now, capacity: 4) == [.start(job: "now", fireTime: now, fireCount: 1)])
        machine.finished(name: "now")
        #expect(machine.nextWake(now: now) == now + Self.hour)
        #expect(machine.due(now: now + Self.hour, capacity: 4) == [.start(job: "later", fireTime: now + Self.hour, fireCount: 1)])
        machine.finished(name: "later")
        #expect(machine.nextWake(now: now + Self.day) == nil)
        #expect(machine.due(now: now + 30 * Self.day, capacity: 4).isEmpty)
    }
}

/// The scheduler's decisions carried out by the real runner on a real SQLite source.
@Suite struct ScheduledRunTests {
    static func job(_ t: TestWorkspace) throws -> JobDefinition {
        try t.sqlite("data/src.db", "PRAGMA journal_mode=WAL; CREATE TABLE e (id INTEGER, ts TEXT);")
        return try t.job("daily", """
            type: user
            source: { sqlite: ../data/src.db, table: e }
            mapping:
              - { column: id, to: user_identities.customer_id }
              - { ignore: ts }
            sync: { mode: incremental, iterator: ts, iterator_type: timestamp }
            schedule: { type: interval, frequency: daily, start: 2026-11-01T06:00:00Z }
            destination: { path: ../out/daily.ndjson, environment: production }
            """)
    }

    static func insertDay(_ t: TestWorkspace, _ day: Int, rows: Int) throws {
        let values = (0..<rows).map { "(\(day * 100 + $0), '2026-11-\(String(format: "%02d", day))T05:\(String(format: "%02d", $0)):00Z')" }
        try t.execute("data/src.db", "INSERT INTO e VALUES " + values.joined(separator: ","))
    }

    /// Runs what the state machine starts at `now`, as the daemon does.
    static func tick(_ machine: inout SchedulerStateMachine, _ t: TestWorkspace, _ job: JobDefinition, now: Int64,
                     destination: RecordingDestination) async throws -> [RunResult] {
        var results: [RunResult] = []
        for case .start(let name, let fireTime, let count) in machine.due(now: now, capacity: 1) {
            // The run's lease stores the fire time as covered when the run ends.
            results.append(try await t.run(job, RunOptions(trigger: "scheduled", now: now, fireTime: fireTime, fireCount: count),
                                           destination: destination))
            machine.finished(name: name)
        }
        return results
    }

    @Test func aDaemonDownForThreeDaysRunsOnceAndLosesNoRows() async throws {
        let t = try TestWorkspace()
        let job = try Self.job(t)
        var machine = SchedulerStateMachine()
        let destination = RecordingDestination()
        try Self.insertDay(t, 18, rows: 3)
        let day18 = SchedulerTests.ms("2026-11-18T06:00:00Z")
        machine.update(name: "daily", schedule: job.schedule, lastFire: day18 - SchedulerTests.day, paused: false, now: day18)
        #expect(try await Self.tick(&machine, t, job, now: day18, destination: destination).count == 1)

        // The daemon stops; rows keep arriving for three days.
        for day in 19...21 { try Self.insertDay(t, day, rows: 4) }
        // A new daemon process starts on day 22 with the persisted last fire time.
        var restarted = SchedulerStateMachine()
        let state = try t.state().scheduleState(job: "daily")
        #expect(state.lastFireTime == day18)
        let day22 = SchedulerTests.ms("2026-11-22T06:30:00Z")
        restarted.update(name: "daily", schedule: job.schedule, lastFire: state.lastFireTime, paused: false, now: day22)
        let runs = try await Self.tick(&restarted, t, job, now: day22, destination: destination)
        #expect(runs.count == 1)
        #expect(runs.first?.counts.rowsSent == 12)
        let history = try t.state().runs(job: "daily", limit: 5)
        #expect(history.first?.fireCount == 4)
        #expect(history.first?.fireTime == SchedulerTests.ms("2026-11-22T06:00:00Z"))
        let ids = destination.batches.compactMap(\.customerID).sorted()
        var expected: [Int] = [1800, 1801, 1802]
        for day in 19...21 { expected += (0..<4).map { day * 100 + $0 } }
        #expect(ids == expected.map(String.init).sorted())
    }

    @Test func aCrashDuringARunIsRecoveredAndTheNextRunResumes() async throws {
        let t = try TestWorkspace()
        let job = try Self.job(t)
        try Self.insertDay(t, 20, rows: 60)
        try Self.insertDay(t, 21, rows: 60)
        // The first scheduled run dies after its first request: its lock and run record are left
        // behind by a process that no longer exists.
        let crashing = RecordingDestination(failOnRequest: 1)
        _ = try await t.run(job, RunOptions(trigger: "scheduled", checkpointEvery: 100), destination: crashing)
        #expect(crashing.batches.count == 100)
        let state = try t.state()
        let orphan = try state.beginRun(job: "daily", trigger: "scheduled", startedAt: SchedulerTests.ms("2026-11-22T06:00:00Z"))
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        try t.execute(".jobs/state.db", """
            INSERT INTO locks (job, pid, process_start, host, run_id, acquired_at)
            VALUES ('daily', \(dead.processIdentifier), 'gone', '\(ProcessInfo.processInfo.hostName)', \(orphan), 0)
            """)

        var machine = SchedulerStateMachine()
        let now = SchedulerTests.ms("2026-11-23T06:00:00Z")
        machine.update(name: "daily", schedule: job.schedule, lastFire: SchedulerTests.ms("2026-11-22T06:00:00Z"), paused: false, now: now)
        let next = RecordingDestination()
        let runs = try await Self.tick(&machine, t, job, now: now, destination: next)
        #expect(runs.first?.succeeded == true)
        #expect(next.batches.count == 20)
        #expect(Set(next.batches.compactMap(\.customerID)).isDisjoint(with: Set(crashing.batches.compactMap(\.customerID))))
        #expect(try state.runs(job: "daily", limit: 10).first { $0.id == orphan }?.status == .interrupted)
    }

    @Test func aFirstRunFromAPastStartCatchesUpInWindows() async throws {
        let t = try TestWorkspace()
        _ = try Self.job(t)
        let job = try t.job("daily", t.read("jobs/daily.yaml").replacingOccurrences(
            of: "iterator_type: timestamp }", with: "iterator_type: timestamp, from: 2026-11-18T00:00:00Z }"))
        for day in 18...21 { try Self.insertDay(t, day, rows: 2) }
        let destination = RecordingDestination()
        let run = try await t.run(job, RunOptions(now: SchedulerTests.ms("2026-11-22T00:00:00Z")), destination: destination)
        #expect(run.notes == ["catching up from 2026-11-18T00:00:00Z in 4 daily windows, oldest first; the checkpoint is stored at each window"])
        #expect(run.counts.rowsSent == 8)
        #expect(try t.state().checkpoint(job: "daily")?.display == "ts = 2026-11-21T05:01:00Z (1 row at this value delivered)")
    }

    @Test func backfillWindowsAreRecordedRunsThatLeaveTheCheckpointAlone() async throws {
        let t = try TestWorkspace()
        let job = try Self.job(t)
        for day in 18...20 { try Self.insertDay(t, day, rows: 2) }
        _ = try await t.run(job, destination: RecordingDestination())
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
        #expect(try t.state().runs(job: "daily", limit: 5).map(\.trigger) == ["backfill", "backfill", "on_demand"])

        let again = CapturedOutput()
        _ = await BackfillCommand.execute(workspace: t.workspace, job: "daily", from: "2026-11-18T00:00:00Z",
                                          to: "2026-11-20T00:00:00Z", dryRun: false, again: false, output: again,
                                          logger: .init(label: "test"))
        #expect(again.stdout == "daily: backfilled 0 windows, sent 0 rows; 2 windows already sent, skipped (use --again to send them again); the live checkpoint is unchanged")

        let dry = CapturedOutput()
        _ = await BackfillCommand.execute(workspace: t.workspace, job: "daily", from: "2026-11-18T00:00:00Z",
                                          to: "2026-11-21T00:00:00Z", dryRun: true, again: false, output: dry,
                                          logger: .init(label: "test"))
        #expect(dry.stdout == """
            2026-11-18T00:00:00Z .. 2026-11-19T00:00:00Z: 2 rows (already sent; skipped without --again)
            2026-11-19T00:00:00Z .. 2026-11-20T00:00:00Z: 2 rows (already sent; skipped without --again)
            2026-11-20T00:00:00Z .. 2026-11-21T00:00:00Z: 2 rows
            daily: 3 windows, 6 rows; nothing sent (dry run)
            """)
    }
}
