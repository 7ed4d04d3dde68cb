import Synchronization

/// What run tasks hand to the daemon loop: runs that ended, and wake-ups (a run ended, shutdown),
/// so the loop sleeps until a fire time or an event instead of polling.
final class DaemonInbox: Sendable {
    struct Ended: Sendable {
        var job: String
        var outcome: ScheduledRunOutcome
        /// Started by a control request (the API), not for a fire time: the schedule is untouched.
        var manual = false
    }

    /// A control request (from the HTTP API) for the loop, answered through `reply`.
    struct Control: Sendable {
        var job: String
        var action: DaemonControlAction
        var reply: @Sendable (DaemonControlReply) -> Void
    }

    private struct State {
        var ended: [Ended] = []
        var controls: [Control] = []
        var signalled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func post(_ ended: Ended) {
        state.withLock { $0.ended.append(ended) }
        wake()
    }

    func take() -> [Ended] {
        state.withLock { state in
            defer { state.ended.removeAll() }
            return state.ended
        }
    }

    func post(_ control: Control) {
        state.withLock { $0.controls.append(control) }
        wake()
    }

    func takeControls() -> [Control] {
        state.withLock { state in
            defer { state.controls.removeAll() }
            return state.controls
        }
    }

    /// Ends the current `wait`, or the next one if none is waiting.
    func wake() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.signalled = true
            return nil
        }
        waiter?.resume()
    }

    /// Returns at the next `wake` (at once if one came since the last wait), or when cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.signalled || Task.isCancelled {
                        state.signalled = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}

/// How a scheduled run ended, for whether its fire times are covered.
enum ScheduledRunOutcome: Sendable {
    /// It ran to its end, succeeded or failed (history has its failure): its fire times are covered.
    case finished
    /// It stopped early (shutdown): its fire times are still due.
    case interrupted
    /// It never started: the job was locked by another run, or the run could not be set up.
    case couldNotStart(problem: String, busy: Bool)
}
