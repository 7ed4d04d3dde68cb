/// The run's wall time during which at least one request was held back (by a pause or by
/// pacing): the union of the requests' waits, not their sum, so concurrent waits count once.
///
/// The time is handed out in whole milliseconds as credits to the requests that finish waiting,
/// each getting what accrued since the previous credit; the credits of a run add up to its
/// throttled time.
package struct ThrottledTime: Sendable, Equatable {
    /// Requests waiting now.
    package private(set) var waiting = 0
    private var openedAt: Duration = .zero
    private var closed: Duration = .zero
    private var creditedMillis: Int64 = 0

    package init() {}

    /// The throttled time up to `now`.
    package func total(at now: Duration) -> Duration {
        closed + (waiting > 0 ? now - openedAt : .zero)
    }

    package mutating func beginWait(at now: Duration) {
        if waiting == 0 { openedAt = now }
        waiting += 1
    }

    /// Ends a wait and returns the credit: the throttled milliseconds not yet credited. A wait
    /// abandoned without launching (`credit: false`) leaves its time to the next credit.
    @discardableResult
    package mutating func endWait(at now: Duration, credit: Bool = true) -> Int64 {
        precondition(waiting > 0, "endWait without beginWait")
        waiting -= 1
        if waiting == 0 { closed += now - openedAt }
        guard credit else { return 0 }
        let total = total(at: now).milliseconds
        defer { creditedMillis = total }
        return total - creditedMillis
    }
}
