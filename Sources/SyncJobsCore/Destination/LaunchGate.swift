import Synchronization

/// Lets the requests of one run out one at a time according to its `LaunchSchedule`, on an
/// injected clock, and keeps the run's throttled time.
///
/// A waiting request re-reads the schedule every time it wakes, so a pause extended while it
/// slept (a later `Retry-After`) holds it too; it also wakes early when the pacing gap shrinks.
final class LaunchGate: Sendable {
    /// How a request got its turn.
    struct Turn: Equatable {
        /// It was held back (by the pause or by pacing) before going out.
        var waited: Bool
        /// Its credit of the run's throttled time (see `ThrottledTime`).
        var throttledMillis: Int64
    }

    private struct State {
        var schedule: LaunchSchedule
        var throttled = ThrottledTime()
    }

    private enum Step {
        case go(Turn)
        case sleep(Duration, generation: Int)
    }

    private let clock: any SyncClock
    private let state: Mutex<State>
    private let changes = ChangeSignal()

    init(clock: any SyncClock, pacing: PacingPolicy) {
        self.clock = clock
        state = Mutex(State(schedule: LaunchSchedule(pacing: pacing)))
    }

    /// Holds every request of the run until `clock.elapsed() + duration`, or longer if already paused.
    func pause(for duration: Duration) {
        let until = clock.elapsed() + duration
        state.withLock { $0.schedule.pause(until: until) }
    }

    func pauseRemaining() -> Duration {
        let now = clock.elapsed()
        return state.withLock { $0.schedule.pauseRemaining(at: now) }
    }

    func observe(percentUsed: Double) {
        let shrank = state.withLock { $0.schedule.observe(percentUsed: percentUsed) }
        if shrank { changes.bump() }
    }

    var schedule: LaunchSchedule { state.withLock { $0.schedule } }

    /// Waits for this request's turn and takes it. Returns nil, without taking a turn, when `stop`
    /// fires first.
    func waitTurn(stop: DeliveryStopSignal) async throws -> Turn? {
        var waiting = false
        do {
            while true {
                try Task.checkCancellation()
                if stop.fired {
                    abandon(waiting)
                    return nil
                }
                let now = clock.elapsed()
                let step = state.withLock { s -> Step in
                    if s.schedule.launch(at: now) {
                        let credit = waiting ? s.throttled.endWait(at: now) : 0
                        return .go(Turn(waited: waiting, throttledMillis: credit))
                    }
                    if !waiting { s.throttled.beginWait(at: now) }
                    return .sleep(s.schedule.nextLaunch - now, generation: changes.generation)
                }
                switch step {
                case .go(let turn):
                    return turn
                case .sleep(let duration, let generation):
                    waiting = true
                    try await sleep(duration, unlessChangedFrom: generation, stop: stop)
                }
            }
        } catch {
            abandon(waiting)
            throw error
        }
    }

    private func abandon(_ waiting: Bool) {
        guard waiting else { return }
        let now = clock.elapsed()
        state.withLock { _ = $0.throttled.endWait(at: now, credit: false) }
    }

    /// Sleeps for `duration`, or until the schedule changes or the run stops.
    private func sleep(_ duration: Duration, unlessChangedFrom generation: Int, stop: DeliveryStopSignal) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.clock.sleep(for: duration) }
            group.addTask { await self.changes.wait(beyond: generation) }
            group.addTask { await stop.wait() }
            defer { group.cancelAll() }
            _ = try await group.next()
        }
    }
}
