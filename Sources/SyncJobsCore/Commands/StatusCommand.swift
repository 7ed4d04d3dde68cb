import Foundation

/// `jobs status [JOB] [--json]`: checkpoints, recent runs and rejected rows.
public enum StatusCommand {
    package static let recentRuns = 5
    package static let recentRejected = 5

    public static func execute(workspace: Workspace, job reference: String?, json: Bool, output: any CommandOutput,
                               now: Int64 = SystemClock().now()) -> ExitStatus {
        var jobs: [JobDefinition] = []
        do {
            let paths = try reference.map { [try workspace.locate($0)] } ?? workspace.jobFiles()
            for path in paths {
                do {
                    jobs.append(try JobFileParser.load(path: path).0)
                } catch {
                    if reference != nil { throw error }
                    output.err("\(Paths.display(path)): does not validate; run 'jobs validate' to see why")
                }
            }
        } catch {
            output.err("\(error)")
            return .invalid
        }
        do {
            let state = try workspace.openState()
            var reports: [Value] = []
            var text: [String] = []
            for job in jobs {
                if json {
                    reports.append(try jsonReport(job, state: state, now: now))
                } else {
                    let checkpoint = try state.checkpoint(job: job.name)
                    let runs = try state.runs(job: job.name, limit: recentRuns)
                    let rejected = try state.rejectedRows(job: job.name, limit: recentRejected)
                    let active = try state.activeRun(job: job.name)
                    let schedule = try state.scheduleState(job: job.name)
                    let next = schedule.paused ? nil : ScheduleCommand.nextRun(job.schedule, state: schedule, now: now)
                    let failed = try state.failedCounts(job: job.name)
                    var block = lines(job, checkpoint: checkpoint, runs: runs, rejected: rejected, active: active)
                    let when = schedule.paused ? "paused ('jobs resume \(job.name)' to resume)"
                        : next.map { $0 <= now ? "next run due now" : "next run \(Timestamp.format(millis: $0))" } ?? "no run scheduled"
                    block.insert("  schedule: \(ScheduleCommand.describe(job.schedule, now: now)); \(when)", at: 1)
                    text.append(contentsOf: block)
                    text.append("  failed rows waiting for 'jobs retry \(job.name)': \(Format.count(failed.refused + failed.undelivered))"
                                + (failed.refused + failed.undelivered > 0 ? " (\(Format.count(failed.refused)) refused by the destination, \(Format.count(failed.undelivered)) undelivered)" : ""))
                    text.append("")
                }
            }
            if json {
                output.out(JSONWriter.pretty(reference == nil ? .array(reports) : (reports.first ?? .null)))
            } else {
                output.out(text.joined(separator: "\n").trimmingCharacters(in: .newlines))
            }
            return .ok
        } catch {
            output.err("\(error)")
            return .runFailed
        }
    }

    /// One job's `jobs status --json` object. The daemon's HTTP API answers with the same builder.
    package static func jsonReport(_ job: JobDefinition, state: StateStore, now: Int64) throws -> Value {
        let schedule = try state.scheduleState(job: job.name)
        let next = schedule.paused ? nil : ScheduleCommand.nextRun(job.schedule, state: schedule, now: now)
        let failed = try state.failedCounts(job: job.name)
        let entry = report(job, checkpoint: try state.checkpoint(job: job.name), runs: try state.runs(job: job.name, limit: recentRuns),
                           rejected: try state.rejectedRows(job: job.name, limit: recentRejected), active: try state.activeRun(job: job.name))
        guard case .object(var entries) = entry else { return entry }
        entries.insert(contentsOf: [
            .init("schedule", .string(ScheduleCommand.describe(job.schedule, now: now))),
            .init("paused", .bool(schedule.paused)),
            .init("next_run", next.map { .string(Timestamp.format(millis: $0)) } ?? .null),
        ], at: 3)
        entries.append(.init("failed_rows", .object([
            .init("pending", .int(Int64(failed.refused + failed.undelivered))),
            .init("refused", .int(Int64(failed.refused))), .init("undelivered", .int(Int64(failed.undelivered))),
        ])))
        return .object(entries)
    }

