import Foundation

public struct RunOptions: Sendable {
    /// Why the run happens: `on_demand` (jobs run), `scheduled`, `backfill`.
    package var trigger: String
    /// Map and check every row, send nothing, store nothing.
    package var dryRun: Bool
    /// Ignore the stored checkpoint for this run.
    package var fullRefresh: Bool
    /// Read at most this many rows.
    package var limit: Int?
    /// Store the checkpoint at least this often, in rows.
    package var checkpointEvery: Int
    /// The run's start, in milliseconds since the epoch; time iterators never read past it.
    package var now: Int64?
    /// For scheduled runs: the latest fire time covered, and how many fire times coalesced into it.
    package var fireTime: Int64?
    package var fireCount: Int
    /// A backfill: re-send `[lower, upper)` without reading or moving the checkpoint.
    package var window: ExplicitWindow?
    /// Mixed into every `source_request_id` and `source_message_id` (a backfill's own id), so a
    /// resend is not dropped by mParticle as a repeat of an earlier delivery.
    package var idScope: String?
    /// How many rejected rows the result keeps for output (all are in the state database).
    var rejectedSampleLimit = RunOptions.defaultRejectedSamples
    static let defaultRejectedSamples = 20
    /// Asked after every row: true ends the read (`jobs plan` has the batches it shows).
    var enough: (@Sendable () -> Bool)?

    /// A run of `jobs run`.
    public init(dryRun: Bool, fullRefresh: Bool, limit: Int?) {
        self.init(trigger: "on_demand", dryRun: dryRun, fullRefresh: fullRefresh, limit: limit)
    }

    package init(trigger: String = "on_demand", dryRun: Bool = false, fullRefresh: Bool = false, limit: Int? = nil,
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
package struct RunResult: Sendable {
    package enum Failure: Sendable {
        /// The job file or its mapping does not validate (exit code 2).
        case invalidJob([Diagnostic])
        case failed(String)
    }

    package var job: String
    package var runID: Int64?
    package var dryRun: Bool
    package var counts = RunCounts()
    package var bytesSent = 0
    package var seconds = 0.0
    package var windowLower: String?
    package var windowUpper: String?
    package var checkpoint: String?
    package var notes: [String] = []
    package var failure: Failure?
    /// The run stopped reading before the end because it was asked to (daemon shutdown).
    package var stopped = false
    /// The run was cancelled (it outlasted the daemon's shutdown grace period).
    package var cancelled = false
    /// The first rejected rows, for output (all are in the state database).
    package var rejectedSamples: [RejectedRow] = []

    package var succeeded: Bool { failure == nil }

    /// What run history records, and the log says: a run stopped or cancelled before its end is
    /// `interrupted`; one that ran to its end `succeeded` or `failed`.
    package var status: RunStatus {
        if cancelled { return .interrupted }
        if failure != nil { return .failed }
        return stopped ? .interrupted : .succeeded
    }

    package var errorMessage: String? {
        switch failure {
        case .invalidJob(let diagnostics): return diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "\n")
        case .failed(let message): return message
        case nil: return nil
        }
    }
}
