import Foundation
import Logging

/// `jobs retry JOB`: resends just the rows a destination refused or that a failed run left
/// undelivered, exactly as they were first sent (same `source_request_id`s, so mParticle drops any
/// it already has).
public enum RetryCommand {
    package static let pageSize = 5_000

    package struct Outcome: Sendable {
        package var runID: Int64
        package var attempted = 0
        package var counts = RunCounts()
        package var stillPending = 0
        package var seconds = 0.0
        package var error: String?
        package var refusedSamples: [(rowNumber: Int, reason: String)] = []
    }

    public static func execute(workspace: Workspace, job reference: String, output: any CommandOutput,
                               logger: Logger) async -> ExitStatus {
        let job: JobDefinition
        do {
            (job, _) = try JobFileParser.load(path: try workspace.locate(reference))
        } catch {
            output.err("\(error)")
            return .invalid
        }
        do {
            let state = try workspace.openState()
            let (refused, undelivered) = try state.failedCounts(job: job.name)
            if refused + undelivered == 0 {
                output.out("\(job.name): no failed rows to retry")
                return .ok
            }
            let destination = try DestinationFactory.make(for: job, statePath: workspace.statePath, logger: logger)
            let outcome = try await retry(job: job, state: state, destination: destination, logger: logger)
            var line = "\(job.name) retry run #\(outcome.runID): resent \(Format.plural(outcome.attempted, "failed row")) in \(Format.plural(outcome.counts.requests, "request"))"
            line += ": \(Format.count(outcome.counts.rowsSent)) delivered, \(Format.count(outcome.counts.rowsRejected)) refused again"
            line += DeliveryFigures.text(outcome.counts)
            line += " in \(Format.seconds(outcome.seconds)); \(Format.plural(outcome.stillPending, "row")) still waiting"
            if let error = outcome.error {
                output.err(line)
                output.err("\(job.name): retry run #\(outcome.runID) failed: \(error)")
                return .runFailed
            }
            output.out(line)
            for sample in outcome.refusedSamples.prefix(5) {
                output.err("  refused row \(sample.rowNumber): \(sample.reason)")
            }
            return .ok
        } catch {
            output.err("\(job.name): \(error)")
            return .runFailed
        }
    }

    /// Resends every pending failed row of a job through `destination`, recording a run with
    /// trigger `retry`.
    package static func retry(job: JobDefinition, state: StateStore, destination: any Destination, logger: Logger) async throws -> Outcome {
        let startedAt = StateStore.now()
        let started = ContinuousClock.now
        let lease = try RunLease(state: state, job: job.name, trigger: "retry", startedAt: startedAt)
        let runID = lease.runID
        var outcome = Outcome(runID: runID)
        var logger = logger
        logger[metadataKey: "job"] = "\(job.name)"
        logger[metadataKey: "run"] = "\(runID)"
        do {
            var afterID: Int64 = 0
            pages: while true {
                let rows = try state.pendingFailed(job: job.name, afterID: afterID, limit: pageSize)
                guard let last = rows.last else { break }
                afterID = last.id
                outcome.attempted += rows.count
                let (delivered, refused, failure) = await send(rows, destination: destination, counts: &outcome.counts)
                try state.settleRetried(delivered: delivered, refused: refused)
                for (id, reason) in refused where outcome.refusedSamples.count < 20 {
                    if let row = rows.first(where: { $0.id == id }) { outcome.refusedSamples.append((row.rowNumber, reason)) }
                }
                if let failure {
                    outcome.error = ErrorText.describe(failure)
                    break pages
                }
            }
        } catch {
            outcome.error = ErrorText.describe(error)
        }
        try? await destination.close()
        outcome.seconds = (ContinuousClock.now - started).seconds
        let (refused, undelivered) = (try? state.failedCounts(job: job.name)) ?? (0, 0)
        outcome.stillPending = refused + undelivered
        try? lease.finish(counts: outcome.counts, window: (nil, nil), checkpoint: nil, status: outcome.error == nil ? .succeeded : .failed,
                          endedAt: startedAt + Int64(outcome.seconds * 1000), error: outcome.error)
        logger.info("Retry finished", metadata: ["rows.delivered": "\(outcome.counts.rowsSent)",
                                                 "rows.refused": "\(outcome.counts.rowsRejected)",
                                                 "rows.pending": "\(outcome.stillPending)"])
        return outcome
    }

