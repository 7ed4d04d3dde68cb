import Synchronization
import SyncJobsCore
import Testing

/// A clock whose sleeps return at once and are recorded, so retry tests take no real backoff time.
package final class FakeRetryClock: SyncClock {
    private let state = Mutex<(now: Duration, sleeps: [Duration])>((.zero, []))

    package init() {}

    package func elapsed() -> Duration { state.withLock { $0.now } }

    /// `testNow`, moved on by the time slept.
    package func now() -> Int64 { testNow + Int64(elapsed() / .milliseconds(1)) }

    package func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLock {
            $0.now += duration
            $0.sleeps.append(duration)
        }
        await Task.yield()
    }

    package var sleeps: [Duration] { state.withLock { $0.sleeps } }
}

/// A clock that moves only when the test says so: sleepers wait until `advance(to:)` passes their
/// deadline, so concurrent requests see one shared, exact time.
package final class ManualClock: SyncClock {
    private struct Sleeper {
        var deadline: Duration
        var continuation: CheckedContinuation<Void, Error>
    }

    private struct State {
        var now: Duration = .zero
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    package init() {}

    package func elapsed() -> Duration { state.withLock { $0.now } }

    /// `testNow`, moved on by the time slept.
    package func now() -> Int64 { testNow + Int64(elapsed() / .milliseconds(1)) }

    package func sleep(for duration: Duration) async throws {
        let id = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let outcome = state.withLock { s -> Result<Void, Error>? in
                    if s.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if duration <= .zero { return .success(()) }
                    s.sleepers[id] = Sleeper(deadline: s.now + duration, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = state.withLock { s -> Sleeper? in
                if let sleeper = s.sleepers.removeValue(forKey: id) { return sleeper }
                s.cancelled.insert(id)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time to `time` and wakes every sleeper whose deadline has come.
    package func advance(to time: Duration) {
        let due = state.withLock { s -> [CheckedContinuation<Void, Error>] in
            s.now = max(s.now, time)
            let due = s.sleepers.filter { $0.value.deadline <= s.now }
            for id in due.keys { s.sleepers.removeValue(forKey: id) }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// The deadlines of the current sleepers, earliest first.
    package var deadlines: [Duration] { state.withLock { $0.sleepers.values.map(\.deadline).sorted() } }

    /// Waits (in real time, for at most 30 s) until `condition` holds for the sleepers' deadlines.
    package func waitFor(_ what: String, _ condition: ([Duration]) -> Bool) async throws {
        if try await !waitUntil(timeout: .seconds(30), every: .milliseconds(2), { condition(deadlines) }) {
            Issue.record("timed out waiting for \(what); sleepers: \(deadlines)")
            throw CancellationError()
        }
    }
}

/// Real time for waits, but a calendar that starts at `testNow`, so events dated for the tests
/// are as old as the tests expect.
package struct FixedDayClock: SyncClock {
    private let real = SystemClock()
    package init() {}
    package func now() -> Int64 { testNow + Int64(real.elapsed() / .milliseconds(1)) }
    package func elapsed() -> Duration { real.elapsed() }
    package func sleep(for duration: Duration) async throws { try await real.sleep(for: duration) }
}
