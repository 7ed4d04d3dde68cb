import Foundation
import Synchronization
import SyncJobsCore
import SyncJobsHTTP
import SyncJobsTestSupport
import Testing

/// The JSON API through real HTTP on loopback: the same JSON as the CLI, and the token rules.
extension HTTPFaceTests {
    @Suite struct APITests {
        @Test func readsAnswerWithTheCLIsJSON() async throws {
            let face = try await FaceUnderTest()
            let run = try await face.post("/api/jobs/shop-users-full/run", headers: FaceUnderTest.bearer)
            #expect(run.status == 202)
            _ = try await face.runs("shop-users-full") { $0.first?.status == .succeeded }

            let now = faceClock.now()
            let status = CapturedOutput()
            #expect(StatusCommand.execute(workspace: face.workspace, job: nil, json: true, output: status, now: now) == .ok)
            #expect(try await face.get("/api/jobs").body == status.stdout + "\n")
            let one = CapturedOutput()
            #expect(StatusCommand.execute(workspace: face.workspace, job: "shop-users-full", json: true, output: one, now: now) == .ok)
            #expect(try await face.get("/api/jobs/shop-users-full").body == one.stdout + "\n")
            let history = CapturedOutput()
            #expect(HistoryCommand.execute(workspace: face.workspace, job: "shop-users-full", limit: 20, json: true, output: history) == .ok)
            #expect(try await face.get("/api/jobs/shop-users-full/runs").body == history.stdout + "\n")

            let unknown = try await face.get("/api/jobs/nope")
            #expect(unknown.status == 404)
            #expect(unknown.json?["error"] == .string("no job named 'nope' is loaded by this daemon; the jobs are app-events, fme-events, fme-impressions, looker-events, looker-users-explicit, looker-users, shop-users-full, shop-users, warehouse-users"))
            let badLimit = try await face.get("/api/jobs/shop-users-full/runs?limit=0")
            #expect(badLimit.status == 400)
            #expect(badLimit.json?["error"] == .string("limit must be a whole number of 1 or more; got 0"))
            #expect(try await face.get("/healthz").body == "ok\n")
            try await face.stop()
        }

