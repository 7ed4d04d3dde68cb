import Foundation
import Logging

/// `jobs schedule JOB [--after T] [-n N] [--json]`: the next fire times, so anyone can check the rules.
public enum ScheduleCommand {
    public static func execute(workspace: Workspace, job reference: String, after: String?, count: Int, json: Bool,
                               output: any CommandOutput, now: Int64 = SystemClock().now()) -> ExitStatus {
        guard let job = workspace.loadJob(reference, output: output) else { return .invalid }
        var start = now
        if let after {
            guard let parsed = Timestamp.parseMillis(after) else {
                output.err("--after '\(after)' is not an ISO 8601 time; write it like 2026-11-15T19:00:00Z")
                return .invalid
            }
            start = parsed
        }
        let times = ScheduleCalculator(job.schedule).fireTimes(after: start, count: count).map { Timestamp.format(millis: $0) }
        if json {
            output.out(JSONWriter.compact(.array(times.map(Value.string))))
        } else {
            if times.isEmpty { output.err(describe(job.schedule, now: now)) }
            for time in times { output.out(time) }
        }
        return .ok
    }

    /// The schedule in words, for status and plan.
    package static func describe(_ schedule: ScheduleSpec, now: Int64) -> String {
        switch schedule.kind {
        case .onDemand: return "on_demand: runs only with 'jobs run'"
        case .once:
            guard let start = schedule.start else { return "once, as soon as the daemon sees it" }
            return start > now ? "once, at \(Timestamp.format(millis: start))" : "once, at \(Timestamp.format(millis: start)) (passed)"
        case .interval:
            var text = "\(schedule.frequency?.rawValue ?? "interval") from \(schedule.start.map { Timestamp.format(millis: $0) } ?? "?")"
            if let zone = schedule.timezone { text += " (\(zone) wall-clock time)" }
            if let end = schedule.end { text += " until \(Timestamp.format(millis: end))" }
            return text
        }
    }

    /// The next fire time no run has covered: `now` when one is due already.
    package static func nextRun(_ schedule: ScheduleSpec, state: ScheduleState, now: Int64) -> Int64? {
        var machine = SchedulerStateMachine()
        machine.update(name: "job", schedule: schedule, lastFire: state.lastFireTime, paused: false, now: now)
        return machine.nextFire(name: "job", now: now)
    }
}

/// `jobs pause JOB` and `jobs resume JOB`.
public enum PauseCommand {
    public static func execute(workspace: Workspace, job reference: String, pause: Bool, output: any CommandOutput,
                               now: Int64 = SystemClock().now()) -> ExitStatus {
        guard let job = workspace.loadJob(reference, output: output) else { return .invalid }
        do {
            let state = try workspace.openState()
            try state.setPaused(job: job.name, pause, now: now)
            if pause {
                output.out("\(job.name): paused; the daemon skips it until 'jobs resume \(job.name)' (jobs run still runs it)")
            } else {
                let next = ScheduleCommand.nextRun(job.schedule, state: try state.scheduleState(job: job.name), now: now)
                output.out("\(job.name): resumed; next run \(next.map { Timestamp.format(millis: $0) } ?? "never (\(ScheduleCommand.describe(job.schedule, now: now)))")")
            }
            return .ok
        } catch {
            output.err("\(error)")
            return .runFailed
        }
    }
}

/// `jobs history JOB [--json]`: the runs of a job, newest first.
public enum HistoryCommand {
    public static func execute(workspace: Workspace, job reference: String, limit: Int, json: Bool,
                               output: any CommandOutput) -> ExitStatus {
        guard let job = workspace.loadJob(reference, output: output) else { return .invalid }
        do {
            let runs = try workspace.openState().runs(job: job.name, limit: limit)
            if json {
                output.out(JSONWriter.pretty(.array(runs.map(record))))
                return .ok
            }
            if runs.isEmpty {
                output.out("\(job.name): no runs yet")
                return .ok
            }
            for run in runs {
                var line = "#\(run.id) \(run.trigger) \(run.status.rawValue) started \(Timestamp.format(millis: run.startedAt))"
                if let ended = run.endedAt { line += " (\(Format.seconds(Double(ended - run.startedAt) / 1000)))" }
                line += run.processText
                if let fire = run.fireTime {
                    line += ", fire time \(Timestamp.format(millis: fire))"
                    if run.fireCount > 1 { line += " (covering \(run.fireCount) fire times)" }
                }
                if run.windowLower != nil || run.windowUpper != nil {
                    line += ", window \(run.windowLower ?? "start") .. \(run.windowUpper ?? "end")"
                }
                line += ": read \(Format.count(run.counts.rowsRead)), sent \(Format.count(run.counts.rowsSent)), rejected \(Format.count(run.counts.rowsRejected))"
                if run.counts.rowsSkipped > 0 { line += ", skipped \(Format.count(run.counts.rowsSkipped))" }
                line += ", \(Format.plural(run.counts.requests, "request"))"
                line += DeliveryFigures.text(run.counts)
                if run.counts.rowsUndelivered > 0 { line += ", \(Format.count(run.counts.rowsUndelivered)) undelivered" }
                if let error = run.error { line += "; error: \(error)" }
                output.out(line)
            }
            return .ok
        } catch {
            output.err("\(error)")
            return .runFailed
        }
    }

