import Foundation
import Synchronization
import Testing
@testable import SyncJobsCore

/// The gate that lets a run's requests out, with concurrent waiters on a manual clock: every launch
/// time is exact.
@Suite(.timeLimit(.minutes(1))) struct LaunchGateTests {
    /// Launch times of requests that went through the gate, in order.
    final class Launches: Sendable {
        private let times = Mutex<[Duration]>([])
        func append(_ time: Duration) { times.withLock { $0.append(time) } }
        var all: [Duration] { times.withLock { $0 } }

        func waitFor(_ count: Int) async throws {
            let limit = ContinuousClock.now + .seconds(30)
            while all.count < count {
                if ContinuousClock.now > limit {
                    Issue.record("timed out waiting for \(count) launches; got \(all)")
                    throw CancellationError()
                }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    /// Starts a request waiting for its turn; it records when it got it.
    @discardableResult
    static func request(_ gate: LaunchGate, _ clock: ManualClock, _ launches: Launches,
                        stop: DeliveryStopSignal = DeliveryStopSignal()) -> Task<LaunchGate.Turn?, Error> {
        Task {
            let turn = try await gate.waitTurn(stop: stop)
            if turn != nil { launches.append(clock.elapsed()) }
            return turn
        }
    }

    @Test func aLaterRetryAfterHoldsARequestAlreadyWaitingOutAShorterPause() async throws {
        let clock = ManualClock()
        let gate = LaunchGate(clock: clock, pacing: PacingPolicy())
        let launches = Launches()
        gate.pause(for: .milliseconds(250))          // a plain 429's backoff
        let waiting = Self.request(gate, clock, launches)
        try await clock.waitFor("the request to wait for the short pause") { $0 == [.milliseconds(250)] }
        gate.pause(for: .seconds(3))                 // then another request's Retry-After: 3
        clock.advance(to: .milliseconds(250))
        // It wakes at 0.25 s, sees the later deadline and waits again instead of going out.
        try await clock.waitFor("the request to wait for Retry-After") { $0 == [.seconds(3)] }
        #expect(launches.all == [])
        clock.advance(to: .seconds(3))
        let turn = try await waiting.value
        #expect(launches.all == [.seconds(3)])
        #expect(turn == LaunchGate.Turn(waited: true, throttledMillis: 3000))
    }

    @Test func requestsWaitingTogetherShareOneThrottledTime() async throws {
        let clock = ManualClock()
        let gate = LaunchGate(clock: clock, pacing: PacingPolicy())
        let launches = Launches()
        gate.pause(for: .seconds(7))
        let waiting = (0..<3).map { _ in Self.request(gate, clock, launches) }
        try await clock.waitFor("three waiting requests") { $0.count == 3 }
        clock.advance(to: .seconds(7))
        var turns: [LaunchGate.Turn] = []
        for task in waiting { turns.append(try #require(try await task.value)) }
        #expect(launches.all == [.seconds(7), .seconds(7), .seconds(7)])
        #expect(turns.map(\.waited) == [true, true, true])
        #expect(turns.map(\.throttledMillis).sorted() == [0, 0, 7000])
    }

    @Test func aRelaxedAnswerLetsWaitingRequestsGoSoonerButOneGapApart() async throws {
        let clock = ManualClock()
        let gate = LaunchGate(clock: clock, pacing: PacingPolicy(minSpacing: .milliseconds(100), maxSpacing: .seconds(2)))
        let launches = Launches()
        // Usage stays high until the gap is at its 2 s cap; one request goes out at 0.
        for _ in 0..<9 { gate.observe(percentUsed: 95) }
        #expect(gate.schedule.pacer.spacing == .seconds(2))
        _ = try await Self.request(gate, clock, launches).value
        // Three more wait for 2 s.
        for _ in 0..<3 { Self.request(gate, clock, launches) }
        try await clock.waitFor("three requests waiting a 2 s gap") { $0 == Array(repeating: .seconds(2), count: 3) }

        // A relaxed answer halves the gap at once: they now wait until 1 s, not 2 s.
        gate.observe(percentUsed: 30)
        try await clock.waitFor("the waits to shrink to 1 s") { $0 == Array(repeating: .seconds(1), count: 3) }
        clock.advance(to: .seconds(1))
        try await launches.waitFor(2)
        // One went; the other two wait a gap after it, not at once.
        try await clock.waitFor("two requests waiting one gap later") { $0 == [.seconds(2), .seconds(2)] }
        gate.observe(percentUsed: 30)            // 0.5 s
        try await clock.waitFor("the waits to shrink to 0.5 s") { $0 == [.milliseconds(1500), .milliseconds(1500)] }
        clock.advance(to: .milliseconds(1500))
        try await launches.waitFor(3)
        try await clock.waitFor("the last request waiting one gap later") { $0 == [.seconds(2)] }
        clock.advance(to: .seconds(2))
        try await launches.waitFor(4)
        #expect(launches.all == [.zero, .seconds(1), .milliseconds(1500), .seconds(2)])
    }

    @Test func aStoppedRunReleasesWaitersWithoutATurn() async throws {
        let clock = ManualClock()
        let gate = LaunchGate(clock: clock, pacing: PacingPolicy())
        let launches = Launches()
        let stop = DeliveryStopSignal()
        gate.pause(for: .seconds(60))
        let waiting = Self.request(gate, clock, launches, stop: stop)
        try await clock.waitFor("the request to wait") { $0 == [.seconds(60)] }
        stop.fire()
        #expect(try await waiting.value == nil)
        #expect(launches.all == [])
        #expect(clock.elapsed() == .zero)
    }
}
