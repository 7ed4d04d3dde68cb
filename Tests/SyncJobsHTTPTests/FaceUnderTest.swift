import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import SyncJobsCore
import SyncJobsHTTP
import SyncJobsTestSupport
import Testing

/// Every suite of this target, one daemon at a time: each test starts a daemon with its HTTP
/// server, and many at once on two cores starve each other.
@Suite(.serialized) enum HTTPFaceTests {}

/// 2026-11-10T00:00:00Z: after the shipped examples' data, before their schedules start (Nov 15),
/// so nothing fires by itself and incremental jobs read all their rows.
let faceNow: Int64 = 1_794_268_800_000

/// The one clock of the tests and their daemons (its elapsed time counts from its creation).
let faceClock = FaceClock()

/// Real time for waits, the calendar of `faceNow`.
struct FaceClock: SyncClock {
    private let real = SystemClock()
    func now() -> Int64 { faceNow + Int64(real.elapsed() / .milliseconds(1)) }
    func elapsed() -> Duration { real.elapsed() }
    func sleep(for duration: Duration) async throws { try await real.sleep(for: duration) }
}

/// `jobs daemon --listen 127.0.0.1:0` in-process on a copy of the shipped jobs and examples.
final class FaceUnderTest: @unchecked Sendable {
    // @unchecked: Project is a folder on disk that the test only reads paths of.
    static let token = "test-token-0123456789abcdef"

    let project: Project
    let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>
    let client: HTTPClient
    let logs = LogCapture()

    var base: String { "http://127.0.0.1:\(port)" }
    var workspace: Workspace { Workspace.resolve(jobsDirectory: project.path("jobs"), statePath: project.path(".jobs/state.db")) }

    init(host: String = "127.0.0.1", lookerEventsURL: String = HTTPFaceOptions.defaultLookerEventsURL,
         prepare: (Project) throws -> Void = { _ in }) async throws {
        project = try Project()
        try prepare(project)
        let workspace = Workspace.resolve(jobsDirectory: project.path("jobs"), statePath: project.path(".jobs/state.db"))
        let options = HTTPFaceOptions(host: host, port: 0, token: Self.token, tokenSource: "the file token.txt", lookerEventsURL: lookerEventsURL)
        let listening = Mutex<Int?>(nil)
        let services = DaemonServices.make(workspace: workspace, maxParallel: 2, logger: logs.logger, http: options, clock: faceClock,
                                           onListening: { port in listening.withLock { $0 = port } })
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        self.group = group
        task = Task { try await group.run() }
        guard try await waitUntil(timeout: .seconds(90), { listening.withLock { $0 } != nil }) else { throw FaceError("the server did not start listening") }
        port = listening.withLock { $0 } ?? 0
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        // The daemon has loaded the jobs once /api/daemon lists them.
        let loaded = try? await waitFor(.seconds(90)) { try await self.get("/api/daemon", headers: Self.bearer).body.contains("\"shop-users-full\"") }
        guard loaded == true else {
            try await stop()
            throw FaceError("the daemon did not load the shipped jobs")
        }
    }

    func stop() async throws {
        try await client.shutdown()
        await group.triggerGracefulShutdown()
        try await task.value
    }

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var json: Value? { try? JSONParser.parse(body) }
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> Answer {
        try await send("GET", path, headers: headers)
    }

    func post(_ path: String, body: String = "", headers: [(String, String)] = []) async throws -> Answer {
        try await send("POST", path, body: body, headers: headers)
    }

    func send(_ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    static let bearer = [("Authorization", "Bearer \(token)")]

    /// Signs in on the page; the session cookie, and the CSRF token the page carries.
    func signIn() async throws -> (cookie: String, csrf: String) {
        let login = try await post("/login", body: "token=\(Self.token)", headers: [("Content-Type", "application/x-www-form-urlencoded")])
        guard login.status == 303, let setCookie = login.headers.first(name: "Set-Cookie"),
              let cookie = setCookie.split(separator: ";").first.map(String.init) else { throw FaceError("sign-in failed: \(login.status)") }
        let page = try await get("/", headers: [("Cookie", cookie)])
        guard let range = page.body.range(of: "<meta name=\"csrf\" content=\""),
              let end = page.body[range.upperBound...].firstIndex(of: "\"") else { throw FaceError("the page carries no CSRF token") }
        return (cookie, String(page.body[range.upperBound..<end]))
    }

    /// The job's runs, newest first, once `condition` holds for them.
    func runs(_ job: String, until condition: @escaping ([RunRecord]) -> Bool) async throws -> [RunRecord] {
        let workspace = self.workspace
        var found: [RunRecord] = []
        _ = try await waitFor(.seconds(90)) {
            found = (try? workspace.openState().runs(job: job, limit: 50)) ?? []
            return condition(found)
        }
        return found
    }
}

struct FaceError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls an async condition until it holds or `timeout` passes.
func waitFor(_ timeout: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
