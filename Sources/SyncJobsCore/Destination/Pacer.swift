/// When to slow down: the `X-mp-rate-limit-percentage-used` thresholds and the spacing bounds.
package struct PacingPolicy: Sendable, Equatable {
    package var slowAbove: Double
    package var relaxBelow: Double
    package var minSpacing: Duration
    package var maxSpacing: Duration

    package init(slowAbove: Double = 80, relaxBelow: Double = 50, minSpacing: Duration = .milliseconds(50),
                maxSpacing: Duration = .seconds(2)) {
        self.slowAbove = slowAbove
        self.relaxBelow = relaxBelow
        self.minSpacing = minSpacing
        self.maxSpacing = maxSpacing
    }
}

/// Spaces request launches while mParticle reports its rate limit nearly used up, so a run slows
/// down before it is throttled.
///
/// Each answer's usage adjusts the spacing at once, in the order answers arrive: at or above
/// `slowAbove` it starts at `minSpacing` and grows by half, up to `maxSpacing`; below
/// `relaxBelow` it halves, and under `minSpacing` pacing stops. The spacing is measured from the
/// previous launch and applies to one launch at a time: when it shrinks, the next request may go
/// sooner, but the ones queued behind it still go one gap apart, never all at once.
package struct Pacer: Sendable, Equatable {
    package let policy: PacingPolicy
    /// The gap between launches now; zero when not pacing.
    package private(set) var spacing: Duration = .zero
    package private(set) var lastLaunch: Duration?

    package init(policy: PacingPolicy) { self.policy = policy }

    /// The earliest time the next request may go out, or nil when any time will do.
    package var nextLaunch: Duration? {
        guard spacing > .zero, let lastLaunch else { return nil }
        return lastLaunch + spacing
    }

    package mutating func launched(at time: Duration) {
        lastLaunch = time
    }

    /// Takes one answer's `X-mp-rate-limit-percentage-used`. Returns true when the spacing shrank,
    /// so a request waiting for its turn may go sooner.
    @discardableResult
    package mutating func observe(percentUsed: Double) -> Bool {
        let before = spacing
        if percentUsed >= policy.slowAbove {
            if spacing == .zero {
                spacing = policy.minSpacing
            } else {
                spacing = Swift.min(policy.maxSpacing, (spacing * 3) / 2)
            }
        } else if (percentUsed < policy.relaxBelow) && (spacing > .zero) {
            spacing = spacing / 2
            if spacing < policy.minSpacing { spacing = .zero }
        }
        return spacing < before
    }
}
