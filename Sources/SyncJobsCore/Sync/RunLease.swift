/// A run's hold on its job: the job's lock and the run's record, taken together and given back
/// together. Every kind of run (`jobs run`, scheduled, backfill windows, `jobs retry`) holds one.
struct RunLease {
    let state: StateStore
    let job: String
    let runID: Int64

    /// The schedule fire time the run is for: stored as covered before the lock is released.
    let fireTime: Int64?

    /// Takes the job's lock and records the run as running; throws `JobBusyError` when another
    /// run holds the lock.
    ///
    /// A scheduled run throws `FireTimeCoveredError` instead when, by the time it holds the lock,
    /// a run for its fire time (or a later one) has finished: with several daemons on one state,
    /// each sees every fire time come due, and the lock plus this check make one of them run it.
    init(state: StateStore, job: String, trigger: String, startedAt: Int64, fireTime: Int64? = nil, fireCount: Int = 0) throws {
        try state.acquireLock(job: job, runID: nil)
        do {
            if let fireTime, let covered = try state.scheduleState(job: job).lastFireTime, covered >= fireTime {
                throw FireTimeCoveredError(job: job, fireTime: fireTime, coveredUntil: covered)
            }
            runID = try state.beginRun(job: job, trigger: trigger, startedAt: startedAt, fireTime: fireTime, fireCount: fireCount)
            try state.attachRun(runID, toLockOf: job)
        } catch {
            try? state.releaseLock(job: job)
            throw error
        }
        self.state = state
        self.job = job
        self.fireTime = fireTime
    }

    /// Records how the run ended and releases the lock. A run that ran to its end (succeeded or
    /// failed) covers its fire time, recorded while the lock is still held, so that no other
    /// daemon can start a second run for it in between.
    func finish(counts: RunCounts, window: (String?, String?), checkpoint: String?, status: RunStatus, endedAt: Int64,
                error: String?) throws {
        defer { try? state.releaseLock(job: job) }
        try state.updateRun(runID, counts: counts, window: window, checkpoint: checkpoint)
        try state.finishRun(runID, status: status, endedAt: endedAt, error: error)
        if let fireTime, status != .interrupted {
            try state.recordFire(job: job, fireTime: fireTime, now: endedAt)
        }
    }
}

/// A scheduled run found its fire time already covered (another daemon ran it): nothing to do.
package struct FireTimeCoveredError: Error, CustomStringConvertible {
    package var job: String
    package var fireTime: Int64
    package var coveredUntil: Int64

    package var description: String {
        "job '\(job)': the run for \(Timestamp.format(millis: fireTime)) has already run (fire times are covered until \(Timestamp.format(millis: coveredUntil)))"
    }
}
