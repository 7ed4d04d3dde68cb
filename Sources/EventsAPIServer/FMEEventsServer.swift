#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Synchronization

/// A server that speaks the Harness FME (Split) events API over loopback (HTTP/1.1, keep-alive),
/// for tests: `POST <baseURL>/events/bulk` with a JSON array of events and
/// `Authorization: Bearer <SDK key>`. It checks every event field strictly (unknown fields are
/// refused, so a client's output is checked exactly), the 5,000-event and 1,000,000-byte limits
/// (413), and records the events it accepted in arrival order, exactly as they were sent. Like
/// FME it does not deduplicate: a request sent twice is recorded twice. It can be scripted to
/// fail the way `EventsAPIServer` can (the same `Fault`s): 429 with or without `Retry-After`,
/// 5xx, slow or held answers, and dropped connections, before or after accepting.
///
/// Answers: 202 with an empty body when accepted; 401 for a missing or wrong key; 400 for a bad
/// body or an invalid event, with `{"message": "event 3: …"}`, and nothing of that request is
/// recorded; 404 for another path, 405 for another method.
public final class FMEEventsServer: Sendable {
    public typealias Fault = EventsAPIServer.Fault
    public typealias IncomingRequest = EventsAPIServer.IncomingRequest

    /// The `eventTypeId` rule of the FME SDKs.
    public static let eventTypeIdPattern = "^[a-zA-Z0-9][-_.:a-zA-Z0-9]{0,79}$"

    public struct Configuration: Sendable {
        /// The key expected in `Authorization: Bearer <SDK key>`.
        public var sdkKey: String
        /// At most this many events per request (413 above).
        public var maxEvents = 5000
        /// At most this many bytes of body per request (413 above).
        public var maxBytes = 1_000_000
        /// Parse and check every event and record it. Off for a sink that only counts (auth, the
        /// byte limit and `Content-Type` are still checked; events are counted, not recorded).
        public var validate = true
        /// Decides a fault per request (by arrival number or content).
        public var faults: @Sendable (IncomingRequest) -> Fault? = { _ in nil }
        /// A message when a valid event must be refused anyway: the request gets a 400 whose
        /// message is `event <index>: <message>`, and nothing of it is recorded.
        public var refuse: @Sendable (Event) -> String? = { _ in nil }

        public init(sdkKey: String = "test-sdk-key") {
            self.sdkKey = sdkKey
        }
    }

    /// One property of an event, in the order it was sent.
    public struct Property: Sendable, Equatable, CustomStringConvertible {
        public var key: String
        /// The value's JSON text as sent: `"guest"`, `50`, `true`, `null`.
        public var json: String

        public init(_ key: String, _ json: String) {
            self.key = key
            self.json = json
        }

        public var description: String { "\(key)=\(json)" }
    }

    /// An accepted event.
    public struct Event: Sendable, Equatable {
        /// The event's JSON text exactly as it was in the request body.
        public var json: String
        public var eventTypeId: String
        public var trafficTypeName: String
        public var key: String
        public var environmentName: String?
        /// Milliseconds since the epoch.
        public var timestamp: Int64
        /// `value`'s JSON text as sent (`12.5`, `null`); nil when the field was absent.
        public var value: String?
        /// nil when the field was absent or null.
        public var properties: [Property]?
        public var foreignId: String?
        /// The arrival number of the request that carried it.
        public var request: Int
    }

    /// One request as the server saw it.
    public struct Exchange: Sendable {
        public var number: Int
        public var path: String
        /// nil when the connection was dropped instead of answered.
        public var status: Int?
        public var bytes: Int
        /// When the request had fully arrived, and when the answer was written (nil when the
        /// connection was dropped instead).
        public var arrivedAt: ContinuousClock.Instant
        public var answeredAt: ContinuousClock.Instant?
        /// The `Retry-After` the answer carried, in seconds.
        public var retryAfter: Int?
    }

    struct State {
        var events: [Event] = []
        var acceptedEventCounts: [Int] = []
        var acceptedBytes = 0
    }

