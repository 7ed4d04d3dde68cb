/// Where requests go. The engine hands a destination sealed requests, up to `maxInFlight` at a
/// time, and stores a checkpoint only once every request before it has been acknowledged.
public protocol Destination: Sendable {
    /// How many requests may be outstanding at once. The engine keeps acknowledgements in order
    /// whatever order they complete in.
    var maxInFlight: Int { get }

    /// Delivers one request. Returning means the destination has accepted it (or the batches
    /// listed as rejected); throwing fails the run, keeping what was acknowledged before.
    func send(_ request: PackedRequest) async throws -> DeliveryResult

    /// Makes everything acknowledged so far durable; called before each checkpoint is stored.
    func makeDurable() async throws

    /// Releases resources at the end of a run.
    func close() async throws
}

/// What a destination says about one delivered request.
public struct DeliveryResult: Sendable, Equatable {
    /// Batches the destination refused, by index in the request, with its reason.
    public var rejected: [RejectedBatch]
    public var retries: Int

    public init(rejected: [RejectedBatch] = [], retries: Int = 0) {
        self.rejected = rejected
        self.retries = retries
    }

    public static let accepted = DeliveryResult()
}

public struct RejectedBatch: Sendable, Equatable {
    public var index: Int
    public var reason: String

    public init(index: Int, reason: String) {
        self.index = index
        self.reason = reason
    }
}

/// Opens the destination a job names.
public enum DestinationFactory {
    public static func make(for job: JobDefinition) throws -> any Destination {
        switch job.destination.kind {
        case .file(let path):
            return try FileDestination(path: path)
        }
    }
}
