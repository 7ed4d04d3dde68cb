import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SyncJobsCore

/// The `jobs` command: parses arguments and hands over to SyncJobsCore.
@main
struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Run declarative sync jobs from SQLite and query-result files into mParticle batches.",
        discussion: "Exit codes: 0 ok, 1 a run failed, 2 an invalid job or usage.",
        subcommands: [Run.self, Retry.self, Validate.self, Plan.self, Status.self, Reset.self, Schedule.self, Daemon.self,
                      Pause.self, Resume.self, History.self, Backfill.self]
    )

    /// argument-parser exits 64 on usage errors; this tool promises 2.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            let message = fullMessage(for: error)
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            if let status = error as? ExitStatusError { Foundation.exit(status.status.rawValue) }
            Foundation.exit(code == .validationFailure ? ExitStatus.invalid.rawValue : ExitStatus.runFailed.rawValue)
        }
    }
}

/// Carries a command's exit status out of `run()` without printing anything more.
struct ExitStatusError: Error, CustomStringConvertible {
    var status: ExitStatus
    var description: String { "" }
}

func finish(_ status: ExitStatus) throws {
    if status != .ok { throw ExitStatusError(status: status) }
}

/// A count option (`--limit`, `-n`, `--max-parallel`) is read as text with `.unconditional`
/// parsing, so `--limit -1` gets this message rather than argument-parser's "Missing value".
func wholeNumber(_ text: String, option: String) throws -> Int {
    guard let n = Int(text), n >= 1 else {
        throw ValidationError("\(option) must be a whole number of 1 or more; got \(text)")
    }
    return n
}

struct WorkspaceOptions: ParsableArguments {
    @Option(name: .customLong("jobs"), help: "The folder of job files (default: jobs).")
    var jobsDirectory: String?

    @Option(name: .customLong("state"), help: "The state database (default: $JOBS_STATE, else .jobs/state.db beside the jobs folder).")
    var statePath: String?

    @Option(name: .customLong("log-level"), help: "Log level on standard error: trace, debug, info, notice, warning, error (default: warning).")
    var logLevel: String?

    var workspace: Workspace { Workspace.resolve(jobsDirectory: jobsDirectory, statePath: statePath) }

    func validate() throws {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("unknown log level '\(logLevel)'; use trace, debug, info, notice, warning or error")
        }
    }

    func makeLogger(defaultLevel: Logger.Level = .warning) -> Logger {
        let level = logLevel.flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel
        var logger = Logger(label: "syncjobs") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = level
        return logger
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run jobs now.")

    @Argument(help: "Job names or job file paths.")
    var jobs: [String]

    @Flag(name: .customLong("dry-run"), help: "Map and check every row; send nothing and leave the checkpoint alone.")
    var dryRun = false

    @Flag(name: .customLong("full-refresh"), help: "Ignore the checkpoint for this run and read from sync.from.")
    var fullRefresh = false

    @Option(name: .customLong("limit"), parsing: .unconditional, help: ArgumentHelp("Read at most N rows.", valueName: "n"))
    var limit: String?

    @OptionGroup var options: WorkspaceOptions

    func validate() throws {
        if jobs.isEmpty { throw ValidationError("name at least one job to run") }
        if let limit { _ = try wholeNumber(limit, option: "--limit") }
    }

    func run() async throws {
        let status = await RunCommand.execute(
            workspace: options.workspace, jobs: jobs,
            options: RunOptions(dryRun: dryRun, fullRefresh: fullRefresh, limit: limit.flatMap { Int($0) }),
            output: StandardOutput(), logger: options.makeLogger())
        try finish(status)
    }
}

struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resend just the rows a destination refused or that a failed run left undelivered.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @OptionGroup var options: WorkspaceOptions

    func run() async throws {
        try finish(await RetryCommand.execute(workspace: options.workspace, job: job, output: StandardOutput(),
                                              logger: options.makeLogger()))
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check job files (every file in the jobs folder when none is named).")

    @Argument(help: "Job names or job file paths.")
    var jobs: [String] = []

    @OptionGroup var options: WorkspaceOptions

    func run() throws {
        try finish(ValidateCommand.execute(workspace: options.workspace, jobs: jobs, output: StandardOutput()))
    }
}

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what the next run of a job would do, without doing it.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @OptionGroup var options: WorkspaceOptions

    func run() async throws {
        try finish(await PlanCommand.execute(workspace: options.workspace, job: job, output: StandardOutput()))
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show checkpoints, recent runs and rejected rows.")

    @Argument(help: "A job name or job file path (default: every job).")
    var job: String?

    @Flag(name: .customLong("json"), help: "Print JSON.")
    var json = false

    @OptionGroup var options: WorkspaceOptions

    func run() throws {
        try finish(StatusCommand.execute(workspace: options.workspace, job: job, json: json, output: StandardOutput()))
    }
}

