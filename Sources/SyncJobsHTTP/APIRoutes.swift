import Foundation
import Hummingbird
import SyncJobsCore

/// The JSON API. Its job reports are `jobs status --json`'s and `jobs history --json`'s, from
/// the same builders; `/api/daemon` adds what only the running daemon knows.
struct APIRoutes: Sendable {
    let face: FaceContext

    func register(on router: Router<BasicRequestContext>) {
        router.get("api/jobs") { request, _ -> Response in
            try read(request) { state in
                .json(.array(try face.live.definitions.map { try StatusCommand.jsonReport($0, state: state, now: face.now()) }))
            }
        }
        router.get("api/jobs/:name") { request, context -> Response in
            try read(request) { state in
                guard let job = job(context) else { return notFound(context) }
                return .json(try StatusCommand.jsonReport(job, state: state, now: face.now()))
            }
        }
        router.get("api/jobs/:name/runs") { request, context -> Response in
            try read(request) { state in
                // The Looker Action Hub's runs have no job file, but a history.
                let name = context.parameters.get("name") ?? ""
                guard job(context) != nil || name == JobDefinition.lookerActionName else { return notFound(context) }
                let limitText = request.uri.queryParameters["limit"].map(String.init) ?? "20"
                guard let limit = Int(limitText), limit >= 1 else {
                    return .error(.badRequest, "limit must be a whole number of 1 or more; got \(limitText)")
                }
                return .json(.array(try state.runs(job: name, limit: limit).map(HistoryCommand.record)))
            }
        }
        router.get("api/daemon") { request, _ -> Response in
            try read(request) { _ in .json(DaemonReport.json(face.live, now: face.now())) }
        }
        for action in DaemonControlAction.allCases {
            router.post("api/jobs/:name/\(action.rawValue)") { request, context -> Response in
                if let refusal = face.access.mayChange(request, formCSRF: nil) {
                    let (status, message) = face.access.message(refusal)
                    return .error(status, message)
                }
                let name = context.parameters.get("name") ?? ""
                let reply = await face.daemon.control(action, job: name)
                return .json(Self.json(reply, job: name, action: action), status: Self.status(reply.outcome))
            }
        }
    }

    static func json(_ reply: DaemonControlReply, job: String, action: DaemonControlAction) -> Value {
        .object([.init("job", .string(job)), .init("action", .string(action.rawValue)),
                 .init("outcome", .string(reply.outcome.rawValue)), .init("message", .string(reply.message))])
    }

    static func status(_ outcome: DaemonControlReply.Outcome) -> HTTPResponse.Status {
        switch outcome {
        case .started: return .accepted
        case .done, .nothingToDo: return .ok
        case .busy: return .conflict
        case .notFound: return .notFound
        case .unavailable: return .serviceUnavailable
        }
    }

    private func job(_ context: BasicRequestContext) -> JobDefinition? {
        context.parameters.get("name").flatMap { face.live.definition($0) }
    }

    private func notFound(_ context: BasicRequestContext) -> Response {
        let name = context.parameters.get("name") ?? ""
        return .error(.notFound, "no job named '\(name)' is loaded by this daemon; the jobs are \(face.live.jobs.map(\.name).joined(separator: ", "))")
    }

    /// A read: allowed by `Access.mayRead`, on a state connection of the request's own.
    private func read(_ request: Request, _ body: (StateStore) throws -> Response) throws -> Response {
        if let refusal = face.access.mayRead(request) {
            let (status, message) = face.access.message(refusal)
            return .error(status, message)
        }
        do {
            return try body(try face.daemon.workspace.openState())
        } catch {
            return .error(.serviceUnavailable, "\(error)")
        }
    }
}

/// `/api/daemon`: the loaded jobs' live state, and the files left out.
enum DaemonReport {
    static func json(_ live: DaemonLive, now: Int64) -> Value {
        .object([
            .init("now", .string(Timestamp.format(millis: now))),
            .init("jobs", .array(live.jobs.map { job in
                .object([
                    .init("job", .string(job.name)), .init("file", .string(Paths.display(job.file))),
                    .init("paused", .bool(job.paused)),
                    .init("next_fire_time", job.nextFire.map { .string(Timestamp.format(millis: $0)) } ?? .null),
                    .init("running", job.running.map { run in
                        .object([.init("trigger", .string(run.trigger)), .init("started_at", .string(Timestamp.format(millis: run.startedAt))),
                                 .init("rows_read", .int(Int64(run.rowsRead))), .init("rows_per_second", .double((run.rowsPerSecond * 10).rounded() / 10))])
                    } ?? .null),
                ])
            })),
            .init("invalid_files", .array(live.invalidFiles.map { file in
                .object([.init("file", .string(Paths.display(file.file))), .init("problems", .array(file.problems.map(Value.string)))])
            })),
        ])
    }
}
