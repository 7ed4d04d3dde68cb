import ArgumentParser
import Foundation
import SyncJobsCore

/// The `jobs` command: parses arguments and hands over to SyncJobsCore. Each subcommand is in a
/// file of its own, named after it (`RunCommand.swift` for `jobs run`); shared options are in
/// `SharedOptions.swift`.
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

/// Ends a subcommand with `status`: returns for `.ok`, otherwise exits with that status through `main()`.
func finish(_ status: ExitStatus) throws {
    if status != .ok { throw ExitStatusError(status: status) }
}
