import Metrics

/// What runs and deliveries report to swift-metrics, for the daemon's `/metrics`. Labels are
/// bounded: job names (from the job files) and fixed enums (run status, destination type).
///
/// The factory is injected rather than bootstrapped globally, so each daemon (and each test) has
/// a registry of its own.
package struct SyncMetrics: Sendable {
    package let factory: any MetricsFactory

    package init(factory: any MetricsFactory) { self.factory = factory }

    package static let runs = "syncjobs_runs_total"
    package static let rowsRead = "syncjobs_rows_read_total"
    package static let rowsSent = "syncjobs_rows_sent_total"
    package static let rowsRejected = "syncjobs_rows_rejected_total"
    package static let retries = "syncjobs_retries_total"
    package static let throttledSeconds = "syncjobs_throttled_seconds_total"
    package static let lastSuccess = "syncjobs_last_success_timestamp_seconds"
    package static let requestDuration = "syncjobs_request_duration_seconds"
    package static let checkpointLag = "syncjobs_checkpoint_lag_seconds"

    /// A run that ended: its status, its rows, retries and throttled time, and when it last succeeded.
    package func recordRun(_ result: RunResult, endedAt: Int64) {
        record(job: result.job, status: result.status, counts: result.counts, endedAt: endedAt)
    }

    /// A `jobs retry` run of the daemon (the API's retry).
    package func recordRetry(job: String, outcome: RetryCommand.Outcome, endedAt: Int64) {
        record(job: job, status: outcome.error == nil ? .succeeded : .failed, counts: outcome.counts, endedAt: endedAt)
    }

    func record(job: String, status: RunStatus, counts: RunCounts, endedAt: Int64) {
        let byJob = [("job", job)]
        Counter(label: Self.runs, dimensions: byJob + [("status", status.rawValue)], factory: factory).increment()
        Counter(label: Self.rowsRead, dimensions: byJob, factory: factory).increment(by: counts.rowsRead)
        Counter(label: Self.rowsSent, dimensions: byJob, factory: factory).increment(by: counts.rowsSent)
        Counter(label: Self.rowsRejected, dimensions: byJob, factory: factory).increment(by: counts.rowsRejected)
        Counter(label: Self.retries, dimensions: byJob, factory: factory).increment(by: counts.retries)
        FloatingPointCounter(label: Self.throttledSeconds, dimensions: byJob, factory: factory)
            .increment(by: Double(counts.throttledMillis) / 1000)
        if status == .succeeded {
            Gauge(label: Self.lastSuccess, dimensions: byJob, factory: factory).record(Double(endedAt) / 1000)
        }
    }

    /// Checkpoint lag of a time iterator: now minus the checkpoint's high watermark, in seconds.
    package func recordCheckpointLag(job: String, seconds: Double) {
        Gauge(label: Self.checkpointLag, dimensions: [("job", job)], factory: factory).record(seconds)
    }

    /// The destination, with each request's time to its final answer (retries and waits
    /// included) recorded by destination type.
    package func timed(_ destination: any Destination, destination type: String) -> any Destination {
        TimedDestination(wrapped: destination, timer: Timer(label: Self.requestDuration, dimensions: [("destination", type)], factory: factory))
    }
}

/// Times every `send` of the destination it wraps; everything else passes through.
struct TimedDestination: Destination {
    let wrapped: any Destination
    let timer: Timer

    var maxInFlight: Int { wrapped.maxInFlight }
    var packing: PackingLimits { wrapped.packing }

    func send(_ request: PackedRequest) async throws -> DeliveryResult {
        let started = ContinuousClock.now
        defer {
            let (seconds, attoseconds) = (ContinuousClock.now - started).components
            timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        return try await wrapped.send(request)
    }

    func makeDurable() async throws { try await wrapped.makeDurable() }
    func close() async throws { try await wrapped.close() }
}
