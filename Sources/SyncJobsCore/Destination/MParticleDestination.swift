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
/// - 202: delivered. `X-mp-rate-limit-percentage-used` paces later requests before mParticle
///   throttles.
/// - 429: waits `Retry-After` (or backs off exponentially with full jitter), and every request of
///   the run waits with it. 5xx, timeouts and dropped connections back off the same way, for at
///   most `retryFor` per request; then the run stops.
/// - 400 (and 413): bisects the request to find the batches the server refuses; those are
///   reported as rejected with the server's message and the rest are delivered.
/// - 401/403: stops at once, naming the pod; the secret is never printed or logged.
public final class MParticleDestination: Destination, Sendable {
    public let spec: MParticleSpec
    public var maxInFlight: Int { spec.maxInFlight }

    private let authorization: String
    private let clock: any RetryClock
    private let random: @Sendable () -> Double
    private let wallClock: @Sendable () -> Int64
    private let logger: Logger
    private let pacer: Pacer
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
    public static let historicalAge: Int64 = 30 * 86_400_000
    static let maxResponseBytes = 64 * 1024

    public init(spec: MParticleSpec, credentials: MParticleCredentials, logger: Logger = Logger(label: "syncjobs.mparticle"),
                clock: any RetryClock = SystemRetryClock(), policy: RetryPolicy = RetryPolicy(),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
                wallClock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1000) }) {
        self.spec = spec
        self.authorization = credentials.authorization
        self.clock = clock
        self.random = random
        self.wallClock = wallClock
        self.policy = policy
        self.pacer = Pacer(clock: clock, policy: policy)
        var logger = logger
        logger[metadataKey: "destination"] = "mparticle"
        logger[metadataKey: "endpoint"] = "\(spec.endpointName)"
        self.logger = logger
    }

    // MARK: Destination

    public func send(_ request: PackedRequest) async throws -> DeliveryResult {
        let historicalBefore = wallClock() - Self.historicalAge
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

    public func makeDurable() async throws {}

    public func close() async throws {
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

    /// One request until it is accepted, refused, or its retry time runs out.
    private func post(_ request: PackedRequest, path: String, result: inout DeliveryResult) async throws -> Outcome {
        let client = try self.client()
        var http = HTTPClientRequest(url: spec.baseURL + path)
        http.method = .POST
        http.headers.add(name: "Authorization", value: authorization)
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "User-Agent", value: "syncjobs")
        http.body = .bytes(ByteBuffer(bytes: request.body))
        let started = clock.now()
        var attempt = 0
        var metadata: Logger.Metadata = ["request": "\(request.sequence)", "batches": "\(request.batchCount)", "path": "\(path)"]

        while true {
            if let stopped = state.withLock({ $0.stopped }) { throw stopped }
            let waited = try await pacer.waitTurn(sleep: interruptibleSleep)
            if waited > .zero {
                result.throttledWaits += 1
                result.throttledMillis += waited.milliseconds
            }
            let problem: String
            var delay: Duration
            do {
                let response = try await client.execute(http, deadline: .now() + .milliseconds(spec.timeoutMillis), logger: logger)
                let body = try await response.body.collect(upTo: Self.maxResponseBytes)
                if let used = response.headers.first(name: "X-mp-rate-limit-percentage-used").flatMap(Double.init) {
                    pacer.observe(percentUsed: used)
                }
                let code = response.status.code
                switch code {
                case 200..<300:
                    return .accepted
                case 400, 413:
                    return .refused(Self.serverMessage(code: code, body: body))
                case 401, 403:
                    let error = MParticleError(
                        "mParticle (\(spec.endpointName)) refused the credentials with HTTP \(code) \(code == 401 ? "(no valid Authorization)" : "(forbidden)"); check destination.api_key (\(spec.apiKey)) and destination.api_secret (\(spec.apiSecret)) are the key and secret of an input (a custom feed) in this pod's workspace")
                    stop(error)
                    throw error
                case 429:
                    let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                    let limit = response.headers.first(name: "X-mp-rate-limit-exceeded")
                    delay = retryAfter.map { .seconds(max(0, $0)) } ?? backoff(attempt)
                    problem = "HTTP 429 (rate limit\(limit.map { " '\($0)'" } ?? "") exceeded)"
                    metadata["retry_after"] = "\(retryAfter.map(String.init) ?? "none")"
                    // Every request of the run waits: sending more now would only be throttled too.
                    pacer.pause(for: delay)
                    delay = .zero
                case 500...:
                    delay = backoff(attempt)
                    problem = "HTTP \(code)\(Self.bodyExcerpt(body).map { ": \($0)" } ?? "")"
                default:
                    let error = MParticleError(
                        "mParticle (\(spec.endpointName)) answered HTTP \(code) to POST \(path)\(Self.bodyExcerpt(body).map { ": \($0)" } ?? ""); check destination.\(spec.pod == nil ? "url" : "pod")")
                    stop(error)
                    throw error
                }
            } catch let error as MParticleError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                problem = Self.describe(error)
                delay = backoff(attempt)
            }
            attempt += 1
            result.retries += 1
            let elapsed = clock.now() - started
            let pending = max(delay, pacer.pauseRemaining())
            metadata["attempt"] = "\(attempt)"
            metadata["problem"] = "\(problem)"
            if elapsed + pending > .milliseconds(spec.retryForMillis) {
                let error = MParticleError(
                    "mParticle (\(spec.endpointName)) did not accept a request of \(Format.plural(request.batchCount, "batch").replacingOccurrences(of: "batchs", with: "batches")) after \(Format.plural(attempt, "attempt")) over \(Self.format(elapsed)) (another retry would pass destination.retry_for, \(Self.format(.milliseconds(spec.retryForMillis)))); last problem: \(problem)")
                logger.error("Giving up on a request", metadata: metadata)
                stop(error)
                throw error
            }
            logger.notice("Retrying a request", metadata: metadata.merging(["delay_ms": "\(pending.milliseconds)"]) { $1 })
            if delay > .zero { try await interruptibleSleep(delay) }
        }
    }

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
            configuration.timeout = .init(connect: .seconds(10))
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

    /// Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)).
    private func backoff(_ attempt: Int) -> Duration {
        let ceiling = min(policy.maxBackoff.seconds, policy.baseBackoff.seconds * pow(2, Double(min(attempt, 30))))
        return .milliseconds(Int64((random() * ceiling * 1000).rounded()))
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

    static func describe(_ error: Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return "no answer within destination.timeout"
            case .remoteConnectionClosed: return "the connection was closed before an answer"
            case .connectTimeout: return "could not connect in time"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }

    static func format(_ d: Duration) -> String {
        let s = d.seconds
        return s < 1 ? "\(d.milliseconds) ms" : String(format: "%.1f s", s)
    }
}

