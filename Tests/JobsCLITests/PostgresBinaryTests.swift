import Foundation
import Testing
@testable import SyncJobsCore

/// The PostgreSQL source through the built binary: a run killed mid-way and run again, and the
/// messages of `jobs validate` and `jobs plan` against a real server.
// Serialized: opening a PostgreSQL source waits on the driver from the calling thread (the source
// seam is synchronous there), and many such tests at once would hold the cooperative pool's few
// threads from the rest of the suite's timed tests.
@Suite(.serialized, .enabled(if: TestPostgres.shouldRun, TestPostgres.skipNote))
struct PostgresBinaryTests {
    static func bigJob(_ project: Project, _ db: TestPostgres) throws {
        try project.write("jobs/pgbig.yaml", """
            name: pgbig
            type: event
            source:
              postgres: ${PGBIG_URL}
              query: SELECT id, "user", at FROM clicks
            mapping:
              - { column: user, to: user_identities.customer_id }
              - { static: Tick, to: events.data.event_name }
              - { column: id, to: events.data.custom_attributes.id }
              - { column: at, to: events.data.timestamp_unixtime_ms }
            sync: { mode: incremental, iterator: at, iterator_type: timestamp, from: 2026-01-01T00:00:00Z }
            destination: { path: ../out/pgbig.ndjson, environment: production }
            """)
    }

    /// The stored checkpoint's value (milliseconds), or nil while none is stored.
    static func checkpointMillis(_ project: Project) -> Int64? {
        guard case .int(let ms)? = project.stateRows("SELECT lower_value FROM checkpoints WHERE job = 'pgbig'").first?.first else { return nil }
        return ms
    }

    @Test(.timeLimit(.minutes(3)))
    func killedMidRunTheRerunSendsEveryRowAtLeastOnceAndNothingTheCheckpointCovers() async throws {
        try await TestPostgres.withDatabase { db in
            let count = 150_000
            // One row a second from 2026-01-01, with every tenth second shared by two rows (ties).
            try await db.execute(#"CREATE TABLE clicks (id integer, "user" text, at timestamptz)"#,
                                 "INSERT INTO clicks SELECT n, 'u' || (n % 1000), TIMESTAMPTZ '2026-01-01 00:00:00+00' + (n - CASE WHEN n % 10 = 0 THEN 1 ELSE 0 END) * INTERVAL '1 second' FROM generate_series(1, \(count)) AS n")
            let project = try Project()
            try Self.bigJob(project, db)
            let environment = ["PGBIG_URL": db.url]
            let (process, _, _) = try JobsBinary.start(["run", "pgbig"], in: project.root, environment: environment)
            var checkpointed: Int64?
            while process.isRunning {
                if let ms = Self.checkpointMillis(project) {
                    checkpointed = ms
                    break
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            let killedBeforeTheEnd = process.isRunning
            kill(process.processIdentifier, SIGKILL)
            await JobsBinary.wait(process)
            #expect(killedBeforeTheEnd, "the run finished before it could be killed; grow the table")
            #expect(checkpointed != nil)
            let covered = Self.checkpointMillis(project) ?? 0

            let rerun = try await project.jobs(environment: environment, "run", "pgbig")
            #expect(rerun.status == 0, "\(rerun.stderr)")

            var seen: [Int: Int] = [:]
            var atOf: [Int: Int64] = [:]
            for line in project.read("out/pgbig.ndjson").split(separator: "\n") {
                guard case .array(let batches) = try JSONParser.parse(String(line)) else { continue }
                for batch in batches {
                    guard case .array(let events)? = batch["events"], case .string(let idText)? = events.first?["data"]?["custom_attributes"]?["id"], let id = Int(idText),
                          case .int(let at)? = events.first?["data"]?["timestamp_unixtime_ms"] else { continue }
                    seen[Int(id), default: 0] += 1
                    atOf[Int(id)] = at
                }
            }
            #expect(seen.count == count, "every row is delivered at least once")
            #expect(Set(seen.keys) == Set(1...count))
            let sentTwiceUnderTheCheckpoint = seen.filter { $0.value > 1 && atOf[$0.key]! < covered }
            #expect(sentTwiceUnderTheCheckpoint.isEmpty, "rows the stored checkpoint covers are not sent again")
        }
    }

    @Test func validateAndPlanConnectAndCheck() async throws {
        try await TestPostgres.withDatabase { db in
            try await db.execute("CREATE TABLE users (id integer, email text, updated_at timestamptz)",
                                 "INSERT INTO users VALUES (1, 'a@x.io', '2026-01-01T00:00:00Z'), (2, 'b@x.io', '2026-01-02T00:00:00Z')")
            let project = try Project(copyExamples: false)
            try project.write("jobs/pgusers.yaml", """
                name: pgusers
                type: user
                source:
                  postgres: ${PGUSERS_URL}
                  table: users
                mapping:
                  - { column: id, to: user_identities.customer_id }
                  - { column: emial, to: user_identities.email }
                sync: { mode: incremental, iterator: updated_at, iterator_type: timestamp }
                destination: { path: ../out/pgusers.ndjson, environment: production }
                """)
            let invalid = try await project.jobs(environment: ["PGUSERS_URL": db.url], "validate")
            #expect(invalid.status == 2)
            #expect(invalid.stderr == """
                jobs/pgusers.yaml:8:7: column 'emial' is not in table 'users' in \(db.endpoint); did you mean 'email'?
                1 job file of 1 did not validate

                """)
            try project.write("jobs/pgusers.yaml", project.read("jobs/pgusers.yaml").replacingOccurrences(of: "emial", with: "email"))
            let valid = try await project.jobs(environment: ["PGUSERS_URL": db.url], "validate")
            #expect(valid.status == 0, "\(valid.stderr)")
            #expect(valid.stdout == "ok jobs/pgusers.yaml\n")

            let plan = try await project.jobs(environment: ["PGUSERS_URL": db.url], "plan", "pgusers")
            #expect(plan.status == 0, "\(plan.stderr)")
            #expect(plan.stdout.contains(#"WHERE "__syncjobs_iterator" IS NULL OR ("__syncjobs_iterator" <= $1) ORDER BY "__syncjobs_iterator" NULLS FIRST"#), "\(plan.stdout)")
            #expect(plan.stdout.contains("rows to read: 2"), "\(plan.stdout)")

            // A server that does not answer: validate warns that nothing was checked; a run fails.
            let port = try closedLoopbackPort()
            let down = ["PGUSERS_URL": "postgres://syncjobs@127.0.0.1:\(port)/warehouse?sslmode=disable"]
            let unchecked = try await project.jobs(environment: down, "validate")
            #expect(unchecked.status == 0)
            #expect(unchecked.stderr == "jobs/pgusers.yaml:4:13: warning: the source was not checked: cannot connect to PostgreSQL at 127.0.0.1:\(port) (database 'warehouse'): connection refused; check the host and port, and that the server is running and accepts TCP connections from this machine\n")
            let failed = try await project.jobs(environment: down, "run", "pgusers")
            #expect(failed.status == 1)
            #expect(failed.stderr.contains("cannot connect to PostgreSQL at 127.0.0.1:\(port) (database 'warehouse'): connection refused"), "\(failed.stderr)")
        }
    }
}
