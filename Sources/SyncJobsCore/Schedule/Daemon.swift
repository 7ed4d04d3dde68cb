import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// `jobs daemon`: runs jobs on their schedules until told to stop.
///
/// A service (swift-service-lifecycle): on graceful shutdown (SIGTERM/SIGINT) it starts no new
/// runs and raises the runs' stop signal, so each stops reading, lets its requests in flight finish
/// and stores its checkpoint; `run()` returns once they have.
public final class Daemon: Service, @unchecked Sendable {
    // @unchecked: mutable state lives in `run()`; shared pieces are Sendable or locked.
    let workspace: Workspace
    let maxParallel: Int
    let logger: Logger
    let reloadInterval: Duration
    let now: @Sendable () -> Int64
    let makeDestination: @Sendable (JobDefinition) throws -> any Destination

    public init(workspace: Workspace, maxParallel: Int, logger: Logger, reloadInterval: Duration = .seconds(2),
                now: @escaping @Sendable () -> Int64 = { StateStore.now() },
                makeDestination: (@Sendable (JobDefinition) throws -> any Destination)? = nil) {
        self.workspace = workspace
        self.maxParallel = max(1, maxParallel)
        self.logger = logger
        self.reloadInterval = reloadInterval
        self.now = now
        self.makeDestination = makeDestination ?? { job in try DestinationFactory.make(for: job, logger: logger) }
    }

    /// What the daemon knows about each job file, to notice changes.
    struct LoadedFile {
        var modified: Date
        var size: Int
        var job: JobDefinition?
    }

    public func run() async throws {
        let stop = StopSignal()
        let state = try workspace.openState()
        let finished = FinishedRuns()
        logger.notice("Daemon started", metadata: ["jobs": "\(Paths.display(workspace.jobsDirectory))", "max_parallel": "\(maxParallel)"])

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                var machine = SchedulerStateMachine()
                var files: [String: LoadedFile] = [:]
                var definitions: [String: JobDefinition] = [:]
                var running = 0
                var lastReload: ContinuousClock.Instant?

                while !stop.isSet {
                    for name in finished.take() {
                        machine.finished(name: name)
                        running -= 1
                    }
                    if lastReload.map({ ContinuousClock.now - $0 >= reloadInterval }) ?? true {
                        lastReload = ContinuousClock.now
                        reload(&files, &definitions, &machine, state: state)
                    }
                    let now = self.now()
                    for case .start(let name, let fireTime, let fireCount) in machine.due(now: now, capacity: maxParallel - running) {
                        guard let job = definitions[name] else { continue }
                        do {
                            try state.recordFire(job: name, fireTime: fireTime, now: now)
                        } catch {
                            logger.error("Cannot record the fire time", metadata: ["job": "\(name)", "error": "\(error)"])
                        }
                        running += 1
                        let options = RunOptions(trigger: "scheduled", fireTime: fireTime, fireCount: fireCount, stop: stop)
                        group.addTask { [self] in
                            await runScheduled(job, options: options, state: state)
                            finished.add(name)
                        }
                    }
                    // Sleep until the next fire, but look at finished runs and job files often.
                    var wait = Duration.milliseconds(250)
                    if let wake = machine.nextWake(now: self.now()) {
                        wait = min(wait, .milliseconds(max(0, wake - self.now())))
                    }
                    try? await Task.sleep(for: wait)
                }
                logger.notice("Daemon stopping: no new runs; waiting for runs in progress to checkpoint", metadata: ["running": "\(running)"])
            }
        } onGracefulShutdown: {
            stop.set()
        }
        logger.notice("Daemon stopped")
    }

    private func runScheduled(_ job: JobDefinition, options: RunOptions, state: StateStore) async {
        var logger = self.logger
        logger[metadataKey: "job"] = "\(job.name)"
        do {
            let runner = JobRunner(job: job, state: state, destination: try makeDestination(job), logger: logger)
            let result = try await runner.run(options)
            if let message = result.errorMessage {
                logger.error("Run failed", metadata: ["error": "\(message)", "run": "\(result.runID ?? 0)"])
            }
        } catch let busy as JobBusyError {
            logger.warning("Skipped: the job is running elsewhere", metadata: ["holder": "\(busy)"])
        } catch {
            logger.error("Run could not start", metadata: ["error": "\(error)"])
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
            let diagnostics = ValidateCommand.validate(path: path)
            var loaded = LoadedFile(modified: modified, size: size, job: nil)
            if diagnostics.contains(where: { $0.severity == .error }) {
                logger.error("Job file does not validate; left out until it does", metadata: [
                    "file": "\(Paths.display(path))", "problems": "\(diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: " | "))",
                ])
            } else if let job = try? JobFileParser.load(path: path).0 {
                if let other = files.first(where: { $0.key != path && $0.value.job?.name == job.name }) {
                    logger.error("Two job files use one name; left out", metadata: ["job": "\(job.name)", "file": "\(Paths.display(path))", "other": "\(Paths.display(other.key))"])
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

/// Names of runs that have ended, handed from run tasks to the daemon loop.
final class FinishedRuns: Sendable {
    private let names = Mutex<[String]>([])
    func add(_ name: String) { names.withLock { $0.append(name) } }
    func take() -> [String] { names.withLock { names in defer { names.removeAll() }; return names } }
}
