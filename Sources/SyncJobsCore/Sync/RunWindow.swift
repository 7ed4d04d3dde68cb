/// What an incremental run will read, worked out before any row is read; `jobs plan` shows it.
package struct RunWindow: Sendable {
    /// The read window handed to the source (nil for full syncs).
    package var read: ReadWindow?
    /// The checkpoint the run starts from (nil on a first run or with --full-refresh).
    package var startCheckpoint: Checkpoint?
    /// How rows at exactly the checkpoint's value are treated.
    package var boundary: BoundaryRule
    /// A file pass resumes where an interrupted run stopped.
    package var resume: FileResume?
    /// Notes for the user (boundary overflow, resume).
    package var notes: [String]
    /// A backfill: reads its window without reading or moving the checkpoint.
    package var stateless = false

    package enum BoundaryRule: Sendable, Equatable {
        /// No rows at the lower bound were delivered before.
        case none
        /// Skip rows at `value` whose hash is remembered.
        case skipRemembered(IteratorValue, Set<RowHash>)
        /// More rows shared `value` than can be remembered, and their count has not changed: skip them all.
        case skipAll(IteratorValue)
        /// Their count changed: send every row at `value` again.
        case sendAll(IteratorValue)
    }

    /// "updated_at >= 2026-01-01T00:00:00Z", for history and summaries.
    package var lowerDisplay: String? {
        guard let read, let lower = read.lower else { return nil }
        return read.type.display(lower)
    }

    package var upperDisplay: String? {
        guard let read else { return nil }
        if let upper = read.upper { return read.type.display(upper) }
        if let ceiling = read.ceiling { return read.type.display(ceiling) }
        return nil
    }

    /// Works out the window of a run from the job, its stored checkpoint and the run's start time.
    /// An `explicit` window (a backfill) ignores the checkpoint and is half-open.
    static func make(job: JobDefinition, source: any OpenedSource, stored: Checkpoint?, fullRefresh: Bool,
                     now: Int64, explicit: ExplicitWindow? = nil) throws -> RunWindow {
        guard job.sync.mode == .incremental, let column = job.sync.iterator, let type = job.sync.iteratorType else {
            return RunWindow(read: nil, startCheckpoint: nil, boundary: .none, resume: nil, notes: [])
        }
        if let explicit {
            guard let columnIndex = source.columns.firstIndex(of: column) else {
                throw RunError("iterator column '\(column)' is not in \(source.description)")
            }
            let read = ReadWindow(column: column, columnIndex: columnIndex, type: type, lower: explicit.lower,
                                  upper: explicit.upper, ceiling: nil, upperExclusive: true, includeUnreadable: false)
            return RunWindow(read: read, startCheckpoint: nil, boundary: .none, resume: nil, notes: [], stateless: true)
        }
        guard let columnIndex = source.columns.firstIndex(of: column) else {
            let hint = Spelling.suggestion(for: column, among: source.columns).map { "did you mean '\($0)'?" }
                ?? "the columns are \(Format.names(source.columns))"
            throw JobFileError([Diagnostic(at: job.location("sync.iterator"),
                                           "iterator column '\(column)' is not in \(source.description)", fix: hint)])
        }
        if let stored, stored.iterator != column || stored.iteratorType != type {
            throw RunError("the stored checkpoint is for iterator '\(stored.iterator)' (\(stored.iteratorType.rawValue)), but the job now uses '\(column)' (\(type.rawValue)); run 'jobs reset \(job.name) --yes' to start again from sync.from")
        }
        let checkpoint = fullRefresh ? nil : stored
        var notes: [String] = []
        var lower = checkpoint?.lower ?? job.sync.from
        if let from = job.sync.from, let value = lower, value < from { lower = from }
        var readLower = lower
        if let lookback = job.sync.lookback, let value = lower {
            readLower = value.minus(lookback)
            if let from = job.sync.from, let shifted = readLower, shifted < from { readLower = from }
        }
        let ceiling: IteratorValue? = type.isTime ? .int(now) : nil
        var read = ReadWindow(column: column, columnIndex: columnIndex, type: type, lower: readLower, upper: nil, ceiling: ceiling)
        if source.deliversInIteratorOrder {
            read.upper = try source.highWatermark(read)
        }

        var boundary = BoundaryRule.none
        if job.sync.lookback == nil, let checkpoint, let value = checkpoint.lower, value == lower, checkpoint.boundary.count > 0 {
            if let hashes = checkpoint.boundary.hashes {
                boundary = .skipRemembered(value, hashes)
            } else {
                let present = try source.countRows(at: value, window: read)
                if present == checkpoint.boundary.count {
                    boundary = .skipAll(value)
                } else {
                    boundary = .sendAll(value)
                    notes.append("more than \(Boundary.cap) rows share \(column) = \(type.display(value)) and their number changed from \(checkpoint.boundary.count) to \(present); all \(present) are sent again (mParticle drops the duplicates by source_request_id)")
                }
            }
        }
        var resume: FileResume?
        if let stored = checkpoint?.resume {
            switch source.verifyResume(stored) {
            case .resume:
                resume = stored
                notes.append("resuming the interrupted pass over the file at row \(stored.rowNumber + 1)")
            case .restart(let reason):
                notes.append("\(reason), so the pass starts again from its first row")
            }
        }
        return RunWindow(read: read, startCheckpoint: checkpoint, boundary: boundary, resume: resume, notes: notes)
    }
}

/// A half-open range of iterator values `[lower, upper)` that a backfill re-sends.
package struct ExplicitWindow: Sendable, Equatable {
    package var lower: IteratorValue
    package var upper: IteratorValue
    package init(lower: IteratorValue, upper: IteratorValue) {
        self.lower = lower
        self.upper = upper
    }
}

extension RunWindow {
    /// At most this many catch-up or backfill windows; longer histories get wider windows.
    static let maxWindows = 10_000

    /// Where the catch-up windows of this run start, oldest first, when a SQLite source is more
    /// than one window behind (a first run from a past `sync.from`, or after downtime); empty
    /// otherwise.
    func catchUpBoundaries(job: JobDefinition, sortedSource: Bool) -> [Int64] {
        guard let read, !stateless, sortedSource, read.type.isTime,
              case .int(let lower)? = read.lower, case .int(let upper)? = read.upper else { return [] }
        let starts = RunWindow.boundaries(from: lower, to: upper, job: job)
        return starts.count > 1 ? starts : []
    }

    /// Window starts from `lower` (inclusive) while below `upper`: one schedule frequency apart
    /// (calendar-aware, in the schedule's zone) or `sync.backfill_window` apart.
    static func boundaries(from lower: Int64, to upper: Int64, job: JobDefinition) -> [Int64] {
        var starts: [Int64] = [lower]
        if let width = job.sync.backfillWindow {
            let step = max(width, (upper - lower) / Int64(maxWindows) + 1)
            var next = lower + step
            while next <= upper { starts.append(next); next += step }
            return starts
        }
        guard job.schedule.kind == .interval, let frequency = job.schedule.frequency else { return starts }
        let calculator = ScheduleCalculator(ScheduleSpec(kind: .interval, frequency: frequency, start: lower,
                                                         timezone: job.schedule.timezone))
        var k = 1
        while let next = calculator.occurrence(k), next <= upper {
            starts.append(next)
            k += 1
            if starts.count > maxWindows {
                // Too many: fall back to evenly wider windows.
                let step = (upper - lower) / Int64(maxWindows) + 1
                return stride(from: lower, through: upper, by: Int(step)).map { $0 }
            }
        }
        return starts
    }
}

/// A run that cannot go on, with what to do about it.
package struct RunError: Error, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
