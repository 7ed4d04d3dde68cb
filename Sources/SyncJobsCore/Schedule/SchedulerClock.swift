/// The time the daemon schedules by, and the sleep it waits on: the system clock in production; a
/// clock that tests advance by hand, so fire times and retries are exact without waiting.
public protocol SchedulerClock: Sendable {
    /// Milliseconds since the epoch.
    func now() -> Int64
    /// Returns once the clock reads `deadline` or later; throws `CancellationError` when cancelled.
    func sleep(until deadline: Int64) async throws
}

public struct SystemSchedulerClock: SchedulerClock {
    public init() {}

    public func now() -> Int64 { StateStore.now() }

    public func sleep(until deadline: Int64) async throws {
        let wait = deadline - now()
        if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
    }
}
