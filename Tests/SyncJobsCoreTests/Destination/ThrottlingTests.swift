import EventsAPIServer
import Foundation
import Logging
import Synchronization
import Testing
@testable import SyncJobsCore

/// 429s, `Retry-After` and pacing against a real server on loopback: what the server saw, when.
@Suite struct ThrottlingTests {
    /// Requests that arrived after a `Retry-After` answer was written and before its deadline, as
    /// "answer #n → arrival #m at +s". Arrivals within `inTransit` of the answer are not counted:
    /// they can have left before the client read it (on a loaded machine the client may read an
    /// answer most of a second after it was written).
    static func earlyArrivals(_ server: EventsAPIServer, inTransit: Duration = .seconds(1)) -> [String] {
        let exchanges = server.exchanges
        var early: [String] = []
        for answer in exchanges {
            guard let seconds = answer.retryAfter, let answered = answer.answeredAt else { continue }
            for arrival in exchanges where arrival.arrivedAt > answered + inTransit && arrival.arrivedAt < answered + .seconds(seconds) {
                early.append("answer #\(answer.number) → arrival #\(arrival.number) at +\(arrival.arrivedAt - answered)")
            }
        }
        return early
    }

    @Test(.timeLimit(.minutes(1)))
    func aPlainTooManyRequestsDoesNotCutShortALaterRetryAfter() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 400)
        // Arrival 0 gets a plain 429 at once (its backoff: 1.5 s); arrival 1 gets `Retry-After: 3`
        // 50 ms later, while the first request is still waiting out its backoff.
        try await withEventsAPI({ config in
            config.faults = { request in
                switch request.number {
                case 0: return .status(429)
                case 1: return .status(429, retryAfter: 3, afterMilliseconds: 50)
                default: return nil
                }
            }
        }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 2)
            let policy = RetryPolicy(baseBackoff: .milliseconds(1500))
            let run = try await t.run(job, destination: try t.mparticle(job, clock: FixedDayClock(), policy: policy, random: 1))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(server.deliveredCustomers == customers(1...400))
            #expect(server.exchanges.count == 6)
            // Once the Retry-After answer was out, nothing went out before its deadline: not the
            // first request's retry, whose own backoff was shorter. (On a loaded machine the second
            // request can arrive after that backoff, and the retry then rightly goes out before.)
            let retries = server.exchanges.filter { $0.number >= 2 }.map(\.arrivedAt)
            let retryAfterAnswered = try #require(server.exchanges.first { $0.number == 1 }?.answeredAt)
            #expect(retries.filter { $0 > retryAfterAnswered }.allSatisfy { $0 >= retryAfterAnswered + .seconds(3) })
            #expect(retries.contains { $0 >= retryAfterAnswered + .seconds(3) })
            #expect(Self.earlyArrivals(server) == [])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aMixOfTooManyRequestsWithAndWithoutRetryAfterWaitsForTheLatestDeadline() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 1200)
        // Of the first 16 arrivals, half are answered 429, and half of those carry Retry-After: 2;
        // a plain 429 backs off 0.75 s, 1.5 s, 3 s …
        try await withEventsAPI({ config in
            config.faults = { request in
                guard request.number < 16 else { return nil }
                switch request.number % 4 {
                case 1: return .status(429)
                case 3: return .status(429, retryAfter: 2)
                default: return nil
                }
            }
        }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 4, retryFor: "1m")
            let policy = RetryPolicy(baseBackoff: .seconds(1))
            let run = try await t.run(job, destination: try t.mparticle(job, clock: FixedDayClock(), policy: policy, random: 0.75))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(server.deliveredCustomers == customers(1...1200))
            #expect(Self.earlyArrivals(server) == [])
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func throttledTimeIsTheRunsWallTimeNotTheSumOverRequests() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 300)
        let clock = ManualClock()
        // The three requests in flight are all answered Retry-After: 7 (a second late, so all three
        // are out before the first answer); they wait it out together.
        try await withEventsAPI({ $0.faults = { $0.number < 3 ? .status(429, retryAfter: 7, afterMilliseconds: 1000) : nil } }) { server in
            // A timeout far beyond the late answers, however loaded the machine.
            let job = try t.mparticleJob(server: server, maxInFlight: 3, timeout: "60s")
            let runner = JobRunner(job: job, state: try t.state(), destination: try t.mparticle(job, clock: clock),
                                   logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let running = Task { try await runner.run(RunOptions()) }
            // All three answered, all three waiting for the same deadline.
            try await clock.waitFor("three requests waiting for the pause") { _ in server.exchanges.count == 3 }
            try await clock.waitFor("three requests waiting for the pause") { $0 == [.seconds(7), .seconds(7), .seconds(7)] }
            clock.advance(to: .seconds(7))
            let run = try await running.value
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(server.deliveredCustomers == customers(1...300))
            #expect(run.counts.retries == 3)
            #expect(run.counts.throttledWaits == 3)
            #expect(run.counts.throttledMillis == 7000)
            #expect(RunCommand.summary(run).contains("sent 300 in 3 requests (6 HTTP requests, 3 retries, 3 throttled waits (7.00 s))"),
                    "\(RunCommand.summary(run))")
        }
    }

    @Test func pacingRelaxesWithTheFirstRelaxedAnswer() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 1000)
        let clock = FakeRetryClock()
        // Usage 95 % on the first four answers, then 30 %.
        try await withEventsAPI({ $0.percentUsed = { $0 < 4 ? 95 : 30 } }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 1)
            let run = try await t.run(job, destination: try t.mparticle(job, clock: clock))
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            // 50 ms, growing by half while usage is high; the first 30 % halves the next gap
            // (84.4 ms), the second ends pacing (42.2 ms is under the 50 ms minimum).
            #expect(clock.sleeps == [.milliseconds(50), .milliseconds(75), .microseconds(112_500), .microseconds(168_750),
                                     .microseconds(84_375)])
            #expect(run.counts.throttledWaits == 5)
            #expect(run.counts.throttledMillis == 490)
            #expect(server.deliveredCustomers == customers(1...1000))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func retryForCountsFromARequestsFirstAttemptNotFromItsWaitForATurn() async throws {
        let t = try TestWorkspace()
        try t.eventsDatabase(rows: 300)
        let clock = ManualClock()
        let seen = Mutex<Set<String>>([])
        try await withEventsAPI({ config in
            config.faults = { request in
                let first = { (customer: String) in request.text.contains(#""customer_id":"\#(customer)""#)
                    && seen.withLock { $0.insert(customer).inserted } }
                if first("C00001") { return .status(429, retryAfter: 8) }             // pauses the run until 8 s
                if request.text.contains(#""customer_id":"C00101""#) { return .delay(milliseconds: 3000) }  // long enough for the first answer to be read, even under load
                if first("C00201") { return .status(429, retryAfter: 5) }             // its first attempt, at 8 s
                return nil
            }
        }) { server in
            let job = try t.mparticleJob(server: server, maxInFlight: 2, retryFor: "10s", timeout: "60s")
            let runner = JobRunner(job: job, state: try t.state(), destination: try t.mparticle(job, clock: clock),
                                   logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            let running = Task { try await runner.run(RunOptions()) }
            // The first request waits out the pause; the third waits for its first turn.
            try await clock.waitFor("two requests waiting for 8 s") { _ in server.exchanges.count == 2 }
            try await clock.waitFor("two requests waiting for 8 s") { $0 == [.seconds(8), .seconds(8)] }
            clock.advance(to: .seconds(8))
            // 8 s waited plus 5 s would pass retry_for (10 s) if the wait for a turn counted.
            try await clock.waitFor("the third request waiting out Retry-After: 5") { $0 == [.seconds(13)] }
            clock.advance(to: .seconds(13))
            let run = try await running.value
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(server.deliveredCustomers == customers(1...300))
            #expect(RunCommand.summary(run).contains("sent 300 in 3 requests (5 HTTP requests, 2 retries, 3 throttled waits (13.00 s))"),
                    "\(RunCommand.summary(run))")
        }
    }
}