        @Test func aRunFromTheAPIIsANormalRunWithItsOwnTrigger() async throws {
            let face = try await FaceUnderTest()
            let run = try await face.post("/api/jobs/shop-users/run", headers: FaceUnderTest.bearer)
            #expect(run.status == 202)
            #expect(run.json == .object([.init("job", .string("shop-users")), .init("action", .string("run")),
                                         .init("outcome", .string("started")), .init("message", .string("shop-users: run started (trigger api)"))]))
            let runs = try await face.runs("shop-users") { $0.first?.status == .succeeded }
            #expect(runs.map(\.trigger) == ["api"])
            #expect(runs.first?.counts.rowsRead == 200)
            #expect(runs.first?.counts.rowsSent == 199)
            #expect(runs.first?.fireTime == nil)

            // Another process holds the job's lock: the API says so and starts nothing.
            let state = try face.workspace.openState()
            try state.acquireLock(job: "shop-users", runID: nil)
            let busy = try await face.post("/api/jobs/shop-users/run", headers: FaceUnderTest.bearer)
            #expect(busy.status == 409)
            let message = try #require(busy.json?["message"].flatMap { if case .string(let s) = $0 { s } else { nil } })
            #expect(message.hasPrefix("job 'shop-users' is already running: a run, process \(getpid()) on "))
            try state.releaseLock(job: "shop-users")
            #expect(try face.workspace.openState().runs(job: "shop-users", limit: 10).count == 1)
            try await face.stop()
        }

        @Test func pauseResumeAndRetry() async throws {
            let face = try await FaceUnderTest()
            let pause = try await face.post("/api/jobs/app-events/pause", headers: FaceUnderTest.bearer)
            #expect(pause.status == 200)
            #expect(pause.json?["message"] == .string("app-events: paused; the daemon skips it until it is resumed (Run now still runs it)"))
            #expect(try await face.get("/api/jobs/app-events").json?["paused"] == .bool(true))
            #expect(element(try await face.get("/api/daemon").json?["jobs"], 0)?["paused"] == .bool(true))
            let resume = try await face.post("/api/jobs/app-events/resume", headers: FaceUnderTest.bearer)
            #expect(resume.status == 200)
            #expect(resume.json?["message"] == .string("app-events: resumed; next run 2026-11-15T19:00:00Z"))
            #expect(try await face.get("/api/jobs/app-events").json?["paused"] == .bool(false))

            let retry = try await face.post("/api/jobs/app-events/retry", headers: FaceUnderTest.bearer)
            #expect(retry.status == 200)
            #expect(retry.json?["outcome"] == .string("nothing_to_do"))
            #expect(retry.json?["message"] == .string("app-events: no failed rows to retry"))
            let unknown = try await face.post("/api/jobs/nope/run", headers: FaceUnderTest.bearer)
            #expect(unknown.status == 404)
            #expect(unknown.json?["message"] == .string("no job named 'nope' is loaded by this daemon"))
            try await face.stop()
        }

        @Test func retryResendsTheRowsMParticleRefused() async throws {
            let refusing = Mutex(true)
            let server = try await startEventsAPI { configuration in
                configuration.apiKey = "k-1"
                configuration.apiSecret = "s-1"
                configuration.refuse = { info in refusing.withLock { $0 } && info.customerID == "C00003" ? "blocked for now" : nil }
            }
            let face = try await FaceUnderTest { project in
                try FileManager.default.createDirectory(atPath: project.path("secrets"), withIntermediateDirectories: true)
                try "k-1\n".write(toFile: project.path("secrets/key"), atomically: true, encoding: .utf8)
                try "s-1\n".write(toFile: project.path("secrets/secret"), atomically: true, encoding: .utf8)
                try String(contentsOfFile: project.path("jobs/shop-users-full.yaml"), encoding: .utf8)
                    .replacingOccurrences(of: "name: shop-users-full", with: "name: mp-users")
                    .replacingOccurrences(of: "  type: file\n  path: ../out/shop-users-full.ndjson\n", with: "  type: mparticle\n  url: \(server.baseURL)\n  api_key: { file: ../secrets/key }\n  api_secret: { file: ../secrets/secret }\n")
                    .write(toFile: project.path("jobs/mp-users.yaml"), atomically: true, encoding: .utf8)
            }
            #expect(try await face.post("/api/jobs/mp-users/run", headers: FaceUnderTest.bearer).status == 202)
            _ = try await face.runs("mp-users") { $0.first?.status == .succeeded }
            #expect(try await face.get("/api/jobs/mp-users").json?["failed_rows"]?["pending"] == .int(1))
            refusing.withLock { $0 = false }
            let retry = try await face.post("/api/jobs/mp-users/retry", headers: FaceUnderTest.bearer)
            #expect(retry.status == 202)
            #expect(retry.json?["message"] == .string("mp-users: retry started (trigger retry)"))
            let runs = try await face.runs("mp-users") { $0.count == 2 && $0.first?.status == .succeeded }
            #expect(runs.map(\.trigger) == ["retry", "api"])
            #expect(runs.first?.counts.rowsSent == 1)
            _ = try await waitFor(.seconds(10)) { try await face.get("/api/jobs/mp-users").json?["failed_rows"]?["pending"] == .int(0) }
            #expect(try await face.get("/api/jobs/mp-users").json?["failed_rows"]?["pending"] == .int(0))
            #expect(server.acceptedBatches.filter { $0.contains("\"C00003\"") }.count == 1)
            try await face.stop()
            try await server.stop()
        }

        @Test func changesNeedTheToken() async throws {
            let face = try await FaceUnderTest()
            for action in ["run", "pause", "resume", "retry"] {
                let none = try await face.post("/api/jobs/shop-users/\(action)")
                #expect(none.status == 401)
                #expect(none.json?["error"] == .string("this request needs the daemon's token: send 'Authorization: Bearer <token>' (the token is in the file token.txt), or sign in on the page at /login"))
                let wrong = try await face.post("/api/jobs/shop-users/\(action)", headers: [("Authorization", "Bearer not-the-token")])
                #expect(wrong.status == 403)
                #expect(wrong.json?["error"] == .string("the token or session is not this daemon's; use the token in the file token.txt (sessions end when the daemon restarts: sign in again at /login)"))
            }
            // Reads are open on loopback.
            #expect(try await face.get("/api/jobs").status == 200)
            #expect(try face.workspace.openState().runs(job: "shop-users", limit: 10).isEmpty)
            try await face.stop()
        }

        @Test func thePagesButtonsRefuseCrossSitePosts() async throws {
            let face = try await FaceUnderTest()
            let (cookie, csrf) = try await face.signIn()
            let form = [("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", cookie)]
            let evil = try await face.post("/jobs/shop-users/run", body: "csrf=\(csrf)", headers: form + [("Origin", "http://evil.example")])
            #expect(evil.status == 403)
            #expect(evil.body.contains("cross-site request refused: it comes from http://evil.example, not from this daemon&#39;s page"))
            let marked = try await face.post("/api/jobs/shop-users/run", headers: [("Cookie", cookie), ("X-CSRF-Token", csrf), ("Sec-Fetch-Site", "cross-site")])
            #expect(marked.status == 403)
            #expect(marked.json?["error"] == .string("cross-site request refused: the browser marked it cross-site"))
            let noCSRF = try await face.post("/jobs/shop-users/run", body: "", headers: form)
            #expect(noCSRF.status == 403)
            #expect(noCSRF.body.contains("the request lacks this page&#39;s CSRF token; reload the page and try again"))
            #expect(try face.workspace.openState().runs(job: "shop-users", limit: 10).isEmpty)

            let same = try await face.post("/jobs/shop-users/run", body: "csrf=\(csrf)", headers: form + [("Origin", face.base)])
            #expect(same.status == 303)
            #expect(same.headers.first(name: "Location") == "/jobs/shop-users?done=shop-users:%20run%20started%20(trigger%20api)")
            let runs = try await face.runs("shop-users") { $0.first?.status == .succeeded }
            #expect(runs.map(\.trigger) == ["api"])
            try await face.stop()
        }

        @Test func offLoopbackEveryReadNeedsTheToken() async throws {
            let face = try await FaceUnderTest(host: "0.0.0.0")
            let none = try await face.get("/api/jobs")
            #expect(none.status == 401)
            #expect(try await face.get("/metrics").status == 401)
            #expect(try await face.get("/").status == 303)
            #expect(try await face.get("/api/jobs", headers: FaceUnderTest.bearer).status == 200)
            #expect(try await face.get("/healthz").status == 200)
            try await face.stop()
        }

        @Test func listenNeedsATokenOffLoopback() throws {
            let folder = try TemporaryFolder(prefix: "syncjobs-listen-")
            let workspace = Workspace.resolve(jobsDirectory: folder.path("jobs"), statePath: folder.path(".jobs/state.db"))
            #expect(throws: ListenError.self) { try HTTPFaceOptions.resolve(listen: "0.0.0.0:8080", tokenFile: nil, tokenEnv: nil, lookerEventsURL: nil, workspace: workspace) }
            do {
                _ = try HTTPFaceOptions.resolve(listen: "0.0.0.0:8080", tokenFile: nil, tokenEnv: nil, lookerEventsURL: nil, workspace: workspace)
            } catch {
                #expect("\(error)" == "--listen 0.0.0.0:8080 is not a loopback address, so every request needs a token: give --token-file F or --token-env NAME")
            }
            let local = try HTTPFaceOptions.resolve(listen: "127.0.0.1:8080", tokenFile: nil, tokenEnv: nil, lookerEventsURL: nil, workspace: workspace)
            #expect(local.tokenSource == "the file \(folder.path(".jobs/http-token"))")
            #expect(try String(contentsOfFile: folder.path(".jobs/http-token"), encoding: .utf8) == local.token + "\n")
            let again = try HTTPFaceOptions.resolve(listen: "127.0.0.1:8080", tokenFile: nil, tokenEnv: nil, lookerEventsURL: nil, workspace: workspace)
            #expect(again.token == local.token)
            let env = try HTTPFaceOptions.resolve(listen: "[::]:9000", tokenFile: nil, tokenEnv: "T", lookerEventsURL: nil, workspace: workspace,
                                                  environment: ["T": "0123456789abcdef0"])
            #expect(env.host == "::" && env.port == 9000 && env.token == "0123456789abcdef0" && env.tokenSource == "$T")
        }
    }
}

func element(_ value: Value?, _ index: Int) -> Value? {
    guard case .array(let items)? = value, index < items.count else { return nil }
    return items[index]
}
