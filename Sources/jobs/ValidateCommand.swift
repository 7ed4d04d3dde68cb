import ArgumentParser
import SyncJobsCore

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check job files (every file in the jobs folder when none is named).")

    @Argument(help: "Job names or job file paths.")
    var jobs: [String] = []

    @OptionGroup var options: WorkspaceOptions

    func run() throws {
        try finish(ValidateCommand.execute(workspace: options.workspace, jobs: jobs, output: StandardOutput()))
    }
}
