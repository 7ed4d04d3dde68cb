import Foundation
import Logging
import ServiceLifecycle
import Synchronization

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

    let map: MapStage
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
    /// Keys of JSON records beyond the columns that no `$unmapped` entry sends, for a note.
    private var unsentKeys: (records: Int, names: [String]) = (0, [])
    private var sourceNotes: [String: Int] = [:]
    private var otherSourceNotes = 0
    static let distinctSourceNotes = 20
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
        map = MapStage(builder: builder, incremental: window.read != nil, boundary: window.boundary, deliveredByRetry: deliveredByRetry,
                       columns: source.columns)
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
                // Graceful shutdown (the daemon's SIGTERM) stops reading; the handler raises a flag
                // the row loop reads for nothing (asking the task each row costs a lookup).
                let shutdown = ShutdownFlag()
                try await withGracefulShutdownHandler {
                    try await read(&group, started: started, shutdown: shutdown)
                } onGracefulShutdown: {
                    shutdown.raise()
                }
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

    /// Batches mapped at once, beside the packing and delivery of earlier ones. Measured on 2 cores
    /// (the 12-column SQLite benchmark): 2 leaves the cores idle a third of the time, 4 gains
    /// nothing over 3 and holds more memory.
    static let mappingAhead = 3

    private mutating func read(_ group: inout ThrowingTaskGroup<Completion, any Error>, started: ContinuousClock.Instant,
                               shutdown: ShutdownFlag) async throws {
        let stream = try source.rows(window.read, resume: window.resume, limit: options.limit)
        do {
            try await withThrowingTaskGroup(of: (Int, MappedBatch, RowBatch).self) { mapping in
                defer { mapping.cancelAll() }
                var lastProgress = ContinuousClock.now
                var spare: [RowBatch] = []
                var read = 0, handled = 0, mappingNow = 0
                var ended = false
                var ready: [Int: MappedBatch] = [:]
                let map = self.map
                reading: while true {
                    // Keep the map stage busy: hand it the next batches the source has read.
                    while !ended, mappingNow < Self.mappingAhead {
                        if Task.isCancelled { throw CancellationError() }
                        var batch = spare.popLast() ?? RowBatch(columnCount: source.columns.count, capacity: 0)
                        guard try await stream.next(into: &batch) else {
                            ended = true
                            break
                        }
                        let sequence = read
                        read += 1
                        mappingNow += 1
                        mapping.addTask { [batch] in (sequence, map.map(batch), batch) }
                    }
                    if ended, mappingNow == 0, ready.isEmpty {
                        // A run that stopped at `--limit` has not read its whole window.
                        sourceExhausted = options.limit.map { ordinal < $0 } ?? true
                        break
                    }
                    while ready[handled] == nil {
                        guard let (sequence, mapped, batch) = try await mapping.next() else { break reading }
                        mappingNow -= 1
                        ready[sequence] = mapped
                        spare.append(batch)
                    }
                    let mapped = ready.removeValue(forKey: handled)!
                    handled += 1
                    noteUnsentKeys(mapped)
                    for row in mapped.rows.indices {
                        // Graceful shutdown stops reading: requests in flight finish and the
                        // checkpoint covers what they delivered. Outside a service it never comes.
                        if shutdown.isRaised {
                            stopped = true
                            break reading
                        }
                        if options.enough?() == true { break reading }
                        try await handle(mapped, row, &group)
                    }
                    if let progress {
                        let now = ContinuousClock.now
                        if now - lastProgress >= .milliseconds(250) {
                            lastProgress = now
                            progress(ack.counts, (now - started).seconds)
                        }
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
    private mutating func handle(_ mapped: MappedBatch, _ row: Int, _ group: inout ThrowingTaskGroup<Completion, any Error>) async throws {
        ordinal += 1
        ack.counts.rowsRead += 1
        let info = mapped.rows[row]
        switch mapped.outcomes[row] {
        case .unreadable(let reason, let text):
            ack.reject(info.number, reason, text)
            ack.prefix.append(.init(ordinal: ordinal, number: info.number, iterator: nil, hash: nil, endOffset: info.endOffset, counts: false))
        case .skipped(let hash, let counts):
            ack.counts.rowsSkipped += 1
            ack.prefix.append(.init(ordinal: ordinal, number: info.number, iterator: info.iterator, hash: hash,
                                    endOffset: info.endOffset, counts: counts))
        case .rejected(let reason, let text, let hash):
            try await enterCatchUpWindow(info.iterator)
            ack.reject(info.number, reason, text)
            ack.prefix.append(.init(ordinal: ordinal, number: info.number, iterator: info.iterator, hash: hash,
                                    endOffset: info.endOffset, counts: true))
        case .batch(let range, let eventTime, let hash):
            try await enterCatchUpWindow(info.iterator)
            if !pack.fits(byteCount: range.count), let request = pack.seal() { try await launch(request, &group) }
            mapped.bytes.withUnsafeBytes { all in
                pack.add(UnsafeRawBufferPointer(rebasing: all[range]), rowNumber: info.number, ordinal: ordinal, eventTime: eventTime)
            }
            ack.prefix.append(.init(ordinal: ordinal, number: info.number, iterator: info.iterator, hash: hash,
                                    endOffset: info.endOffset, counts: true))
            if pack.count >= pack.maxBatches, let request = pack.seal() { try await launch(request, &group) }
        }
        // Rows after an open request (rejected ones, say) cannot be checkpointed until it is sent;
        // do not let it hold the checkpoint back for long.
        if let first = pack.firstPendingOrdinal, ordinal - first >= options.checkpointEvery, let request = pack.seal() {
            try await launch(request, &group)
        }
        ack.prefix.advance(openRequestFirstOrdinal: pack.firstPendingOrdinal)
        if ack.prefix.appliedSinceStore >= options.checkpointEvery { try await checkpoint.store(&ack, force: false) }
    }

    private mutating func noteUnsentKeys(_ mapped: MappedBatch) {
        for (note, count) in mapped.sourceNotes {
            // Bounded: a source with ever-new notes (one per id) cannot grow the run's memory.
            if sourceNotes[note] != nil || sourceNotes.count < Self.distinctSourceNotes {
                sourceNotes[note, default: 0] += count
            } else {
                otherSourceNotes += count
            }
        }
        guard mapped.unsentKeyRecords > 0 else { return }
        unsentKeys.records += mapped.unsentKeyRecords
        for name in mapped.unsentKeyNames where unsentKeys.names.count < 5 && !unsentKeys.names.contains(name) {
            unsentKeys.names.append(name)
        }
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
        var arrived = try await deliver.launch(request, in: &group)
        // A dry run (`jobs plan`) waits for each request before reading on, so what it has seen
        // when it decides it has enough does not depend on timing.
        while options.dryRun, deliver.inFlight > 0, let done = try await deliver.next(in: &group) { arrived.append(done) }
        for done in arrived {
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

    /// What the source left out of the rows it read, most frequent first: "3 rows: …".
    var sourceNotesText: [String] {
        var lines = sourceNotes.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\(Format.plural($0.value, "row")): \($0.key)" }
        if otherSourceNotes > 0 { lines.append("\(Format.plural(otherSourceNotes, "row")) had other things left out, like those above") }
        return lines
    }

    /// A note naming JSON keys outside the columns that no mapping entry sends.
    var unsentKeysNote: String? {
        let unsent = unsentKeys
        guard unsent.records > 0 else { return nil }
        logger.notice("Record keys not sent", metadata: ["records": "\(unsent.records)", "keys": "\(unsent.names.joined(separator: ","))"])
        return "\(Format.plural(unsent.records, "record")) had keys that are not columns (the columns are the first record's keys), and no mapping entry sends them: \(unsent.names.map { "'\($0)'" }.joined(separator: ", ")); add '- { column: $unmapped, to: user_attributes.* }' to send them"
    }
}

/// Raised once graceful shutdown begins; read on every row.
final class ShutdownFlag: Sendable {
    private let raised = Atomic(false)
    func raise() { raised.store(true, ordering: .relaxed) }
    var isRaised: Bool { raised.load(ordering: .relaxed) }
}
