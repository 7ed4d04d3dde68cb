import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Synchronization

/// A server that speaks the mParticle Events API over loopback (HTTP/1.1, keep-alive), for tests and
/// the benchmark. It checks HTTP Basic auth, the 100-batch and 256 KB limits and the batch shape,
/// deduplicates by `source_request_id` the way mParticle does, records what it accepted, and can be
/// scripted to fail: 429 with or without `Retry-After`, 5xx, 400 for chosen batches, slow or held answers,
/// and dropped connections. The HTTP plumbing and the faults are `LoopbackHTTPServer`'s, shared with
/// `FMEEventsServer`.
public final class EventsAPIServer: Sendable {
    /// What the server does with one incoming request (by arrival number, from 0).
    public enum Fault: Sendable, Equatable {
        /// Answer this status without looking at the request (a 429 may carry `Retry-After`),
        /// after waiting `afterMilliseconds`.
        case status(Int, retryAfter: Int? = nil, afterMilliseconds: Int = 0)
        /// Wait this long, then handle the request normally.
        case delay(milliseconds: Int)
        /// Close the connection without answering, before accepting anything.
        case drop
        /// Accept the request (record its batches), then close the connection without answering:
        /// the client cannot tell it was delivered, so it sends it again.
        case dropAfterAccept
        /// Leave the request unanswered until the hold is released, then handle it normally: a
        /// test acts while the client certainly waits on this request.
        case hold(RequestHold)
    }

    /// A request as fault scripts see it.
    public struct IncomingRequest: Sendable {
        /// Arrival number, from 0, counting every request.
        public var number: Int
        public var path: String
        public var body: ByteBuffer
        public var text: String { String(buffer: body) }
    }

    /// The fields of a batch a test can refuse it by.
    public struct BatchInfo: Sendable {
        public var sourceRequestID: String?
        public var customerID: String?
        public var eventName: String?
        public var environment: String?
    }

    public struct Configuration: Sendable {
        public var apiKey: String
        public var apiSecret: String
        public var maxBatches = 100
        public var maxBytes = 256 * 1024
        /// Parse and check every batch and record it. Off for a sink that only counts.
        public var validate = true
        /// Decides a fault per request (by arrival number or content).
        public var faults: @Sendable (IncomingRequest) -> Fault? = { _ in nil }
        /// A message when a batch must be refused (the whole request gets a 400, as mParticle does).
        public var refuse: @Sendable (BatchInfo) -> String? = { _ in nil }
        /// `X-mp-rate-limit-percentage-used` to report on accepted requests, by arrival number.
        public var percentUsed: @Sendable (Int) -> Int? = { _ in nil }
        /// The server's clock (ms since the epoch), for the historical endpoint's 72-hour rule.
        public var now: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }

