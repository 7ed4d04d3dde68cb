import Foundation
import Logging

/// `jobs run JOB...`: runs jobs now, one after another.
public enum RunCommand {
    public static func execute(workspace: Workspace, jobs references: [String], options: RunOptions,
                               output: any CommandOutput, logger: Logger) async -> ExitStatus {
        // Every name is resolved and every job file parsed before anything runs, so a typo in the
        // last name does not leave the first jobs run and the rest not.
        var jobs: [JobDefinition] = []
        var invalid = false
        for reference in references {
            do {
                jobs.append(try JobFileParser.load(path: try workspace.locate(reference)).0)
            } catch let error as JobFileError {
                output.err(error.description)
                invalid = true
            } catch {
                output.err("\(error)")
                invalid = true
            }
        }
        if invalid {
            if references.count > 1 { output.err("no job was run: every job named must be found and parse before any runs") }
            return .invalid
        }
        var status = ExitStatus.ok
        for job in jobs {
            let outcome = await runOne(job, workspace: workspace, options: options, output: output, logger: logger)
            if outcome.rawValue > status.rawValue { status = outcome }
        }
        return status
    }

    static func runOne(_ job: JobDefinition, workspace: Workspace, options: RunOptions, output: any CommandOutput,
                       logger: Logger) async -> ExitStatus {
        let state: StateStore
        let destination: (any Destination)?
        do {
            state = try workspace.openState()
            destination = options.dryRun ? nil : try DestinationFactory.make(for: job, statePath: workspace.statePath, logger: logger)
        } catch {
            output.err("\(job.name): \(error)")
            return .runFailed
        }
        let showProgress = output.isTerminal
        let name = job.name
        var progress: (@Sendable (RunCounts, Double) -> Void)?
        if showProgress {
            progress = { counts, seconds in
                let rate = seconds > 0 ? Int(Double(counts.rowsRead) / seconds) : 0
                output.progress("\(name): \(Format.plural(counts.rowsRead, "row")) (\(Format.count(rate)) rows/s), \(Format.count(counts.rowsRejected)) rejected")
            }
        }
        let runner = JobRunner(job: job, state: state, destination: destination, logger: logger, progress: progress)
        let result: RunResult
        do {
            result = try await runner.run(options)
        } catch {
            output.err("\(name): \(error)")
            return .runFailed
        }
        if showProgress { output.progress("") }
        for note in result.notes { output.err("\(name): note: \(note)") }
        switch result.failure {
        case .invalidJob(let diagnostics)?:
            output.err(JobFileError(diagnostics).description)
            return .invalid
        case .failed(let message)?:
            let run = result.runID.map { "run #\($0)" } ?? "the run"
            output.err("\(name): \(run) failed after reading \(Format.plural(result.counts.rowsRead, "row")) and delivering \(Format.count(result.counts.rowsSent)) in \(Format.plural(result.counts.requests, "request"))\(DeliveryFigures.text(result.counts)): \(message)")
            if let checkpoint = result.checkpoint { output.err("\(name): checkpoint kept at \(checkpoint)") }
            if result.counts.rowsUndelivered > 0 {
                output.err("\(name): \(Format.plural(result.counts.rowsUndelivered, "row")) of requests that failed are kept; the next run sends them again, or 'jobs retry \(name)' does now")
            }
            return .runFailed
        case nil:
            output.out(summary(result))
            let samples = result.rejectedSamples.prefix(result.dryRun ? RunOptions.defaultRejectedSamples : 5)
            for rejected in samples {
                let line = "  rejected \(RowPosition.label(rejected, job: job)): \(rejected.reason)"
                if result.dryRun { output.out(line) } else { output.err(line) }
            }
            if result.counts.rowsRejected > samples.count {
                let more = "  … \(Format.count(result.counts.rowsRejected - samples.count)) more rejected rows" + (result.dryRun ? "" : "; see 'jobs status \(name)'")
                if result.dryRun { output.out(more) } else { output.err(more) }
            }
            return .ok
        }
    }

    /// The one-line summary printed at the end of a run.
    package static func summary(_ result: RunResult) -> String {
        let c = result.counts
        let rate = result.seconds > 0 ? Int(Double(c.rowsRead) / result.seconds) : 0
        var parts: [String] = []
        if result.dryRun {
            parts.append("\(result.job) (dry run): read \(Format.plural(c.rowsRead, "row"))")
            parts.append("would send \(Format.count(c.rowsSent)) in \(Format.plural(c.requests, "request"))")
        } else {
            let run = result.runID.map { " run #\($0)" } ?? ""
            parts.append("\(result.job)\(run): read \(Format.plural(c.rowsRead, "row"))")
            parts.append("sent \(Format.count(c.rowsSent)) in \(Format.plural(c.requests, "request"))\(DeliveryFigures.text(c))")
        }
        parts.append("rejected \(Format.count(c.rowsRejected))")
        if c.rowsSkipped > 0 { parts.append("skipped \(Format.count(c.rowsSkipped)) already delivered") }
        var line = parts.joined(separator: ", ") + DeliveryFigures.skippedEvents(c) + " in \(Format.seconds(result.seconds)) (\(Format.count(rate)) rows/s)"
        if result.dryRun {
            line += "; nothing sent, checkpoint unchanged"
        } else if let checkpoint = result.checkpoint {
            line += "; checkpoint \(checkpoint)"
        }
        return line
    }
}
