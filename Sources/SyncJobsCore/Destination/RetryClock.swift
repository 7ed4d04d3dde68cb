/// Time as delivery sees it (backoff, `Retry-After` pauses, pacing): injected so tests control it
/// instead of waiting.
public protocol RetryClock: Sendable {
    /// Time since an arbitrary fixed start.
    func now() -> Duration
    func sleep(for duration: Duration) async throws
}

/// The real clock: monotonic, so a wall-clock change does not shorten or stretch a wait.
public struct SystemRetryClock: RetryClock {
    private let start = ContinuousClock.now
    public init() {}
    public func now() -> Duration { ContinuousClock.now - start }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 {
        let (s, attoseconds) = components
        return s * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
