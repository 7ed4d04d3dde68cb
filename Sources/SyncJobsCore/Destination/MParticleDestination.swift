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
    private let random: @Sendable () -> Double
    private let logger: Logger
    private let gate: LaunchGate
    private let policy: RetryPolicy
    private let stopSignal = DeliveryStopSignal()
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var client: HTTPClient?
        var group: MultiThreadedEventLoopGroup?
        /// Set when the run must stop (bad credentials, retries exhausted): other requests give up
        /// at their next attempt instead of retrying.
        var stopped: MParticleError?
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
        self.random = random
        self.policy = policy
        self.gate = LaunchGate(clock: clock, pacing: policy.pacing)
        var logger = logger
        logger[metadataKey: "destination"] = "mparticle"
        logger[metadataKey: "endpoint"] = "\(spec.endpointName)"
        self.logger = logger
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

    private enum Outcome {
        case accepted
        case refused(String)
    }

    /// An attempt that did not deliver and may be retried.
    private struct Failure {
        var problem: DeliveryProblem
        /// The wait before this request's next attempt (a 429's wait is the run's pause instead).
        var backoff: Duration
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
        // retry_for counts from the first attempt: waiting for a first turn is not retrying.
        var started: Duration?
        var attempt = 0
        var metadata: Logger.Metadata = ["request": "\(request.sequence)", "batches": "\(request.batchCount)", "path": "\(path)"]

        while true {
            if let stopped = stopped() { throw stopped }
            guard let turn = try await gate.waitTurn(stop: stopSignal) else { throw stopped() ?? CancellationError() }
            if turn.waited { result.throttledWaits += 1 }
            result.throttledMillis += turn.throttledMillis
            if started == nil { started = clock.elapsed() }
            let failure: Failure
            var answered = false
            do {
                let response = try await client.execute(http, deadline: .now() + .milliseconds(spec.timeoutMillis), logger: logger)
                answered = true
                result.httpRequests += 1
                let body = try await response.body.collect(upTo: Self.maxResponseBytes)
                if let used = response.headers.first(name: "X-mp-rate-limit-percentage-used").flatMap(Double.init) {
                    gate.observe(percentUsed: used)
                }
                switch try answer(response, body: body, path: path, attempt: attempt, metadata: &metadata) {
                case .done(let outcome): return outcome
                case .retry(let retry): failure = retry
                }
            } catch let error as MParticleError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                let problem = DeliveryProblem.describe(error, endpoint: endpoint, timeout: .milliseconds(spec.timeoutMillis),
                                                       connectTimeout: connectTimeout)
                // A request that reached the server counts, even without an answer.
                if !answered && !problem.unreachable { result.httpRequests += 1 }
                failure = Failure(problem: problem, backoff: policy.backoff(attempt: attempt, random: random()))
            }
            attempt += 1
            result.retries += 1
            let elapsed = clock.elapsed() - (started ?? .zero)
            let pending = max(failure.backoff, gate.pauseRemaining())
            metadata["attempt"] = "\(attempt)"
            metadata["problem"] = "\(failure.problem.text)"
            if RetryPolicy.wouldPass(retryFor: .milliseconds(spec.retryForMillis), elapsed: elapsed, pending: pending) {
                let error = giveUp(request, problem: failure.problem, attempts: attempt, elapsed: elapsed)
                logger.error("Giving up on a request", metadata: metadata)
                stop(error)
                throw error
            }
            logger.notice("Retrying a request", metadata: metadata.merging(["delay_ms": "\(pending.milliseconds)"]) { $1 })
            if failure.backoff > .zero { try await interruptibleSleep(failure.backoff) }
        }
    }

    private enum Answer {
        case done(Outcome)
        case retry(Failure)
    }

    /// What an HTTP answer means for the request: done (delivered or refused), retry, or stop
    /// the run (thrown).
    private func answer(_ response: HTTPClientResponse, body: ByteBuffer, path: String, attempt: Int,
                        metadata: inout Logger.Metadata) throws -> Answer {
        let code = response.status.code
        switch code {
        case 200..<300:
            return .done(.accepted)
        case 400, 413:
            return .done(.refused(Self.serverMessage(code: code, body: body)))
        case 401, 403:
            let error = MParticleError(
                "mParticle (\(spec.endpointName)) refused the credentials with HTTP \(code) \(code == 401 ? "(no valid Authorization)" : "(forbidden)"); check destination.api_key (\(spec.apiKey)) and destination.api_secret (\(spec.apiSecret)) are the key and secret of an input (a custom feed) in this pod's workspace")
            stop(error)
            throw error
        case 429:
            let header = response.headers.first(name: "Retry-After")
            let retryAfter = RetryPolicy.retryAfter(header, now: Date(timeIntervalSince1970: Double(clock.now()) / 1000))
            let limit = response.headers.first(name: "X-mp-rate-limit-exceeded")
            metadata["retry_after"] = "\(header ?? "none")"
            // Every request of the run waits: sending more now would only be throttled too. The
            // pause only ever grows, so this answer cannot cut short a longer wait already set.
            gate.pause(for: retryAfter ?? policy.backoff(attempt: attempt, random: random()))
            return .retry(Failure(problem: DeliveryProblem(text: "HTTP 429 (rate limit\(limit.map { " '\($0)'" } ?? "") exceeded)", unreachable: false),
                                  backoff: .zero))
        case 500...:
            return .retry(Failure(problem: DeliveryProblem(text: "HTTP \(code)\(Self.bodyExcerpt(body).map { ": \($0)" } ?? "")", unreachable: false),
                                  backoff: policy.backoff(attempt: attempt, random: random())))
        default:
            let error = MParticleError(
                "mParticle (\(spec.endpointName)) answered HTTP \(code) to POST \(path)\(Self.bodyExcerpt(body).map { ": \($0)" } ?? ""); check destination.\(spec.pod == nil ? "url" : "pod")")
            stop(error)
            throw error
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

    private func stopped() -> MParticleError? { state.withLock { $0.stopped } }

    /// `host:port` of the endpoint, for connection errors.
    private var endpoint: String {
        guard let url = URL(string: spec.baseURL), let host = url.host else { return spec.baseURL }
        return "\(host):\(url.port ?? (url.scheme == "https" ? 443 : 80))"
    }

    /// How long one connection attempt may take: `destination.timeout`, at most 10 s.
    private var connectTimeout: Duration { min(.seconds(10), .milliseconds(spec.timeoutMillis)) }

    /// Sleeps, but wakes as soon as the run stops, so a request waiting out a long backoff does
    /// not hold the failed run open.
    private func interruptibleSleep(_ duration: Duration) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.clock.sleep(for: duration) }
            group.addTask { await self.stopSignal.wait() }
            _ = try await group.next()
            group.cancelAll()
        }
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
            configuration.timeout = .init(connect: .milliseconds(connectTimeout.milliseconds))
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

    private func stop(_ error: MParticleError) {
        state.withLock { if $0.stopped == nil { $0.stopped = error } }
        stopSignal.fire()
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

