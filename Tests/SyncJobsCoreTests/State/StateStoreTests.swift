import Foundation
import Testing
@testable import SyncJobsCore

@Suite struct StateStoreTests {
    @Test func aJobRunsOnceAtATime() throws {
        let t = try TestWorkspace()
        let first = try t.state()
        let second = try t.state()
        try first.acquireLock(job: "shop", runID: 7)
        #expect(throws: JobBusyError.self) { try second.acquireLock(job: "shop", runID: 8) }
        do {
            try second.acquireLock(job: "shop", runID: 8)
        } catch let error as JobBusyError {
            #expect(error.runID == 7)
            #expect(error.pid == getpid())
            #expect(error.description.hasPrefix("job 'shop' is already running: run #7, process \(getpid()) on "))
        }
        try second.acquireLock(job: "other", runID: 9)
        try first.releaseLock(job: "shop")
        try second.acquireLock(job: "shop", runID: 8)
    }

    @Test func aLockLeftByACrashedProcessIsTakenOver() throws {
        let t = try TestWorkspace()
        let state = try t.state()
        let runID = try state.beginRun(job: "shop", trigger: "scheduled", startedAt: 1_000)
        // A process that has exited: its pid no longer runs.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        try t.execute(".jobs/state.db", """
            INSERT INTO locks (job, pid, process_start, host, run_id, acquired_at)
            VALUES ('shop', \(child.processIdentifier), '1', '\(ProcessInfo.processInfo.hostName)', \(runID), 1000)
            """)
        #expect(try state.activeRun(job: "shop") == nil)
        try state.acquireLock(job: "shop", runID: nil)
        let run = try #require(try state.runs(job: "shop", limit: 1).first)
        #expect(run.status == .interrupted)
        #expect(run.error == "the process running it stopped before the run finished")
    }

    /// Every concurrent run opens a connection of its own, so opening one must not wait for a
    /// writer: with the schema current, opening takes no write lock.
    @Test func aConnectionOpensAndReadsWhileAnotherHoldsAWriteTransaction() throws {
        let t = try TestWorkspace()
        try t.state().recordFire(job: "hourly", fireTime: 1_000, now: 2_000)
        let writer = try SQLiteDatabase(path: t.path(".jobs/state.db"), mode: .readWrite)
        try writer.execute("BEGIN IMMEDIATE; UPDATE schedules SET last_fire_time = 5000;")
        let reader = try t.state()
        #expect(try reader.scheduleState(job: "hourly") == ScheduleState(paused: false, lastFireTime: 1_000))
        try writer.execute("COMMIT")
        #expect(try reader.scheduleState(job: "hourly") == ScheduleState(paused: false, lastFireTime: 5_000))
    }

    @Test func aNewerSchemaIsRefused() throws {
        let t = try TestWorkspace()
        _ = try t.state()
        try t.execute(".jobs/state.db", "PRAGMA user_version = 99")
        #expect {
            _ = try t.state()
        } throws: { error in
            "\(error)" == "the state database '\(t.path(".jobs/state.db"))' has schema version 99, newer than this syncjobs understands (\(StateStore.migrations.count)); upgrade syncjobs or point --state elsewhere"
        }
    }

    @Test func checkpointsRoundTripWithBoundaryHashes() throws {
        let t = try TestWorkspace()
        let state = try t.state()
        var checkpoint = Checkpoint(iterator: "ts", iteratorType: .timestamp, lower: .int(42))
        for n in 0..<3 { checkpoint.boundary.insert(RowHash.of(values: [.int(Int64(n))], extras: [])) }
        checkpoint.resume = FileResume(fingerprint: FileFingerprint(device: 1, inode: 2, head: "abc"), offset: 99, rowNumber: 7)
        checkpoint.resumeMax = .int(50)
        checkpoint.resumeBoundary.insert(RowHash.of(values: [.string("x")], extras: []))
        try state.storeCheckpoint(job: "shop", checkpoint, runID: 1)
        #expect(try state.checkpoint(job: "shop") == checkpoint)
        #expect(try state.resetCheckpoint(job: "shop"))
        #expect(try state.checkpoint(job: "shop") == nil)
        #expect(try !state.resetCheckpoint(job: "shop"))
    }

    @Test func boundariesStopRememberingRowsPastTheirCap() {
        var boundary = Boundary()
        for n in 0...Boundary.cap { boundary.insert(RowHash(high: 0, low: UInt64(n))) }
        #expect(boundary.hashes == nil)
        #expect(boundary.count == Boundary.cap + 1)
        boundary.insert(RowHash(high: 1, low: 1))
        #expect(boundary.count == Boundary.cap + 2)
    }
}
