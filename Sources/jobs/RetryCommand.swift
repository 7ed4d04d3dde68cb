import ArgumentParser
import SyncJobsCore

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
