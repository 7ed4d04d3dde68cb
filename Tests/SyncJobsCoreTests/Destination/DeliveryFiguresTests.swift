import EventsAPIServer
import Foundation
import Testing
@testable import SyncJobsCore

/// The figures a run reports about delivery (requests, HTTP requests, retries, throttling) match
/// what the server saw.
@Suite struct DeliveryFiguresTests {
    @Test func httpRequestsCountEveryPostIncludingSplitHalvesAndRetries() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 300)
        let clock = FakeRetryClock()
        try await withEventsAPI({ config in
            config.refuse = { $0.customerID == "C00007" ? "data plan violation" : nil }
            // The first attempt of the second request fails once.
            config.faults = { $0.number == 13 ? .status(500) : nil }
        }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 1)
            let run = try await t.run(job, destination: try t.mparticle(job, clock: clock))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            // Rows 1-100 take 13 POSTs to isolate row 7 (100, 50, 25, 12, 6, 6, 3, 1, 2, 3, 13,
            // 25, 50 batches); rows 101-200 take 2 (a 500, then the retry); rows 201-300 take 1.
            #expect(server.exchanges.count == 16)
            #expect(run.counts.requests == 3)
            #expect(run.counts.httpRequests == 16)
            #expect(run.counts.retries == 1)
            #expect(run.counts.rowsSent == 299)
            #expect(run.counts.rowsRejected == 1)
            let summary = RunCommand.summary(run)
            #expect(summary.hasPrefix("mp run #1: read 300 rows, sent 299 in 3 requests (16 HTTP requests, 1 retry), rejected 1 in "), "\(summary)")

            // Stored with the run, and shown by history --json and status.
            let record = try #require(try t.state().runs(job: "mp", limit: 1).first)
            #expect(record.counts.httpRequests == 16)
            #expect(record.counts.requests == 3)
            let json = JSONWriter.compact(HistoryCommand.record(record))
            #expect(json.contains(#""requests":3,"http_requests":16,"retries":1,"#), "\(json)")
            let status = StatusCommand.lines(job, checkpoint: nil, runs: [record], rejected: RejectedRows(), active: nil)
            #expect(status.contains { $0.contains("): read 300, sent 299, rejected 1, 3 requests (16 HTTP requests, 1 retry), ") }, "\(status)")
        }
    }

    @Test func withoutRetriesOrSplitsTheHTTPRequestsAreThePackedRequestsAndAreNotRepeated() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 250)
        try await withEventsAPI { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 2)
            let run = try await t.run(job, destination: try t.mparticle(job))
            #expect(run.counts.requests == 3)
            #expect(run.counts.httpRequests == 3)
            #expect(server.exchanges.count == 3)
            #expect(RunCommand.summary(run).contains("sent 250 in 3 requests, rejected 0 in "), "\(RunCommand.summary(run))")
        }
    }
}
