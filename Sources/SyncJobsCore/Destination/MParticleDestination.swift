import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Delivers requests to the mParticle Events API: `POST {base}/bulkevents` (or
/// `/bulkevents/historical` for events older than 30 days) with HTTP Basic auth, on one pooled
/// keep-alive client, several requests in flight.
///
/// - 202: delivered. `X-mp-rate-limit-percentage-used` paces later launches (`Pacer`) before
///   mParticle throttles.
/// - 429: pauses every request of the run until `Retry-After` (or a jittered backoff) has passed;
///   the pause lasts until the latest deadline seen (`LaunchSchedule`). 5xx, timeouts, dropped and
///   refused connections back off (`RetryPolicy`), for at most `retryFor` per request; then the
///   run stops.
/// - 400 (and 413): bisects the request to find the batches the server refuses; those are
///   reported as rejected with the server's message and the rest are delivered.
/// - 401/403: stops at once, naming the pod; the secret is never printed or logged.
package final class MParticleDestination: Destination, Sendable {
    package let spec: MParticleSpec
    package var maxInFlight: Int { spec.maxInFlight }

    private let authorization: String
    private let clock: any SyncClock
    private let logger: Logger
    /// Turns, retries and the run's stop (bad credentials, retries exhausted: other requests give
    /// up at their next attempt instead of retrying).
    private let attempts: HTTPAttempts
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var client: HTTPClient?
        var group: MultiThreadedEventLoopGroup?
        var closed = false
    }

    /// Events older than this go to the historical endpoint (`historical: auto`).
    package static let historicalAge: Int64 = 30 * 86_400_000
    static let maxResponseBytes = 64 * 1024

    package init(spec: MParticleSpec, credentials: MParticleCredentials, logger: Logger = Logger(label: "syncjobs.mparticle"),
                clock: any SyncClock = SystemClock(), policy: RetryPolicy = RetryPolicy(),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.spec = spec
        self.authorization = credentials.authorization
        self.clock = clock
        var logger = logger
        logger[metadataKey: "destination"] = "mparticle"
        logger[metadataKey: "endpoint"] = "\(spec.endpointName)"
        self.logger = logger
        attempts = HTTPAttempts(clock: clock, policy: policy, retryFor: .milliseconds(spec.retryForMillis),
                                timeout: .milliseconds(spec.timeoutMillis), baseURL: spec.baseURL, random: random, logger: logger)
    }

    // MARK: Destination

    package func send(_ request: PackedRequest) async throws -> DeliveryResult {
        let historicalBefore = clock.now() - Self.historicalAge
        var historical: [Int] = []
        if spec.historical == .auto {
            for index in 0..<request.batchCount {
                if let time = request.eventTime(index), time < historicalBefore { historical.append(index) }
            }
        }
        if historical.isEmpty { return try await deliver(request, path: "/bulkevents") }
        if historical.count == request.batchCount { return try await deliver(request, path: "/bulkevents/historical") }
        let historicalSet = Set(historical)
        let live = (0..<request.batchCount).filter { !historicalSet.contains($0) }
        var result = DeliveryResult()
        for (indices, path) in [(live, "/bulkevents"), (historical, "/bulkevents/historical")] {
            let part = try await deliver(request.subset(indices), path: path)
            result.add(part, indexOffset: { indices[$0] })
        }
        return result
    }

    package func makeDurable() async throws {}

    package func close() async throws {
        let (client, group) = state.withLock { state -> (HTTPClient?, MultiThreadedEventLoopGroup?) in
            state.closed = true
            defer { state.client = nil; state.group = nil }
            return (state.client, state.group)
        }
        try await client?.shutdown()
        try await group?.shutdownGracefully()
    }

    // MARK: Delivery

    /// Sends a request; on a 400 splits it in halves until the refused batches are found.
    private func deliver(_ request: PackedRequest, path: String) async throws -> DeliveryResult {
        var result = DeliveryResult()
        switch try await post(request, path: path, result: &result) {
        case .accepted:
            return result
        case .refused(let message):
            if request.batchCount == 1 {
                result.rejected.append(RejectedBatch(index: 0, reason: message))
                return result
            }
            logger.debug("Request refused; splitting it to find the refused batches",
                         metadata: ["request": "\(request.sequence)", "batches": "\(request.batchCount)", "reason": "\(message)"])
            let middle = request.batchCount / 2
            let halves = [Array(0..<middle), Array(middle..<request.batchCount)]
            for indices in halves {
                let part = try await deliver(request.subset(indices), path: path)
                result.add(part, indexOffset: { indices[$0] })
            }
            return result
        }
    }

    private enum Outcome: Sendable {
        case accepted
        case refused(String)
    }

    /// One request until it is accepted, refused, or its retry time runs out.
    private func post(_ request: PackedRequest, path: String, result: inout DeliveryResult) async throws -> Outcome {
        let client = try self.client()
        var http = HTTPClientRequest(url: spec.baseURL + path)
        http.method = .POST
        http.headers.add(name: "Authorization", value: authorization)
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "User-Agent", value: "syncjobs")
        http.body = .bytes(ByteBuffer(bytes: request.body))
        let metadata: Logger.Metadata = ["request": "\(request.sequence)", "batches": "\(request.batchCount)", "path": "\(path)"]
        return try await attempts.send(http, client: client, result: &result, metadata: metadata, giveUp: { problem, tries, elapsed in
            giveUp(request, problem: problem, attempts: tries, elapsed: elapsed)
        }, answer: { response, body, attempt in
            if let used = response.headers.first(name: "X-mp-rate-limit-percentage-used").flatMap(Double.init) {
                attempts.gate.observe(percentUsed: used)
            }
            return try answer(response, body: body, path: path, attempt: attempt)
        })
    }

    /// What an HTTP answer means for the request: done (delivered or refused), retry, or stop
    /// the run (thrown).
    private func answer(_ response: HTTPClientResponse, body: ByteBuffer, path: String, attempt: Int) throws -> HTTPAttempts.Verdict<Outcome> {
        let code = response.status.code
        switch code {
        case 200..<300:
            return .done(.accepted)
        case 400, 413:
            return .done(.refused(Self.serverMessage(code: code, body: body)))
        case 401, 403:
            throw MParticleError(
                "mParticle (\(spec.endpointName)) refused the credentials with HTTP \(code) \(code == 401 ? "(no valid Authorization)" : "(forbidden)"); check destination.api_key (\(spec.apiKey)) and destination.api_secret (\(spec.apiSecret)) are the key and secret of an input (a custom feed) in this pod's workspace")
        case 429:
            let header = response.headers.first(name: "Retry-After")
            let retryAfter = RetryPolicy.retryAfter(header, now: Date(timeIntervalSince1970: Double(clock.now()) / 1000))
            let limit = response.headers.first(name: "X-mp-rate-limit-exceeded")
            // Every request of the run waits: sending more now would only be throttled too. The
            // pause only ever grows, so this answer cannot cut short a longer wait already set.
            attempts.gate.pause(for: retryAfter ?? attempts.backoff(attempt: attempt))
            return .retry(DeliveryProblem(text: "HTTP 429 (rate limit\(limit.map { " '\($0)'" } ?? "") exceeded)", unreachable: false),
                          backoff: .zero)
        case 500...:
            return .retry(DeliveryProblem(text: "HTTP \(code)\(Self.bodyExcerpt(body).map { ": \($0)" } ?? "")", unreachable: false),
                          backoff: attempts.backoff(attempt: attempt))
        default:
            throw MParticleError(
                "mParticle (\(spec.endpointName)) answered HTTP \(code) to POST \(path)\(Self.bodyExcerpt(body).map { ": \($0)" } ?? ""); check destination.\(spec.pod == nil ? "url" : "pod")")
        }
    }

    /// The run's error when a request's retries run out: one sentence, what and where first.
    private func giveUp(_ request: PackedRequest, problem: DeliveryProblem, attempts: Int, elapsed: Duration) -> MParticleError {
        let tries = "after \(Format.plural(attempts, "attempt")) over \(Self.format(elapsed)) (another retry would pass destination.retry_for, \(Self.format(.milliseconds(spec.retryForMillis))))"
        if problem.unreachable {
            return MParticleError("mParticle (\(spec.endpointName)) could not be reached: \(problem.text), \(tries); check destination.\(spec.pod == nil ? "url" : "pod") and that this machine can reach it")
        }
        let batches = request.batchCount == 1 ? "1 batch" : "\(Format.count(request.batchCount)) batches"
        return MParticleError("mParticle (\(spec.endpointName)) did not accept a request of \(batches) \(tries); last problem: \(problem.text)")
    }

    private func client() throws -> HTTPClient {
        try state.withLock { state in
            if state.closed { throw MParticleError("the mParticle destination is closed") }
            if let client = state.client { return client }
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(idleTimeout: .seconds(60),
                                                 concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, spec.maxInFlight))
            // A failed connection fails the requests waiting for it at once: they back off and
            // retry under destination.retry_for like any other failure, instead of the client
            // retrying silently until its connect timeout.
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.timeout = .init(connect: .milliseconds(attempts.connectTimeout.milliseconds))
            // Never follow a redirect: it would carry the credentials somewhere else.
            configuration.redirectConfiguration = .disallow
            // One event loop thread: the run's other core maps rows, and a second loop only adds
            // cross-thread wake-ups (measured: fewer rows/s on 2 cores).
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            state.group = group
            let client = HTTPClient(eventLoopGroup: group, configuration: configuration,
                                    backgroundActivityLogger: logger)
            state.client = client
            return client
        }
    }

    static func serverMessage(code: UInt, body: ByteBuffer) -> String {
        let text = String(buffer: body)
        if let parsed = try? JSONParser.parse(text), case .array(let errors)? = parsed["errors"] {
            let messages = errors.compactMap { error -> String? in
                let code = error["code"].flatMap { if case .string(let s) = $0 { return s } else { return nil } }
                let message = error["message"].flatMap { if case .string(let s) = $0 { return s } else { return nil } }
                guard code != nil || message != nil else { return nil }
                return [code, message].compactMap { $0 }.joined(separator: ": ")
            }
            if !messages.isEmpty { return "HTTP \(code): " + messages.joined(separator: "; ") }
        }
        return "HTTP \(code)" + (bodyExcerpt(body).map { ": \($0)" } ?? "")
    }

    static func bodyExcerpt(_ body: ByteBuffer) -> String? {
        let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return nil }
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    static func format(_ d: Duration) -> String {
        let s = d.seconds
        return s < 1 ? "\(d.milliseconds) ms" : String(format: "%.1f s", s)
    }
}

package struct MParticleError: Error, CustomStringConvertible, Sendable {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

