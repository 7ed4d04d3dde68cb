import EventsAPIServer
import Foundation
import Hummingbird
import Logging
import Synchronization
import SyncJobsCore
import SyncJobsTestSupport
import Testing

/// The Action Hub under /looker, as Looker calls it, sending into the loopback Events API.
extension HTTPFaceTests {
    @Suite struct LookerHubTests {
        static let auth = [("Authorization", "Token token=\"\(FaceUnderTest.token)\""), ("Content-Type", "application/json")]

        /// A small json_detail result: two users, tagged for the action.
        static let result = #"{"fields":{"measures":[],"dimensions":[{"name":"users.id","tags":["mp_customer_id"]},{"name":"users.email","tags":["mp_email"]},{"name":"users.first_name","tags":["mp_user_attribute"]}],"table_calculations":[],"pivots":[]},"data":[{"users.id":{"value":1001},"users.email":{"value":"a@example.com"},"users.first_name":{"value":"Ada \u00e9"}},{"users.id":{"value":1002},"users.email":{"value":"b@example.com"},"users.first_name":{"value":"Bo\"b"}}]}"#

        static func execute(attachment: String? = nil, downloadURL: String? = nil, dataType: String = "user_data",
                            type: String = "query", apiKey: String = "k-1") -> String {
            let attachmentJSON = attachment.map { #"{"mimetype":"application/json","extension":"json","data":\#(JSONWriter.compact(.string($0)))}"# } ?? "null"
            let url = downloadURL.map { JSONWriter.compact(.string($0)) } ?? "null"
            return #"{"type":"\#(type)","scheduled_plan":{"scheduled_plan_id":311,"title":"Active customers","type":"Look","download_url":\#(url)},"attachment":\#(attachmentJSON),"data":{"apiKey":"\#(apiKey)","apiSecret":"s3cr3t-value"},"form_params":{"data_type":"\#(dataType)","environment":"production"}}"#
        }

        static func answer(success: Bool, message: String? = nil, validation: [Value.ObjectEntry] = []) -> Value {
            var entries: [Value.ObjectEntry] = [.init("success", .bool(success))]
            if let message { entries.append(.init("message", .string(message))) }
            return .object([.init("looker", .object(entries + [.init("refresh_query", .bool(false)), .init("validation_errors", .object(validation))]))])
        }

        @Test func listAndForm() async throws {
            let face = try await FaceUnderTest()
            let list = try await face.post("/looker", headers: Self.auth + [("User-Agent", "LookerOutgoingWebhook/7.3.00004561")])
            #expect(list.status == 200)
            let action = try #require(element(list.json?["integrations"], 0))
            #expect(list.json?["label"] == .string("syncjobs"))
            #expect(action["name"] == .string("mparticle"))
            #expect(action["url"] == .string("\(face.base)/looker/actions/mparticle/execute"))
            #expect(action["form_url"] == .string("\(face.base)/looker/actions/mparticle/form"))
            #expect(action["supported_formats"] == .array([.string("json_detail_lite_stream")]))
            #expect(action["supported_download_settings"] == .array([.string("url")]))
            #expect(action["supported_action_types"] == .array([.string("query")]))
            #expect(action["params"] == .array([
                .object([.init("description", .string("API Key for mParticle")), .init("label", .string("API Key")), .init("name", .string("apiKey")),
                         .init("required", .bool(true)), .init("sensitive", .bool(false))]),
                .object([.init("description", .string("API Secret for mParticle")), .init("label", .string("API Secret")), .init("name", .string("apiSecret")),
                         .init("required", .bool(true)), .init("sensitive", .bool(true))]),
            ]))
            let old = try await face.post("/looker", headers: Self.auth + [("User-Agent", "LookerOutgoingWebhook/6.1.0")])
            #expect(element(old.json?["integrations"], 0)?["supported_formats"] == .array([.string("json_detail")]))

