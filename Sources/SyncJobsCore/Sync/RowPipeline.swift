import Foundation
import Logging
import ServiceLifecycle

/// One pass of rows through the named stages: read → map → pack → deliver → acknowledge →
/// checkpoint. `jobs run`, scheduled runs, catch-up windows and backfill windows use it as it is;
/// `jobs plan` runs it dry with a destination that keeps the first batches.
struct RowPipeline {
    let job: JobDefinition
    let options: RunOptions
    let source: any OpenedSource
    let window: RunWindow
    let logger: Logger
    let progress: (@Sendable (RunCounts, Double) -> Void)?

    var map: MapStage
    var pack: RequestPacker
    var deliver: DeliveryStage
    var ack: AcknowledgeStage
    var checkpoint: CheckpointStage

    /// Window starts of a long catch-up (SQLite sources, time iterators): the run reads in one
    /// ordered pass and stores the checkpoint each time it enters the next window.
    let catchUp: [Int64]
    private var nextWindow = 1
    private var lastWindowLog = ContinuousClock.now - .seconds(10)
    private var ordinal = 0
    private(set) var sourceExhausted = false
    private(set) var stopped = false

    init(job: JobDefinition, options: RunOptions, source: any OpenedSource, window: RunWindow, builder: BatchBuilder,
         state: StateStore, destination: (any Destination)?, runID: Int64?, stored: Checkpoint?,
         initialCheckpoint: Checkpoint?, deliveredByRetry: Set<RowHash>, logger: Logger,
         progress: (@Sendable (RunCounts, Double) -> Void)?) {
        self.job = job
        self.options = options
        self.source = source
        self.window = window
        self.logger = logger
        self.progress = progress
        map = MapStage(builder: builder, incremental: window.read != nil, boundary: window.boundary, deliveredByRetry: deliveredByRetry)
        pack = RequestPacker(destination?.packing ?? .eventsAPI)
        deliver = DeliveryStage(destination: destination)
        ack = AcknowledgeStage(prefix: AcknowledgedPrefix(checkpoint: initialCheckpoint, sortedSource: source.deliversInIteratorOrder),
                               runID: runID, keeps: !options.dryRun, sampleLimit: options.rejectedSampleLimit)
        let display = (options.fullRefresh && options.window == nil ? stored?.display : nil) ?? initialCheckpoint?.display
        checkpoint = CheckpointStage(state: state, job: job.name, runID: runID, stores: !options.dryRun, previous: stored,
                                     fullRefresh: options.fullRefresh, every: options.checkpointEvery, source: source,
                                     destination: destination, window: (window.lowerDisplay, window.upperDisplay), display: display)
        catchUp = window.catchUpBoundaries(job: job, sortedSource: source.deliversInIteratorOrder)
    }

    /// Runs every row of the window through; throws what ended the run early.
    mutating func run() async throws {
        var failure: (any Error)?
        let started = ContinuousClock.now
        await withThrowingTaskGroup(of: Completion.self) { group in
            do {
                try await read(&group, started: started)
                if let request = pack.seal() { try await launch(request, &group) }
                while let done = try await deliver.next(in: &group) {
                    ack.acknowledge(done)
                    ack.prefix.advance(openRequestFirstOrdinal: nil)
                    try checkpoint.recordProgress(ack.counts, force: false)
                }
            } catch {
                failure = (error as? UndeliveredRequest)?.underlying ?? error
                keepUndelivered(error)
                while let answer = await deliver.drain(&group) {
                    switch answer {
                    case .success(let done): ack.acknowledge(done)
                    case .failure(let error): keepUndelivered(error)
                    }
                }
            }
        }
        ack.prefix.advance(openRequestFirstOrdinal: failure == nil ? nil : pack.firstPendingOrdinal)
        if failure == nil, sourceExhausted {
            ack.prefix.completeFilePass()
            // A run that read its whole window re-read every row an earlier run left undelivered
            // (the checkpoint never passes an unacknowledged row), so those are settled.
            try checkpoint.settle()
        }
        try await checkpoint.store(&ack, force: true)
        if let progress { progress(ack.counts, (ContinuousClock.now - started).seconds) }
        if let failure { throw failure }
    }

    // MARK: Read, map, pack

    private mutating func read(_ group: inout ThrowingTaskGroup<Completion, any Error>, started: ContinuousClock.Instant) async throws {
        let stream = try source.rows(window.read, resume: window.resume, limit: options.limit)
        var batch = RowBatch(columnCount: source.columns.count)
        var lastProgress = ContinuousClock.now
        do {
            reading: while true {
                if Task.isCancelled { throw CancellationError() }
                guard try await stream.next(into: &batch) else {
                    // A run that stopped at `--limit` has not read its whole window.
                    sourceExhausted = options.limit.map { ordinal < $0 } ?? true
                    break
                }
                for row in 0..<batch.count {
                    // Graceful shutdown (the daemon's SIGTERM) stops reading: requests in flight
                    // finish and the checkpoint covers what they delivered. Outside a service it
                    // never comes.
                    if Task.isShuttingDownGracefully {
                        stopped = true
                        break reading
                    }
                    if options.enough?() == true { break reading }
                    try await handle(batch, row, &group)
                }
                if let progress {
                    let now = ContinuousClock.now
                    if now - lastProgress >= .milliseconds(250) {
                        lastProgress = now
                        progress(ack.counts, (now - started).seconds)
                    }
                }
            }
        } catch {
            await stream.close()
            throw error
        }
        await stream.close()
    }

