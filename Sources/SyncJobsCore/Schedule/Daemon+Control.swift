import Foundation
import Logging

/// What the HTTP API may ask the daemon to do.
package enum DaemonControlAction: String, Sendable, CaseIterable {
    case run, pause, resume, retry
}

/// The daemon's answer to a control request.
package struct DaemonControlReply: Sendable, Equatable {
    package enum Outcome: String, Sendable {
        /// A run started (run, retry); history shows it.
        case started
        /// Done at once (pause, resume).
        case done
        /// Nothing to do (retry without failed rows).
        case nothingToDo = "nothing_to_do"
        /// The job is running, in this daemon or in another process.
        case busy
        /// No loaded job has that name.
        case notFound = "not_found"
        /// The daemon is stopping, or the state database failed.
        case unavailable
    }

    package var outcome: Outcome
    package var message: String
}

extension Daemon {
    /// Asks the daemon loop to run, pause, resume or retry a job, and waits for its answer. A run
    /// started this way is a normal run: it takes the job's lock and is recorded with trigger
    /// `api` (a retry with trigger `retry`); it does not cover fire times.
    package func control(_ action: DaemonControlAction, job: String) async -> DaemonControlReply {
        await withCheckedContinuation { continuation in
            inbox.post(DaemonInbox.Control(job: job, action: action, reply: { continuation.resume(returning: $0) }))
        }
    }

    /// Answers a control request on the loop, which owns the scheduler's state.
    func handle(_ control: DaemonInbox.Control, _ machine: inout SchedulerStateMachine, definitions: [String: JobDefinition],
                running: inout Int, state: StateStore, group: inout ThrowingDiscardingTaskGroup<any Error>) {
        let name = control.job
        guard let job = definitions[name] else {
            control.reply(.init(outcome: .notFound, message: "no job named '\(name)' is loaded by this daemon"))
            return
        }
        do {
            switch control.action {
            case .pause, .resume:
                let pause = control.action == .pause
                try state.setPaused(job: name, pause, now: now())
                let schedule = try state.scheduleState(job: name)
                machine.update(name: name, schedule: job.schedule, lastFire: schedule.lastFireTime, paused: schedule.paused, now: now())
                live.scheduled(machine, now: now())
                logger.notice(pause ? "Job paused" : "Job resumed", metadata: ["job": "\(name)", "by": "api"])
                let next = ScheduleCommand.nextRun(job.schedule, state: schedule, now: now())
                control.reply(.init(outcome: .done, message: pause
                    ? "\(name): paused; the daemon skips it until it is resumed (Run now still runs it)"
                    : "\(name): resumed; next run \(next.map { Timestamp.format(millis: $0) } ?? "never (\(ScheduleCommand.describe(job.schedule, now: now())))")"))
            case .run, .retry:
                if control.action == .retry {
                    let failed = try state.failedCounts(job: name)
                    if failed.refused + failed.undelivered == 0 {
                        control.reply(.init(outcome: .nothingToDo, message: "\(name): no failed rows to retry"))
                        return
                    }
                }
                if let active = try state.activeRun(job: name) {
                    control.reply(.init(outcome: .busy, message: "\(active)"))
                    return
                }
                guard machine.startManual(name: name) else {
                    control.reply(.init(outcome: .busy, message: "job '\(name)' is already running in this daemon; wait for it to finish"))
                    return
                }
                running += 1
                let trigger = control.action == .retry ? "retry" : "api"
                live.started(name, trigger: trigger, at: now())
                logger.notice("Run requested", metadata: ["job": "\(name)", "trigger": "\(trigger)"])
                group.addTask { [self] in
                    let outcome = control.action == .retry ? await retryNow(job) : await runNow(job)
                    inbox.post(.init(job: name, outcome: outcome, manual: true))
                }
                control.reply(.init(outcome: .started, message: "\(name): \(control.action == .retry ? "retry" : "run") started (trigger \(trigger))"))
            }
        } catch {
            control.reply(.init(outcome: .unavailable, message: "\(name): \(ErrorText.describe(error))"))
        }
    }

    /// A run asked for through the API, on a state connection of its own.
    private func runNow(_ job: JobDefinition) async -> ScheduledRunOutcome {
        await runJob(job, options: RunOptions(trigger: "api", now: now()))
    }

    /// `jobs retry` for the API: resends the failed rows, recorded with trigger `retry`.
    private func retryNow(_ job: JobDefinition) async -> ScheduledRunOutcome {
        var logger = self.logger
        logger[metadataKey: "job"] = "\(job.name)"
        do {
            let state = try workspace.openState()
            let outcome = try await RetryCommand.retry(job: job, state: state, destination: try makeDestination(job), logger: logger)
            metrics?.recordRetry(job: job.name, outcome: outcome, endedAt: now())
            if let error = outcome.error { logger.error("Retry failed", metadata: ["error": "\(error)", "run": "\(outcome.runID)"]) }
            return .finished
        } catch let busy as JobBusyError {
            return .couldNotStart(problem: "\(busy)", busy: true)
        } catch {
            logger.error("Retry could not start", metadata: ["error": "\(ErrorText.describe(error))"])
            return .couldNotStart(problem: ErrorText.describe(error), busy: false)
        }
    }

    /// Answers requests that came while the daemon was stopping.
    func refuseControls() {
        for control in inbox.takeControls() {
            control.reply(.init(outcome: .unavailable, message: "the daemon is stopping; no new run starts"))
        }
    }
}
