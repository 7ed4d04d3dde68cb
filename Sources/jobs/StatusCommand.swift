import ArgumentParser
import SyncJobsCore

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
