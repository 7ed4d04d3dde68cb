import Foundation
import Logging
import ServiceLifecycle
import Synchronization

public struct RunOptions: Sendable {
    /// Why the run happens: `on_demand` (jobs run), `scheduled`, `backfill`.
    public var trigger: String
    /// Map and check every row, send nothing, store nothing.
    public var dryRun: Bool
    /// Ignore the stored checkpoint for this run.
    public var fullRefresh: Bool
    /// Read at most this many rows.
    public var limit: Int?
    /// Store the checkpoint at least this often, in rows.
    public var checkpointEvery: Int
    /// The run's start, in milliseconds since the epoch; time iterators never read past it.
    public var now: Int64?
    /// For scheduled runs: the latest fire time covered, and how many fire times coalesced into it.
    public var fireTime: Int64?
    public var fireCount: Int
    /// A backfill: re-send `[lower, upper)` without reading or moving the checkpoint.
    public var window: ExplicitWindow?
    /// Mixed into every `source_request_id` and `source_message_id` (a backfill's own id), so a
    /// resend is not dropped by mParticle as a repeat of an earlier delivery.
    public var idScope: String?

    public init(trigger: String = "on_demand", dryRun: Bool = false, fullRefresh: Bool = false, limit: Int? = nil,
                checkpointEvery: Int = 10_000, now: Int64? = nil, fireTime: Int64? = nil, fireCount: Int = 0,
                window: ExplicitWindow? = nil, idScope: String? = nil) {
        self.trigger = trigger
        self.dryRun = dryRun
        self.fullRefresh = fullRefresh
        self.limit = limit
        self.checkpointEvery = checkpointEvery
        self.now = now
        self.fireTime = fireTime
        self.fireCount = fireCount
        self.window = window
        self.idScope = idScope
    }
}

/// What a run did.
public struct RunResult: Sendable {
    public enum Failure: Sendable {
        /// The job file or its mapping does not validate (exit code 2).
        case invalidJob([Diagnostic])
        case failed(String)
    }

    public var job: String
    public var runID: Int64?
    public var dryRun: Bool
    public var counts = RunCounts()
    public var bytesSent = 0
    public var seconds = 0.0
    public var windowLower: String?
    public var windowUpper: String?
    public var checkpoint: String?
    public var notes: [String] = []
    public var failure: Failure?
    /// The run stopped reading before the end because it was asked to (daemon shutdown).
    public var stopped = false
    /// The run was cancelled (it outlasted the daemon's shutdown grace period).
    public var cancelled = false
    /// The first rejected rows, for output (all are in the state database).
    public var rejectedSamples: [RejectedRow] = []

    public var succeeded: Bool { failure == nil }

    /// What run history records, and the log says: a run stopped or cancelled before its end is
    /// `interrupted`; one that ran to its end `succeeded` or `failed`.
    public var status: RunStatus {
        if cancelled { return .interrupted }
        if failure != nil { return .failed }
        return stopped ? .interrupted : .succeeded
    }

    public var errorMessage: String? {
        switch failure {
        case .invalidJob(let diagnostics): return diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "\n")
        case .failed(let message): return message
        case nil: return nil
        }
    }
}

/// Runs one job once: reads the source, maps every row through the shared engine, packs requests,
/// delivers them with bounded concurrency, and stores checkpoints that cover only acknowledged rows.
public final class JobRunner: @unchecked Sendable {
    // @unchecked: a runner is used by one task at a time; its state lives in `run`.
    public let job: JobDefinition
    let state: StateStore
    let destination: (any Destination)?
    let logger: Logger
    let progress: (@Sendable (RunCounts, Double) -> Void)?

    public init(job: JobDefinition, state: StateStore, destination: (any Destination)?, logger: Logger,
                progress: (@Sendable (RunCounts, Double) -> Void)? = nil) {
        self.job = job
        self.state = state
        self.destination = destination
        self.logger = logger
        self.progress = progress
    }

    static let rejectedSampleLimit = 20

