import ArgumentParser
import SyncJobsCore

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pause a job: the daemon skips it until it is resumed.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @OptionGroup var options: WorkspaceOptions

    func run() throws {
        try finish(PauseCommand.execute(workspace: options.workspace, job: job, pause: true, output: StandardOutput()))
    }
}