struct Reset: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Forget a job's checkpoint, so the next run starts from sync.from.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @Flag(name: .customLong("yes"), help: "Confirm.")
    var yes = false

    @OptionGroup var options: WorkspaceOptions

    func run() throws {
        try finish(ResetCommand.execute(workspace: options.workspace, job: job, confirmed: yes, output: StandardOutput()))
    }
}

struct Schedule: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the next fire times of a job's schedule, as UTC instants.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @Option(name: .customLong("after"), help: "List fire times after this ISO 8601 time (default: now).")
    var after: String?

    @Option(name: .customShort("n"), parsing: .unconditional, help: ArgumentHelp("How many fire times (default 10).", valueName: "n"))
    var count = "10"

    @Flag(name: .customLong("json"), help: "Print a JSON array of strings.")
    var json = false

    @OptionGroup var options: WorkspaceOptions

    func validate() throws {
        _ = try wholeNumber(count, option: "-n")
    }

    func run() throws {
        try finish(ScheduleCommand.execute(workspace: options.workspace, job: job, after: after, count: Int(count) ?? 10, json: json,
                                           output: StandardOutput()))
    }
}

struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every job in the jobs folder on its schedule until SIGTERM or SIGINT.",
        discussion: "Job files that are added, changed or removed are picked up without a restart. On SIGTERM or SIGINT no new run starts; runs in progress stop reading, let their requests finish, store their checkpoints, and the daemon exits 0.")

    @Option(name: .customLong("max-parallel"), parsing: .unconditional, help: ArgumentHelp("At most this many runs at once (default 4).", valueName: "n"))
    var maxParallel = "4"

    @OptionGroup var options: WorkspaceOptions

    func validate() throws {
        _ = try wholeNumber(maxParallel, option: "--max-parallel")
    }

    func run() async throws {
        let logger = options.makeLogger(defaultLevel: .info)
        let daemon = SyncJobsCore.Daemon(workspace: options.workspace, maxParallel: Int(maxParallel) ?? 4, logger: logger)
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Runs get this long to finish their requests and checkpoint; then they are cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(60)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pause a job: the daemon skips it until it is resumed.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @OptionGroup var options: WorkspaceOptions

    func run() throws {
        try finish(PauseCommand.execute(workspace: options.workspace, job: job, pause: true, output: StandardOutput()))
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume a paused job from its next fire time.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @OptionGroup var options: WorkspaceOptions

    func run() throws {
        try finish(PauseCommand.execute(workspace: options.workspace, job: job, pause: false, output: StandardOutput()))
    }
}

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a job's runs, newest first.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @Option(name: .customShort("n"), parsing: .unconditional, help: ArgumentHelp("How many runs (default 20).", valueName: "n"))
    var limit = "20"

    @Flag(name: .customLong("json"), help: "Print JSON.")
    var json = false

    @OptionGroup var options: WorkspaceOptions

    func validate() throws {
        _ = try wholeNumber(limit, option: "-n")
    }

    func run() throws {
        try finish(HistoryCommand.execute(workspace: options.workspace, job: job, limit: Int(limit) ?? 20, json: json, output: StandardOutput()))
    }
}

struct Backfill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Re-send a past range in windows without moving the live checkpoint.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @Option(name: .customLong("from"), help: "Start of the range (inclusive), as sync.from is written.")
    var from: String

    @Option(name: .customLong("to"), help: "End of the range (exclusive); default now for time iterators.")
    var to: String?

    @Flag(name: .customLong("dry-run"), help: "List the windows with their row counts; send nothing.")
    var dryRun = false

    @Flag(name: .customLong("again"), help: "Send windows that a completed backfill already sent.")
    var again = false

    @OptionGroup var options: WorkspaceOptions

    func run() async throws {
        try finish(await BackfillCommand.execute(workspace: options.workspace, job: job, from: from, to: to, dryRun: dryRun,
                                                 again: again, output: StandardOutput(), logger: options.makeLogger()))
    }
}
