import EventsAPIServer
import Foundation
import Synchronization
import Testing
@testable import SyncJobsCore

/// The mParticle destination against a real HTTP server on loopback, fault by fault: every row
/// delivered once (by `source_request_id`), the checkpoint at the acknowledged prefix, refused rows
/// rejected with the server's message.
@Suite struct MParticleDeliveryTests {
    @Test func deliversEveryRowOnceWithTheBodiesTheFileDestinationWrites() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 250)
        try await withEventsAPI { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 1)
            let run = try await t.run(job, destination: try t.mparticle(job))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(run.counts.rowsSent == 250)
            #expect(run.counts.requests == 3)
            #expect(server.deliveredCustomers == customers(1...250))
            #expect(server.duplicates == 0)
            #expect(server.exchanges.map(\.path) == Array(repeating: "/v2/bulkevents", count: 3))
            #expect(try t.checkpointValue("mp") == .int(250))

            // The file destination shows exactly what was POSTed.
            var yaml = t.read("jobs/mp.yaml")
            yaml = yaml.replacingOccurrences(of: #"(?s)destination:.*"#, with: "destination: { path: ../out/mp.ndjson, environment: production }\n",
                                             options: .regularExpression)
            // Same job name (the ids are seeded with it), file destination, read again from the start.
            let fileJob = try t.job("mp-file", yaml)
            _ = try await t.run(fileJob, RunOptions(fullRefresh: true))
            let lines = t.read("out/mp.ndjson").split(separator: "\n").map(String.init)
            #expect(lines == server.acceptedBodies)
            #expect(lines.first?.hasPrefix(#"[{"environment":"production","user_identities":{"customer_id":"C00001"},"events":[{"event_type":"custom_event","data":{"event_name":"Viewed","custom_event_type":"other","timestamp_unixtime_ms":1767225601000,"source_message_id":"823dd54a-d33f-82c0-a523-dabd7285858d"}}],"source_request_id":"77d3bb8afe3091384e126aa87a0cf8cf"},"#) == true, "\(lines.first?.prefix(400) ?? "")")
        }
    }

    @Test func requestsCarryBasicAuthAndRespectTheLimits() async throws {
        let t = try TestWorkspace()
        // Rows of ~3 KB: 256 KB holds fewer than 100 of them.
        try t.sqlite("data/events.db", """
            CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id TEXT, event_name TEXT, at INTEGER);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
            INSERT INTO events SELECT i, printf('C%05d', i) || printf('%.3000c', 'x'), 'Viewed', \(jan1) + i FROM n;
            """)
        try await withEventsAPI { server in
            let job = try t.mparticleJob(server: server)
            let run = try await t.run(job, destination: try t.mparticle(job))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(run.counts.rowsSent == 300)
            #expect(server.exchanges.allSatisfy { $0.bytes <= 256 * 1024 && $0.status == 202 })
            #expect(server.exchanges.count == 4)
            #expect(server.acceptedBatchCount == 300)
        }
    }

    @Test func wrongCredentialsStopTheRunAtOnceNamingTheEndpointNotTheSecret() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 2000)
        try await withEventsAPI { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 2)
            let run = try await t.run(job, destination: try t.mparticle(job, secret: "s3cr3t-value"))
            #expect(!run.succeeded)
            let message = run.errorMessage ?? ""
            #expect(message == "mParticle (\(server.baseURL)) refused the credentials with HTTP 403 (forbidden); check destination.api_key (${MP_TEST_KEY}) and destination.api_secret (file \(Paths.display(t.path("secret.txt")))) are the key and secret of an input (a custom feed) in this pod's workspace")
            #expect(!message.contains("s3cr3t"))
            #expect(server.exchanges.count <= 2)
            #expect(server.acceptedBatchCount == 0)
            #expect(try t.checkpointValue("mp") == nil)
            let history = try t.state().runs(job: "mp", limit: 1)
            #expect(history.first?.error?.contains("s3cr3t") == false)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aRequestWaitingOutABackoffGivesUpAsSoonAsTheRunStops() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 200)
        try await withEventsAPI({ config in
            config.faults = { request in
                if request.text.contains(#""customer_id":"C00001""#) { return .status(500) }
                if request.text.contains(#""customer_id":"C00101""#) { return .delay(milliseconds: 200) }
                return nil
            }
        }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 2, retryFor: "5m")
            let spec = try mparticleSpec(job)
            // A real clock and a one-minute backoff: only the stop can end the wait early.
            let destination = MParticleDestination(
                spec: spec, credentials: MParticleCredentials(key: "test-key", secret: "wrong"),
                clock: FixedDayClock(), policy: RetryPolicy(baseBackoff: .seconds(60), maxBackoff: .seconds(60)),
                random: { 1 })
            let started = ContinuousClock.now
            let run = try await t.run(job, destination: destination)
            #expect(ContinuousClock.now - started < .seconds(20))
            #expect(!run.succeeded)
            #expect(run.errorMessage?.contains("refused the credentials with HTTP 403") == true, "\(run.errorMessage ?? "")")
            // Both requests' rows (the refused one and the one that was waiting) are kept.
            #expect(run.counts.rowsUndelivered == 200)
        }
    }

    @Test func tooManyRequestsWaitsForRetryAfterAndEveryRequestWaitsWithIt() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 500)
        let clock = FakeRetryClock()
        try await withEventsAPI({ $0.faults = { $0.number == 0 ? .status(429, retryAfter: 7) : nil } }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 1)
            let run = try await t.run(job, destination: try t.mparticle(job, clock: clock))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(clock.sleeps == [.seconds(7)])
            #expect(run.counts.retries == 1)
            #expect(run.counts.throttledWaits == 1)
            #expect(run.counts.throttledMillis == 7000)
            #expect(server.deliveredCustomers == customers(1...500))
            #expect(server.duplicates == 0)
            #expect(try t.checkpointValue("mp") == .int(500))
            let summary = RunCommand.summary(run)
            #expect(summary.contains("sent 500 in 5 requests (6 HTTP requests, 1 retry, 1 throttled wait (7.00 s))"), "\(summary)")
        }
    }

    @Test func tooManyRequestsWithoutRetryAfterBacksOffExponentiallyWithJitter() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 100)
        let clock = FakeRetryClock()
        try await withEventsAPI({ $0.faults = { $0.number < 3 ? .status(429) : nil } }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 1)
            // Full jitter with random() = 0.5: half of 0.5 s, 1 s, 2 s.
            let run = try await t.run(job, destination: try t.mparticle(job, clock: clock, random: 0.5))
            #expect(run.succeeded)
            #expect(clock.sleeps == [.milliseconds(250), .milliseconds(500), .milliseconds(1000)])
            #expect(run.counts.retries == 3)
            #expect(server.deliveredCustomers == customers(1...100))
        }
    }

    @Test func serverErrorsDroppedConnectionsAndSlowAnswersAreRetried() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 1000)
        let clock = FakeRetryClock()
        try await withEventsAPI({ config in
            config.faults = { request in
                switch request.number {
                case 1: return .status(500)
                case 2: return .status(503)
                case 4: return .drop
                case 6: return .dropAfterAccept
                case 8: return .delay(milliseconds: 40_000)   // far beyond the 6 s timeout
                default: return nil
                }
            }
        }) { server in
            // One request at a time, so each scripted arrival meets a known request.
            // A timeout that a loaded machine's answers stay well inside.
            let job = try t.mparticleJob(server: server, maxInFlight: 1, timeout: "6s")
            let run = try await t.run(job, destination: try t.mparticle(job, clock: clock))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(run.counts.retries == 5, "\(server.exchanges.map { "\($0.number):\($0.status.map(String.init) ?? "-")" })")
            #expect(run.counts.rowsSent == 1000)
            // Every row arrived; the request accepted before its connection dropped arrived twice
            // with the same source_request_ids, which mParticle drops.
            #expect(server.deliveredCustomers == customers(1...1000))
            #expect(server.duplicates == 100)
            #expect(Set(server.deliveries.values) == [1, 2])
            #expect(try t.checkpointValue("mp") == .int(1000))
        }
    }

    @Test func whenRetriesRunOutTheRunFailsWithTheAcknowledgedPrefixCheckpointed() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 1000)
        let healthy = Mutex(false)
        try await withEventsAPI({ config in
            // The request holding rows 301-400 fails until the server is healthy again; the
            // request before it is slow, so later requests complete first.
            config.faults = { request in
                if healthy.withLock({ $0 }) { return nil }
                if request.text.contains(#""customer_id":"C00301""#) { return .status(500) }
                if request.text.contains(#""customer_id":"C00201""#) { return .delay(milliseconds: 300) }
                return nil
            }
        }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 4)
            let clock = FakeRetryClock()
            let run = try await t.run(job, destination: try t.mparticle(job, clock: clock, random: 1))
            #expect(!run.succeeded)
            #expect(run.errorMessage?.hasPrefix("mParticle (\(server.baseURL)) did not accept a request of 100 batches after 5 attempts over 7.5 s (another retry would pass destination.retry_for, 10.0 s); last problem: HTTP 500: internal error") == true, "\(run.errorMessage ?? "")")
            #expect(clock.sleeps == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4)])
            // Rows 1-300 were acknowledged (201-300 after later requests); 301-400 were not.
            #expect(try t.checkpointValue("mp") == .int(300))
            // At least the failed request's rows are kept (a request launched after the failure
            // gives up at once and is kept too).
            #expect(run.counts.rowsUndelivered >= 100)
            #expect(try failed(t) == [0, run.counts.rowsUndelivered])

            // The rerun sends everything after the checkpoint; nothing is lost, nothing doubled
            // beyond what mParticle deduplicates.
            healthy.withLock { $0 = true }
            let again = try await t.run(job, destination: try t.mparticle(job))
            #expect(again.succeeded, "\(again.errorMessage ?? "")")
            // From the checkpoint's value on: row 300 is read again and skipped.
            #expect(again.counts.rowsRead == 701)
            #expect(again.counts.rowsSkipped == 1)
            #expect(server.deliveredCustomers == customers(1...1000))
            #expect(try t.checkpointValue("mp") == .int(1000))
            // The complete rerun settles the undelivered rows.
            #expect(try failed(t) == [0, 0])
        }
    }

    @Test func badRequestsAreSplitToRejectJustTheRefusedBatches() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 300)
        let refuse = Mutex<Set<String>>(["C00007", "C00150", "C00151"])
        try await withEventsAPI({ config in
            config.refuse = { batch in
                refuse.withLock { $0.contains(batch.customerID ?? "") } ? "data plan violation: \(batch.customerID!)" : nil
            }
        }) { server in
            let job = try t.mparticleJob(server: server)
            let run = try await t.run(job, destination: try t.mparticle(job))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(run.counts.rowsSent == 297)
            #expect(run.counts.rowsRejected == 3)
            #expect(run.rejectedSamples.map(\.rowNumber).sorted() == [7, 150, 151])
            #expect(run.rejectedSamples.first { $0.rowNumber == 7 }?.reason
                    == "the destination refused the batch: HTTP 400: BAD_REQUEST: data plan violation: C00007")
            #expect(server.deliveredCustomers == customers(1...300).filter { !["C00007", "C00150", "C00151"].contains($0) })
            #expect(server.duplicates == 0)
            #expect(try t.checkpointValue("mp") == .int(300))
            #expect(try failed(t) == [3, 0])

            // `jobs retry` resends just them once the server takes them.
            refuse.withLock { $0 = ["C00151"] }
            let outcome = try await RetryCommand.retry(job: job, state: t.state(), destination: try t.mparticle(job), logger: .init(label: "test"))
            #expect(outcome.error == nil)
            #expect(outcome.attempted == 3)
            #expect(outcome.counts.rowsSent == 2)
            #expect(outcome.counts.rowsRejected == 1)
            #expect(outcome.stillPending == 1)
            #expect(server.deliveredCustomers == customers(1...300).filter { $0 != "C00151" })
            #expect(server.duplicates == 0)
            #expect(try t.state().runs(job: "mp", limit: 1).first?.trigger == "retry")
        }
    }

    @Test func eventsOlderThanThirtyDaysGoToTheHistoricalEndpoint() async throws {
        let t = try TestWorkspace()
        // 40 days before "now" for rows 1-150, then 1 day before for rows 151-300.
        try t.sqlite("data/events.db", """
            CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id TEXT, event_name TEXT, at INTEGER);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
            INSERT INTO events SELECT i, printf('C%05d', i), 'Viewed',
                CASE WHEN i <= 150 THEN \(testNow - 40 * 86_400_000) ELSE \(testNow - 86_400_000) END + i FROM n;
            """)
        try await withEventsAPI { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 1)
            let run = try await t.run(job, destination: try t.mparticle(job))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(server.deliveredCustomers == customers(1...300))
            // The middle request is split: its recent events go live, its old ones historical.
            #expect(server.exchanges.map(\.path) == ["/v2/bulkevents/historical", "/v2/bulkevents", "/v2/bulkevents/historical",
                                                      "/v2/bulkevents"])
            #expect(server.acceptedPaths.filter { $0.hasSuffix("historical") }.count == 150)
            #expect(run.counts.requests == 3)

            let never = try t.mparticleJob("mp-never", server: server, maxInFlight: 1, destinationExtra: "\n  historical: never")
            let before = server.exchanges.count
            _ = try await t.run(never, destination: try t.mparticle(never))
            #expect(server.exchanges.dropFirst(before).allSatisfy { $0.path == "/v2/bulkevents" })
        }
    }

    @Test func highRateLimitUsageSpacesRequestsOutBeforeBeingThrottled() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 500)
        let clock = FakeRetryClock()
        try await withEventsAPI({ $0.percentUsed = { _ in 95 } }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 1)
            let run = try await t.run(job, destination: try t.mparticle(job, clock: clock))
            #expect(run.succeeded)
            // After the first answer reports 95 %, requests start 50 ms apart, then 75 ms, 112 ms, …
            #expect(clock.sleeps == [.milliseconds(50), .milliseconds(75), .microseconds(112_500), .microseconds(168_750)])
            #expect(run.counts.throttledWaits == 4)
            #expect(run.counts.retries == 0)
            #expect(server.deliveredCustomers == customers(1...500))
        }
    }

    @Test func sourceRequestIDsAreStableAcrossRunsAndFollowTheKeyColumns() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 50)
        try await withEventsAPI { server in
            let job = try t.mparticleJob(server: server)
            _ = try await t.run(job, destination: try t.mparticle(job))
            _ = try await t.run(job, RunOptions(fullRefresh: true), destination: try t.mparticle(job))
            // The same rows again: the same ids, which mParticle drops.
            #expect(server.deliveries.count == 50)
            #expect(server.duplicates == 50)

            // With `key:`, the id follows the key (and the iterator), not the other columns.
            let keyed = try t.mparticleJob("keyed", server: server, extra: "key: [customer_id]")
            _ = try await t.run(keyed, destination: try t.mparticle(keyed))
            try t.execute("data/events.db", "UPDATE events SET event_name = 'Renamed'")
            _ = try await t.run(keyed, RunOptions(fullRefresh: true), destination: try t.mparticle(keyed))
            #expect(server.deliveries.count == 100)
            #expect(server.duplicates == 100)
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aHundredThousandRowsUnderAMixOfFaults() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 100_000)
        let clock = FakeRetryClock()
        try await withEventsAPI({ config in
            config.faults = { request in
                let n = request.number
                if n % 97 == 13 { return .dropAfterAccept }
                if n % 53 == 7 { return .drop }
                if n % 31 == 3 { return .status(429, retryAfter: 1) }
                if n % 29 == 5 { return .status(429) }
                if n % 23 == 11 { return .status(500) }
                if n % 61 == 17 { return .delay(milliseconds: 2500) }
                if n % 11 == 0 { return .delay(milliseconds: 5) }
                return nil
            }
            config.refuse = { $0.customerID == "C54321" ? "rejected by a rule" : nil }
            config.percentUsed = { $0 % 5 == 0 ? 85 : 20 }
        }) { server in
            // A short timeout: the 2.5 s answers are meant to time out.
            let job = try t.mparticleJob(server: server, retryFor: "1h", timeout: "2s")
            let run = try await t.run(job, destination: try t.mparticle(job, clock: clock))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(run.counts.rowsSent == 99_999)
            #expect(run.counts.rowsRejected == 1)
            #expect(run.counts.retries > 50)
            let delivered = server.deliveredCustomers
            #expect(delivered.count == 99_999)
            #expect(delivered == customers(1...100_000).filter { $0 != "C54321" })
            #expect(try t.checkpointValue("mp") == .int(100_000))
        }
    }
}

/// Pending failed rows of job `mp`: [refused, undelivered].
private func failed(_ t: TestWorkspace) throws -> [Int] {
    let counts = try t.state().failedCounts(job: "mp")
    return [counts.refused, counts.undelivered]
}