    /// Packs rows into requests within the destination's limits and sends them through the
    /// run's deliver stage. Returns the ids delivered, the ids refused with their reasons, and the
    /// error that stopped it, if any.
    static func send(_ rows: [FailedRow], destination: any Destination, counts: inout RunCounts) async
        -> (delivered: [Int64], refused: [(id: Int64, reason: String)], failure: Error?) {
        var packer = RequestPacker(destination.packing)
        var requests: [PackedRequest] = []
        for (index, row) in rows.enumerated() {
            let bytes = Array(row.batch.utf8)
            if !packer.fits(bytes), let request = packer.seal() { requests.append(request) }
            // The row number field carries the index into `rows`.
            packer.add(bytes, rowNumber: index, ordinal: index + 1, eventTime: row.eventTime)
            if packer.count >= packer.maxBatches, let request = packer.seal() { requests.append(request) }
        }
        if let request = packer.seal() { requests.append(request) }

        var delivered: [Int64] = []
        var refused: [(id: Int64, reason: String)] = []
        var failure: Error?
        func settle(_ done: Completion) {
            counts.requests += 1
            counts.retries += done.delivery.retries
            counts.httpRequests += done.delivery.httpRequests
            counts.throttledWaits += done.delivery.throttledWaits
            counts.throttledMillis += done.delivery.throttledMillis
            let refusedIndices = Set(done.delivery.rejected.map(\.index))
            for (position, index) in done.request.rowNumbers.enumerated() where !refusedIndices.contains(position) {
                delivered.append(rows[index].id)
                counts.rowsSent += 1
            }
            for rejection in done.delivery.rejected {
                refused.append((rows[done.request.rowNumbers[rejection.index]].id, "the destination refused the batch: \(rejection.reason)"))
                counts.rowsRejected += 1
            }
        }
        var stage = DeliveryStage(destination: destination)
        await withThrowingTaskGroup(of: Completion.self) { group in
            do {
                for request in requests {
                    for done in try await stage.launch(request, in: &group) { settle(done) }
                }
                while let done = try await stage.next(in: &group) { settle(done) }
            } catch {
                failure = (error as? UndeliveredRequest)?.underlying ?? error
                while let answer = await stage.drain(&group) {
                    if case .success(let done) = answer { settle(done) }
                }
            }
        }
        counts.rowsRead += rows.count
        return (delivered, refused, failure)
    }
}

/// HTTP requests are shown when they differ from the packed requests (retries, split requests).
enum DeliveryFigures {
    static func text(_ c: RunCounts) -> String {
        var parts: [String] = []
        if c.httpRequests > 0 && c.httpRequests != c.requests { parts.append(Format.plural(c.httpRequests, "HTTP request")) }
        if c.retries > 0 { parts.append(Format.plural(c.retries, "retry", "retries")) }
        if c.throttledWaits > 0 {
            parts.append("\(Format.plural(c.throttledWaits, "throttled wait")) (\(Format.seconds(Double(c.throttledMillis) / 1000)))")
        }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    }

    /// `, skipped 3 events the destination does not take (reason: 2; reason: 1)`, or nothing.
    static func skippedEvents(_ c: RunCounts) -> String {
        guard c.eventsSkippedTotal > 0 else { return "" }
        let reasons = c.eventsSkipped.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key): \(Format.count($0.value))" }
        return ", skipped \(Format.plural(c.eventsSkippedTotal, "event")) the destination does not take (\(reasons.joined(separator: "; ")))"
    }
}
