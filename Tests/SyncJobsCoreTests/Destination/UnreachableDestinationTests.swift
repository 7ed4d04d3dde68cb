import EventsAPIServer
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
@testable import SyncJobsCore

/// A destination nobody listens on: refused connections are retried with backoff for
/// `retry_for`, then the run fails with one sentence saying what and where.
@Suite struct UnreachableDestinationTests {
    /// A loopback port that refuses connections: a server's, after it stopped.
    static func closedPort() async throws -> Int {
        let server = EventsAPIServer()
        let port = try await server.start()
        try await server.stop()
        return port
    }

    @Test(.timeLimit(.minutes(1)))
    func refusedConnectionsAreRetriedForRetryForThenTheRunSaysSo() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 100)
        let port = try await Self.closedPort()
        let url = "http://127.0.0.1:\(port)/v2"
        let job = try t.job("mp", mparticleEventsJobFile(name: "mp", database: "../data/events.db", url: url, apiKey: "${MP_TEST_KEY}",
                                                         apiSecret: "{ file: ../secret.txt }", settings: ["retry_for: 2s"]))
        let clock = FakeRetryClock()
        // random() = 1: backoffs of 0.5 s, 1 s, then 2 s, which would pass retry_for (1.5 s + 2 s).
        let run = try await t.run(job, destination: try t.mparticle(job, clock: clock, random: 1))
        #expect(!run.succeeded)
        #expect(run.errorMessage == "mParticle (\(url)) could not be reached: connection refused by 127.0.0.1:\(port), after 3 attempts over 1.5 s (another retry would pass destination.retry_for, 2.0 s); check destination.url and that this machine can reach it")
        #expect(clock.sleeps == [.milliseconds(500), .seconds(1)])
        #expect(run.counts.rowsUndelivered == 100)
    }

    @Test func connectionProblemsAreDescribedByWhatHappenedAndWhere() {
        func describe(_ error: Error) -> DeliveryProblem {
            DeliveryProblem.describe(error, endpoint: "127.0.0.1:9", timeout: .seconds(2), connectTimeout: .seconds(2))
        }
        #expect(describe(IOError(errnoCode: ECONNREFUSED, reason: "connection reset (error set)"))
                == DeliveryProblem(text: "connection refused by 127.0.0.1:9", unreachable: true))
        #expect(describe(IOError(errnoCode: EHOSTUNREACH, reason: "connect"))
                == DeliveryProblem(text: "no route to 127.0.0.1:9", unreachable: true))
        #expect(describe(HTTPClientError.connectTimeout)
                == DeliveryProblem(text: "no connection to 127.0.0.1:9 within 2.0 s", unreachable: true))
        #expect(describe(ChannelError.connectTimeout(.seconds(2)))
                == DeliveryProblem(text: "no connection to 127.0.0.1:9 within 2.0 s", unreachable: true))
        #expect(describe(HTTPClientError.deadlineExceeded)
                == DeliveryProblem(text: "no answer within destination.timeout (2.0 s)", unreachable: false))
        #expect(describe(HTTPClientError.remoteConnectionClosed)
                == DeliveryProblem(text: "the connection was closed before an answer", unreachable: false))
        // A connection that was up and then failed reached the server.
        #expect(describe(IOError(errnoCode: ECONNRESET, reason: "read")).unreachable == false)
    }
}
