import Foundation
import Testing
@testable import SyncJobsCore

@Suite struct DaemonBinaryTests {
    @Test(.timeLimit(.minutes(2)))
    func theDaemonRunsJobsOnScheduleReloadsFilesAndStopsGracefully() async throws {
        let project = try Project(copyExamples: false)
        try FileManager.default.createDirectory(atPath: project.root + "/data", withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: project.root + "/data/src.db", mode: .readWriteCreate)
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE e (id INTEGER, ts TEXT);")
        let soon = Timestamp.format(millis: (StateStore.now() / 1000 + 3) * 1000)
        try project.write("jobs/tick.yaml", """
            name: tick
            type: user
            source: { sqlite: ../data/src.db, table: e }
            mapping:
              - { column: id, to: user_identities.customer_id }
              - { ignore: ts }
            sync: { mode: incremental, iterator: ts, iterator_type: timestamp }
            schedule: { type: once, start: \(soon) }
            destination: { path: ../out/tick.ndjson, environment: production }
            """)
        try project.write("jobs/broken.yaml", "type: user\nsource: { file: nope.csv }\nmapping: []\n")
        let (daemon, _, errPipe) = try JobsBinary.start(["daemon", "--max-parallel", "2"], in: project.root)
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }

        // Rows committed before the fire time are delivered by the scheduled run.
        try db.execute("INSERT INTO e VALUES (1, '2026-01-01T00:00:00Z'), (2, '2026-01-01T00:00:01Z')")
        #expect(try await waitUntil(timeout: .seconds(20), every: .milliseconds(20)) { project.read("out/tick.ndjson").contains(#""customer_id":"2""#) })

        // A job file added while the daemon runs is picked up: a large file job that starts now.
        var csv = "id,at\n"
        for n in 1...150_000 { csv += "\(n),\(Timestamp.format(millis: 1_767_225_600_000 + Int64(n) * 1000))\n" }
        try project.write("data/big.csv", csv)
        try project.write("jobs/big.yaml", """
            name: big
            type: user
            source: { file: ../data/big.csv }
            mapping:
              - { column: id, to: user_identities.customer_id }
              - { ignore: at }
            sync: { mode: incremental, iterator: at, iterator_type: timestamp }
            schedule: { type: once }
            destination: { path: ../out/big.ndjson, environment: production }
            """)
        #expect(try await waitUntil(timeout: .seconds(30), every: .milliseconds(20)) { project.read("out/big.ndjson").count > 100_000 })

        // SIGTERM mid-run: no new runs, the run in progress stops reading and checkpoints, exit 0.
        kill(daemon.processIdentifier, SIGTERM)
        let stopped = try await waitUntil(timeout: .seconds(30), every: .milliseconds(20)) { !daemon.isRunning }
        #expect(stopped)
        if stopped { #expect(daemon.terminationStatus == 0) }
        let log = await JobsBinary.offPool { String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
        #expect(log.contains("Job file does not validate; left out until it does"))
        #expect(log.contains("Daemon stopped"))

        let runs = project.stateRows("SELECT job, trigger, status, fire_count, rows_sent FROM runs ORDER BY id")
        #expect(runs.first == [.string("tick"), .string("scheduled"), .string("succeeded"), .int(1), .int(2)])
        let big = runs.first { $0[0] == .string("big") }
        #expect(big?[1] == .string("scheduled"))
        #expect(big?[2] == .string("interrupted") || big?[2] == .string("succeeded"))
        if big?[2] == .string("interrupted") {
            // The interrupted pass left a resume point that covers what was delivered.
            let resume = project.stateRows("SELECT resume FROM checkpoints WHERE job = 'big'")
            #expect(resume.first?.first.map { if case .string(let text) = $0 { return text.contains("\"offset\"") } else { return false } } == true)
        }
        #expect(project.stateRows("SELECT count(*) FROM locks") == [[.int(0)]])
    }
}