        public init(apiKey: String = "test-key", apiSecret: String = "test-secret") {
            self.apiKey = apiKey
            self.apiSecret = apiSecret
        }
    }

    /// One request as the server saw it.
    public struct Exchange: Sendable {
        public var number: Int
        public var path: String
        public var status: Int?
        public var batches: Int
        public var bytes: Int
        /// When the request had fully arrived, and when the answer was written (nil when the
        /// connection was dropped instead): timing tests compare the two across requests.
        public var arrivedAt: ContinuousClock.Instant
        public var answeredAt: ContinuousClock.Instant?
        /// The `Retry-After` the answer carried, in seconds.
        public var retryAfter: Int?
    }

    struct State {
        /// Accepted batches in order of acceptance, as JSON text (validating servers only).
        var accepted: [String] = []
        /// Accepted request bodies exactly as received.
        var acceptedBodies: [String] = []
        var acceptedPaths: [String] = []
        /// How often each source_request_id was accepted (mParticle keeps the first only).
        var deliveries: [String: Int] = [:]
        var acceptedRequests = 0
        var acceptedBatchCount = 0
        var acceptedBytes = 0
    }

    public let configuration: Configuration
    let state = Mutex(State())
    private let loopback = LoopbackHTTPServer()
    let expectedAuthorization: String

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        expectedAuthorization = "Basic " + Data((configuration.apiKey + ":" + configuration.apiSecret).utf8).base64EncodedString()
    }

    /// Starts listening on 127.0.0.1 and returns the port (0 picks a free one).
    @discardableResult
    public func start(port: Int = 0, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Int {
        try await loopback.start(port: port, group: group, responder: self)
    }

    public func stop() async throws {
        try await loopback.stop()
    }

    public var port: Int? { loopback.port }
    public var baseURL: String { "http://127.0.0.1:\(port ?? 0)/v2" }

    // MARK: What was received

    public var exchanges: [Exchange] {
        let batches = configuration.validate ? -1 : 0
        return loopback.exchanges.map {
            Exchange(number: $0.number, path: $0.path, status: $0.status, batches: batches, bytes: $0.bytes,
                     arrivedAt: $0.arrivedAt, answeredAt: $0.answeredAt, retryAfter: $0.retryAfter)
        }
    }
    /// Accepted batches as JSON text, in the order they were accepted.
    public var acceptedBatches: [String] { state.withLock { $0.accepted } }
    /// Accepted request bodies exactly as received, in the order they were accepted.
    public var acceptedBodies: [String] { state.withLock { $0.acceptedBodies } }
    /// The path each accepted batch was posted to.
    public var acceptedPaths: [String] { state.withLock { $0.acceptedPaths } }
    public var deliveries: [String: Int] { state.withLock { $0.deliveries } }
    /// Batches received again with a `source_request_id` already accepted (mParticle drops them).
    public var duplicates: Int { state.withLock { $0.deliveries.values.reduce(0) { $0 + $1 - 1 } } }
    public var acceptedRequests: Int { state.withLock { $0.acceptedRequests } }
    public var acceptedBatchCount: Int { state.withLock { $0.acceptedBatchCount } }
    public var acceptedBytes: Int { state.withLock { $0.acceptedBytes } }
    public var connections: Int { loopback.connections }

    // MARK: Handling

    typealias Answer = LoopbackAnswer

    static func badRequest(_ message: String) -> Answer {
        let escaped = message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return Answer(status: 400, headers: [("Content-Type", "application/json")],
                      body: #"{"errors":[{"code":"BAD_REQUEST","message":"\#(escaped)"}]}"#)
    }

    /// Checks a request the way the Events API does and accepts it or says why not.
    func handle(number: Int, path: String, authorization: String?, body: ByteBuffer) -> Answer {
        guard path == "/v2/bulkevents" || path == "/v2/bulkevents/historical" else {
            return Answer(status: 404, body: "no such endpoint: \(path)")
        }
        guard let authorization else { return Answer(status: 401, body: "missing Authorization") }
        guard authorization == expectedAuthorization else { return Answer(status: 403, body: "invalid credentials") }
        if body.readableBytes > configuration.maxBytes {
            return Self.badRequest("request of \(body.readableBytes) bytes exceeds \(configuration.maxBytes)")
        }
        guard configuration.validate else {
            let batches = LoopbackHTTPServer.occurrences(of: #""source_request_id""#, rareByte: "q", in: body)
            state.withLock { s in
                s.acceptedRequests += 1
                s.acceptedBatchCount += batches
                s.acceptedBytes += body.readableBytes
            }
            return accepted(number)
        }
        let data = Data(body.readableBytesView)
        guard let parsed = try? JSONSerialization.jsonObject(with: data), let batches = parsed as? [Any] else {
            return Self.badRequest("the body is not a JSON array of batches")
        }
        guard !batches.isEmpty, batches.count <= configuration.maxBatches else {
            return Self.badRequest("a request holds 1 to \(configuration.maxBatches) batches, not \(batches.count)")
        }
        var texts: [String] = []
        var ids: [String] = []
        let historical = path.hasSuffix("/historical")
        for (index, item) in batches.enumerated() {
            guard let batch = item as? [String: Any] else { return Self.badRequest("batch \(index) is not an object") }
            if let problem = Self.shapeProblem(batch, historical: historical, now: configuration.now()) {
                return Self.badRequest("batch \(index): \(problem)")
            }
            let info = BatchInfo(sourceRequestID: batch["source_request_id"] as? String,
                                 customerID: (batch["user_identities"] as? [String: Any])?["customer_id"] as? String,
                                 eventName: ((batch["events"] as? [[String: Any]])?.first?["data"] as? [String: Any])?["event_name"] as? String,
                                 environment: batch["environment"] as? String)
            if let message = configuration.refuse(info) { return Self.badRequest(message) }
            ids.append(info.sourceRequestID ?? "")
            let encoded = (try? JSONSerialization.data(withJSONObject: batch, options: [.sortedKeys])) ?? Data()
            texts.append(String(decoding: encoded, as: UTF8.self))
        }
        state.withLock { s in
            s.acceptedRequests += 1
            s.acceptedBatchCount += texts.count
            s.acceptedBytes += body.readableBytes
            s.accepted.append(contentsOf: texts)
            s.acceptedBodies.append(String(decoding: data, as: UTF8.self))
            s.acceptedPaths.append(contentsOf: Array(repeating: path, count: texts.count))
            for id in ids { s.deliveries[id, default: 0] += 1 }
        }
        return accepted(number)
    }

    private func accepted(_ number: Int) -> Answer {
        var answer = Answer(status: 202)
        if let used = configuration.percentUsed(number) { answer.headers.append(("X-mp-rate-limit-percentage-used", "\(used)")) }
        return answer
    }

    static func shapeProblem(_ batch: [String: Any], historical: Bool, now: Int64) -> String? {
        guard let environment = batch["environment"] as? String, ["development", "production"].contains(environment) else {
            return "environment must be development or production"
        }
        guard let id = batch["source_request_id"] as? String, !id.isEmpty else { return "no source_request_id" }
        let hasIdentity = batch["mpid"] != nil || !((batch["user_identities"] as? [String: Any]) ?? [:]).isEmpty
            || batch["device_info"] != nil
        if !hasIdentity { return "the batch identifies no user" }
        let events = batch["events"] as? [[String: Any]]
        if batch["events"] != nil && events == nil { return "events must be an array of objects" }
        for event in events ?? [] {
            guard event["event_type"] is String, let data = event["data"] as? [String: Any] else {
                return "an event needs event_type and data"
            }
            if let id = data["source_message_id"], !(id is String) { return "source_message_id must be text" }
            if historical {
                guard let time = (data["timestamp_unixtime_ms"] as? NSNumber)?.int64Value else {
                    return "historical events need timestamp_unixtime_ms"
                }
                if time > now - 72 * 3_600_000 { return "historical events must be at least 72 hours old" }
            }
        }
        if historical && (events ?? []).isEmpty { return "historical batches need events" }
        return nil
    }

}

extension EventsAPIServer: LoopbackResponder {
    func fault(for request: IncomingRequest) -> Fault? { configuration.faults(request) }

    func answer(_ request: LoopbackRequest) -> LoopbackAnswer {
        handle(number: request.number, path: request.path, authorization: request.headers.first(name: "Authorization"), body: request.body)
    }

    func faultAnswer(status: Int, retryAfter: Int?) -> LoopbackAnswer {
        var answer = Answer(status: status, body: status >= 500 ? "internal error" : "")
        if let retryAfter { answer.headers.append(("Retry-After", "\(retryAfter)")) }
        if status == 429 { answer.headers.append(("X-mp-rate-limit-exceeded", "app")) }
        return answer
    }
}
