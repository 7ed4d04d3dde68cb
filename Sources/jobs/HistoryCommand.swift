import ArgumentParser
import SyncJobsCore

struct History: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a job's runs, newest first.")

    @Argument(help: "A job name or job file path.")
    var job: String

    @Option(name: .customShort("n"), parsing: .unconditional, help: ArgumentHelp("How many runs (default 20).", valueName: "n"))
    var limit = "20"

    @Flag(name: .customLong("json"), help: "Print JSON.")
    var json = false

    @OptionGroup var options: WorkspaceOptions

    func validate() throws {
        _ = try wholeNumber(limit, option: "-n")
    }

    func run() throws {
        try finish(HistoryCommand.execute(workspace: options.workspace, job: job, limit: Int(limit) ?? 20, json: json, output: StandardOutput()))
    }
}
