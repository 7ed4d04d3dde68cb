import EventsAPIServer
import Foundation
import Synchronization
import Testing
@testable import SyncJobsCore

/// The `jobs` binary against a loopback Events API server, as a user runs it.
@Suite struct MParticleCLITests {
    static let secrets = ["MP_CLI_KEY": "test-key", "MP_CLI_SECRET": "test-secret"]

    /// `examples/events.db` with `count` events, and job `mp` sending them to `server`.
    static func project(count: Int, server: EventsAPIServer, maxInFlight: Int = 8) throws -> Project {
        let project = try Project(copyExamples: false)
        try FileManager.default.createDirectory(atPath: project.root + "/examples", withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: project.root + "/examples/events.db", mode: .readWriteCreate)
        try db.execute("""
            CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id TEXT, event_name TEXT, at INTEGER);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(count))
            INSERT INTO events SELECT i, printf('C%05d', i), 'Viewed', strftime('%s', 'now') * 1000 - 86400000 + i FROM n;
            """)
        db.close()
        try project.write("jobs/mp.yaml", mparticleEventsJobFile(
            name: "mp", database: "../examples/events.db", url: server.baseURL, apiKey: "${MP_CLI_KEY}", apiSecret: "${MP_CLI_SECRET}",
            settings: ["environment: production", "max_in_flight: \(maxInFlight)"]))
        return project
    }

    /// Distinct customers the server accepted, deduplicated by source_request_id like mParticle.
    static func delivered(_ server: EventsAPIServer) -> Set<String> { Set(server.deliveredCustomers) }

    @Test(.timeLimit(.minutes(2)))
    func aKilledRunFollowedByARerunLosesNothing() async throws {
        let count = 30_000
        // Slow answers, so the run is still going when it is killed.
        let server = try await startEventsAPI { $0.faults = { _ in .delay(milliseconds: 40) } }
        let project = try Self.project(count: count, server: server)
        let (process, _, _) = try JobsBinary.start(["run", "mp"], in: project.root, environment: Self.secrets)
        // Past the first stored checkpoint (every 10,000 rows), then kill it mid-flight.
        while process.isRunning && server.acceptedRequests < 130 { try await Task.sleep(for: .milliseconds(5)) }
        let killedBeforeTheEnd = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        await JobsBinary.wait(process)
        #expect(killedBeforeTheEnd, "the run finished before it could be killed")
        let acceptedBeforeTheKill = Self.delivered(server).count
        #expect(acceptedBeforeTheKill < count)

        let rerun = try await project.jobs(environment: Self.secrets, "run", "mp")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        // The rerun starts at the stored checkpoint, not at the first row.
        let read = Int(rerun.stdout.firstMatch(of: /read ([\d,]+) rows/)?.1.replacingOccurrences(of: ",", with: "") ?? "") ?? -1
        #expect(read > 0 && read < count, "\(rerun.stdout)")
        #expect(Self.delivered(server) == Set((1...count).map { String(format: "C%05d", $0) }))
        // Rows in flight when the process died were sent again with the same ids.
        #expect(server.duplicates <= count - read + 1 + 800)
        #expect(rerun.stdout.contains("checkpoint id = 30000"))
        try await server.stop()
    }