            let form = try await face.post("/looker/actions/mparticle/form", headers: Self.auth)
            #expect(form.status == 200)
            #expect(element(form.json?["fields"], 0)?["name"] == .string("data_type"))
            #expect(element(form.json?["fields"], 0)?["options"] == .array([
                .object([.init("name", .string("user_data")), .init("label", .string("User Profiles"))]),
                .object([.init("name", .string("event_data")), .init("label", .string("Events"))]),
            ]))
            #expect(element(form.json?["fields"], 1)?["options"] == .array([
                .object([.init("name", .string("production")), .init("label", .string("Production"))]),
                .object([.init("name", .string("development")), .init("label", .string("Test/Development"))]),
            ]))
            let unknown = try await face.post("/looker/actions/other/form", headers: Self.auth)
            #expect(unknown.status == 404)
            #expect(unknown.json == .object([.init("success", .bool(false)), .init("error", .string("No action found with name other."))]))
            try await face.stop()
        }

        @Test func aWrongTokenIsRefused() async throws {
            let face = try await FaceUnderTest()
            let refused = Value.object([.init("success", .bool(false)), .init("error", .string("Invalid 'Authorization' header."))])
            for headers in [[("Authorization", "Token token=\"wrong\"")], [("Authorization", "Bearer \(FaceUnderTest.token)")], []] {
                for path in ["/looker", "/looker/actions/mparticle/form", "/looker/actions/mparticle/execute"] {
                    let answer = try await face.post(path, body: Self.execute(attachment: Self.result), headers: headers)
                    #expect(answer.status == 403)
                    #expect(answer.json == refused)
                }
            }
            #expect(try face.workspace.openState().runs(job: "looker-mparticle", limit: 5).isEmpty)
            try await face.stop()
        }

        @Test func executeWithAnInlineAttachment() async throws {
            let server = try await startEventsAPI { $0.apiKey = "k-1"; $0.apiSecret = "s3cr3t-value" }
            let face = try await FaceUnderTest(lookerEventsURL: server.baseURL)
            let answer = try await face.post("/looker/actions/mparticle/execute", body: Self.execute(attachment: Self.result),
                                             headers: Self.auth + [("X-Looker-Webhook-Id", "w-1")])
            #expect(answer.status == 200)
            #expect(answer.json == Self.answer(success: true))
            let batches = server.acceptedBatches.map { try? JSONParser.parse($0) }
            #expect(batches.count == 2)
            #expect(batches.first??["environment"] == .string("production"))
            #expect(batches.first??["user_identities"] == .object([.init("customer_id", .string("1001")), .init("email", .string("a@example.com"))]))
            #expect(batches.first??["user_attributes"] == .object([.init("looker_users.first_name", .string("Ada é"))]))
            #expect(batches.last??["user_attributes"] == .object([.init("looker_users.first_name", .string("Bo\"b"))]))
            let runs = try face.workspace.openState().runs(job: "looker-mparticle", limit: 5)
            #expect(runs.map(\.trigger) == ["looker"])
            #expect(runs.first?.status == .succeeded)
            #expect(runs.first?.counts.rowsSent == 2)
            let history = try await face.get("/api/jobs/looker-mparticle/runs")
            #expect(element(history.json, 0)?["trigger"] == .string("looker"))
            #expect(element(history.json, 0)?["rows_sent"] == .int(2))
            // The secret is used for the run only: not in the logs, not in the state database.
            #expect(!face.logs.entries.contains { "\($0)".contains("s3cr3t-value") })
            let stateBytes = try Data(contentsOf: URL(fileURLWithPath: face.project.path(".jobs/state.db")))
            #expect(stateBytes.range(of: Data("s3cr3t-value".utf8)) == nil)
            try await face.stop()
            try await server.stop()
        }

        @Test func executeWithAStreamedDownloadURL() async throws {
            let server = try await startEventsAPI { $0.apiKey = "k-1"; $0.apiSecret = "s3cr3t-value" }
            let face = try await FaceUnderTest(lookerEventsURL: server.baseURL)
            let looker = try await LookerDownloadServer.start(serving: face.project.path("examples/looker/users.json"))
            let answer = try await face.post("/looker/actions/mparticle/execute", body: Self.execute(downloadURL: looker.url("result")),
                                             headers: Self.auth + [("User-Agent", "LookerOutgoingWebhook/7.3.0")])
            #expect(answer.status == 200)
            let run = try #require(try face.workspace.openState().runs(job: "looker-mparticle", limit: 5).first)
            #expect(answer.json == Self.answer(success: false, message: "249 of 250 rows delivered (run #\(run.id) of looker-mparticle); 1 row rejected: row 42: every identity is null or empty (column 'users.id', column 'users.email'); a batch must identify its user"))
            #expect(server.acceptedBatchCount == 249)
            #expect(looker.gets == ["/result"])
            #expect(run.trigger == "looker")
            #expect(run.counts.rowsRead == 250 && run.counts.rowsSent == 249 && run.counts.rowsRejected == 1)

            let gone = try await face.post("/looker/actions/mparticle/execute", body: Self.execute(downloadURL: looker.url("expired")), headers: Self.auth)
            #expect(gone.json == Self.answer(success: false, message: "There was an error with Action Hub calling back to Looker, status code: 404"))
            try await looker.stop()
            try await face.stop()
            try await server.stop()
        }

        @Test func aRefusalByMParticleIsReportedBack() async throws {
            let server = try await startEventsAPI { configuration in
                configuration.apiKey = "k-1"
                configuration.apiSecret = "s3cr3t-value"
                configuration.refuse = { $0.customerID == "1002" ? "user_identities.customer_id is on the block list" : nil }
            }
            let face = try await FaceUnderTest(lookerEventsURL: server.baseURL)
            let answer = try await face.post("/looker/actions/mparticle/execute", body: Self.execute(attachment: Self.result), headers: Self.auth)
            let run = try #require(try face.workspace.openState().runs(job: "looker-mparticle", limit: 5).first)
            #expect(answer.json == Self.answer(success: false, message: "1 of 2 rows delivered (run #\(run.id) of looker-mparticle); 1 row rejected: row 2: the destination refused the batch: HTTP 400: BAD_REQUEST: user_identities.customer_id is on the block list"))
            #expect(server.acceptedBatchCount == 1)
            #expect(try face.workspace.openState().rejectedRows(job: "looker-mparticle", limit: 5).rows.map(\.rowNumber) == [2])

            let wrongKey = try await face.post("/looker/actions/mparticle/execute", body: Self.execute(attachment: Self.result, apiKey: "k-2"), headers: Self.auth)
            let wrongRun = try #require(try face.workspace.openState().runs(job: "looker-mparticle", limit: 5).first)
            #expect(wrongKey.json == Self.answer(success: false, message: "0 of 2 rows delivered (run #\(wrongRun.id) of looker-mparticle); mParticle (\(server.baseURL)) refused the credentials with HTTP 403 (forbidden); check the action's API Key setting and its API Secret setting are the key and secret of an input (a custom feed) in this pod's workspace; 2 rows undelivered"))
            try await face.stop()
            try await server.stop()
        }

        @Test func checksBeforeAnyRowIsRead() async throws {
            let face = try await FaceUnderTest()
            let noType = try await face.post("/looker/actions/mparticle/execute", body: Self.execute(attachment: Self.result, dataType: "rows"), headers: Self.auth)
            #expect(noType.status == 200)
            #expect(noType.json == Self.answer(success: false, message: "Missing data type (user|event).",
                                               validation: [.init("data_type", .string("Missing data type (user|event)."))]))
            let cell = try await face.post("/looker/actions/mparticle/execute", body: Self.execute(attachment: Self.result, type: "cell"), headers: Self.auth)
            #expect(cell.status == 404)
            #expect(cell.json == .object([.init("success", .bool(false)), .init("error", .string("This action does not support requests of type \"cell\". The request must be of type: \"query\"."))]))
            let noKey = try await face.post("/looker/actions/mparticle/execute", body: Self.execute(attachment: Self.result, apiKey: ""), headers: Self.auth)
            #expect(noKey.status == 404)
            #expect(noKey.json?["error"] == .string("Required setting \"API Key\" not specified in action settings."))
            let noData = try await face.post("/looker/actions/mparticle/execute", body: Self.execute(), headers: Self.auth)
            #expect(noData.status == 404)
            #expect(noData.json?["error"] == .string("A streaming action was sent incompatible data. The action must have a download url or an attachment."))
            #expect(try face.workspace.openState().runs(job: "looker-mparticle", limit: 5).isEmpty)
            try await face.stop()
        }
    }
}

