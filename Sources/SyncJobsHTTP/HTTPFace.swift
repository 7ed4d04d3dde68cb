import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import SyncJobsCore

/// Where `jobs daemon --listen` serves, and with which token.
public struct HTTPFaceOptions: Sendable {
    public var host: String
    public var port: Int
    public var token: String
    /// Where the token is (`the file F`, `$NAME`), for messages; never the token.
    public var tokenSource: String
    /// The Events API base the Looker Action Hub sends to (the action's fixed endpoint by default).
    public var lookerEventsURL: String

    public static let defaultLookerEventsURL = "https://inbound.mparticle.com/s2s/v2"

    public init(host: String, port: Int, token: String, tokenSource: String, lookerEventsURL: String = Self.defaultLookerEventsURL) {
        self.host = host
        self.port = port
        self.token = token
        self.tokenSource = tokenSource
        self.lookerEventsURL = lookerEventsURL
    }

    /// `127.0.0.1`, `localhost`, `::1` and the rest of 127.0.0.0/8.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

/// The daemon and, with `--listen`, its HTTP face, as the services of `jobs daemon`'s group.
public enum DaemonServices {
    /// - Parameter onListening: called with the bound port once the server listens (port 0 picks one).
    public static func make(workspace: Workspace, maxParallel: Int, logger: Logger, http: HTTPFaceOptions?,
                            onListening: @escaping @Sendable (Int) -> Void = { _ in }) -> [any Service] {
        make(workspace: workspace, maxParallel: maxParallel, logger: logger, http: http, clock: SystemClock(), onListening: onListening)
    }

    package static func make(workspace: Workspace, maxParallel: Int, logger: Logger, http: HTTPFaceOptions?, clock: any SyncClock,
                             makeDestination: (@Sendable (JobDefinition) throws -> any Destination)? = nil,
                             onListening: @escaping @Sendable (Int) -> Void = { _ in }) -> [any Service] {
        let registry = PrometheusCollectorRegistry()
        let metrics = SyncMetrics(factory: PrometheusMetricsFactory(registry: registry))
        let daemon = Daemon(workspace: workspace, maxParallel: maxParallel, logger: logger, clock: clock, makeDestination: makeDestination,
                            metrics: metrics)
        guard let http else { return [daemon] }
        return [daemon, HTTPFace.application(daemon: daemon, options: http, registry: registry, metrics: metrics, logger: logger,
                                             onListening: onListening)]
    }
}

/// The HTTP face's server: routes for the pages, the JSON API, `/metrics`, `/healthz` and the
/// Looker Action Hub, on Hummingbird.
package enum HTTPFace {
    package static func application(daemon: Daemon, options: HTTPFaceOptions, registry: PrometheusCollectorRegistry, metrics: SyncMetrics,
                                    logger: Logger, onListening: @escaping @Sendable (Int) -> Void) -> some Service {
        let context = FaceContext(daemon: daemon, access: Access(token: options.token, tokenSource: options.tokenSource,
                                                                 loopback: HTTPFaceOptions.isLoopback(options.host)),
                                  registry: registry, metrics: metrics, logger: logger, lookerEventsURL: options.lookerEventsURL)
        let router = Router()
        router.get("healthz") { _, _ -> Response in Response.text("ok\n") }
        APIRoutes(face: context).register(on: router)
        MetricsRoute(face: context).register(on: router)
        PageRoutes(face: context).register(on: router)
        LookerHub(face: context).register(on: router)
        let host = options.host
        return Application(router: router, configuration: .init(address: .hostname(host, port: options.port), serverName: nil),
                           onServerRunning: { channel in
                               let port = channel.localAddress?.port ?? 0
                               logger.notice("HTTP listening", metadata: ["address": "\(host):\(port)"])
                               onListening(port)
                           }, logger: logger)
    }
}

/// What every route needs.
struct FaceContext: Sendable {
    let daemon: Daemon
    let access: Access
    let registry: PrometheusCollectorRegistry
    let metrics: SyncMetrics
    let logger: Logger
    let lookerEventsURL: String

    var live: DaemonLive { daemon.live }
    func now() -> Int64 { daemon.now() }
}

extension Response {
    static func text(_ text: String, status: HTTPResponse.Status = .ok, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: type, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ value: Value, status: HTTPResponse.Status = .ok) -> Response {
        text(JSONWriter.pretty(value) + "\n", status: status, type: "application/json")
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(.object([.init("error", .string(message))]), status: status)
    }

    static func html(_ page: String, status: HTTPResponse.Status = .ok) -> Response {
        text(page, status: status, type: "text/html; charset=utf-8")
    }
}