    package static func record(_ run: RunRecord) -> Value {
        func text(_ s: String?) -> Value { s.map(Value.string) ?? .null }
        // Only destinations that skip events (FME) have this, so other histories read as before.
        let skipped: [Value.ObjectEntry] = run.counts.eventsSkipped.isEmpty ? [] : [.init("events_skipped", .object(
            run.counts.eventsSkipped.sorted { $0.key < $1.key }.map { Value.ObjectEntry($0.key, .int(Int64($0.value))) }))]
        return .object([
            .init("id", .int(run.id)), .init("trigger", .string(run.trigger)), .init("status", .string(run.status.rawValue)),
            .init("host", text(run.host)), .init("pid", run.pid.map { .int(Int64($0)) } ?? .null),
            .init("started_at", .string(Timestamp.format(millis: run.startedAt))),
            .init("ended_at", run.endedAt.map { .string(Timestamp.format(millis: $0)) } ?? .null),
            .init("fire_time", run.fireTime.map { .string(Timestamp.format(millis: $0)) } ?? .null),
            .init("fire_count", .int(Int64(run.fireCount))),
            .init("window_lower", text(run.windowLower)), .init("window_upper", text(run.windowUpper)),
            .init("rows_read", .int(Int64(run.counts.rowsRead))), .init("rows_sent", .int(Int64(run.counts.rowsSent))),
            .init("rows_rejected", .int(Int64(run.counts.rowsRejected))), .init("rows_skipped", .int(Int64(run.counts.rowsSkipped))),
            .init("requests", .int(Int64(run.counts.requests))), .init("http_requests", .int(Int64(run.counts.httpRequests))),
            .init("retries", .int(Int64(run.counts.retries))),
            .init("throttled_waits", .int(Int64(run.counts.throttledWaits))),
            .init("throttled_seconds", .double(Double(run.counts.throttledMillis) / 1000)),
            .init("rows_undelivered", .int(Int64(run.counts.rowsUndelivered))),
        ] + skipped + [
            .init("checkpoint", text(run.checkpoint)), .init("error", text(run.error)),
        ])
    }
}

/// `jobs backfill JOB --from T1 [--to T2] [--dry-run] [--again]`: re-sends a past range in windows,
/// each a recorded run, without moving the live checkpoint.
public enum BackfillCommand {
    package struct Window: Sendable, Equatable {
        package var range: ExplicitWindow
        package var key: BackfillWindowKey
    }

    /// The windows of `[from, to)`: one schedule frequency (or `sync.backfill_window`) each.
    package static func windows(job: JobDefinition, from: IteratorValue, to: IteratorValue) -> [Window] {
        guard let type = job.sync.iteratorType else { return [] }
        var bounds: [IteratorValue] = [from]
        if type.isTime, case .int(let lower) = from, case .int(let upper) = to {
            bounds = RunWindow.boundaries(from: lower, to: upper, job: job).filter { $0 < upper }.map(IteratorValue.int)
        }
        bounds.append(to)
        return zip(bounds, bounds.dropFirst()).compactMap { lower, upper in
            guard lower < upper else { return nil }
            return Window(range: ExplicitWindow(lower: lower, upper: upper),
                          key: BackfillWindowKey(lower: type.display(lower), upper: type.display(upper)))
        }
    }

