import ArgumentParser
import ServiceLifecycle
import SyncJobsCore

struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every job in the jobs folder on its schedule until SIGTERM or SIGINT.",
        discussion: "Job files that are added, changed or removed are picked up without a restart. On SIGTERM or SIGINT no new run starts; runs in progress stop reading, let their requests finish, store their checkpoints, and the daemon exits 0.")

    @Option(name: .customLong("max-parallel"), parsing: .unconditional, help: ArgumentHelp("At most this many runs at once (default 4).", valueName: "n"))
    var maxParallel = "4"

    @OptionGroup var options: WorkspaceOptions

    func validate() throws {
        _ = try wholeNumber(maxParallel, option: "--max-parallel")
    }

    func run() async throws {
        let logger = options.makeLogger(defaultLevel: .info)
        let daemon = SyncJobsCore.Daemon(workspace: options.workspace, maxParallel: Int(maxParallel) ?? 4, logger: logger)
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Runs get this long to finish their requests and checkpoint; then they are cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(60)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
    }
}
