import Foundation

/// The checkpoint stage: stores what the acknowledged prefix covers (the checkpoint, rejected
/// rows, the run record's counts), never more.
struct CheckpointStage {
    let state: StateStore
    let job: String
    let runID: Int64?
    /// Dry runs store nothing.
    let stores: Bool
    /// The checkpoint the run found; a `--full-refresh` run never stores one behind it.
    let previous: Checkpoint?
    let fullRefresh: Bool
    let every: Int
    let source: any OpenedSource
    let destination: (any Destination)?
    /// The window bounds, for the run record.
    let window: (String?, String?)
    /// The checkpoint as last stored (or found), for the summary and the run record.
    private(set) var display: String?
    private var lastRecorded = ContinuousClock.now
    private var handledAtRecord = 0

    init(state: StateStore, job: String, runID: Int64?, stores: Bool, previous: Checkpoint?, fullRefresh: Bool, every: Int,
         source: any OpenedSource, destination: (any Destination)?, window: (String?, String?), display: String?) {
        self.state = state
        self.job = job
        self.runID = runID
        self.stores = stores
        self.previous = previous
        self.fullRefresh = fullRefresh
        self.every = every
        self.source = source
        self.destination = destination
        self.window = window
        self.display = display
    }

    /// Stores rejected rows, then the checkpoint when `every` rows have been applied since the
    /// last one (or `force`), after the destination has made them durable.
    mutating func store(_ ack: inout AcknowledgeStage, force: Bool) async throws {
        guard stores else { return }
        if !ack.pendingRejected.isEmpty, let runID {
            try state.recordRejected(job: job, runID: runID, ack.pendingRejected)
            ack.pendingRejected.removeAll(keepingCapacity: true)
        }
        guard var checkpoint = ack.prefix.checkpoint, ack.prefix.changedSinceStore,
              force || ack.prefix.appliedSinceStore >= every else {
            try recordProgress(ack.counts, force: force)
            return
        }
        // A full refresh starts below the stored checkpoint; until it is back at or beyond it,
        // storing would move the checkpoint backwards (and a limited or stopped refresh would
        // leave the next run re-sending what was delivered long ago).
        if fullRefresh, let previous {
            guard let ahead = checkpoint.notBehind(previous) else {
                ack.prefix.markStored()
                try recordProgress(ack.counts, force: force)
                return
            }
            checkpoint = ahead
        }
        if let resume = checkpoint.resume { checkpoint.resume = source.sealResume(resume) }
        try await destination?.makeDurable()
        try state.storeCheckpoint(job: job, checkpoint, runID: runID)
        ack.prefix.markStored()
        display = checkpoint.display
        try recordProgress(ack.counts, force: true)
    }

    /// Keeps the run record's counts current (every `every` rows handled, and at least every
    /// second), so a run that is killed, or a backfill window or full sync that has no
    /// checkpoint, shows what it delivered.
    mutating func recordProgress(_ counts: RunCounts, force: Bool) throws {
        guard stores, let runID else { return }
        let handled = counts.rowsSent + counts.rowsRejected + counts.rowsSkipped
        guard force || handled - handledAtRecord >= every || ContinuousClock.now - lastRecorded >= .seconds(1) else { return }
        lastRecorded = ContinuousClock.now
        handledAtRecord = handled
        try state.updateRun(runID, counts: counts, window: window, checkpoint: display)
    }

    /// Keeps the rows of a request that failed for good, for `jobs retry`.
    func keepFailed(_ rows: [FailedRow]) throws {
        guard stores, !rows.isEmpty else { return }
        try state.recordFailed(job: job, rows)
    }

    /// After a run that read its whole window without failing.
    func settle() throws {
        guard stores, let runID else { return }
        try state.settleUndelivered(job: job, beforeRun: runID)
    }
}
