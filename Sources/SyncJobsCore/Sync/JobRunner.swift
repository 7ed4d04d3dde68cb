import Foundation
import Logging

/// Runs one job once: reads the source, maps every row through the shared engine, packs requests,
/// delivers them with bounded concurrency, and stores checkpoints that cover only acknowledged rows.
package final class JobRunner: @unchecked Sendable {
    // @unchecked: a runner is used by one task at a time; its state lives in `run`.
    package let job: JobDefinition
    let state: StateStore
    let destination: (any Destination)?
    let logger: Logger
    let progress: (@Sendable (RunCounts, Double) -> Void)?

    package init(job: JobDefinition, state: StateStore, destination: (any Destination)?, logger: Logger,
                progress: (@Sendable (RunCounts, Double) -> Void)? = nil) {
        self.job = job
        self.state = state
        self.destination = destination
        self.logger = logger
        self.progress = progress
    }

    /// Runs the job. Throws only when the job is already running elsewhere; every other problem is
    /// reported in the result (and in run history).
    package func run(_ options: RunOptions) async throws -> RunResult {
        let started = ContinuousClock.now
        let startedAt = options.now ?? StateStore.now()
        var result = RunResult(job: job.name, runID: nil, dryRun: options.dryRun)
        var logger = self.logger
        logger[metadataKey: "job"] = "\(job.name)"

        var lease: RunLease?
        if !options.dryRun {
            lease = try RunLease(state: state, job: job.name, trigger: options.trigger, startedAt: startedAt,
                                 fireTime: options.fireTime, fireCount: options.fireCount)
            result.runID = lease?.runID
            logger[metadataKey: "run"] = "\(lease?.runID ?? 0)"
        }
        logger.info("Run started", metadata: ["trigger": "\(options.trigger)", "dry_run": "\(options.dryRun)"])

        do {
            try await execute(options, startedAt: startedAt, result: &result, logger: logger)
        } catch let error as JobFileError {
            result.failure = .invalidJob(error.diagnostics)
        } catch {
            result.failure = .failed(ErrorText.describe(error))
        }
        result.seconds = (ContinuousClock.now - started).seconds

        do {
            try lease?.finish(counts: result.counts, window: (result.windowLower, result.windowUpper), checkpoint: result.checkpoint,
                              status: result.status, endedAt: startedAt + Int64(result.seconds * 1000), error: result.errorMessage)
        } catch {
            logger.error("Cannot record the run's end", metadata: ["error": "\(error)"])
        }
        logger.info("Run finished", metadata: [
            "status": "\(result.status.rawValue)",
            "rows.read": "\(result.counts.rowsRead)", "rows.sent": "\(result.counts.rowsSent)",
            "rows.rejected": "\(result.counts.rowsRejected)", "requests": "\(result.counts.requests)",
        ])
        return result
    }

    /// Opens the source, works out the window, and runs the rows through the pipeline.
    private func execute(_ options: RunOptions, startedAt: Int64, result: inout RunResult, logger: Logger) async throws {
        let source = try SourceOpener.open(job)
        defer { source.close() }
        let (compiled, diagnostics) = MappingCompiler.compile(job: job, for: source)
        guard var plan = compiled else { throw JobFileError(diagnostics) }
        plan.idScope = options.idScope

        let stored = job.sync.mode == .incremental ? try state.checkpoint(job: job.name) : nil
        let window = try RunWindow.make(job: job, source: source, stored: options.window == nil ? stored : nil,
                                        fullRefresh: options.fullRefresh, now: startedAt, explicit: options.window)
        result.windowLower = window.lowerDisplay
        result.windowUpper = window.upperDisplay
        result.notes = source.notes + window.notes
        for note in result.notes { logger.notice("\(note)") }
        // Rows `jobs retry` delivered after a failed run: the checkpoint has not passed them, so
        // this run reads them again; they are skipped as already delivered.
        let deliveredByRetry = window.read != nil && !window.stateless ? try state.deliveredByRetry(job: job.name) ?? [] : []

        var pipeline = RowPipeline(job: job, options: options, source: source, window: window, builder: BatchBuilder(plan: plan),
                                   state: state, destination: destination, runID: result.runID, stored: stored,
                                   initialCheckpoint: window.stateless ? nil : initialCheckpoint(window, source: source),
                                   deliveredByRetry: deliveredByRetry, logger: logger, progress: progress)
        if pipeline.catchUp.count > 1 {
            let width = job.sync.backfillWindow.map { "windows of \(Format.duration(millis: $0))" } ?? "\(job.schedule.frequency?.rawValue ?? "") windows"
            result.notes.append("catching up from \(result.windowLower ?? "the first row") in \(Format.count(pipeline.catchUp.count)) \(width), oldest first; the checkpoint is stored at each window")
        }
        var failure: (any Error)?
        do {
            try await pipeline.run()
        } catch {
            failure = error
        }
        result.stopped = pipeline.stopped
        result.counts = pipeline.ack.counts
        result.bytesSent = pipeline.ack.bytesSent
        result.rejectedSamples = pipeline.ack.samples
        result.checkpoint = pipeline.checkpoint.display
        if let note = pipeline.unsentKeysNote { result.notes.append(note) }
        result.notes += pipeline.sourceNotesText
        do {
            try await destination?.close()
        } catch {
            if failure == nil { failure = error }
        }
        if let failure {
            if failure is CancellationError || Task.isCancelled {
                result.cancelled = true
                throw RunError("the run was interrupted; delivered rows are checkpointed")
            }
            throw failure
        }
    }

    /// The checkpoint the run builds on: where the lower bound is, and for files where the pass is.
    private func initialCheckpoint(_ window: RunWindow, source: any OpenedSource) -> Checkpoint? {
        guard let read = window.read else { return nil }
        var checkpoint = Checkpoint(iterator: read.column, iteratorType: read.type)
        let start = window.startCheckpoint
        checkpoint.lower = start?.lower ?? job.sync.from
        if let stored = start, stored.lower == checkpoint.lower {
            checkpoint.boundary = stored.boundary
            if case .sendAll = window.boundary { checkpoint.boundary = Boundary() }
            // A lookback run reads every row at the value again; past the cap only a count is
            // kept, so count them afresh rather than on top of the stored count.
            if job.sync.lookback != nil, checkpoint.boundary.hashes == nil { checkpoint.boundary = Boundary() }
        }
        if !source.deliversInIteratorOrder, let fingerprint = source.fingerprint {
            if let resume = window.resume, let stored = start {
                checkpoint.resume = resume
                checkpoint.resumeMax = stored.resumeMax
                checkpoint.resumeBoundary = stored.resumeBoundary
            } else {
                checkpoint.resume = FileResume(fingerprint: fingerprint, offset: 0, rowNumber: 0)
            }
        }
        return checkpoint
    }

}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
