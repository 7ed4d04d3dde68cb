import Foundation
import Testing
@testable import SyncJobsCore

@Suite struct JobsBinaryTests {
    @Test func theReadmeExampleRunsEndToEnd() async throws {
        let project = try Project()
        let result = try await project.jobs("run", "shop-users")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.range(of: #"^shop-users run #1: read 200 rows, sent 199 in 2 requests, rejected 1 in \d+\.\d\d s \([\d,]+ rows/s\); checkpoint updated_at = 2026-10-26T00:48:00Z \(1 row at this value delivered\)\n$"#, options: .regularExpression) != nil, "\(result.stdout)")
        #expect(result.stderr == """
            shop-users: note: catching up from 2026-10-01T00:00:00Z in 601 hourly windows, oldest first; the checkpoint is stored at each window
              rejected row 42 (in updated_at order; updated_at = '2026-10-06T06:57:00Z'): every identity is null or empty (column 'customer_id', column 'email'); a batch must identify its user

            """)
        let lines = project.read("out/shop-users.ndjson").split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix(#"[{"environment":"production","user_identities":{"customer_id":"C00001","email":"linus.perlman1@example.com"},"user_attributes":{"$FirstName":"Linus","source":"warehouse","plan":"enterprise","ltv":3341.36,"country":"US","order_count":2},"source_request_id":"3f8aa4e087cce02e4936ff8100561c41"},"#))

        let again = try await project.jobs("run", "shop-users")
        #expect(again.stdout.contains("read 1 row, sent 0 in 0 requests, rejected 0, skipped 1 already delivered"))
        #expect(project.read("out/shop-users.ndjson").split(separator: "\n").count == 2)
    }

    @Test func validateReportsFileLineColumnAndExits2() async throws {
        let project = try Project()
        try project.write("jobs/broken.yaml", """
            name: broken
            type: user
            source:
              sqlite: ../examples/shop.db
              table: users
            mapping:
              - { column: emial, to: user_identities.email }
              - { column: plan, to: user_atributes.plan }
            sync:
              mode: incremental
              iteratr: updated_at
            """)
        let result = try await project.jobs("validate", "broken")
        #expect(result.status == 2)
        #expect(result.stderr == """
            jobs/broken.yaml:10:3: an incremental sync needs 'iterator:'; name the column that grows with each change, e.g. 'iterator: updated_at'
            jobs/broken.yaml:11:3: unknown key 'sync.iteratr'; did you mean 'iterator'?
            1 job file of 1 did not validate

            """)
        try project.write("jobs/broken.yaml", """
            name: broken
            type: user
            source:
              sqlite: ../examples/shop.db
              table: users
            mapping:
              - { column: emial, to: user_identities.email }
              - { column: plan, to: user_atributes.plan }
            """)
        let mapping = try await project.jobs("validate", "jobs/broken.yaml")
        #expect(mapping.status == 2)
        #expect(mapping.stderr == """
            jobs/broken.yaml:7:7: column 'emial' is not in table 'users' in examples/shop.db; did you mean 'email'?
            jobs/broken.yaml:8:25: 'user_atributes.plan' is not a place in an mParticle batch; did you mean 'user_attributes.plan'?
            1 job file of 1 did not validate

            """)

        let all = try await project.jobs("validate")
        #expect(all.status == 2)
        #expect(all.stdout == "ok jobs/app-events.yaml\nok jobs/fme-events.yaml\nok jobs/fme-impressions.yaml\nok jobs/looker-events.yaml\nok jobs/looker-users-explicit.yaml\nok jobs/looker-users.yaml\nok jobs/shop-users-full.yaml\nok jobs/shop-users.yaml\nok jobs/warehouse-users.yaml\n")
        // Without its WAREHOUSE_URL the PostgreSQL job is checked as far as it can be, and passes with a warning.
        #expect(all.stderr.contains("jobs/warehouse-users.yaml:7:13: warning: the source was not checked: source.postgres reads the connection URL from the environment variable WAREHOUSE_URL, which is not set; export it (for example WAREHOUSE_URL=postgres://user@host:5432/database) before running the job\n"))
    }

    @Test func exitCodesForUsageAndMissingJobs() async throws {
        let project = try Project()
        let missing = try await project.jobs("run", "shop-userz")
        #expect(missing.status == 2)
        #expect(missing.stderr == "no job named 'shop-userz' in jobs; did you mean 'shop-users'?\n")
        let usage = try await project.jobs("run")
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("Missing expected argument '<jobs> ...'"))
        let unknownFlag = try await project.jobs("run", "shop-users", "--dryrun")
        #expect(unknownFlag.status == 2)
        let reset = try await project.jobs("reset", "shop-users")
        #expect(reset.status == 2)
        #expect(reset.stderr == "'jobs reset shop-users' forgets the checkpoint, so the next run re-sends everything from sync.from; add --yes to do it\n")
    }

    @Test func dryRunPlanStatusAndReset() async throws {
        let project = try Project()
        let dry = try await project.jobs("run", "app-events", "--dry-run")
        #expect(dry.status == 0)
        #expect(dry.stdout.hasPrefix("app-events (dry run): read 301 rows, would send 300 in 3 requests, rejected 1 in "))
        #expect(dry.stdout.hasSuffix("; nothing sent, checkpoint unchanged\n  rejected row 301: iterator column 'occurred_at' holds 'yesterday', which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z\n"))
        #expect(!FileManager.default.fileExists(atPath: project.root + "/out/app-events.ndjson"))

        let plan = try await project.jobs("plan", "shop-users")
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("checkpoint: none (first run)\nlower bound: >= 2026-10-01T00:00:00Z\nupper bound: <= 2026-10-26T00:48:00Z"))
        #expect(plan.stdout.contains(#"WHERE "__syncjobs_iterator" IS NULL OR ("__syncjobs_iterator" >= ?2 AND "__syncjobs_iterator" <= ?1) ORDER BY "__syncjobs_iterator""#))
        #expect(plan.stdout.contains("rows to read: 200"))
        #expect(plan.stdout.contains("  column 'customer_id'              →  user_identities.customer_id\n"))
        #expect(plan.stdout.contains("""
            first 3 batches:
            row 1:
            {
              "environment": "production",
              "user_identities": {
                "customer_id": "C00001",
            """))

        _ = try await project.jobs("run", "shop-users")
        let status = try await project.jobs("status", "shop-users", "--json")
        #expect(status.status == 0)
        let report = try JSONParser.parse(status.stdout)
        #expect(report["checkpoint"]?["value"] == .string("2026-10-26T00:48:00Z"))
        guard case .array(let runs)? = report["runs"] else {
            Issue.record("no runs in \(status.stdout)")
            return
        }
        #expect(runs.first?["rows_sent"] == .int(199))
        #expect(runs.first?["status"] == .string("succeeded"))
        #expect(report["rejected_rows"]?["total"] == .int(1))

        let reset = try await project.jobs("reset", "shop-users", "--yes")
        #expect(reset.status == 0)
        #expect(reset.stdout == "shop-users: checkpoint forgotten (it was updated_at = 2026-10-26T00:48:00Z (1 row at this value delivered)); the next run starts from 2026-10-01T00:00:00Z\n")
        let text = try await project.jobs("status", "shop-users")
        #expect(text.stdout.hasPrefix("shop-users (user, incremental)\n  schedule: hourly from 2026-11-15T19:00:00Z; next run due now\n  checkpoint: none; the next run starts at 2026-10-01T00:00:00Z\n  last runs:\n    #1 succeeded "))

        let paused = try await project.jobs("pause", "shop-users")
        #expect(paused.stdout == "shop-users: paused; the daemon skips it until 'jobs resume shop-users' (jobs run still runs it)\n")
        #expect(try await project.jobs("status", "shop-users").stdout.contains("  schedule: hourly from 2026-11-15T19:00:00Z; paused ('jobs resume shop-users' to resume)\n"))
        let schedule = try await project.jobs("schedule", "shop-users", "--after", "2026-11-22T10:30:00Z", "-n", "2", "--json")
        #expect(schedule.stdout == "[\"2026-11-22T11:00:00Z\",\"2026-11-22T12:00:00Z\"]\n")
        let history = try await project.jobs("history", "shop-users")
        #expect(history.stdout.range(of: #"^#1 on_demand succeeded started \S+ \(\d+\.\d\d s\) on \#(NSRegularExpression.escapedPattern(for: ProcessInfo.processInfo.hostName)) \(pid \d+\), window 2026-10-01T00:00:00Z \.\. 2026-10-26T00:48:00Z: read 200, sent 199, rejected 1, 2 requests\n$"#, options: .regularExpression) != nil, "\(history.stdout)")
    }

    /// Writes a CSV of `count` events, one per second, in shuffled order.
    static func bigEvents(_ project: Project, count: Int) throws {
        var text = "id,user,at\n"
        text.reserveCapacity(count * 40)
        var generator = SystemRandomNumberGenerator()
        let order = (1...count).shuffled(using: &generator)
        for id in order {
            text += "\(id),u\(id % 997),\(Timestamp.format(millis: 1_767_225_600_000 + Int64(id) * 1000))\n"
        }
        try project.write("examples/big.csv", text)
        try project.write("jobs/big.yaml", """
            name: big
            type: event
            source: { file: ../examples/big.csv }
            mapping:
              - { column: user, to: user_identities.customer_id }
              - { static: Tick, to: events.data.event_name }
              - { column: id, to: events.data.custom_attributes.id }
              - { column: at, to: events.data.timestamp_unixtime_ms }
            sync: { mode: incremental, iterator: at, iterator_type: timestamp, from: 2026-01-01T00:00:00Z }
            destination: { path: ../out/big.ndjson, environment: production }
            """)
    }

    static func stateCheckpointRow(_ project: Project) -> Int? {
        guard case .string(let json)? = project.stateRows("SELECT resume FROM checkpoints WHERE job = 'big'").first?.first,
              let resume = try? JSONDecoder().decode(FileResume.self, from: Data(json.utf8)) else { return nil }
        return resume.rowNumber
    }

    @Test(.timeLimit(.minutes(2)))
    func killedMidRunTheNextRunResendsOnlyRowsAfterTheCheckpoint() async throws {
        let project = try Project()
        let count = 120_000
        try Self.bigEvents(project, count: count)
        let (process, _, _) = try JobsBinary.start(["run", "big"], in: project.root)
        var checkpointed: Int?
        while process.isRunning {
            if let row = Self.stateCheckpointRow(project), row >= 20_000 {
                checkpointed = row
                break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        let killedBeforeTheEnd = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        await JobsBinary.wait(process)
        #expect(killedBeforeTheEnd, "the run finished before it could be killed; grow the file")
        // What the state held when the process died.
        let covered = Self.stateCheckpointRow(project) ?? 0
        #expect(covered >= (checkpointed ?? 0))

        let rerun = try await project.jobs("run", "big")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stderr.contains("note: resuming the interrupted pass over the file at row \(covered + 1)"))

        // File order is the CSV's order; map each delivered id back to its row number.
        let csvIDs = project.read("examples/big.csv").split(separator: "\n").dropFirst().map { Int($0.split(separator: ",")[0])! }
        var rowOfID: [Int: Int] = [:]
        for (n, id) in csvIDs.enumerated() { rowOfID[id] = n + 1 }
        var seen: [Int: Int] = [:]
        for line in project.read("out/big.ndjson").split(separator: "\n") {
            guard case .array(let batches) = try JSONParser.parse(String(line)) else { continue }
            for batch in batches {
                guard case .array(let events)? = batch["events"], case .string(let id)? = events.first?["data"]?["custom_attributes"]?["id"] else { continue }
                seen[Int(id)!, default: 0] += 1
            }
        }
        #expect(seen.count == count, "every row is delivered")
        let duplicatedBeforeCheckpoint = seen.filter { $0.value > 1 && rowOfID[$0.key]! <= covered }
        #expect(duplicatedBeforeCheckpoint.isEmpty, "rows covered by the stored checkpoint are never sent again")
    }

    @Test(.timeLimit(.minutes(2)))
    func aSecondRunOfARunningJobIsRefused() async throws {
        let project = try Project()
        try Self.bigEvents(project, count: 120_000)
        let (process, _, _) = try JobsBinary.start(["run", "big"], in: project.root)
        defer {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        // Wait until the first run holds the lock.
        var locked = false
        while process.isRunning && !locked {
            if project.stateRows("SELECT count(*) FROM locks WHERE job = 'big'") == [[.int(1)]] {
                locked = true
            } else {
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        #expect(locked)
        let second = try await project.jobs("run", "big")
        #expect(second.status == 1)
        #expect(second.stderr.hasPrefix("big: job 'big' is already running: run #1, process \(process.processIdentifier) on "), "\(second.stderr)")
    }
}
