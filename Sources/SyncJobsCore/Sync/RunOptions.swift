import Foundation

public struct RunOptions: Sendable {
    /// Why the run happens: `on_demand` (jobs run), `scheduled`, `backfill`.
    public var trigger: String
    /// Map and check every row, send nothing, store nothing.
    public var dryRun: Bool
    /// Ignore the stored checkpoint for this run.
    public var fullRefresh: Bool
    /// Read at most this many rows.
    public var limit: Int?
    /// Store the checkpoint at least this often, in rows.
    public var checkpointEvery: Int
    /// The run's start, in milliseconds since the epoch; time iterators never read past it.
    public var now: Int64?
    /// For scheduled runs: the latest fire time covered, and how many fire times coalesced into it.
    public var fireTime: Int64?
    public var fireCount: Int
    /// A backfill: re-send `[lower, upper)` without reading or moving the checkpoint.
    public var window: ExplicitWindow?
    /// Mixed into every `source_request_id` and `source_message_id` (a backfill's own id), so a
    /// resend is not dropped by mParticle as a repeat of an earlier delivery.
    public var idScope: String?
    /// How many rejected rows the result keeps for output (all are in the state database).
    var rejectedSampleLimit = RunOptions.defaultRejectedSamples
    static let defaultRejectedSamples = 20
    /// Asked after every row: true ends the read (`jobs plan` has the batches it shows).
    var enough: (@Sendable () -> Bool)?

    public init(trigger: String = "on_demand", dryRun: Bool = false, fullRefresh: Bool = false, limit: Int? = nil,
                checkpointEvery: Int = 10_000, now: Int64? = nil, fireTime: Int64? = nil, fireCount: Int = 0,
                window: ExplicitWindow? = nil, idScope: String? = nil) {
        self.trigger = trigger
        self.dryRun = dryRun
        self.fullRefresh = fullRefresh
        self.limit = limit
        self.checkpointEvery = checkpointEvery
        self.now = now
        self.fireTime = fireTime
        self.fireCount = fireCount
        self.window = window
        self.idScope = idScope
    }
}

/// What a run did.
public struct RunResult: Sendable {
    public enum Failure: Sendable {
        /// The job file or its mapping does not validate (exit code 2).
        case invalidJob([Diagnostic])
        case failed(String)
    }

    public var job: String
    public var runID: Int64?
    public var dryRun: Bool
    public var counts = RunCounts()
    public var bytesSent = 0
    public var seconds = 0.0
    public var windowLower: String?
    public var windowUpper: String?
    public var checkpoint: String?
    public var notes: [String] = []
    public var failure: Failure?
    /// The run stopped reading before the end because it was asked to (daemon shutdown).
    public var stopped = false
    /// The run was cancelled (it outlasted the daemon's shutdown grace period).
    public var cancelled = false
    /// The first rejected rows, for output (all are in the state database).
    public var rejectedSamples: [RejectedRow] = []

    public var succeeded: Bool { failure == nil }

    /// What run history records, and the log says: a run stopped or cancelled before its end is
    /// `interrupted`; one that ran to its end `succeeded` or `failed`.
    public var status: RunStatus {
        if cancelled { return .interrupted }
        if failure != nil { return .failed }
        return stopped ? .interrupted : .succeeded
    }

    public var errorMessage: String? {
        switch failure {
        case .invalidJob(let diagnostics): return diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "\n")
        case .failed(let message): return message
        case nil: return nil
        }
    }
}
