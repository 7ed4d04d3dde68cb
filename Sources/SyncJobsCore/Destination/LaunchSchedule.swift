/// When the next request of a run may go out: not before the run's pause ends, and one pacing gap
/// after the previous launch. Pure, so the rules are tested with exact times.
///
/// The pause lasts until the latest deadline any answer asked for: a 429's `Retry-After`, or the
/// backoff of a 429 without one. A shorter deadline never cuts a longer one short.
package struct LaunchSchedule: Sendable, Equatable {
    package private(set) var pacer: Pacer
    package private(set) var pausedUntil: Duration = .zero

    package init(pacing: PacingPolicy) { pacer = Pacer(policy: pacing) }

    /// The earliest time the next request may go out.
    package var nextLaunch: Duration { max(pausedUntil, pacer.nextLaunch ?? .zero) }

    package func pauseRemaining(at now: Duration) -> Duration { max(.zero, pausedUntil - now) }

    package mutating func pause(until deadline: Duration) {
        pausedUntil = max(pausedUntil, deadline)
    }

    /// Launches a request at `now` when its turn has come; false when it must wait until
    /// `nextLaunch`.
    package mutating func launch(at now: Duration) -> Bool {
        guard now >= nextLaunch else { return false }
        pacer.launched(at: now)
        return true
    }

    /// See `Pacer.observe(percentUsed:)`: true when waiting requests may go sooner.
    @discardableResult
    package mutating func observe(percentUsed: Double) -> Bool { pacer.observe(percentUsed: percentUsed) }
}
