import Foundation
import HTTPTypes
import Hummingbird
import SyncJobsCore

/// The Looker Action Hub under `/looker` (register `http(s)://HOST:PORT/looker` in Looker with the
/// daemon's token): the action list, the mParticle action's definition and form, and execute.
/// Every route needs `Authorization: Token token="<the daemon's token>"`, as Looker sends it.
struct LookerHub: Sendable {
    let face: FaceContext
    let queue = LookerQueue()

    func register(on router: Router<BasicRequestContext>) {
        router.post("looker") { request, _ -> Response in
            guard authorized(request) else { return Self.refused }
            return .json(.object([.init("integrations", .array([definition(request)])), .init("label", .string("syncjobs"))]))
        }
        router.post("looker/actions/:action") { request, context -> Response in
            guard authorized(request) else { return Self.refused }
            guard context.parameters.get("action") == LookerAction.name else { return Self.unknown(context) }
            return .json(definition(request))
        }
        router.post("looker/actions/:action/form") { request, context -> Response in
            guard authorized(request) else { return Self.refused }
            guard context.parameters.get("action") == LookerAction.name else { return Self.unknown(context) }
            return .json(LookerAction.form)
        }
        router.post("looker/actions/:action/execute") { request, context -> Response in
            guard authorized(request) else { return Self.refused }
            guard context.parameters.get("action") == LookerAction.name else { return Self.unknown(context) }
            return await LookerExecute(face: face, queue: queue).respond(to: request)
        }
    }

    private func definition(_ request: Request) -> Value {
        let scheme = request.headers[HTTPField.Name("X-Forwarded-Proto")!] ?? "http"
        return LookerAction.definition(base: "\(scheme)://\(request.head.authority ?? "localhost")/looker",
                                       lookerVersion: LookerAction.version(userAgent: request.headers[.userAgent]))
    }

    /// `Token token="…"` with the daemon's token (the hub's check: `[Tt]oken token="(.*)"`).
    private func authorized(_ request: Request) -> Bool {
        guard let header = request.headers[.authorization] else { return false }
        for prefix in ["Token token=\"", "token token=\""] where header.hasPrefix(prefix) && header.hasSuffix("\"") && header.count > prefix.count {
            return Access.equal(String(header.dropFirst(prefix.count).dropLast()), face.access.token)
        }
        return false
    }

    static var refused: Response {
        hubError(.forbidden, "Invalid 'Authorization' header.")
    }

    static func unknown(_ context: BasicRequestContext) -> Response {
        hubError(.notFound, "No action found with name \(context.parameters.get("action") ?? "").")
    }

    /// The hub's own errors: `{"success": false, "error": …}`.
    static func hubError(_ status: HTTPResponse.Status, _ message: String) -> Response {
        .json(.object([.init("success", .bool(false)), .init("error", .string(message))]), status: status)
    }
}

/// One execute at a time: each is a run of the one job `looker-mparticle`, which holds its lock.
actor LookerQueue {
    private var last: Task<Void, Never>?

    func run<T: Sendable>(_ operation: @escaping @Sendable () async -> T) async -> T {
        let previous = last
        let task = Task<T, Never> {
            await previous?.value
            return await operation()
        }
        last = Task { _ = await task.value }
        return await task.value
    }
}
