import ArgumentParser
import SyncJobsCore

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
