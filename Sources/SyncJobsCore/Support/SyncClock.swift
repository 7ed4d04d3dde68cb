import Foundation

/// The one clock the engine runs on, injected wherever time matters: the daemon's fire times and
/// sleeps, delivery's backoff, `Retry-After` pauses and pacing, and the age of events. Tests inject
/// clocks they advance by hand, so every wait is exact and none is slept through.
public protocol SyncClock: Sendable {
    /// Milliseconds since the epoch: when things happen (fire times, event ages, HTTP dates).
    func now() -> Int64
    /// Time since an arbitrary fixed start, for measuring waits: monotonic, so a wall-clock change
    /// neither shortens nor stretches one.
    func elapsed() -> Duration
    func sleep(for duration: Duration) async throws
    /// Returns once `now()` reads `deadline` or later; throws `CancellationError` when cancelled.
    func sleep(until deadline: Int64) async throws
}

extension SyncClock {
    public func sleep(until deadline: Int64) async throws {
        let wait = deadline - now()
        if wait > 0 { try await sleep(for: .milliseconds(wait)) }
    }
}

/// The real clock.
public struct SystemClock: SyncClock {
    private let start = ContinuousClock.now
    public init() {}
    public func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
    public func elapsed() -> Duration { ContinuousClock.now - start }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 {
        let (s, attoseconds) = components
        return s * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