    /// Runs the job. Throws only when the job is already running elsewhere; every other problem is
    /// reported in the result (and in run history).
    public func run(_ options: RunOptions) async throws -> RunResult {
        let started = ContinuousClock.now
        let startedAt = options.now ?? StateStore.now()
        var result = RunResult(job: job.name, runID: nil, dryRun: options.dryRun)
        var logger = self.logger
        logger[metadataKey: "job"] = "\(job.name)"

        if !options.dryRun {
            try state.acquireLock(job: job.name, runID: nil)
            do {
                let runID = try state.beginRun(job: job.name, trigger: options.trigger, startedAt: startedAt,
                                               fireTime: options.fireTime, fireCount: options.fireCount)
                result.runID = runID
                try state.attachRun(runID, toLockOf: job.name)
                logger[metadataKey: "run"] = "\(runID)"
            } catch {
                try? state.releaseLock(job: job.name)
                throw error
            }
        }
        logger.info("Run started", metadata: ["trigger": "\(options.trigger)", "dry_run": "\(options.dryRun)"])

        do {
            try await execute(options, startedAt: startedAt, result: &result, logger: logger)
        } catch let error as JobFileError {
            result.failure = .invalidJob(error.diagnostics)
        } catch {
            result.failure = .failed(Self.message(error))
        }
        result.seconds = (ContinuousClock.now - started).seconds

        if let runID = result.runID {
            do {
                try state.updateRun(runID, counts: result.counts, window: (result.windowLower, result.windowUpper),
                                    checkpoint: result.checkpoint)
                try state.finishRun(runID, status: result.status,
                                    endedAt: startedAt + Int64(result.seconds * 1000), error: result.errorMessage)
            } catch {
                logger.error("Cannot record the run's end", metadata: ["error": "\(error)"])
            }
            try? state.releaseLock(job: job.name)
        }
        logger.info("Run finished", metadata: [
            "status": "\(result.status.rawValue)",
            "rows.read": "\(result.counts.rowsRead)", "rows.sent": "\(result.counts.rowsSent)",
            "rows.rejected": "\(result.counts.rowsRejected)", "requests": "\(result.counts.requests)",
        ])
        return result
    }

    static func message(_ error: Error) -> String {
        if let error = error as? LocalizedError, let description = error.errorDescription { return description }
        return "\(error)"
    }

    private struct Completion: Sendable {
        var request: PackedRequest
        var delivery: DeliveryResult
    }

