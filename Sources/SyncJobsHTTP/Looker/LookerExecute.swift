import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncJobsCore

/// `POST /looker/actions/mparticle/execute`: the query result (inline `attachment`, or the
/// `download_url` Looker streams it from) is spooled to a temporary file in bounded memory, read
/// with the Looker reader and `mapping: looker`, and sent through the mParticle destination with
/// the request's API key and secret, used for this run only. The run is recorded with trigger
/// `looker`; the answer says whether every row was delivered.
struct LookerExecute: Sendable {
    let face: FaceContext
    let queue: LookerQueue

    /// Looker's downloads may take long to start; the hub waits 13 minutes.
    static let downloadTimeout: TimeAmount = .minutes(13)
    /// A newline every 30 s while the run goes on keeps proxies from dropping the connection.
    static let keepAlive: Duration = .seconds(30)

    func respond(to request: Request) async -> Response {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("syncjobs-looker-\(Access.random().prefix(16))").path
        let resultPath = folder + "/result.json"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: resultPath, contents: nil), let handle = FileHandle(forWritingAtPath: resultPath) else {
                throw LookerFailure("cannot create a temporary file in \(FileManager.default.temporaryDirectory.path)")
            }
            var spool = LookerRequestSpool(output: handle)
            do {
                for try await buffer in request.body { try spool.feed(buffer.readableBytesView) }
            } catch is LookerRequestSpool.TooLarge {
                try? handle.close()
                try? FileManager.default.removeItem(atPath: folder)
                return LookerHub.hubError(.contentTooLarge, "the request is larger than \(LookerRequestSpool.restLimit >> 20) MB besides its attachment")
            }
            spool.finish()
            try handle.close()
            let body = try JSONParser.parse(String(decoding: spool.rest, as: UTF8.self))
            let plan = try ExecutePlan(body, attachmentBytes: spool.attachmentBytes, webhook: request.headers[HTTPField.Name("X-Looker-Webhook-Id")!])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                let work = Task { await run(plan, resultPath: resultPath) }
                while true {
                    let answer = await withTaskGroup(of: Value?.self) { group in
                        group.addTask { await work.value }
                        group.addTask { try? await Task.sleep(for: Self.keepAlive); return nil }
                        let first = await group.next() ?? nil
                        group.cancelAll()
                        return first
                    }
                    if let answer {
                        try? FileManager.default.removeItem(atPath: folder)
                        try await writer.write(ByteBuffer(string: JSONWriter.compact(answer)))
                        break
                    }
                    try await writer.write(ByteBuffer(string: "\n"))
                }
                try await writer.finish(nil)
            })
        } catch let check as HubCheck {
            try? FileManager.default.removeItem(atPath: folder)
            return LookerHub.hubError(.notFound, check.message)
        } catch let failure as ActionFailure {
            try? FileManager.default.removeItem(atPath: folder)
            return .json(Self.answer(success: false, message: failure.message, validation: failure.field.map { [$0: failure.message] } ?? [:]))
        } catch let error as JSONParseError {
            try? FileManager.default.removeItem(atPath: folder)
            return LookerHub.hubError(.badRequest, "the request body is not JSON: \(error)")
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            return LookerHub.hubError(.internalServerError, ErrorText.describe(error))
        }
    }

    /// Fetches the result when it was not inline, then runs the job on it, one execute at a time.
    private func run(_ plan: ExecutePlan, resultPath: String) async -> Value {
        do {
            if let url = plan.downloadURL, plan.attachmentBytes == 0 {
                try await download(url, to: resultPath)
            } else if plan.base64 {
                try Self.decodeBase64(resultPath)
            }
        } catch {
            face.logger.error("Looker execute: the query result could not be fetched", metadata: ["error": "\(ErrorText.describe(error))"])
            return Self.answer(success: false, message: ErrorText.describe(error))
        }
        let job = JobDefinition.lookerAction(result: resultPath, kind: plan.kind, environment: plan.environment, eventsURL: face.lookerEventsURL)
        let credentials = MParticleCredentials(key: plan.apiKey, secret: plan.apiSecret)
        return await queue.run { [face] in
            do {
                let state = try face.daemon.workspace.openState()
                guard case .mparticle(let spec) = job.destination.kind else { return Self.answer(success: false, message: "no mParticle destination") }
                let destination = face.metrics.timed(MParticleDestination(spec: spec, credentials: credentials, logger: face.logger), destination: "mparticle")
                let runner = JobRunner(job: job, state: state, destination: destination, logger: face.logger)
                let result = try await runner.run(RunOptions(trigger: "looker", now: face.now(), idScope: plan.webhook.map { "looker/\($0)" }))
                face.metrics.recordRun(result, endedAt: face.now())
                return Self.answer(result)
            } catch {
                return Self.answer(success: false, message: ErrorText.describe(error))
            }
        }
    }

    /// A plain GET, as the hub makes it: no added headers (the URL is the credential, so it is
    /// never logged), 200 or the action fails.
    private func download(_ url: String, to path: String) async throws {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: Self.downloadTimeout)
        guard response.status.code == 200 else {
            throw LookerFailure("There was an error with Action Hub calling back to Looker, status code: \(response.status.code)")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw LookerFailure("cannot write the temporary file \(path)") }
        defer { try? handle.close() }
        for try await buffer in response.body { handle.write(Data(buffer.readableBytesView)) }
    }

    /// The answer: success only when every row read was delivered.
    static func answer(_ result: RunResult) -> Value {
        let c = result.counts
        let run = result.runID.map { " (run #\($0) of \(JobDefinition.lookerActionName))" } ?? ""
        let delivered = "\(Format.count(c.rowsSent)) of \(Format.plural(c.rowsRead - c.rowsSkipped, "row")) delivered"
        var problems: [String] = []
        if let error = result.errorMessage { problems.append(credentialsNamed(error)) }
        if c.rowsRejected > 0 {
            let reasons = result.rejectedSamples.prefix(3).map { "row \($0.rowNumber): \($0.reason)" }.joined(separator: "; ")
            problems.append("\(Format.plural(c.rowsRejected, "row")) rejected: \(reasons)\(c.rowsRejected > 3 ? "; …" : "")")
        }
        if c.rowsUndelivered > 0 { problems.append("\(Format.plural(c.rowsUndelivered, "row")) undelivered") }
        if problems.isEmpty { return answer(success: true, message: nil) }
        return answer(success: false, message: "\(delivered)\(run); " + problems.joined(separator: "; "))
    }

    /// Errors name where a job's secrets come from; here they came from the action's settings.
    static func credentialsNamed(_ message: String) -> String {
        message.replacingOccurrences(of: "destination.api_key (${the action's apiKey setting})", with: "the action's API Key setting")
            .replacingOccurrences(of: "destination.api_secret (${the action's apiSecret setting})", with: "its API Secret setting")
    }

    static func answer(success: Bool, message: String?, validation: [String: String] = [:]) -> Value {
        var entries: [Value.ObjectEntry] = [.init("success", .bool(success))]
        if let message { entries.append(.init("message", .string(message))) }
        entries.append(.init("refresh_query", .bool(false)))
        entries.append(.init("validation_errors", .object(validation.sorted { $0.key < $1.key }.map { .init($0.key, .string($0.value)) })))
        return .object([.init("looker", .object(entries))])
    }

    /// A `;base64` attachment, decoded in place in chunks.
    static func decodeBase64(_ path: String) throws {
        let decoded = path + ".decoded"
        guard let input = FileHandle(forReadingAtPath: path), FileManager.default.createFile(atPath: decoded, contents: nil),
              let output = FileHandle(forWritingAtPath: decoded) else { throw LookerFailure("cannot decode the base64 attachment") }
        var carry = Data()
        while case let chunk = input.readData(ofLength: 1 << 16), !chunk.isEmpty {
            carry.append(chunk.filter { !$0.isASCIIWhitespace })
            let usable = carry.count / 4 * 4
            guard let bytes = Data(base64Encoded: carry.prefix(usable)) else { throw LookerFailure("the attachment is not valid base64") }
            output.write(bytes)
            carry = Data(carry.dropFirst(usable))
        }
        try input.close()
        try output.close()
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: decoded, toPath: path)
    }
}

private extension UInt8 {
    var isASCIIWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}

struct LookerFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
