/// The acknowledge stage: what the destination said about each request becomes counts, rejected
/// rows, rows kept for `jobs retry`, and the acknowledged prefix the checkpoint may cover.
struct AcknowledgeStage {
    var prefix: AcknowledgedPrefix
    var counts = RunCounts()
    var bytesSent = 0
    /// Rejected rows not stored yet (the checkpoint stage stores them before each checkpoint).
    var pendingRejected: [RejectedRow] = []
    /// The first rejected rows, for output.
    private(set) var samples: [RejectedRow] = []
    let sampleLimit: Int
    /// Dry runs store nothing.
    let keeps: Bool
    let runID: Int64

    init(prefix: AcknowledgedPrefix, runID: Int64?, keeps: Bool, sampleLimit: Int) {
        self.prefix = prefix
        self.runID = runID ?? 0
        self.keeps = keeps
        self.sampleLimit = sampleLimit
    }

    mutating func reject(_ number: Int, _ reason: String, _ row: String, retryable: RetryableBatch? = nil) {
        var record = RejectedRow(runID: runID, rowNumber: number, reason: reason, row: row)
        record.retryable = retryable
        counts.rowsRejected += 1
        if samples.count < sampleLimit { samples.append(record) }
        if keeps { pendingRejected.append(record) }
    }

    mutating func acknowledge(_ completion: Completion) {
        let request = completion.request
        let delivery = completion.delivery
        counts.requests += 1
        counts.rowsSent += request.batchCount - delivery.rejected.count
        counts.retries += delivery.retries
        counts.httpRequests += delivery.httpRequests
        counts.throttledWaits += delivery.throttledWaits
        counts.throttledMillis += delivery.throttledMillis
        counts.eventsSkipped.merge(delivery.eventsSkipped, uniquingKeysWith: +)
        bytesSent += request.body.count
        for refused in delivery.rejected where refused.index < request.batchCount {
            let batch = String(decoding: request.batch(refused.index), as: UTF8.self)
            reject(request.rowNumbers[refused.index], "the destination refused the batch: \(refused.reason)", batch,
                   retryable: RetryableBatch(batch: batch, eventTime: request.eventTime(refused.index)))
        }
        prefix.acknowledged(request)
    }

    /// The rows of a request that could not be delivered, to keep for `jobs retry`.
    mutating func undelivered(_ error: any Error) -> [FailedRow] {
        guard let undelivered = error as? UndeliveredRequest, keeps else { return [] }
        let request = undelivered.request
        counts.rowsUndelivered += request.batchCount
        let reason = "not delivered: \(ErrorText.describe(undelivered.underlying))"
        return (0..<request.batchCount).map { index in
            FailedRow(runID: runID, rowNumber: request.rowNumbers[index], kind: .undelivered, reason: reason,
                      batch: String(decoding: request.batch(index), as: UTF8.self), eventTime: request.eventTime(index))
        }
    }
}
