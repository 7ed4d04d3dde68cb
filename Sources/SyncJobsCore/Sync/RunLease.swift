/// A run's hold on its job: the job's lock and the run's record, taken together and given back
/// together. Every kind of run (`jobs run`, scheduled, backfill windows, `jobs retry`) holds one.
struct RunLease {
    let state: StateStore
    let job: String
    let runID: Int64

    /// Takes the job's lock and records the run as running; throws `JobBusyError` when another
    /// run holds the lock.
    init(state: StateStore, job: String, trigger: String, startedAt: Int64, fireTime: Int64? = nil, fireCount: Int = 0) throws {
        try state.acquireLock(job: job, runID: nil)
        do {
            runID = try state.beginRun(job: job, trigger: trigger, startedAt: startedAt, fireTime: fireTime, fireCount: fireCount)
            try state.attachRun(runID, toLockOf: job)
        } catch {
            try? state.releaseLock(job: job)
            throw error
        }
        self.state = state
        self.job = job
    }

    /// Records how the run ended and releases the lock.
    func finish(counts: RunCounts, window: (String?, String?), checkpoint: String?, status: RunStatus, endedAt: Int64,
                error: String?) throws {
        defer { try? state.releaseLock(job: job) }
        try state.updateRun(runID, counts: counts, window: window, checkpoint: checkpoint)
        try state.finishRun(runID, status: status, endedAt: endedAt, error: error)
    }
}
