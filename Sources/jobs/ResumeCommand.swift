import ArgumentParser
import SyncJobsCore

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume a paused job from its next fire time.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @OptionGroup var options: WorkspaceOptions

    func run() throws {
        try finish(PauseCommand.execute(workspace: options.workspace, job: job, pause: false, output: StandardOutput()))
    }
}
