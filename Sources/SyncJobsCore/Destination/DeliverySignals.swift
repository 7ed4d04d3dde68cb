import Synchronization

/// Fires once; every waiter (now or later) returns. Cancelling a waiter returns it too.
final class DeliveryStopSignal: Sendable {
    private let signal = ChangeSignal()

    var fired: Bool { signal.generation > 0 }

    func wait() async { await signal.wait(beyond: 0) }

    func fire() { signal.bump() }
}

/// A generation counter that waiters can sleep on: `wait(beyond:)` returns once the generation has
/// moved past the one the waiter saw (or at once if it already has), or when the waiter is
/// cancelled.
final class ChangeSignal: Sendable {
    private struct State {
        var generation = 0
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    var generation: Int { state.withLock { $0.generation } }

    func wait(beyond seen: Int) async {
        let id = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.generation != seen || s.cancelled.remove(id) != nil { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if let c = s.waiters.removeValue(forKey: id) { return c }
                s.cancelled.insert(id)
                return nil
            }
            continuation?.resume()
        }
    }

    func bump() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.generation += 1
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }
}