public struct MParticleError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The key and secret, read when the destination opens; only the Basic auth header is kept.
public struct MParticleCredentials: Sendable {
    public let authorization: String

    public init(key: String, secret: String) {
        authorization = "Basic " + Data((key + ":" + secret).utf8).base64EncodedString()
    }

    public static func resolve(_ spec: MParticleSpec, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MParticleCredentials {
        MParticleCredentials(key: try read(spec.apiKey, "api_key", environment), secret: try read(spec.apiSecret, "api_secret", environment))
    }

    static func read(_ reference: SecretReference, _ key: String, _ environment: [String: String]) throws -> String {
        switch reference {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw MParticleError("destination.\(key) reads the environment variable \(name), which is not set; export it before running the job")
            }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MParticleError("destination.\(key) reads the file \(Paths.display(path)), which cannot be read; check it exists and is readable")
            }
            let value = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map {
                $0.trimmingCharacters(in: .whitespaces)
            } ?? ""
            guard !value.isEmpty else { throw MParticleError("destination.\(key) reads the file \(Paths.display(path)), which is empty") }
            return value
        }
    }
}

/// Backoff and pacing figures.
public struct RetryPolicy: Sendable {
    /// Backoff ceiling for the first retry; doubles with each retry up to `maxBackoff`.
    public var baseBackoff: Duration
    public var maxBackoff: Duration
    /// Above this `X-mp-rate-limit-percentage-used`, requests are spaced out; below
    /// `relaxBelow` the spacing shrinks again.
    public var slowAbove: Double
    public var relaxBelow: Double
    /// Spacing between request starts when slowing down: starts at `minSpacing`, grows by half
    /// while usage stays high, at most `maxSpacing`.
    public var minSpacing: Duration
    public var maxSpacing: Duration

