import ArgumentParser
import SyncJobsCore

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
