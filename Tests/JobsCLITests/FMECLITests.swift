import EventsAPIServer
import Foundation
import Synchronization
import Testing
@testable import SyncJobsCore

/// The `jobs` binary against a loopback FME events server, as a user runs it.
@Suite struct FMECLITests {
    static let secrets = ["FME_CLI_KEY": "fme-cli-key"]

    static func project(count: Int, server: FMEEventsServer) throws -> Project {
        let project = try Project(copyExamples: false)
        try FileManager.default.createDirectory(atPath: project.root + "/examples", withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: project.root + "/examples/events.db", mode: .readWriteCreate)
        try db.execute("""
            CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id TEXT, event_name TEXT, at INTEGER);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(count))
            INSERT INTO events SELECT i, printf('C%05d', i), 'Viewed', strftime('%s', 'now') * 1000 - 3600000 + i FROM n;
            """)
        db.close()
        try project.write("jobs/fme.yaml", """
            type: event
            source: { sqlite: ../examples/events.db, table: events }
            mapping:
              - { column: customer_id, to: user_identities.customer_id }
              - { column: event_name, to: events.data.event_name }
              - { column: at, to: events.data.timestamp_unixtime_ms }
            sync: { mode: incremental, iterator: id, iterator_type: integer }
            destination:
              type: fme
              url: \(server.baseURL)
              api_key: ${FME_CLI_KEY}
              traffic_types: { user: customer_id }
              max_in_flight: 4
            """)
        return project
    }

    /// Batches the run has recorded as accepted by FME.
    static func recordedDeliveries(_ project: Project) -> Int {
        guard let db = try? SQLiteDatabase(path: project.root + "/.jobs/state.db", mode: .readOnly),
              let statement = try? db.prepare("SELECT count(*) FROM delivered_batches"), (try? statement.step()) == true,
              case .int(let count)? = try? statement.value(at: 0) else { return 0 }
        db.close()
        return Int(count)
    }

    @Test(.timeLimit(.minutes(2)))
    func aKilledRunFollowedByARerunSendsNoEventTwice() async throws {
        let count = 30_000
        // The killed run talks to `first`: slow answers, so it is still going when it is killed,
        // and from the 14th request on no acceptance at all (a 503 after 3 s). So no chunk is both
        // accepted and unknown to the run when it dies: that window (FME accepts, the answer is
        // lost) no client can close; see FMEDeliveryTests.anAnswerLostAfterFMEAcceptedIsSentAgain.
        // The rerun talks to `second`, so nothing the dead process had sent can land after it.
        try await withFMEEvents({ configuration in
            configuration.sdkKey = "fme-cli-key"
            configuration.faults = { $0.number >= 13 ? .status(503, afterMilliseconds: 3000) : .delay(milliseconds: 20) }
        }) { first in
            try await withFMEEvents({ $0.sdkKey = "fme-cli-key" }) { second in
                let project = try Self.project(count: count, server: first)
                let (process, _, _) = try JobsBinary.start(["run", "fme"], in: project.root, environment: Self.secrets)
                // Past the first stored checkpoint (every 10,000 rows), then kill it with requests in flight.
                while process.isRunning && first.acceptedRequests < 13 { try await Task.sleep(for: .milliseconds(2)) }
                // Let the run record the last answers (however loaded the machine).
                while process.isRunning && Self.recordedDeliveries(project) < first.events.count { try await Task.sleep(for: .milliseconds(5)) }
                let killedBeforeTheEnd = process.isRunning
                kill(process.processIdentifier, SIGKILL)
                await JobsBinary.wait(process)
                #expect(killedBeforeTheEnd, "the run finished before it could be killed")
                let acceptedBeforeTheKill = first.events.count
                #expect(acceptedBeforeTheKill == 13_000)

                let jobFile = project.root + "/jobs/fme.yaml"
                try String(contentsOfFile: jobFile, encoding: .utf8).replacingOccurrences(of: first.baseURL, with: second.baseURL)
                    .write(toFile: jobFile, atomically: true, encoding: .utf8)
                let rerun = try await project.jobs(environment: Self.secrets, "run", "fme")
                #expect(rerun.status == 0, "\(rerun.stderr)")
                let keys = (first.events + second.events).map(\.key)
                #expect(keys.count == count, "every event once: \(keys.count) accepted for \(count) rows; rerun: \(rerun.stdout)")
                #expect(Set(keys) == Set((1...count).map { String(format: "C%05d", $0) }))
                #expect(rerun.stdout.contains("checkpoint id = 30000"), "\(rerun.stdout)")
                // Rows the rerun read again that FME had accepted before the kill were not sent.
                let read = Int(rerun.stdout.firstMatch(of: /read ([\d,]+) rows/)?.1.replacingOccurrences(of: ",", with: "") ?? "") ?? -1
                #expect(read > count - acceptedBeforeTheKill, "\(rerun.stdout)")
                #expect(rerun.stdout.contains("the destination does not take (batch already delivered to FME by an interrupted run: "), "\(rerun.stdout)")
            }
        }
    }
}