    public static func execute(workspace: Workspace, job reference: String, from fromText: String, to toText: String?,
                               dryRun: Bool, again: Bool, output: any CommandOutput, logger: Logger) async -> ExitStatus {
        await execute(workspace: workspace, job: reference, from: fromText, to: toText, dryRun: dryRun, again: again,
                      output: output, logger: logger, now: SystemClock().now(), makeDestination: { try DestinationFactory.make(for: $0, statePath: workspace.statePath) })
    }

    package static func execute(workspace: Workspace, job reference: String, from fromText: String, to toText: String?,
                                dryRun: Bool, again: Bool, output: any CommandOutput, logger: Logger, now: Int64,
                                makeDestination: (JobDefinition) throws -> any Destination) async -> ExitStatus {
        guard let job = workspace.loadJob(reference, output: output) else { return .invalid }
        guard job.sync.mode == .incremental, let type = job.sync.iteratorType else {
            output.err("\(job.name) is a full sync: every run sends every row, so there is nothing to backfill; use 'jobs run \(job.name)'")
            return .invalid
        }
        guard let from = type.parseBound(fromText) else {
            output.err("--from '\(fromText)' is not \(type.expectation)")
            return .invalid
        }
        var to: IteratorValue
        if let toText {
            guard let parsed = type.parseBound(toText) else {
                output.err("--to '\(toText)' is not \(type.expectation)")
                return .invalid
            }
            to = parsed
        } else if type.isTime {
            to = .int(now)
        } else {
            output.err("--to is needed for \(type.rawValue) iterators")
            return .invalid
        }
        guard from < to else {
            output.err("--from must be before --to")
            return .invalid
        }
        let windows = windows(job: job, from: from, to: to)
        do {
            let state = try workspace.openState()
            let done = try state.completedBackfillWindows(job: job.name)
            if dryRun {
                let source = try SourceOpener.open(job)
                defer { source.close() }
                let window = try RunWindow.make(job: job, source: source, stored: nil, fullRefresh: true, now: now,
                                                explicit: windows.first?.range ?? ExplicitWindow(lower: from, upper: to))
                var total = 0
                for w in windows {
                    var read = window.read
                    read?.lower = w.range.lower
                    read?.upper = w.range.upper
                    let rows = try source.countRows(read)
                    total += rows
                    let note = done.contains(w.key) && !again ? " (already sent; skipped without --again)" : ""
                    output.out("\(w.key.lower) .. \(w.key.upper): \(Format.plural(rows, "row"))\(note)")
                }
                output.out("\(job.name): \(Format.plural(windows.count, "window")), \(Format.plural(total, "row")); nothing sent (dry run)")
                return .ok
            }
            var sent = 0, runs = 0, skipped = 0
            let backfill = try state.beginBackfill(job: job.name, lower: type.display(from), upper: type.display(to),
                                                   fresh: again, now: now)
            for w in windows {
                if done.contains(w.key) && !again {
                    skipped += 1
                    continue
                }
                let runner = JobRunner(job: job, state: state, destination: try makeDestination(job), logger: logger)
                // Each window's run is recorded with its own start; its ids are the backfill's own.
                let result = try await runner.run(RunOptions(trigger: "backfill", window: w.range, idScope: "backfill/\(backfill.id)"))
                runs += 1
                if let message = result.errorMessage {
                    output.err("\(job.name): backfill window \(w.key.lower) .. \(w.key.upper) failed (run #\(result.runID ?? 0)): \(message); rerun the same command to continue from this window")
                    if case .invalidJob? = result.failure { return .invalid }
                    return .runFailed
                }
                sent += result.counts.rowsSent
                if let runID = result.runID {
                    try state.recordBackfillWindow(job: job.name, w.key, runID: runID, rowsSent: result.counts.rowsSent)
                }
                output.out("\(w.key.lower) .. \(w.key.upper): run #\(result.runID ?? 0) sent \(Format.count(result.counts.rowsSent)), rejected \(Format.count(result.counts.rowsRejected))")
            }
            try state.completeBackfill(backfill.id, now: StateStore.now())
            var summary = "\(job.name): backfilled \(Format.plural(runs, "window")), sent \(Format.plural(sent, "row"))"
            if skipped > 0 { summary += "; \(Format.plural(skipped, "window")) already sent, skipped (use --again to send them again)" }
            output.out(summary + "; the live checkpoint is unchanged")
            return .ok
        } catch let error as JobFileError {
            output.err(error.description)
            return .invalid
        } catch {
            output.err("\(job.name): \(error)")
            return .runFailed
        }
    }
}
