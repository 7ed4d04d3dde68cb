import Foundation
import Testing
@testable import SyncJobsCore

/// The delivery rules as pure values with exact times: pacing, the run's pause, throttled time,
/// backoff and `Retry-After`.
@Suite struct PacingTests {
    static let policy = PacingPolicy(slowAbove: 80, relaxBelow: 50, minSpacing: .milliseconds(50), maxSpacing: .seconds(2))

    /// One request at a time, each launched as soon as the pacer lets it, then answered with the
    /// next usage figure: the gaps between launches.
    static func gaps(_ answers: [Double], policy: PacingPolicy = policy) -> [Duration] {
        var pacer = Pacer(policy: policy)
        var now = Duration.zero
        var gaps: [Duration] = []
        for used in answers {
            let launch = max(now, pacer.nextLaunch ?? now)
            gaps.append(launch - now)
            now = launch
            pacer.launched(at: now)
            pacer.observe(percentUsed: used)
        }
        return gaps
    }

    @Test func spacingGrowsByHalfWhileUsageIsHighAndHalvesWithEachRelaxedAnswer() {
        #expect(Self.gaps([95, 95, 95, 95, 30, 30, 30, 30]) == [
            .zero, .milliseconds(50), .milliseconds(75), .microseconds(112_500), .microseconds(168_750),
            // The first relaxed answer halves the gap for the very next launch, and so on, until
            // it falls under 50 ms and pacing stops.
            .microseconds(84_375), .zero, .zero,
        ])
    }

    @Test func spacingStaysAtItsCapAndUsageBetweenTheThresholdsKeepsIt() {
        let policy = PacingPolicy(slowAbove: 80, relaxBelow: 50, minSpacing: .seconds(1), maxSpacing: .seconds(2))
        #expect(Self.gaps([90, 90, 90, 90, 70, 70, 40, 40], policy: policy) == [
            .zero, .seconds(1), .milliseconds(1500), .seconds(2), .seconds(2), .seconds(2), .seconds(2), .seconds(1),
        ])
        var pacer = Pacer(policy: policy)
        // Whether each answer shrank the spacing (so waiting requests may go sooner).
        let shrank = [pacer.observe(percentUsed: 90), pacer.observe(percentUsed: 60), pacer.observe(percentUsed: 40)]
        #expect(shrank == [false, false, true])
        #expect(pacer.spacing == .zero)
    }

    @Test func whenTheGapShrinksQueuedRequestsStillGoOneGapApart() {
        // Five requests queued behind a launch at 0 with a 2 s gap; then an answer relaxes it to
        // 1 s. They go at 1, 2, 3, 4, 5 s: sooner, and never together.
        var schedule = LaunchSchedule(pacing: PacingPolicy(minSpacing: .seconds(1), maxSpacing: .seconds(2)))
        for _ in 0..<3 { schedule.observe(percentUsed: 95) }
        #expect(schedule.pacer.spacing == .seconds(2))
        let first = schedule.launch(at: .zero)
        #expect(first)
        #expect(schedule.nextLaunch == .seconds(2))
        let relaxed = schedule.observe(percentUsed: 30)
        #expect(relaxed)
        var launches: [Duration] = []
        var now = Duration.zero
        while launches.count < 5 {
            now = max(now, schedule.nextLaunch)
            // Every queued request tries; only one gets each turn.
            let launched = (0..<(5 - launches.count)).filter { _ in schedule.launch(at: now) }.count
            #expect(launched == 1)
            launches.append(now)
        }
        #expect(launches == [.seconds(1), .seconds(2), .seconds(3), .seconds(4), .seconds(5)])
    }

    @Test func thePauseLastsUntilTheLatestDeadlineWhateverOrderTheyArriveIn() {
        var schedule = LaunchSchedule(pacing: Self.policy)
        schedule.pause(until: .milliseconds(250))     // a plain 429's short backoff
        schedule.pause(until: .seconds(3))            // Retry-After: 3
        schedule.pause(until: .milliseconds(500))     // another plain 429
        #expect(schedule.nextLaunch == .seconds(3))
        #expect(schedule.pauseRemaining(at: .seconds(1)) == .seconds(2))
        // Whether a request may go at 0.25 s, 2.999 s, 3 s, and another at 3 s (unpaced: at once).
        let launched = [schedule.launch(at: .milliseconds(250)), schedule.launch(at: .milliseconds(2999)),
                        schedule.launch(at: .seconds(3)), schedule.launch(at: .seconds(3))]
        #expect(launched == [false, false, true, true])
        #expect(schedule.pauseRemaining(at: .seconds(3)) == .zero)
    }

    @Test func afterAPausePacingStillSpacesTheLaunches() {
        var schedule = LaunchSchedule(pacing: PacingPolicy(minSpacing: .seconds(1), maxSpacing: .seconds(2)))
        schedule.observe(percentUsed: 95)
        schedule.pause(until: .seconds(5))
        let launched = [schedule.launch(at: .seconds(5)), schedule.launch(at: .seconds(5))]
        #expect(launched == [true, false])
        #expect(schedule.nextLaunch == .seconds(6))
    }

    @Test func throttledTimeIsTheUnionOfTheWaitsAndItsCreditsAddUpToIt() {
        var time = ThrottledTime()
        time.beginWait(at: .zero)                                  // A
        time.beginWait(at: .zero)                                  // B
        time.beginWait(at: .seconds(3))                            // C
        // A gets what accrued, B waited the same 7 s, C gets its last 3 s.
        let credits = [time.endWait(at: .seconds(7)), time.endWait(at: .seconds(7)), time.endWait(at: .seconds(10))]
        #expect(credits == [7000, 0, 3000])
        #expect(time.total(at: .seconds(11)) == .seconds(10))
        time.beginWait(at: .seconds(12))
        #expect(time.total(at: .milliseconds(12_500)) == .milliseconds(10_500))
        let alone = time.endWait(at: .seconds(13))
        #expect(alone == 1000)
        // A wait abandoned without launching hands its time to the next credit.
        time.beginWait(at: .seconds(20))
        let abandoned = time.endWait(at: .seconds(21), credit: false)
        #expect(abandoned == 0)
        time.beginWait(at: .seconds(22))
        let next = time.endWait(at: .milliseconds(22_500))
        #expect(next == 1500)
        #expect(time.total(at: .seconds(30)) == .milliseconds(12_500))
        #expect(time.waiting == 0)
    }

    @Test func backoffIsExponentialWithFullJitterUpToItsCap() {
        let policy = RetryPolicy()
        #expect((0..<8).map { policy.backoff(attempt: $0, random: 1) } == [
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30),
        ])
        #expect(policy.backoff(attempt: 2, random: 0.25) == .milliseconds(500))
        #expect(policy.backoff(attempt: 100, random: 0.5) == .seconds(15))
        #expect(policy.backoff(attempt: 3, random: 0) == .zero)
    }

    @Test func retryAfterReadsSecondsAndHTTPDates() {
        let now = Date(timeIntervalSince1970: 1_445_412_477)   // Wed, 21 Oct 2015 07:27:57 GMT
        #expect(RetryPolicy.retryAfter("3", now: now) == .seconds(3))
        #expect(RetryPolicy.retryAfter(" 120 ", now: now) == .seconds(120))
        #expect(RetryPolicy.retryAfter("-4", now: now) == .zero)
        #expect(RetryPolicy.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == .seconds(3))
        #expect(RetryPolicy.retryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == .zero)
        #expect(RetryPolicy.retryAfter("soon", now: now) == nil)
        #expect(RetryPolicy.retryAfter("", now: now) == nil)
        #expect(RetryPolicy.retryAfter(nil, now: now) == nil)
    }

    @Test func aRetryMayNotEndPastRetryFor() {
        #expect(!RetryPolicy.wouldPass(retryFor: .seconds(2), elapsed: .milliseconds(500), pending: .milliseconds(1500)))
        #expect(RetryPolicy.wouldPass(retryFor: .seconds(2), elapsed: .milliseconds(1500), pending: .milliseconds(501)))
    }
}
