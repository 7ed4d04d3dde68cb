import Foundation
import Logging
import ServiceLifecycle

/// `jobs daemon`: runs jobs on their schedules until told to stop.
///
/// A service (swift-service-lifecycle). On graceful shutdown (SIGTERM/SIGINT) it starts no new
/// runs; the runs it started see the same shutdown (`Task.isShuttingDownGracefully`, inherited
/// by their tasks), so each stops reading, lets its requests in flight finish and stores its
/// checkpoint; `run()` returns once they have.
///
/// Everything waits on `clock`: the loop sleeps until the next fire or retry time or the next
/// look at the job files, and wakes early when a run ends or shutdown begins. A fire time is
/// stored as covered when the run started for it finishes, never before it starts.
///
/// The loop has its own state connection; each run opens another, because a connection belongs
/// to one task (`StateStore` is not Sendable).
public final class Daemon: Service {
    package let workspace: Workspace
    let maxParallel: Int
    let logger: Logger
    /// How often job files are looked at for changes, in milliseconds of `clock`.
    let reloadMillis: Int64
    let clock: any SyncClock
    let makeDestination: @Sendable (JobDefinition) throws -> any Destination
    /// Run counts, request latencies and last successes for `/metrics`; nil records nothing.
    let metrics: SyncMetrics?
    let inbox = DaemonInbox()
    /// What runs now, what is loaded and what fires next, for the HTTP face.
    package let live = DaemonLive()

    public convenience init(workspace: Workspace, maxParallel: Int, logger: Logger) {
        self.init(workspace: workspace, maxParallel: maxParallel, logger: logger, reloadInterval: .seconds(2))
    }

    package init(workspace: Workspace, maxParallel: Int, logger: Logger, reloadInterval: Duration = .seconds(2),
                 clock: any SyncClock = SystemClock(), makeDestination: (@Sendable (JobDefinition) throws -> any Destination)? = nil,
                 metrics: SyncMetrics? = nil) {
        self.workspace = workspace
        self.maxParallel = max(1, maxParallel)
        self.logger = logger
        let (seconds, attoseconds) = reloadInterval.components
        self.reloadMillis = max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        self.clock = clock
        let statePath = workspace.statePath
        let make = makeDestination ?? { job in try DestinationFactory.make(for: job, statePath: statePath, logger: logger) }
        if let metrics {
            self.makeDestination = { job in metrics.timed(try make(job), destination: job.destination.typeName) }
        } else {
            self.makeDestination = make
        }
        self.metrics = metrics
    }

    package func now() -> Int64 { clock.now() }

    /// What the daemon knows about each job file, to notice changes.
    struct LoadedFile {
        var modified: Date
        var size: Int
        var job: JobDefinition?
        /// Why the file was left out (it does not validate), for the status page.
        var problems: [String] = []
    }