/// Looker's side of `download_url`: serves a query result file at `/result` (each GET
/// recorded), and 404 elsewhere.
final class LookerDownloadServer: Sendable {
    final class Log: Sendable {
        let paths = Mutex<[String]>([])
        let port = Mutex<Int?>(nil)
    }

    let log: Log
    let task: Task<Void, any Error>

    var port: Int { log.port.withLock { $0 } ?? 0 }
    var gets: [String] { log.paths.withLock { $0 } }
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)/\(path)" }

    private init(log: Log, task: Task<Void, any Error>) {
        self.log = log
        self.task = task
    }

    static func start(serving file: String) async throws -> LookerDownloadServer {
        let log = Log()
        let router = Router()
        let contents = try Data(contentsOf: URL(fileURLWithPath: file))
        router.get("result") { request, _ -> Response in
            log.paths.withLock { $0.append(request.uri.path) }
            // In 4 KB pieces, as a stream.
            let pieces = stride(from: 0, to: contents.count, by: 4096).map { ByteBuffer(bytes: contents[$0..<min($0 + 4096, contents.count)]) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(contentsOf: pieces))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in log.port.withLock { $0 = channel.localAddress?.port } },
                              logger: Logger(label: "download", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await app.run() }
        guard try await waitUntil(timeout: .seconds(20), { log.port.withLock { $0 } != nil }) else { throw FaceError("the download server did not start") }
        return LookerDownloadServer(log: log, task: task)
    }

    func stop() async throws {
        task.cancel()
        _ = try? await task.value
    }
}
