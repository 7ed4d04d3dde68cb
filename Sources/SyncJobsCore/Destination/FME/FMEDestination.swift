import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Delivers each batch's events to Harness FME (Split): `POST {url}/events/bulk` with the SDK key
/// as a Bearer token, as FME's mParticle event output does (README "Sending to Harness FME").
///
/// - Every batch becomes FME events through `FMEEventMapper`; events FME does not take are
///   counted as skipped by reason, and a batch with an event FME would refuse (a limit, its age) is
///   a rejected row with the reason, none of its events sent.
/// - Chunks of at most 5,000 events and 1 MB, on batch boundaries, so one batch is acknowledged
///   whole.
/// - FME's API is not idempotent: a batch acknowledged with 2xx is recorded in the state database
///   (`delivered_batches`, committed before the engine hears of it), so a rerun after a crash
///   between the acknowledgement and the checkpoint does not send it again.
/// - 429 (with or without `Retry-After`), 5xx, timeouts and dropped connections are retried
///   within `retry_for`; 400 bisects the chunk to find the batches FME refuses; 401/403 stop the
///   run without showing the key.
package final class FMEDestination: Destination, Sendable {
    package let spec: FMESpec
    package var maxInFlight: Int { spec.maxInFlight }
    /// Batches in, as packed by the engine; chunks of FME events out are cut again below.
    package var packing: PackingLimits { PackingLimits(maxBatches: 1000, maxBytes: 4 << 20) }

    static let maxEventsPerChunk = 5000
    static let maxChunkBytes = 1_000_000
    static let ledgerName = "fme"

    private let job: String
    private let authorization: String
    private let mapper: FMEEventMapper
    private let ledger: Mutex<StateStore>?
    /// Batches earlier runs delivered that no successful run's checkpoint covers yet.
    private let uncovered: Set<String>
    private let attempts: HTTPAttempts
    private let clock: any SyncClock
    private let logger: Logger
    private let connection = Mutex<(client: HTTPClient?, group: MultiThreadedEventLoopGroup?, closed: Bool)>((nil, nil, false))

    /// - Parameter ledgerPath: the state database where accepted batches are recorded; nil only
    ///   for previews, which send nothing.
    package init(spec: FMESpec, job: String, sdkKey: String, ledgerPath: String?, logger: Logger = Logger(label: "syncjobs.fme"),
                clock: any SyncClock = SystemClock(), policy: RetryPolicy = RetryPolicy(),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) throws {
        self.spec = spec
        self.job = job
        authorization = "Bearer " + sdkKey
        mapper = FMEEventMapper(trafficTypes: spec.trafficTypes, environmentName: spec.environmentName, maxEventAge: spec.maxEventAgeMillis)
        var logger = logger
        logger[metadataKey: "destination"] = "fme"
        self.logger = logger
        self.clock = clock
        attempts = HTTPAttempts(clock: clock, policy: policy, retryFor: .milliseconds(spec.retryForMillis),
                                timeout: .milliseconds(spec.timeoutMillis), baseURL: spec.baseURL, random: random, logger: logger)
        if let ledgerPath {
            // As durable as the checkpoint: committed in WAL mode, so a killed process loses
            // nothing (a power cut can lose the last commits of both alike).
            let store = try StateStore(path: ledgerPath)
            uncovered = try store.uncoveredDeliveries(job: job, destination: Self.ledgerName)
            ledger = Mutex(store)
        } else {
            uncovered = []
            ledger = nil
        }
    }

    package static func open(spec: FMESpec, job: String, statePath: String?, logger: Logger,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> FMEDestination {
        let key = try MParticleCredentials.read(spec.apiKey, "api_key", environment)
        return try FMEDestination(spec: spec, job: job, sdkKey: key, ledgerPath: statePath, logger: logger)
    }

    // MARK: Destination

    package func send(_ request: PackedRequest) async throws -> DeliveryResult {
        var result = DeliveryResult()
        var ids: [String] = []
        var parsed: [Value] = []
        for index in 0..<request.batchCount {
            let bytes = request.batch(index)
            // The engine writes every batch, so this parses; a batch that did not would be refused below.
            let batch = (try? bytes.withUnsafeBytes { try JSONParser.parse($0) }) ?? .null
            parsed.append(batch)
            ids.append(batch["source_request_id"]?.scalarText ?? RowHash.murmur3(Array(bytes)).description)
        }
        let now = clock.now()
        var pending: [Pending] = []
        for index in 0..<request.batchCount {
            if uncovered.contains(ids[index]) {
                result.eventsSkipped["batch already delivered to FME by an interrupted run", default: 0] += 1
                continue
            }
            guard case .object = parsed[index] else {
                result.rejected.append(RejectedBatch(index: index, reason: "FME would not take it: the batch is not a JSON object"))
                continue
            }
            let outcome = mapper.map(parsed[index], now: now)
            if outcome.outcomes.isEmpty {
                result.eventsSkipped["a batch without events sends nothing to FME", default: 0] += 1
                continue
            }
            for (reason, count) in outcome.skipCounts { result.eventsSkipped[reason.description, default: 0] += count }
            let rejections = outcome.rejections
            if !rejections.isEmpty {
                let reasons = rejections.map { "event \($0.index + 1): \($0.reason)" }.joined(separator: "; ")
                result.rejected.append(RejectedBatch(index: index, reason: "FME would not take it: \(reasons)"))
                continue
            }
            let events = outcome.events.map(\.json)
            if events.isEmpty { continue }
            pending.append(Pending(index: index, id: ids[index], events: events))
        }
        for chunk in Self.chunks(pending) {
            try await deliver(chunk, sequence: request.sequence, result: &result)
        }
        return result
    }

    package func makeDurable() async throws {}

    package func close() async throws {
        let (client, group) = connection.withLock { state -> (HTTPClient?, MultiThreadedEventLoopGroup?) in
            state.closed = true
            defer { state.client = nil; state.group = nil }
            return (state.client, state.group)
        }
        try await client?.shutdown()
        try await group?.shutdownGracefully()
    }

    // MARK: Chunks

    /// One batch's FME events, as JSON.
    struct Pending: Sendable {
        var index: Int
        var id: String
        private(set) var events: [[UInt8]] = []
        /// The events' JSON with a comma each, kept as they are added (chunking reads it per event).
        private(set) var bytes = 0

        init(index: Int, id: String, events: [[UInt8]] = []) {
            self.index = index
            self.id = id
            for event in events { append(event) }
        }

        mutating func append(_ event: [UInt8]) {
            events.append(event)
            bytes += event.count + 1
        }

        mutating func removeAllEvents() {
            events.removeAll()
            bytes = 0
        }
    }

    /// Cuts batches into chunks within FME's limits, never splitting a batch unless it alone is
    /// over them (then it goes out alone, in as many parts as it needs).
    static func chunks(_ batches: [Pending]) -> [[Pending]] {
        var chunks: [[Pending]] = []
        var current: [Pending] = []
        var events = 0, bytes = 2
        for batch in batches {
            if batch.events.count > maxEventsPerChunk || batch.bytes + 2 > maxChunkBytes {
                if !current.isEmpty { chunks.append(current); current = []; events = 0; bytes = 2 }
                var part = Pending(index: batch.index, id: batch.id, events: [])
                for event in batch.events {
                    if !part.events.isEmpty && (part.events.count == maxEventsPerChunk || part.bytes + event.count + 3 > maxChunkBytes) {
                        chunks.append([part])
                        part.removeAllEvents()
                    }
                    part.append(event)
                }
                chunks.append([part])
                continue
            }
            if !current.isEmpty && (events + batch.events.count > maxEventsPerChunk || bytes + batch.bytes > maxChunkBytes) {
                chunks.append(current)
                current = []
                events = 0
                bytes = 2
            }
            current.append(batch)
            events += batch.events.count
            bytes += batch.bytes
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }

    static func body(_ chunk: [Pending]) -> [UInt8] {
        var body: [UInt8] = [UInt8(ascii: "[")]
        for event in chunk.lazy.flatMap(\.events) {
            if body.count > 1 { body.append(UInt8(ascii: ",")) }
            body.append(contentsOf: event)
        }
        body.append(UInt8(ascii: "]"))
        return body
    }

    // MARK: Delivery

    /// Sends a chunk; on a 400 splits it by batch until the refused batches are found. Accepted
    /// batches are recorded before this returns.
    private func deliver(_ chunk: [Pending], sequence: Int, result: inout DeliveryResult) async throws {
        switch try await post(chunk, sequence: sequence, result: &result) {
        case .accepted:
            let ids = chunk.map(\.id)
            try ledger?.withLock { try $0.recordDeliveredBatches(job: job, destination: Self.ledgerName, ids: ids, at: clock.now()) }
        case .refused(let message):
            if chunk.count == 1 {
                result.rejected.append(RejectedBatch(index: chunk[0].index, reason: message))
                return
            }
            let middle = chunk.count / 2
            try await deliver(Array(chunk[..<middle]), sequence: sequence, result: &result)
            try await deliver(Array(chunk[middle...]), sequence: sequence, result: &result)
        }
    }

    private enum Outcome: Sendable {
        case accepted
        case refused(String)
    }

    private func post(_ chunk: [Pending], sequence: Int, result: inout DeliveryResult) async throws -> Outcome {
        var http = HTTPClientRequest(url: spec.baseURL + "/events/bulk")
        http.method = .POST
        http.headers.add(name: "Authorization", value: authorization)
        http.headers.add(name: "Content-Type", value: "application/json")
        http.headers.add(name: "User-Agent", value: "syncjobs")
        http.body = .bytes(ByteBuffer(bytes: Self.body(chunk)))
        let events = chunk.reduce(0) { $0 + $1.events.count }
        let metadata: Logger.Metadata = ["request": "\(sequence)", "events": "\(events)"]
        return try await attempts.send(http, client: try client(), result: &result, metadata: metadata, giveUp: { problem, tries, elapsed in
            let after = "after \(Format.plural(tries, "attempt")) over \(MParticleDestination.format(elapsed)) (another retry would pass destination.retry_for, \(MParticleDestination.format(.milliseconds(spec.retryForMillis))))"
            if problem.unreachable {
                return MParticleError("FME (\(spec.baseURL)) could not be reached: \(problem.text), \(after); check destination.url and that this machine can reach it")
            }
            return MParticleError("FME (\(spec.baseURL)) did not accept a request of \(Format.plural(events, "event")) \(after); last problem: \(problem.text)")
        }, answer: { response, body, attempt in
            let code = response.status.code
            switch code {
            case 200..<300:
                return .done(.accepted)
            case 400, 413:
                return .done(.refused("FME refused the events: HTTP \(code)\(MParticleDestination.bodyExcerpt(body).map { ": \($0)" } ?? "")"))
            case 401, 403:
                throw MParticleError("FME (\(spec.baseURL)) refused the SDK key with HTTP \(code); check destination.api_key (\(spec.apiKey)) is a server-side SDK key of the FME environment")
            case 429:
                let retryAfter = RetryPolicy.retryAfter(response.headers.first(name: "Retry-After"),
                                                        now: Date(timeIntervalSince1970: Double(clock.now()) / 1000))
                attempts.gate.pause(for: retryAfter ?? attempts.backoff(attempt: attempt))
                return .retry(DeliveryProblem(text: "HTTP 429 (too many requests)", unreachable: false), backoff: .zero)
            case 500...:
                return .retry(DeliveryProblem(text: "HTTP \(code)\(MParticleDestination.bodyExcerpt(body).map { ": \($0)" } ?? "")", unreachable: false),
                              backoff: attempts.backoff(attempt: attempt))
            default:
                throw MParticleError("FME (\(spec.baseURL)) answered HTTP \(code) to POST /events/bulk\(MParticleDestination.bodyExcerpt(body).map { ": \($0)" } ?? ""); check destination.url")
            }
        })
    }

    private func client() throws -> HTTPClient {
        try connection.withLock { state in
            if state.closed { throw MParticleError("the FME destination is closed") }
            if let client = state.client { return client }
            var configuration = HTTPClient.Configuration()
            configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, spec.maxInFlight))
            configuration.connectionPool.retryConnectionEstablishment = false
            configuration.timeout = .init(connect: .milliseconds(attempts.connectTimeout.milliseconds))
            // Never follow a redirect: it would carry the key somewhere else.
            configuration.redirectConfiguration = .disallow
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            state.group = group
            let client = HTTPClient(eventLoopGroup: group, configuration: configuration, backgroundActivityLogger: logger)
            state.client = client
            return client
        }
    }
}
