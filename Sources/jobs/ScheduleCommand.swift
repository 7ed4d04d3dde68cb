import ArgumentParser
import SyncJobsCore

struct Schedule: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the next fire times of a job's schedule, as UTC instants.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @Option(name: .customLong("after"), help: "List fire times after this ISO 8601 time (default: now).")
    var after: String?

    @Option(name: .customShort("n"), parsing: .unconditional, help: ArgumentHelp("How many fire times (default 10).", valueName: "n"))
    var count = "10"

    @Flag(name: .customLong("json"), help: "Print a JSON array of strings.")
    var json = false

    @OptionGroup var options: WorkspaceOptions

    func validate() throws {
        _ = try wholeNumber(count, option: "-n")
    }

    func run() throws {
        try finish(ScheduleCommand.execute(workspace: options.workspace, job: job, after: after, count: Int(count) ?? 10, json: json,
                                           output: StandardOutput()))
    }
}
