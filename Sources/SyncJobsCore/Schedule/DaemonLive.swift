import Synchronization

/// What only the running daemon knows, for its HTTP face: which jobs it has loaded, which files it
/// left out and why, what runs now and how fast, and when each job fires next. The daemon loop
/// and its run tasks write it; request handlers read snapshots. Everything else (history,
/// checkpoints, failed rows) is in the state database.
package final class DaemonLive: Sendable {
    package struct Job: Sendable, Equatable {
        package var name: String
        package var file: String
        package var paused = false
        /// The next fire time no run has covered (`now` when one is due), nil when none.
        package var nextFire: Int64?
        package var running: Run?
    }

    package struct Run: Sendable, Equatable {
        package var trigger: String
        package var startedAt: Int64
        package var rowsRead = 0
        package var rowsPerSecond = 0.0
    }

    /// A job file the daemon left out because it does not validate, with its problems.
    package struct InvalidFile: Sendable, Equatable {
        package var file: String
        package var problems: [String]
    }

    private struct State {
        var jobs: [String: Job] = [:]
        var invalid: [String: InvalidFile] = [:]
        var definitions: [String: JobDefinition] = [:]
    }

    private let state = Mutex(State())

    package init() {}

    /// The loaded jobs, in the order of their files (as `jobs status` lists them).
    package var jobs: [Job] { state.withLock { $0.jobs.values.sorted { ($0.file, $0.name) < ($1.file, $1.name) } } }
    package func job(_ name: String) -> Job? { state.withLock { $0.jobs[name] } }
    package func definition(_ name: String) -> JobDefinition? { state.withLock { $0.definitions[name] } }
    package var definitions: [JobDefinition] { state.withLock { $0.definitions.values.sorted { ($0.filePath, $0.name) < ($1.filePath, $1.name) } } }
    package var invalidFiles: [InvalidFile] { state.withLock { $0.invalid.values.sorted { $0.file < $1.file } } }

    /// Replaces what the daemon has loaded (after it looked at the job files), keeping the runs in
    /// progress.
    func loaded(_ definitions: [String: JobDefinition], invalid: [InvalidFile], machine: SchedulerStateMachine, now: Int64) {
        state.withLock { state in
            var jobs: [String: Job] = [:]
            for (name, job) in definitions {
                var entry = Job(name: name, file: job.filePath)
                entry.paused = machine.jobs[name]?.paused ?? false
                entry.nextFire = entry.paused ? nil : machine.nextFire(name: name, now: now)
                entry.running = state.jobs[name]?.running
                jobs[name] = entry
            }
            state.jobs = jobs
            state.definitions = definitions
            state.invalid = Dictionary(invalid.map { ($0.file, $0) }, uniquingKeysWith: { $1 })
        }
    }

    /// Refreshes the next fire times and pause flags after the scheduler moved on.
    func scheduled(_ machine: SchedulerStateMachine, now: Int64) {
        state.withLock { state in
            for name in state.jobs.keys {
                let paused = machine.jobs[name]?.paused ?? false
                state.jobs[name]?.paused = paused
                state.jobs[name]?.nextFire = paused ? nil : machine.nextFire(name: name, now: now)
            }
        }
    }

    func started(_ name: String, trigger: String, at time: Int64) {
        state.withLock { $0.jobs[name]?.running = Run(trigger: trigger, startedAt: time) }
    }

    /// A run's progress: rows read so far over the seconds it has taken.
    func progress(_ name: String, rowsRead: Int, seconds: Double) {
        state.withLock { state in
            state.jobs[name]?.running?.rowsRead = rowsRead
            state.jobs[name]?.running?.rowsPerSecond = seconds > 0 ? Double(rowsRead) / seconds : 0
        }
    }

    func ended(_ name: String) {
        state.withLock { $0.jobs[name]?.running = nil }
    }
}
