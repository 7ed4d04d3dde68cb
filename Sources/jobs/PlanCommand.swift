import ArgumentParser
import SyncJobsCore

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what the next run of a job would do, without doing it.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @OptionGroup var options: WorkspaceOptions

    func run() async throws {
        try finish(await PlanCommand.execute(workspace: options.workspace, job: job, output: StandardOutput()))
    }
}