    static func lines(_ job: JobDefinition, checkpoint: Checkpoint?, runs: [RunRecord], rejected: RejectedRows,
                      active: JobBusyError?) -> [String] {
        var lines = ["\(job.name) (\(job.kind.rawValue), \(job.sync.mode.rawValue))"]
        if let active { lines.append("  running: \(active.runID.map { "run #\($0)" } ?? "a run") in process \(active.pid) on \(active.host)") }
        if job.sync.mode == .incremental {
            lines.append("  checkpoint: \(checkpoint?.display ?? "none; the next run starts at \(job.sync.from.map { job.sync.iteratorType!.display($0) } ?? "the first row")")")
        }
        if runs.isEmpty {
            lines.append("  runs: none yet")
        } else {
            lines.append("  last runs:")
            for run in runs {
                var line = "    #\(run.id) \(run.status.rawValue) \(Timestamp.format(millis: run.startedAt)) \(run.trigger)\(run.processText): read \(Format.count(run.counts.rowsRead)), sent \(Format.count(run.counts.rowsSent)), rejected \(Format.count(run.counts.rowsRejected)), \(Format.plural(run.counts.requests, "request"))\(DeliveryFigures.text(run.counts))\(DeliveryFigures.skippedEvents(run.counts))"
                if let ended = run.endedAt { line += ", \(Format.seconds(Double(ended - run.startedAt) / 1000))" }
                if let error = run.error { line += "; error: \(error)" }
                lines.append(line)
            }
        }
        var heading = "  rejected rows: \(Format.count(rejected.total))"
        if rejected.deliveredByRetry > 0 {
            heading += " (and \(Format.count(rejected.deliveredByRetry)) refused earlier, since delivered by 'jobs retry')"
        }
        lines.append(heading)
        for row in rejected.rows {
            var line = "    run #\(row.runID) \(RowPosition.label(row, job: job)): \(row.reason)"
            if row.timesSeen > 1 { line += " (rejected \(row.timesSeen) times since run #\(row.firstRunID ?? row.runID))" }
            lines.append(line)
        }
        return lines
    }

    static func report(_ job: JobDefinition, checkpoint: Checkpoint?, runs: [RunRecord], rejected: RejectedRows,
                       active: JobBusyError?) -> Value {
        func text(_ s: String?) -> Value { s.map(Value.string) ?? .null }
        var entries: [Value.ObjectEntry] = [
            .init("job", .string(job.name)), .init("type", .string(job.kind.rawValue)),
            .init("mode", .string(job.sync.mode.rawValue)),
        ]
        if let checkpoint {
            entries.append(.init("checkpoint", .object([
                .init("iterator", .string(checkpoint.iterator)),
                .init("iterator_type", .string(checkpoint.iteratorType.rawValue)),
                .init("value", checkpoint.lower.map { .string(checkpoint.iteratorType.display($0)) } ?? .null),
                .init("rows_at_value", .int(Int64(checkpoint.boundary.count))),
                .init("file_resume_row", checkpoint.resume.map { .int(Int64($0.rowNumber)) } ?? .null),
            ])))
        } else {
            entries.append(.init("checkpoint", .null))
        }
        entries.append(.init("running", active.map { a in .object([.init("run", a.runID.map(Value.int) ?? .null), .init("pid", .int(Int64(a.pid))), .init("host", .string(a.host))]) } ?? .null))
        entries.append(.init("runs", .array(runs.map(HistoryCommand.record))))
        entries.append(.init("rejected_rows", .object([
            .init("total", .int(Int64(rejected.total))),
            .init("delivered_by_retry", .int(Int64(rejected.deliveredByRetry))),
            .init("recent", .array(rejected.rows.map { row in
                .object([.init("run", .int(row.runID)), .init("row", .int(Int64(row.rowNumber))), .init("reason", .string(row.reason)),
                         .init("data", .string(row.row)), .init("times_seen", .int(Int64(row.timesSeen))),
                         .init("first_run", .int(row.firstRunID ?? row.runID))])
            })),
        ])))
        return .object(entries)
    }
}

/// `jobs reset JOB --yes`: forgets the checkpoint so the next run starts from `sync.from`.
public enum ResetCommand {
    public static func execute(workspace: Workspace, job reference: String, confirmed: Bool, output: any CommandOutput) -> ExitStatus {
        guard let job = workspace.loadJob(reference, output: output) else { return .invalid }
        guard confirmed else {
            output.err("'jobs reset \(job.name)' forgets the checkpoint, so the next run re-sends everything from sync.from; add --yes to do it")
            return .invalid
        }
        do {
            let state = try workspace.openState()
            if let active = try state.activeRun(job: job.name) {
                output.err("\(active)")
                return .runFailed
            }
            let previous = try state.checkpoint(job: job.name)
            if try state.resetCheckpoint(job: job.name) {
                output.out("\(job.name): checkpoint forgotten (it was \(previous?.display ?? "empty")); the next run starts from \(job.sync.from.map { job.sync.iteratorType!.display($0) } ?? "the first row")")
            } else {
                output.out("\(job.name): there was no checkpoint")
            }
            return .ok
        } catch {
            output.err("\(error)")
            return .runFailed
        }
    }
}