/// The shipped `fme-events` job, against a loopback FME server on the port its URL names.
@Suite struct FMEEventsExampleTests {
    @Test func theShippedReplayJobSendsEachShapesEventsToFME() async throws {
        let server = FMEEventsServer(FMEEventsServer.Configuration(sdkKey: "example-key"))
        try await server.start(port: 18089)
        let project = try Project()
        let run = try await project.jobs(environment: ["FME_SDK_KEY": "example-key"], "run", "fme-events")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.range(of: #"^fme-events run #1: read 3 rows, sent 3 in 1 request, rejected 0, skipped 2 events the destination does not take \(event type 'crash_report' is not sent to FME: 1; event type 'push_message' is not sent to FME: 1\) in \d+\.\d\d s \([\d,]+ rows/s\)\n$"#, options: .regularExpression) != nil, "\(run.stdout)")
        #expect(server.events.map { "\($0.eventTypeId) \($0.trafficTypeName) \($0.key) \($0.foreignId ?? "-")" } == [
            "session_start user u-1001 evt-0001",
            "screen_view user u-1001 evt-0002",
            "Search_Performed user u-1001 evt-0003",
            "product_action user u-1001 evt-0004",
            "product_action user u-1001 evt-0004",
            "session_end user u-1001 evt-0005",
            "Added_to_Wishlist user u-1002 evt-0101",
            "Added_to_Wishlist anonymous anon-55 evt-0101",
            "Plan_Upgraded user u-1003 9c0e6d5a-aaaa-4bbb-8ccc-ddddeeeeffff",
        ])
        let plan = try await project.jobs("plan", "fme-events")
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("""
            as FME events (destination type fme):
              row 1, event 1: \(server.events[0].json)
            """), "\(plan.stdout)")
        #expect(plan.stdout.contains("\n  row 1, event 5: skipped: event type 'crash_report' is not sent to FME\n"), "\(plan.stdout)")
        #expect(plan.stdout.contains("\n  row 3, event 2: skipped: event type 'push_message' is not sent to FME\n"), "\(plan.stdout)")
        #expect(server.events.count == 9, "plan sends nothing")
        #expect(server.events[3].json == #"{"eventTypeId":"product_action","trafficTypeName":"user","key":"u-1001","environmentName":"Production","timestamp":1796029203000,"value":null,"foreignId":"evt-0004","properties":{"session_id":7001,"source_message_id":"evt-0004","event_id":"evt-0004","action":"purchase","transaction_id":"T-9001","total_amount":129.9,"tax_amount":20.74,"shipping_amount":4.9,"currency_code":"EUR","product.id":"SKU-1","product.name":"Trail Shoe","product.brand":"Peak","product.category":"shoes","product.price":99.9,"product.quantity":1}}"#)
        try await server.stop()
    }
}
