import ArgumentParser
import SyncJobsCore

struct Backfill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Re-send a past range in windows without moving the live checkpoint.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @Option(name: .customLong("from"), help: "Start of the range (inclusive), as sync.from is written.")
    var from: String

    @Option(name: .customLong("to"), help: "End of the range (exclusive); default now for time iterators.")
    var to: String?

    @Flag(name: .customLong("dry-run"), help: "List the windows with their row counts; send nothing.")
    var dryRun = false

    @Flag(name: .customLong("again"), help: "Send windows that a completed backfill already sent.")
    var again = false

    @OptionGroup var options: WorkspaceOptions

    func run() async throws {
        try finish(await BackfillCommand.execute(workspace: options.workspace, job: job, from: from, to: to, dryRun: dryRun,
                                                 again: again, output: StandardOutput(), logger: options.makeLogger()))
    }
}