    public let configuration: Configuration
    let state = Mutex(State())
    private let loopback = LoopbackHTTPServer()

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Starts listening on 127.0.0.1 and returns the port (0 picks a free one).
    @discardableResult
    public func start(port: Int = 0, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Int {
        try await loopback.start(port: port, group: group, responder: self)
    }

    /// Stops listening, as `EventsAPIServer.stop()` does.
    public func stop() async throws {
        try await loopback.stop()
    }

    /// The same as `stop()`.
    public func shutdown() async throws {
        try await stop()
    }

    public var port: Int? { loopback.port }
    /// The base URL a client is given: `http://127.0.0.1:PORT/api`; it posts to
    /// `<baseURL>/events/bulk`.
    public var baseURL: String { "http://127.0.0.1:\(port ?? 0)/api" }

    // MARK: What was received

    /// Accepted events, in the order they arrived (validating servers only). Not deduplicated.
    public var events: [Event] { state.withLock { $0.events } }
    /// Requests received, whatever became of them.
    public var requestsReceived: Int { loopback.arrivals }
    /// Requests accepted, including those a `dropAfterAccept` fault then left unanswered.
    public var acceptedRequests: Int { state.withLock { $0.acceptedEventCounts.count } }
    /// The number of events of each accepted request, in the order they were accepted.
    public var acceptedEventCounts: [Int] { state.withLock { $0.acceptedEventCounts } }
    public var acceptedBytes: Int { state.withLock { $0.acceptedBytes } }
    /// Answered and dropped requests, in the order that happened.
    public var exchanges: [Exchange] {
        loopback.exchanges.map {
            Exchange(number: $0.number, path: $0.path, status: $0.status, bytes: $0.bytes,
                     arrivedAt: $0.arrivedAt, answeredAt: $0.answeredAt, retryAfter: $0.retryAfter)
        }
    }
    public var connections: Int { loopback.connections }

    // MARK: Handling

    static func refusal(_ status: Int, _ message: String) -> LoopbackAnswer {
        LoopbackAnswer(status: status, headers: [("Content-Type", "application/json")],
                       body: #"{"message":\#(jsonString(message))}"#)
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Checks a request the way this server stands in for FME and accepts it or says why not.
    func handle(_ request: LoopbackRequest) -> LoopbackAnswer {
        guard request.path == "/api/events/bulk" else { return Self.refusal(404, "no such endpoint: \(request.path)") }
        guard request.method == .POST else { return Self.refusal(405, "method \(request.method.rawValue) is not allowed: use POST") }
        guard let authorization = request.headers.first(name: "Authorization") else {
            return Self.refusal(401, "missing Authorization header")
        }
        guard authorization.hasPrefix("Bearer ") else { return Self.refusal(401, "Authorization is not Bearer <SDK key>") }
        guard authorization.dropFirst("Bearer ".count) == configuration.sdkKey else { return Self.refusal(401, "invalid SDK key") }
        let size = request.body.readableBytes
        if size > configuration.maxBytes {
            return Self.refusal(413, "request body of \(size) bytes exceeds \(configuration.maxBytes)")
        }
        guard let contentType = request.headers.first(name: "Content-Type") else {
            return Self.refusal(400, "missing Content-Type: application/json")
        }
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces.lowercased() }
        guard mediaType == "application/json" else {
            return Self.refusal(400, "Content-Type is '\(contentType)', not application/json")
        }
        guard configuration.validate else {
            let count = LoopbackHTTPServer.occurrences(of: #""eventTypeId""#, rareByte: "I", in: request.body)
            state.withLock { s in
                s.acceptedEventCounts.append(count)
                s.acceptedBytes += size
            }
            return LoopbackAnswer(status: 202)
        }
        let bytes = Array(request.body.readableBytesView)
        let parsed: LoopbackJSON
        do {
            parsed = try LoopbackJSON.parse(bytes)
        } catch {
            return Self.refusal(400, "body is not valid JSON: \(error)")
        }
        guard case .array(let items) = parsed.kind else {
            return Self.refusal(400, "body must be a JSON array of events, not \(parsed.typeName)")
        }
        guard !items.isEmpty else { return Self.refusal(400, "body is an empty array: no events") }
        guard items.count <= configuration.maxEvents else {
            return Self.refusal(413, "request holds \(items.count) events; at most \(configuration.maxEvents) allowed")
        }
        var events: [Event] = []
        events.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            do throws(FMEEventCheck.Refusal) {
                let event = try FMEEventCheck.event(item, in: bytes, request: request.number)
                if let message = configuration.refuse(event) { throw FMEEventCheck.Refusal(message) }
                events.append(event)
            } catch {
                return Self.refusal(400, "event \(index): \(error.message)")
            }
        }
        state.withLock { s in
            s.events.append(contentsOf: events)
            s.acceptedEventCounts.append(events.count)
            s.acceptedBytes += size
        }
        return LoopbackAnswer(status: 202)
    }

}

extension FMEEventsServer: LoopbackResponder {
    func fault(for request: IncomingRequest) -> Fault? { configuration.faults(request) }

    func answer(_ request: LoopbackRequest) -> LoopbackAnswer { handle(request) }

    func faultAnswer(status: Int, retryAfter: Int?) -> LoopbackAnswer {
        var answer = switch status {
        case 500...: Self.refusal(status, "internal error")
        case 429: Self.refusal(status, "too many requests")
        case 400...: Self.refusal(status, "refused by a scripted fault")
        default: LoopbackAnswer(status: status)
        }
        if let retryAfter { answer.headers.append(("Retry-After", "\(retryAfter)")) }
        return answer
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}