    @inline(__always)
    private mutating func handle(_ batch: RowBatch, _ row: Int, _ group: inout ThrowingTaskGroup<Completion, any Error>) async throws {
        ordinal += 1
        ack.counts.rowsRead += 1
        let info = batch.rows[row]
        if let rejection = info.rejection {
            ack.reject(info.number, rejection.reason, rejection.row)
            ack.prefix.append(.init(ordinal: ordinal, number: info.number, iterator: nil, hash: nil, endOffset: info.endOffset, counts: false))
        } else {
            switch map.map(batch, row: row) {
            case .skipped(let hash, let counts):
                ack.counts.rowsSkipped += 1
                ack.prefix.append(.init(ordinal: ordinal, number: info.number, iterator: info.iterator, hash: hash,
                                        endOffset: info.endOffset, counts: counts))
            case .rejected(let reason, let hash):
                try await enterCatchUpWindow(info.iterator)
                ack.reject(info.number, reason, JSONWriter.compact(batch.object(ofRow: row, columns: source.columns)))
                ack.prefix.append(.init(ordinal: ordinal, number: info.number, iterator: info.iterator, hash: hash,
                                        endOffset: info.endOffset, counts: true))
            case .batch(let facts, let hash):
                try await enterCatchUpWindow(info.iterator)
                if !pack.fits(map.writer.bytes), let request = pack.seal() { try await launch(request, &group) }
                pack.add(map.writer.bytes, rowNumber: info.number, ordinal: ordinal, eventTime: facts.eventTime)
                ack.prefix.append(.init(ordinal: ordinal, number: info.number, iterator: info.iterator, hash: hash,
                                        endOffset: info.endOffset, counts: true))
                if pack.count >= pack.maxBatches, let request = pack.seal() { try await launch(request, &group) }
            }
        }
        // Rows after an open request (rejected ones, say) cannot be checkpointed until it is sent;
        // do not let it hold the checkpoint back for long.
        if let first = pack.firstPendingOrdinal, ordinal - first >= options.checkpointEvery, let request = pack.seal() {
            try await launch(request, &group)
        }
        ack.prefix.advance(openRequestFirstOrdinal: pack.firstPendingOrdinal)
        if ack.prefix.appliedSinceStore >= options.checkpointEvery { try await checkpoint.store(&ack, force: false) }
    }

    /// Crossing into a later catch-up window: checkpoint what is acknowledged.
    private mutating func enterCatchUpWindow(_ iterator: IteratorValue?) async throws {
        guard case .int(let value)? = iterator, nextWindow < catchUp.count, value >= catchUp[nextWindow] else { return }
        while nextWindow < catchUp.count, value >= catchUp[nextWindow] { nextWindow += 1 }
        ack.prefix.advance(openRequestFirstOrdinal: pack.firstPendingOrdinal)
        try await checkpoint.store(&ack, force: true)
        guard ContinuousClock.now - lastWindowLog >= .seconds(1) else { return }
        lastWindowLog = ContinuousClock.now
        logger.info("Catching up", metadata: [
            "window": "\(nextWindow)/\(catchUp.count)",
            "window.start": "\(window.read.map { $0.type.display(.int(catchUp[nextWindow - 1])) } ?? "")",
        ])
    }

    // MARK: Deliver, acknowledge

    private mutating func launch(_ request: PackedRequest, _ group: inout ThrowingTaskGroup<Completion, any Error>) async throws {
        ack.prefix.sealed(request)
        for done in try await deliver.launch(request, in: &group) {
            ack.acknowledge(done)
            try checkpoint.recordProgress(ack.counts, force: false)
        }
    }

    private mutating func keepUndelivered(_ error: any Error) {
        do {
            try checkpoint.keepFailed(ack.undelivered(error))
        } catch {
            logger.error("Cannot keep undelivered rows", metadata: ["error": "\(error)"])
        }
    }

    /// A note naming JSON keys outside the columns that no mapping entry sends.
    var unsentKeysNote: String? {
        let unsent = map.unsentKeys
        guard unsent.records > 0 else { return nil }
        logger.notice("Record keys not sent", metadata: ["records": "\(unsent.records)", "keys": "\(unsent.names.joined(separator: ","))"])
        return "\(Format.plural(unsent.records, "record")) had keys that are not columns (the columns are the first record's keys), and no mapping entry sends them: \(unsent.names.map { "'\($0)'" }.joined(separator: ", ")); add '- { column: $unmapped, to: user_attributes.* }' to send them"
    }
}
