import Logging

/// Where requests go. The engine hands a destination sealed requests, up to `maxInFlight` at a
/// time, and stores a checkpoint only once every request before it has been acknowledged.
package protocol Destination: Sendable {
    /// How many requests may be outstanding at once. The engine keeps acknowledgements in order
    /// whatever order they complete in.
    var maxInFlight: Int { get }

    /// How many batches, and how many bytes, one request may hold.
    var packing: PackingLimits { get }

    /// Delivers one request. Returning means the destination has accepted it (or the batches
    /// listed as rejected); throwing fails the run, keeping what was acknowledged before.
    func send(_ request: PackedRequest) async throws -> DeliveryResult

    /// Makes everything acknowledged so far durable; called before each checkpoint is stored.
    func makeDurable() async throws

    /// Releases resources at the end of a run.
    func close() async throws
}

extension Destination {
    /// The Events API's limits, which the file destination keeps too: its lines are what would be POSTed.
    package var packing: PackingLimits { .eventsAPI }
}

/// What a destination says about one delivered request.
package struct DeliveryResult: Sendable, Equatable {
    /// Batches the destination refused, by index in the request, with its reason.
    package var rejected: [RejectedBatch]
    /// Attempts that were repeated (after a 429, a 5xx, a timeout, a dropped or refused connection).
    package var retries: Int
    /// HTTP requests made for it: every attempt that reached the server, and each half of a
    /// request split to find refused batches. Zero for destinations that are not HTTP.
    package var httpRequests: Int
    /// Times the request was held back before an attempt went out, because the destination
    /// throttled (429, `Retry-After`) or was close to its rate limit.
    package var throttledWaits: Int
    /// Its share of the run's throttled wall time: the time during which any request of the run
    /// was held back, counted once however many waited together (see `ThrottledTime`). The
    /// shares of a run's requests add up to that time.
    package var throttledMillis: Int64
    /// Events the destination does not take (FME: types it has no place for), by reason: not
    /// errors, but counted so nothing is left out silently.
    package var eventsSkipped: [String: Int] = [:]

    package init(rejected: [RejectedBatch] = [], retries: Int = 0, httpRequests: Int = 0, throttledWaits: Int = 0,
                throttledMillis: Int64 = 0) {
        self.rejected = rejected
        self.retries = retries
        self.httpRequests = httpRequests
        self.throttledWaits = throttledWaits
        self.throttledMillis = throttledMillis
    }

    package mutating func add(_ other: DeliveryResult, indexOffset map: (Int) -> Int) {
        rejected += other.rejected.map { RejectedBatch(index: map($0.index), reason: $0.reason) }
        retries += other.retries
        httpRequests += other.httpRequests
        throttledWaits += other.throttledWaits
        throttledMillis += other.throttledMillis
        eventsSkipped.merge(other.eventsSkipped, uniquingKeysWith: +)
    }

    package static let accepted = DeliveryResult()
}

package struct RejectedBatch: Sendable, Equatable {
    package var index: Int
    package var reason: String

    package init(index: Int, reason: String) {
        self.index = index
        self.reason = reason
    }
}

/// Opens the destination a job names.
package enum DestinationFactory {
    /// - Parameter statePath: the state database, where a non-idempotent destination (FME) records
    ///   what it delivered.
    package static func make(for job: JobDefinition, statePath: String? = nil, logger: Logger = Logger(label: "syncjobs")) throws -> any Destination {
        switch job.destination.kind {
        case .file(let path):
            return try FileDestination(path: path)
        case .mparticle(let spec):
            return MParticleDestination(spec: spec, credentials: try MParticleCredentials.resolve(spec), logger: logger)
        case .fme(let spec):
            guard let statePath else {
                throw MParticleError("the fme destination records what FME accepted in the state database, and none was given")
            }
            return try FMEDestination.open(spec: spec, job: job.name, statePath: statePath, logger: logger)
        }
    }
}

/// A request the destination could not deliver: carries the request so its rows can be kept for
/// `jobs retry`.
package struct UndeliveredRequest: Error, CustomStringConvertible {
    package var request: PackedRequest
    package var underlying: Error

    package var description: String { ErrorText.describe(underlying) }
}
