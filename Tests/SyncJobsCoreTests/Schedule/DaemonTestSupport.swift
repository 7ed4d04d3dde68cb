import Foundation
import Logging
import ServiceLifecycle
import Synchronization
@testable import SyncJobsCore

/// A scheduler clock that moves only when a test advances it. Sleepers wake when it passes their
/// deadline; a test can wait until the daemon sleeps until a given time, which is how it knows the
/// daemon has done everything due before then.
final class ManualSchedulerClock: SyncClock {
    private struct Sleeper {
        var deadline: Int64
        var continuation: CheckedContinuation<Void, Error>
    }

    private struct State {
        var now: Int64
        var sleepers: [UUID: Sleeper] = [:]
    }

    private let state: Mutex<State>

    init(now: Int64) { state = Mutex(State(now: now)) }

    func now() -> Int64 { state.withLock { $0.now } }
    func elapsed() -> Duration { .milliseconds(now()) }
    func sleep(for duration: Duration) async throws { try await sleep(until: now() + duration.milliseconds) }

    func sleep(until deadline: Int64) async throws {
        let id = UUID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let resume = state.withLock { state -> Result<Void, Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let resume { continuation.resume(with: resume) }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    func advance(to time: Int64) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = time
            let due = state.sleepers.filter { $0.value.deadline <= time }
            for id in due.keys { state.sleepers[id] = nil }
            return Array(due.values)
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Waits (in real time, at most `timeout`) until something sleeps until exactly `deadline`.
    func waitForSleeper(until deadline: Int64, timeout: Duration = .seconds(20)) async -> Bool {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if state.withLock({ $0.sleepers.values.contains { $0.deadline == deadline } }) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }
}

/// A destination that records requests and holds request `holdAt` until released (or until the
/// sending task is cancelled), so a test can act while a run waits on its destination.
final class GatedDestination: Destination, @unchecked Sendable {
    // @unchecked: state is behind the Mutex.
    private struct State {
        var received: [PackedRequest] = []
        var entered = false
        var released = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    let holdAt: Int
    let maxInFlight = 1

    init(holdAt: Int) { self.holdAt = holdAt }

    func send(_ request: PackedRequest) async throws -> DeliveryResult {
        if request.sequence == holdAt {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let now = state.withLock { state -> Bool in
                        state.entered = true
                        if state.released || Task.isCancelled { return true }
                        state.waiter = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            } onCancel: {
                state.withLock { state in defer { state.waiter = nil }; return state.waiter }?.resume()
            }
            try Task.checkCancellation()
        }
        state.withLock { $0.received.append(request) }
        return .accepted
    }

    func makeDurable() async throws {}
    func close() async throws {}

    /// Waits (in real time, at most `timeout`) until request `holdAt` is being held.
    func waitUntilHeld(timeout: Duration = .seconds(20)) async -> Bool {
        let end = ContinuousClock.now + timeout
        while ContinuousClock.now < end {
            if state.withLock({ $0.entered }) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    func release() {
        state.withLock { state in
            state.released = true
            defer { state.waiter = nil }
            return state.waiter
        }?.resume()
    }

    var batches: [Value] {
        state.withLock { $0.received }.flatMap { request in
            (0..<request.batchCount).compactMap { try? JSONParser.parse(String(decoding: request.batch($0), as: UTF8.self)) }
        }
    }
}

/// `jobs daemon` in-process: the daemon in a ServiceGroup on a manual clock, logging to a capture.
final class DaemonUnderTest: Sendable {
    let group: ServiceGroup
    let task: Task<Void, Error>

    init(_ t: TestWorkspace, clock: ManualSchedulerClock, logs: LogCapture,
         makeDestination: (@Sendable (JobDefinition) throws -> any Destination)? = nil) {
        let daemon = Daemon(workspace: t.workspace, maxParallel: 2, logger: logs.logger, clock: clock, makeDestination: makeDestination)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        self.group = group
        task = Task { try await group.run() }
    }

    /// Shuts the daemon down as SIGTERM does, and waits until it has stopped.
    func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