    public init(baseBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(30), slowAbove: Double = 80,
                relaxBelow: Double = 50, minSpacing: Duration = .milliseconds(50), maxSpacing: Duration = .seconds(2)) {
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
        self.slowAbove = slowAbove
        self.relaxBelow = relaxBelow
        self.minSpacing = minSpacing
        self.maxSpacing = maxSpacing
    }
}

/// Time as the retry logic sees it: injected so tests do not wait for real backoff.
public protocol RetryClock: Sendable {
    /// Time since an arbitrary fixed start.
    func now() -> Duration
    func sleep(for duration: Duration) async throws
}

public struct SystemRetryClock: RetryClock {
    private let start = ContinuousClock.now
    public init() {}
    public func now() -> Duration { ContinuousClock.now - start }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// Paces requests of one run: a pause every request waits out after a 429, and a spacing between
/// request starts while mParticle reports its rate limit close to used up.
final class Pacer: Sendable {
    private struct State {
        var pausedUntil: Duration = .zero
        var spacing: Duration = .zero
        var lastStart: Duration = .zero
    }

    private let clock: any RetryClock
    private let policy: RetryPolicy
    private let state = Mutex(State())

    init(clock: any RetryClock, policy: RetryPolicy) {
        self.clock = clock
        self.policy = policy
    }

    /// Waits until this request may start; returns how long it waited.
    func waitTurn(sleep: (Duration) async throws -> Void) async throws -> Duration {
        let now = clock.now()
        let wait = state.withLock { s -> Duration in
            let start = max(now, s.pausedUntil, s.spacing > .zero ? s.lastStart + s.spacing : now)
            s.lastStart = start
            return start - now
        }
        if wait > .zero { try await sleep(wait) }
        return wait
    }

    func pause(for delay: Duration) {
        let until = clock.now() + delay
        state.withLock { $0.pausedUntil = max($0.pausedUntil, until) }
    }

    func pauseRemaining() -> Duration {
        let now = clock.now()
        return state.withLock { max(.zero, $0.pausedUntil - now) }
    }

    func observe(percentUsed: Double) {
        state.withLock { s in
            if percentUsed >= policy.slowAbove {
                if s.spacing == .zero {
                    s.spacing = policy.minSpacing
                } else {
                    s.spacing = Swift.min(policy.maxSpacing, (s.spacing * 3) / 2)
                }
            } else if (percentUsed < policy.relaxBelow) && (s.spacing > .zero) {
                s.spacing = s.spacing / 2
                if s.spacing < policy.minSpacing { s.spacing = .zero }
            }
        }
    }

    var spacing: Duration { state.withLock { $0.spacing } }
}

/// Fires once; every waiter (now or later) returns. Cancelling a waiter returns it too.
final class DeliveryStopSignal: Sendable {
    private struct State {
        var fired = false
        var nextID = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    func wait() async {
        let id = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.fired || s.cancelled.remove(id) != nil { return true }
                    s.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let continuation = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if let c = s.waiters.removeValue(forKey: id) { return c }
                s.cancelled.insert(id)
                return nil
            }
            continuation?.resume()
        }
    }

    func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, attoseconds) = components
        return s * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