    private func execute(_ options: RunOptions, startedAt: Int64, result: inout RunResult, logger: Logger) async throws {
        let source = try SourceOpener.open(job)
        defer { source.close() }
        let (compiled, diagnostics) = MappingCompiler.compile(job: job, for: source)
        guard var plan = compiled else { throw JobFileError(diagnostics) }
        plan.idScope = options.idScope
        let builder = BatchBuilder(plan: plan)

        let stored = job.sync.mode == .incremental ? try state.checkpoint(job: job.name) : nil
        let window = try RunWindow.make(job: job, source: source, stored: options.window == nil ? stored : nil,
                                        fullRefresh: options.fullRefresh, now: startedAt, explicit: options.window)
        result.windowLower = window.lowerDisplay
        result.windowUpper = window.upperDisplay
        result.notes = [(source as? FileSource)?.emptyNote].compactMap { $0 } + window.notes
        for note in result.notes { logger.notice("\(note)") }

        var prefix = AcknowledgedPrefix(checkpoint: window.stateless ? nil : initialCheckpoint(window, source: source),
                                        sortedSource: source.deliversInIteratorOrder)
        // Rows `jobs retry` delivered after a failed run: the checkpoint has not passed them, so
        // this run reads them again; they are skipped as already delivered.
        let deliveredByRetry = window.read != nil && !window.stateless ? try state.deliveredByRetry(job: job.name) ?? [] : []
        result.checkpoint = (options.fullRefresh && options.window == nil ? stored?.display : nil) ?? prefix.checkpoint?.display
        // Window starts of a long catch-up (SQLite sources, time iterators): the run reads in one
        // ordered pass and stores the checkpoint each time it enters the next window.
        let catchUp = window.catchUpBoundaries(job: job, sortedSource: source.deliversInIteratorOrder)
        var nextWindow = 1
        if catchUp.count > 1 {
            let width = job.sync.backfillWindow.map { "windows of \(Format.duration(millis: $0))" } ?? "\(job.schedule.frequency?.rawValue ?? "") windows"
            result.notes.append("catching up from \(result.windowLower ?? "the first row") in \(Format.count(catchUp.count)) \(width), oldest first; the checkpoint is stored at each window")
        }
        let incremental = window.read != nil
        var packer = RequestPacker()
        var rejectedBuffer: [RejectedRow] = []
        var counts = RunCounts()
        var bytesSent = 0
        var ordinal = 0
        var lastProgress = ContinuousClock.now
        let runStart = ContinuousClock.now
        var lastRecorded = ContinuousClock.now
        var handledAtRecord = 0
        let maxInFlight = options.dryRun ? 1 : max(1, destination?.maxInFlight ?? 1)
        var sourceExhausted = false

        func reject(_ number: Int, _ reason: String, _ row: String, retryable: RetryableBatch? = nil) {
            var record = RejectedRow(runID: result.runID ?? 0, rowNumber: number, reason: reason, row: row)
            record.retryable = retryable
            counts.rowsRejected += 1
            if result.rejectedSamples.count < Self.rejectedSampleLimit { result.rejectedSamples.append(record) }
            if !options.dryRun { rejectedBuffer.append(record) }
        }

        /// Keeps the run record's counts current (every `checkpointEvery` rows handled, and at least
        /// every second), so a run that is killed, or a backfill window or full sync that has no
        /// checkpoint, shows what it delivered.
        func recordProgress(force: Bool) throws {
            guard !options.dryRun, let runID = result.runID else { return }
            let handled = counts.rowsSent + counts.rowsRejected + counts.rowsSkipped
            guard force || handled - handledAtRecord >= options.checkpointEvery
                    || ContinuousClock.now - lastRecorded >= .seconds(1) else { return }
            lastRecorded = ContinuousClock.now
            handledAtRecord = handled
            try state.updateRun(runID, counts: counts, window: (result.windowLower, result.windowUpper), checkpoint: result.checkpoint)
        }

        func storeCheckpoint(force: Bool) async throws {
            guard !options.dryRun else { return }
            if !rejectedBuffer.isEmpty, let runID = result.runID {
                try state.recordRejected(job: job.name, runID: runID, rejectedBuffer)
                rejectedBuffer.removeAll(keepingCapacity: true)
            }
            guard var checkpoint = prefix.checkpoint, prefix.changedSinceStore,
                  force || prefix.appliedSinceStore >= options.checkpointEvery else {
                try recordProgress(force: force)
                return
            }
            // A full refresh starts below the stored checkpoint; until it is back at or beyond it,
            // storing would move the checkpoint backwards (and a limited or stopped refresh would
            // leave the next run re-sending what was delivered long ago).
            if options.fullRefresh, let previous = stored {
                guard let ahead = checkpoint.notBehind(previous) else {
                    prefix.markStored()
                    try recordProgress(force: force)
                    return
                }
                checkpoint = ahead
            }
            if let resume = checkpoint.resume, let file = source as? any ResumableSource {
                checkpoint.resume = file.sealResume(resume)
            }
            try await destination?.makeDurable()
            try state.storeCheckpoint(job: job.name, checkpoint, runID: result.runID)
            prefix.markStored()
            result.checkpoint = checkpoint.display
            try recordProgress(force: true)
        }

        func acknowledge(_ completion: Completion) {
            let request = completion.request
            counts.requests += 1
            counts.rowsSent += request.batchCount - completion.delivery.rejected.count
            counts.retries += completion.delivery.retries
            counts.httpRequests += completion.delivery.httpRequests
            counts.throttledWaits += completion.delivery.throttledWaits
            counts.throttledMillis += completion.delivery.throttledMillis
            bytesSent += request.body.count
            for refused in completion.delivery.rejected where refused.index < request.batchCount {
                let batch = String(decoding: request.batch(refused.index), as: UTF8.self)
                reject(request.rowNumbers[refused.index], "the destination refused the batch: \(refused.reason)", batch,
                       retryable: RetryableBatch(batch: batch, eventTime: request.eventTime(refused.index)))
            }
            prefix.acknowledged(request)
        }

        /// Keeps the rows of a request that could not be delivered, for `jobs retry`.
        func keepUndelivered(_ error: Error) {
            guard let undelivered = error as? UndeliveredRequest, !options.dryRun, let runID = result.runID else { return }
            let request = undelivered.request
            counts.rowsUndelivered += request.batchCount
            let reason = "not delivered: \(Self.message(undelivered.underlying))"
            let rows = (0..<request.batchCount).map { index in
                FailedRow(runID: runID, rowNumber: request.rowNumbers[index], kind: .undelivered, reason: reason,
                          batch: String(decoding: request.batch(index), as: UTF8.self), eventTime: request.eventTime(index))
            }
            do {
                try state.recordFailed(job: job.name, rows)
            } catch {
                logger.error("Cannot keep undelivered rows", metadata: ["error": "\(error)"])
            }
        }

        // Keys of JSON records beyond the columns, when no `$unmapped` entry sends them.
        var unsentKeys: (count: Int, names: [String]) = (0, [])
        var failure: Error?
        await withThrowingTaskGroup(of: Completion.self) { group in
            var inFlight = 0

            func launch(_ request: PackedRequest) async throws {
                prefix.sealed(request)
                if options.dryRun {
                    acknowledge(Completion(request: request, delivery: .accepted))
                    return
                }
                guard let destination else { return }
                while inFlight >= maxInFlight, let done = try await group.next() {
                    inFlight -= 1
                    acknowledge(done)
                    try recordProgress(force: false)
                }
                group.addTask {
                    do {
                        return Completion(request: request, delivery: try await destination.send(request))
                    } catch {
                        throw UndeliveredRequest(request: request, underlying: error)
                    }
                }
                inFlight += 1
            }

            func sealAndLaunch() async throws {
                if let request = packer.seal() { try await launch(request) }
            }

            do {
                let reader = try source.makeReader(window.read, resume: window.resume)
                var lastWindowLog = ContinuousClock.now - .seconds(10)
                reading: while true {
                    if Task.isCancelled { throw CancellationError() }
                    if let limit = options.limit, ordinal >= limit { break }
                    // Graceful shutdown (the daemon's SIGTERM, through ServiceLifecycle): stop reading;
                    // requests in flight finish and the checkpoint covers what they delivered.
                    // Outside a service group this is always false.
                    if Task.isShuttingDownGracefully {
                        result.stopped = true
                        break
                    }
                    guard let item = try reader.next() else {
                        sourceExhausted = true
                        break
                    }
                    ordinal += 1
                    counts.rowsRead += 1
                    switch item {
                    case .rejected(let number, let reason, let row, let endOffset):
                        let text: String
                        if case .string(let raw) = row { text = raw } else { text = JSONWriter.compact(row) }
                        reject(number, reason, text)
                        prefix.append(.init(ordinal: ordinal, number: number, iterator: nil, hash: nil, endOffset: endOffset, counts: false))
                    case .row(let row):
                        if !row.extras.isEmpty && plan.extrasTarget == nil {
                            unsentKeys.count += 1
                            for extra in row.extras where unsentKeys.names.count < 5 && !unsentKeys.names.contains(extra.key) {
                                unsentKeys.names.append(extra.key)
                            }
                        }
                        var facts = BatchFacts()
                        let mapped = builder.map(row.values, extras: row.extras, facts: &facts)
                        let hash = incremental ? Self.ledgerIdentity(row, facts) : nil
                        if let value = row.iterator, let hash, Self.alreadyDelivered(value, hash, window.boundary) {
                            counts.rowsSkipped += 1
                            prefix.append(.init(ordinal: ordinal, number: row.number, iterator: value, hash: hash,
                                                endOffset: row.endOffset, counts: false))
                            break
                        }
                        if let id = facts.requestID, deliveredByRetry.contains(id) {
                            counts.rowsSkipped += 1
                            prefix.append(.init(ordinal: ordinal, number: row.number, iterator: row.iterator, hash: hash,
                                                endOffset: row.endOffset, counts: true))
                            break
                        }
                        // Crossing into a later catch-up window: checkpoint what is acknowledged.
                        if case .int(let value)? = row.iterator, nextWindow < catchUp.count, value >= catchUp[nextWindow] {
                            while nextWindow < catchUp.count, value >= catchUp[nextWindow] { nextWindow += 1 }
                            prefix.advance(openRequestFirstOrdinal: packer.firstPendingOrdinal)
                            try await storeCheckpoint(force: true)
                            if ContinuousClock.now - lastWindowLog >= .seconds(1) {
                                lastWindowLog = ContinuousClock.now
                                logger.info("Catching up", metadata: [
                                    "window": "\(nextWindow)/\(catchUp.count)",
                                    "window.start": "\(window.read.map { $0.type.display(.int(catchUp[nextWindow - 1])) } ?? "")",
                                ])
                            }
                        }
                        switch mapped {
                        case .rejected(let reason):
                            reject(row.number, reason, JSONWriter.compact(row.asObject(columns: source.columns)))
                        case .batch(let bytes):
                            if !packer.fits(bytes) { try await sealAndLaunch() }
                            packer.add(bytes, rowNumber: row.number, ordinal: ordinal, eventTime: facts.eventTime)
                        }
                        prefix.append(.init(ordinal: ordinal, number: row.number, iterator: row.iterator, hash: hash,
                                            endOffset: row.endOffset, counts: true))
                        if packer.count >= packer.maxBatches { try await sealAndLaunch() }
                    }
                    // Rows after an open request (rejected ones, say) cannot be checkpointed until it
                    // is sent; do not let it hold the checkpoint back for long.
                    if let first = packer.firstPendingOrdinal, ordinal - first >= options.checkpointEvery {
                        try await sealAndLaunch()
                    }
                    prefix.advance(openRequestFirstOrdinal: packer.firstPendingOrdinal)
                    if prefix.appliedSinceStore >= options.checkpointEvery { try await storeCheckpoint(force: false) }
                    if ordinal & 1023 == 0, let progress {
                        let now = ContinuousClock.now
                        if now - lastProgress >= .milliseconds(250) {
                            lastProgress = now
                            progress(counts, (now - runStart).seconds)
                        }
                    }
                }
                try await sealAndLaunch()
                while let done = try await group.next() {
                    inFlight -= 1
                    acknowledge(done)
                    prefix.advance(openRequestFirstOrdinal: nil)
                    try recordProgress(force: false)
                }
            } catch {
                failure = (error as? UndeliveredRequest)?.underlying ?? error
                keepUndelivered(error)
                // Launch nothing more, but let requests already in flight finish: an answer that
                // arrives still moves the checkpoint.
                while true {
                    do {
                        guard let done = try await group.next() else { break }
                        acknowledge(done)
                    } catch {
                        keepUndelivered(error)
                        continue
                    }
                }
            }
        }

        prefix.advance(openRequestFirstOrdinal: failure == nil ? nil : packer.firstPendingOrdinal)
        if failure == nil, sourceExhausted { prefix.completeFilePass() }
        // A run that read its whole window without failing re-read every row an earlier run left
        // undelivered (the checkpoint never passes an unacknowledged row), so those are settled.
        if failure == nil, sourceExhausted, !options.dryRun, let runID = result.runID {
            try state.settleUndelivered(job: job.name, beforeRun: runID)
        }
        if unsentKeys.count > 0 {
            let note = "\(Format.plural(unsentKeys.count, "record")) had keys that are not columns (the columns are the first record's keys), and no mapping entry sends them: \(unsentKeys.names.map { "'\($0)'" }.joined(separator: ", ")); add '- { column: $unmapped, to: user_attributes.* }' to send them"
            result.notes.append(note)
            logger.notice("Record keys not sent", metadata: ["records": "\(unsentKeys.count)", "keys": "\(unsentKeys.names.joined(separator: ","))"])
        }
        result.counts = counts
        result.bytesSent = bytesSent
        do {
            try await storeCheckpoint(force: true)
        } catch {
            try? await destination?.close()
            throw error
        }
        try await destination?.close()
        if let progress { progress(counts, (ContinuousClock.now - runStart).seconds) }
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

    /// How the checkpoint remembers a row delivered at its iterator value: by its batch's
    /// `source_request_id`, or, for a row that maps to no batch, by its content.
    static func ledgerIdentity(_ row: SourceRow, _ facts: BatchFacts) -> RowHash {
        facts.requestID ?? RowHash.of(values: row.values, extras: row.extras)
    }

    @inline(__always)
    static func alreadyDelivered(_ value: IteratorValue, _ hash: RowHash, _ rule: RunWindow.BoundaryRule) -> Bool {
        switch rule {
        case .none, .sendAll: return false
        case .skipAll(let boundary): return value == boundary
        case .skipRemembered(let boundary, let hashes): return value == boundary && hashes.contains(hash)
        }
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
