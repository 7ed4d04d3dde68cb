import ArgumentParser
import Logging
import SyncJobsCore

/// A count option (`--limit`, `-n`, `--max-parallel`) is read as text with `.unconditional`
/// parsing, so `--limit -1` gets this message rather than argument-parser's "Missing value".
func wholeNumber(_ text: String, option: String) throws -> Int {
    guard let n = Int(text), n >= 1 else {
        throw ValidationError("\(option) must be a whole number of 1 or more; got \(text)")
    }
    return n
}

/// The options every subcommand takes: where the jobs and the state are, and how much to log.
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