    public func run() async throws {
        let state = try workspace.openState()
        logger.notice("Daemon started", metadata: ["jobs": "\(Paths.display(workspace.jobsDirectory))", "max_parallel": "\(maxParallel)"])

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                var machine = SchedulerStateMachine()
                var files: [String: LoadedFile] = [:]
                var definitions: [String: JobDefinition] = [:]
                var running = 0
                var nextFileCheck = now()

                // Cancelled without a graceful shutdown (another service failed): stop as well.
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    for ended in inbox.take() {
                        running -= 1
                        settle(ended, &machine)
                    }
                    for control in inbox.takeControls() {
                        handle(control, &machine, definitions: definitions, running: &running, state: state, group: &group)
                    }
                    // (A wall clock set back by more than the interval does not postpone the check.)
                    if now() >= nextFileCheck || nextFileCheck - now() > reloadMillis {
                        reload(&files, &definitions, &machine, state: state)
                        live.loaded(definitions, invalid: files.filter { !$0.value.problems.isEmpty }
                            .map { DaemonLive.InvalidFile(file: $0.key, problems: $0.value.problems) }, machine: machine, now: now())
                        nextFileCheck = now() + reloadMillis
                    }
                    let now = self.now()
                    for case .start(let name, let fireTime, let fireCount) in machine.due(now: now, capacity: maxParallel - running) {
                        guard let job = definitions[name] else { continue }
                        running += 1
                        live.started(name, trigger: "scheduled", at: now)
                        let options = RunOptions(trigger: "scheduled", now: now, fireTime: fireTime, fireCount: fireCount)
                        group.addTask { [self] in
                            let outcome = await runJob(job, options: options)
                            inbox.post(.init(job: name, outcome: outcome))
                        }
                    }
                    // Sleep until the next fire or retry time, the next look at the job files, a
                    // run ending, or shutdown. With every slot taken, only a run ending frees one.
                    live.scheduled(machine, now: self.now())
                    let wake = running >= maxParallel ? nil : machine.nextWake(now: self.now())
                    await sleep(until: wake, fileCheck: nextFileCheck, inbox: inbox)
                }
                logger.notice("Daemon stopping: no new runs; waiting for runs in progress to checkpoint", metadata: ["running": "\(running)"])
            }
        } onGracefulShutdown: { [inbox] in
            inbox.wake()
        }
        refuseControls()
        logger.notice("Daemon stopped")
    }

    /// Job files are looked at on a timer rather than watched: inotify (Linux) and kqueue or
    /// FSEvents (macOS) share no API, files on network mounts send no change events, and editors
    /// that save by rename replace the file a watch was on. Comparing each file's modification
    /// time and size every two seconds costs next to nothing. The timer runs on `clock`, so a test
    /// moves it like every other time the daemon waits for.
    private func sleep(until wake: Int64?, fileCheck: Int64, inbox: DaemonInbox) async {
        await withTaskGroup(of: Void.self) { group in
            if let wake { group.addTask { [clock] in try? await clock.sleep(until: wake) } }
            group.addTask { [clock] in try? await clock.sleep(until: fileCheck) }
            group.addTask { await inbox.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Applies how a run ended: covered fire times move the job on; otherwise it is tried again
    /// after a backoff, with one log line per attempt.
    private func settle(_ ended: DaemonInbox.Ended, _ machine: inout SchedulerStateMachine) {
        live.ended(ended.job)
        if ended.manual {
            machine.manualEnded(name: ended.job)
            if case .couldNotStart(let problem, _) = ended.outcome {
                logger.warning("Run could not start", metadata: ["job": "\(ended.job)", "error": "\(problem)"])
            }
            return
        }
        let fireTime = machine.jobs[ended.job]?.runningFire
        switch ended.outcome {
        case .finished:
            machine.finished(name: ended.job)
        case .interrupted:
            machine.notCovered(name: ended.job, now: now())
        case .couldNotStart(let problem, let busy):
            guard let (attempt, retryAt) = machine.notCovered(name: ended.job, now: now()) else { return }
            var metadata: Logger.Metadata = [
                "job": "\(ended.job)", "fire_time": "\(fireTime.map(Timestamp.format(millis:)) ?? "")",
                "attempt": "\(attempt)", "next_attempt": "\(Timestamp.format(millis: retryAt))",
            ]
            if busy {
                metadata["holder"] = "\(problem)"
                logger.warning("Run could not start: the job is running elsewhere; its fire time stays due", metadata: metadata)
            } else {
                metadata["error"] = "\(problem)"
                logger.error("Run could not start; its fire time stays due", metadata: metadata)
            }
        }
    }

    /// Runs one run on a state connection of its own; for a scheduled run, its lease stores the
    /// fire time as covered if it ran to its end.
    func runJob(_ job: JobDefinition, options: RunOptions) async -> ScheduledRunOutcome {
        var logger = self.logger
        logger[metadataKey: "job"] = "\(job.name)"
        do {
            let state = try workspace.openState()
            let name = job.name, live = self.live
            let runner = JobRunner(job: job, state: state, destination: try makeDestination(job), logger: logger,
                                   progress: { counts, seconds in live.progress(name, rowsRead: counts.rowsRead, seconds: seconds) })
            let result = try await runner.run(options)
            metrics?.recordRun(result, endedAt: now())
            if result.status == .failed, let message = result.errorMessage {
                logger.error("Run failed", metadata: ["error": "\(message)", "run": "\(result.runID ?? 0)"])
            }
            // The run's lease stored its fire time as covered before giving up the lock.
            return result.status == .interrupted ? .interrupted : .finished
        } catch let covered as FireTimeCoveredError {
            logger.info("Fire time already run by another daemon", metadata: ["fire_time": "\(Timestamp.format(millis: covered.fireTime))"])
            return .finished
        } catch let busy as JobBusyError {
            return .couldNotStart(problem: "\(busy)", busy: true)
        } catch {
            return .couldNotStart(problem: ErrorText.describe(error), busy: false)
        }
    }

    /// Loads job files that are new or changed, drops removed ones, and refreshes pause state.
    func reload(_ files: inout [String: LoadedFile], _ definitions: inout [String: JobDefinition],
                _ machine: inout SchedulerStateMachine, state: StateStore) {
        let paths = Set(workspace.jobFiles())
        for gone in files.keys where !paths.contains(gone) {
            if let name = files[gone]?.job?.name {
                machine.remove(name: name)
                definitions[name] = nil
                logger.notice("Job removed", metadata: ["job": "\(name)", "file": "\(Paths.display(gone))"])
            }
            files[gone] = nil
        }
        for path in paths.sorted() {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let modified = attributes?[.modificationDate] as? Date ?? .distantPast
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
            if let known = files[path], known.modified == modified, known.size == size { continue }
            let previous = files[path]?.job?.name
            let diagnostics = JobValidation.validate(path: path)
            var loaded = LoadedFile(modified: modified, size: size, job: nil)
            if diagnostics.contains(where: { $0.severity == .error }) {
                loaded.problems = diagnostics.filter { $0.severity == .error }.map(\.description)
                logger.error("Job file does not validate; left out until it does", metadata: [
                    "file": "\(Paths.display(path))", "problems": "\(diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: " | "))",
                ])
            } else if let job = try? JobFileParser.load(path: path).0 {
                if let other = files.first(where: { $0.key != path && $0.value.job?.name == job.name }) {
                    logger.error("Two job files use one name; left out", metadata: ["job": "\(job.name)", "file": "\(Paths.display(path))", "other": "\(Paths.display(other.key))"])
                    loaded.problems = ["the job name '\(job.name)' is also declared by \(Paths.display(other.key)); give each job a unique 'name:'"]
                } else {
                    loaded.job = job
                }
            }
            if let previous, previous != loaded.job?.name {
                machine.remove(name: previous)
                definitions[previous] = nil
            }
            if let job = loaded.job {
                definitions[job.name] = job
                machine.retryNow(name: job.name)
                logger.notice(previous == nil ? "Job loaded" : "Job reloaded", metadata: ["job": "\(job.name)", "schedule": "\(job.schedule.kind.rawValue)"])
            }
            files[path] = loaded
        }
        for (name, job) in definitions {
            let schedule = (try? state.scheduleState(job: name)) ?? ScheduleState()
            machine.update(name: name, schedule: job.schedule, lastFire: schedule.lastFireTime, paused: schedule.paused, now: now())
        }
    }
}
