import EventsAPIServer
import Foundation
import Synchronization
import Testing
@testable import SyncJobsCore

@Suite struct DaemonBinaryTests {
    /// Standard error of a running process, read as it is written (on a thread of its own).
    final class StreamedText: Sendable {
        private let text = Mutex((content: "", ended: false))

        init(_ pipe: Pipe) {
            let handle = pipe.fileHandleForReading
            Thread { [self] in
                while true {
                    let data = handle.availableData
                    if data.isEmpty { break }
                    text.withLock { $0.content += String(decoding: data, as: UTF8.self) }
                }
                text.withLock { $0.ended = true }
            }.start()
        }

        var content: String { text.withLock { $0.content } }
        var ended: Bool { text.withLock { $0.ended } }
    }

    static let secrets = ["MP_DAEMON_KEY": "test-key", "MP_DAEMON_SECRET": "test-secret"]

    @Test(.timeLimit(.minutes(2)))
    func theDaemonRunsJobsOnScheduleReloadsFilesAndStopsGracefully() async throws {
        // The third request of job `big` is held unanswered until the test lets it go.
        let hold = RequestHold()
        var configuration = EventsAPIServer.Configuration()
        configuration.faults = { $0.number == 2 ? .hold(hold) : nil }
        let server = EventsAPIServer(configuration)
        try await server.start()
        defer { hold.release() }

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
        let (daemon, _, errPipe) = try JobsBinary.start(["daemon", "--max-parallel", "2"], in: project.root, environment: Self.secrets)
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        let log = StreamedText(errPipe)

        // Rows committed before the fire time are delivered by the scheduled run.
        try db.execute("INSERT INTO e VALUES (1, '2026-01-01T00:00:00Z'), (2, '2026-01-01T00:00:01Z')")
        #expect(try await waitUntil(timeout: .seconds(20)) { project.read("out/tick.ndjson").contains(#""customer_id":"2""#) })

        // A job file added while the daemon runs is picked up: a file job that starts now, sending
        // requests of 100 rows one at a time.
        var csv = "id,at\n"
        for n in 1...1_000 { csv += "\(n),\(Timestamp.format(millis: 1_767_225_600_000 + Int64(n) * 1000))\n" }
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
            destination:
              type: mparticle
              url: \(server.baseURL)
              api_key: ${MP_DAEMON_KEY}
              api_secret: ${MP_DAEMON_SECRET}
              environment: production
              max_in_flight: 1
            """)
        // Requests 0 and 1 are answered; request 2 (rows 201-300) is held, and the run reads rows
        // 301-400 and waits to send them.
        #expect(try await waitUntil(timeout: .seconds(30)) { hold.arrivals == 1 })

        // SIGTERM mid-run: no new runs; once shutdown has begun the held request is answered, the
        // run sends what it has read, stops reading and checkpoints, and the daemon exits 0.
        kill(daemon.processIdentifier, SIGTERM)
        #expect(try await waitUntil(timeout: .seconds(30)) { log.content.contains("Daemon stopping") })
        hold.release()
        await JobsBinary.wait(daemon)
        #expect(daemon.terminationStatus == 0)
        #expect(try await waitUntil(timeout: .seconds(10)) { log.ended })
        #expect(log.content.contains("Job file does not validate; left out until it does"))
        #expect(log.content.contains("Daemon stopped"))

        let runs = project.stateRows("SELECT job, trigger, status, fire_count, rows_read, rows_sent FROM runs ORDER BY id")
        #expect(runs == [
            [.string("tick"), .string("scheduled"), .string("succeeded"), .int(1), .int(2), .int(2)],
            [.string("big"), .string("scheduled"), .string("interrupted"), .int(1), .int(400), .int(400)],
        ])
        // The interrupted file pass resumes after row 400; its fire time is still due.
        let offset = "id,at\n".utf8.count + csv.split(separator: "\n").dropFirst().prefix(400).reduce(0) { $0 + $1.utf8.count + 1 }
        #expect(project.stateRows("""
            SELECT lower_value, json_extract(resume, '$.offset'), json_extract(resume, '$.rowNumber') FROM checkpoints WHERE job = 'big'
            """) == [[.null, .int(Int64(offset)), .int(400)]])
        #expect(project.stateRows("SELECT last_fire_time FROM schedules WHERE job = 'big'") == [])
        #expect(project.stateRows("SELECT count(*) FROM locks") == [[.int(0)]])
        #expect(server.acceptedBatches.count == 400)
        #expect(MParticleCLITests.delivered(server) == Set((1...400).map(String.init)))

        // The next run resumes there and sends the other 600 rows once each.
        let rest = try await project.jobs(environment: Self.secrets, "run", "big")
        #expect(rest.status == 0, "\(rest.stderr)")
        #expect(MParticleCLITests.delivered(server) == Set((1...1_000).map(String.init)))
        #expect(server.acceptedBatches.count == 1_000)
        try await server.stop()
    }
}
