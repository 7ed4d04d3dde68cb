import ArgumentParser
import ServiceLifecycle
import SyncJobsCore
import SyncJobsHTTP

struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every job in the jobs folder on its schedule until SIGTERM or SIGINT.",
        discussion: "Job files that are added, changed or removed are picked up without a restart. On SIGTERM or SIGINT no new run starts; runs in progress stop reading, let their requests finish, store their checkpoints, and the daemon exits 0. With --listen it also serves the status page, the JSON API, /metrics and the Looker Action Hub.")

    @Option(name: .customLong("max-parallel"), parsing: .unconditional, help: ArgumentHelp("At most this many runs at once (default 4).", valueName: "n"))
    var maxParallel = "4"

    @Option(name: .customLong("listen"), help: ArgumentHelp("Serve HTTP on this address (e.g. 127.0.0.1:8080); nothing is served without it.", valueName: "host:port"))
    var listen: String?

    @Option(name: .customLong("token-file"), help: ArgumentHelp("The HTTP token: the first line of this file.", valueName: "file"))
    var tokenFile: String?

    @Option(name: .customLong("token-env"), help: ArgumentHelp("The HTTP token: this environment variable.", valueName: "name"))
    var tokenEnv: String?

    @Option(name: .customLong("looker-events-url"), help: ArgumentHelp("The Events API base the Looker Action Hub sends to (default https://inbound.mparticle.com/s2s/v2).", valueName: "url"))
    var lookerEventsURL: String?

    @OptionGroup var options: WorkspaceOptions

    func validate() throws {
        _ = try wholeNumber(maxParallel, option: "--max-parallel")
        if tokenFile != nil && tokenEnv != nil { throw ValidationError("give --token-file or --token-env, not both") }
        if listen == nil && (tokenFile != nil || tokenEnv != nil || lookerEventsURL != nil) {
            throw ValidationError("--token-file, --token-env and --looker-events-url need --listen")
        }
    }

    func run() async throws {
        let logger = options.makeLogger(defaultLevel: .info)
        let http: HTTPFaceOptions?
        do {
            http = try listen.map { try HTTPFaceOptions.resolve(listen: $0, tokenFile: tokenFile, tokenEnv: tokenEnv,
                                                                lookerEventsURL: lookerEventsURL, workspace: options.workspace) }
        } catch {
            StandardOutput().err("\(error)")
            try finish(.invalid)
            return
        }
        let services = DaemonServices.make(workspace: options.workspace, maxParallel: Int(maxParallel) ?? 4, logger: logger, http: http)
        var configuration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Runs get this long to finish their requests and checkpoint; then they are cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(60)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
    }
}