    @Test func refusedRowsAreCountedByStatusAndResentByRetry() async throws {
        let refuse = Mutex(true)
        let server = try await startEventsAPI { config in
            config.refuse = { batch in refuse.withLock { $0 } && batch.customerID == "C00005" ? "event name not in the data plan" : nil }
            config.faults = { $0.number == 0 ? .status(500) : nil }
        }
        let project = try Self.project(count: 120, server: server)
        let run = try await project.jobs(environment: Self.secrets, "run", "mp")
        #expect(run.status == 0, "\(run.stderr)")
        // 17 HTTP requests: 15 to find row 5 among rows 1-100 (split in halves), 1 for rows
        // 101-120, and the retry after the 500.
        #expect(run.stdout.contains("mp run #1: read 120 rows, sent 119 in 2 requests (17 HTTP requests, 1 retry), rejected 1 in "), "\(run.stdout)")
        // A refused row is stored as its batch, which holds no iterator value: the label gives the order.
        #expect(run.stderr == "  rejected row 5 (in id order): the destination refused the batch: HTTP 400: BAD_REQUEST: event name not in the data plan\n")

        let status = try await project.jobs("status", "mp")
        #expect(status.stdout.contains("  failed rows waiting for 'jobs retry mp': 1 (1 refused by the destination, 0 undelivered)"), "\(status.stdout)")
        #expect(status.stdout.contains(" on_demand on \(ProcessInfo.processInfo.hostName) (pid "), "\(status.stdout)")
        #expect(status.stdout.contains("): read 120, sent 119, rejected 1, 2 requests (17 HTTP requests, 1 retry), "), "\(status.stdout)")

        refuse.withLock { $0 = false }
        let retry = try await project.jobs(environment: Self.secrets, "retry", "mp")
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stdout.range(of: #"^mp retry run #2: resent 1 failed row in 1 request: 1 delivered, 0 refused again in \d+\.\d\d s; 0 rows still waiting\n$"#,
                                   options: .regularExpression) != nil, "\(retry.stdout)")
        #expect(Self.delivered(server).count == 120)
        #expect(try await project.jobs("status", "mp").stdout.contains("  failed rows waiting for 'jobs retry mp': 0\n"))
        #expect(try await project.jobs(environment: Self.secrets, "retry", "mp").stdout == "mp: no failed rows to retry\n")
        try await server.stop()
    }

    @Test func badCredentialsFailTheRunWithoutPrintingTheSecret() async throws {
        let server = try await startEventsAPI()
        let project = try Self.project(count: 50, server: server)
        let run = try await project.jobs(environment: ["MP_CLI_KEY": "test-key", "MP_CLI_SECRET": "wrong-s3cret"], "run", "mp")
        #expect(run.status == 1)
        #expect(run.stderr.contains("mp: run #1 failed after reading 50 rows and delivering 0 in 0 requests: mParticle (\(server.baseURL)) refused the credentials with HTTP 403 (forbidden); check destination.api_key (${MP_CLI_KEY}) and destination.api_secret (${MP_CLI_SECRET})"), "\(run.stderr)")
        #expect(!run.stderr.contains("wrong-s3cret") && !run.stdout.contains("wrong-s3cret"))

        let missing = try await project.jobs("run", "mp")
        #expect(missing.status == 1)
        #expect(missing.stderr == "mp: destination.api_key reads the environment variable MP_CLI_KEY, which is not set; export it before running the job\n")

        let plan = try await project.jobs(environment: Self.secrets, "plan", "mp")
        #expect(plan.stdout.contains("destination: mparticle \(server.baseURL) (POST \(server.baseURL)/bulkevents, events older than 30 days to /bulkevents/historical), api_key ${MP_CLI_KEY}, api_secret ${MP_CLI_SECRET}, max_in_flight 8, environment production"), "\(plan.stdout)")
        #expect(!plan.stdout.contains("test-secret"))

        try project.write("jobs/inline.yaml", """
            type: event
            source: { sqlite: ../examples/events.db, table: events }
            mapping:
              - { column: customer_id, to: user_identities.customer_id }
              - { column: event_name, to: events.data.event_name }
            destination: { type: mparticle, pod: us1, api_key: abc123secret, api_secret: '${MP_CLI_SECRET}' }
            """)
        let validate = try await project.jobs("validate", "inline")
        #expect(validate.status == 2)
        #expect(validate.stderr.contains("jobs/inline.yaml:6:52: 'destination.api_key' is written inline; secrets must not be in job files"), "\(validate.stderr)")
        #expect(!validate.stderr.contains("abc123secret"))
        try await server.stop()
    }

    @Test(.timeLimit(.minutes(1)))
    func anUnreachableDestinationIsRetriedForRetryForAndNamedInOneSentence() async throws {
        // A port nobody listens on: a server's, after it stopped.
        let closed = try await startEventsAPI()
        let port = try #require(closed.port)
        let project = try Self.project(count: 100, server: closed)
        try await closed.stop()
        try project.write("jobs/mp.yaml", project.read("jobs/mp.yaml") + "\n  retry_for: 2s\n")
        let run = try await project.jobs(environment: Self.secrets, "run", "mp")
        #expect(run.status == 1)
        // The command's own lines (the log's lines, timestamped, come first).
        let lines = run.stderr.split(separator: "\n").map(String.init).filter { $0.hasPrefix("mp: ") }
        #expect(lines.count == 3, "\(run.stderr)")
        let sentence = try #require(lines.first)
        let pattern = try Regex(#"^mp: run #1 failed after reading 100 rows and delivering 0 in 0 requests: mParticle \(http://127\.0\.0\.1:"#
            + "\(port)" + #"/v2\) could not be reached: connection refused by 127\.0\.0\.1:"# + "\(port)"
            + #", after (\d+) attempts over (\d+ ms|\d\.\d s) \(another retry would pass destination\.retry_for, 2\.0 s\); check destination\.url and that this machine can reach it$"#)
        let match = try #require(sentence.wholeMatch(of: pattern), "\(sentence)")
        // Retried with backoff rather than one attempt held for the 10 s connect timeout: full
        // jitter from 0.5 s, 1 s, 2 s … always leaves room for at least 3 attempts in 2 s.
        let attempts = try #require(Int(match.output[1].substring ?? ""))
        #expect(attempts >= 3, "\(sentence)")
        #expect(Array(lines.dropFirst()) == ["mp: checkpoint kept at nothing delivered yet",
                                             "mp: 100 rows of requests that failed are kept; the next run sends them again, or 'jobs retry mp' does now"])
    }
}
