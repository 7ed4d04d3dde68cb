import Foundation

/// Rejected rows and failed rows in the state database.
///
/// Both are bookkeeping that must not drift: a row rejected on every run (a bad iterator can never
/// be placed in a window) is one record with a count, and a delivery that fails on several runs is
/// one failed row, identified by its `source_request_id`, so `jobs retry` sends it once.
extension StateStore {
    // MARK: Rejected rows

    /// Records rejected rows. A row rejected before (the same content, or for a batch the
    /// destination refused, the same `source_request_id`) stays one record: it is counted again and
    /// takes the latest run, row number and reason. A refused batch is also kept for `jobs retry`.
    package func recordRejected(job: String, runID: Int64, _ rows: [RejectedRow]) throws {
        guard !rows.isEmpty else { return }
        try withDatabase {
            try transaction {
                let now = Self.now()
                for row in rows {
                    let requestID = row.retryable.flatMap { SourceRequestID.in(batch: $0.batch) }
                    let key = requestID.map { "request:" + $0 } ?? "row:" + RowHash.murmur3(Array(row.row.utf8)).description
                    try run("""
                        INSERT INTO rejected_rows (job, run_id, last_run_id, row_number, reason, row, row_key, request_id, created_at)
                        VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                        ON CONFLICT(job, row_key) DO UPDATE SET last_run_id = excluded.last_run_id,
                            row_number = excluded.row_number, reason = excluded.reason, row = excluded.row,
                            times_seen = rejected_rows.times_seen + 1, resolved_at = NULL
                        """, [.string(job), .int(runID), .int(Int64(row.rowNumber)), .string(row.reason),
                              .string(row.row), .string(key), requestID.map(Value.string) ?? .null, .int(now)])
                }
                let failed = rows.compactMap { row in
                    row.retryable.map { FailedRow(runID: runID, rowNumber: row.rowNumber, kind: .refused, reason: row.reason,
                                                  batch: $0.batch, eventTime: $0.eventTime) }
                }
                try insertFailed(job: job, failed, now: now)
            }
        }
    }

    /// Rejected rows not settled since: how many, how many `jobs retry` delivered later, and the
    /// latest `limit`, oldest first.
    package func rejectedRows(job: String, limit: Int) throws -> RejectedRows {
        try withDatabase {
            var summary = RejectedRows()
            summary.total = Int(try scalarInt("SELECT count(*) FROM rejected_rows WHERE job = ?1 AND resolved_at IS NULL", [.string(job)]) ?? 0)
            summary.deliveredByRetry = Int(try scalarInt("SELECT count(*) FROM rejected_rows WHERE job = ?1 AND resolved_at IS NOT NULL", [.string(job)]) ?? 0)
            for r in try rows("""
                SELECT coalesce(last_run_id, run_id), row_number, reason, row, times_seen, run_id FROM rejected_rows
                WHERE job = ?1 AND resolved_at IS NULL ORDER BY coalesce(last_run_id, run_id) DESC, id DESC LIMIT ?2
                """, [.string(job), .int(Int64(limit))]) {
                var row = RejectedRow(runID: Self.int(r[0]), rowNumber: Int(Self.int(r[1])), reason: Self.text(r[2]) ?? "",
                                      row: Self.text(r[3]) ?? "")
                row.timesSeen = Int(Self.int(r[4]))
                row.firstRunID = Self.int(r[5])
                summary.rows.append(row)
            }
            summary.rows.reverse()
            return summary
        }
    }

    // MARK: Failed rows (for `jobs retry`)

    /// One failed row per delivery: a batch that failed before (same `source_request_id`) is
    /// updated, not added again, and waits for `jobs retry` once more.
    private func insertFailed(job: String, _ rows: [FailedRow], now: Int64) throws {
        guard !rows.isEmpty else { return }
        for row in rows {
            try run("""
                INSERT INTO failed_rows (job, run_id, row_number, kind, reason, batch, event_time, request_id, created_at, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
                ON CONFLICT(job, request_id) DO UPDATE SET run_id = excluded.run_id, row_number = excluded.row_number,
                    kind = excluded.kind, reason = excluded.reason, batch = excluded.batch, event_time = excluded.event_time,
                    status = 'pending', attempts = failed_rows.attempts + 1, updated_at = excluded.updated_at
                """, [.string(job), .int(row.runID), .int(Int64(row.rowNumber)), .string(row.kind.rawValue),
                      .string(row.reason), .string(row.batch), row.eventTime.map(Value.int) ?? .null,
                      SourceRequestID.in(batch: row.batch).map(Value.string) ?? .null, .int(now)])
        }
    }

    /// Keeps rows for `jobs retry`: batches a destination refused or could not deliver.
    package func recordFailed(job: String, _ rows: [FailedRow]) throws {
        guard !rows.isEmpty else { return }
        try withDatabase {
            try transaction { try insertFailed(job: job, rows, now: Self.now()) }
        }
    }

    /// Pending failed rows, oldest first, after `afterID`.
    package func pendingFailed(job: String, afterID: Int64 = 0, limit: Int) throws -> [FailedRow] {
        try withDatabase {
            var rows: [FailedRow] = []
            for r in try self.rows("""
                SELECT id, run_id, row_number, kind, reason, batch, event_time, attempts FROM failed_rows
                WHERE job = ?1 AND status = 'pending' AND id > ?2 ORDER BY id LIMIT ?3
                """, [.string(job), .int(afterID), .int(Int64(limit))]) {
                var row = FailedRow(runID: Self.int(r[1]), rowNumber: Int(Self.int(r[2])),
                                    kind: FailedRow.Kind(rawValue: Self.text(r[3]) ?? "") ?? .undelivered,
                                    reason: Self.text(r[4]) ?? "", batch: Self.text(r[5]) ?? "",
                                    eventTime: r[6].isNull ? nil : Self.int(r[6]))
                row.id = Self.int(r[0])
                row.attempts = Int(Self.int(r[7]))
                rows.append(row)
            }
            return rows
        }
    }

    /// Counts of pending failed rows by kind.
    package func failedCounts(job: String) throws -> (refused: Int, undelivered: Int) {
        try withDatabase {
            let refused = Int(try scalarInt("SELECT count(*) FROM failed_rows WHERE job = ?1 AND status = 'pending' AND kind = 'refused'", [.string(job)]) ?? 0)
            let undelivered = Int(try scalarInt("SELECT count(*) FROM failed_rows WHERE job = ?1 AND status = 'pending' AND kind = 'undelivered'", [.string(job)]) ?? 0)
            return (refused, undelivered)
        }
    }

    /// Records the outcome of a retry: delivered rows are done (and a rejected-row record of the
    /// same batch is settled); refused ones stay pending with the new reason.
    package func settleRetried(delivered: [Int64], refused: [(id: Int64, reason: String)]) throws {
        try withDatabase {
            try transaction {
                let now = Self.now()
                for id in delivered {
                    try run("UPDATE failed_rows SET status = 'delivered', attempts = attempts + 1, updated_at = ?2 WHERE id = ?1",
                            [.int(id), .int(now)])
                    try run("""
                        UPDATE rejected_rows SET resolved_at = ?2 WHERE resolved_at IS NULL AND (job, request_id) IN
                            (SELECT job, request_id FROM failed_rows WHERE id = ?1 AND request_id IS NOT NULL)
                        """, [.int(id), .int(now)])
                }
                for (id, reason) in refused {
                    try run("UPDATE failed_rows SET kind = 'refused', reason = ?2, attempts = attempts + 1, updated_at = ?3 WHERE id = ?1",
                            [.int(id), .string(reason), .int(now)])
                }
            }
        }
    }

    /// At most this many ids of rows `jobs retry` delivered are held by a run, to skip them; past
    /// it the run sends them again (mParticle drops repeats by `source_request_id`).
    static let retriedIDsMax = 1_000_000

    /// The `source_request_id`s of undelivered rows that `jobs retry` has delivered since: the
    /// checkpoint has not passed them yet, so the next run reads them again and must skip them.
    /// Nil when there are more than `retriedIDsMax`.
    func deliveredByRetry(job: String) throws -> Set<RowHash>? {
        try withDatabase {
            var ids = Set<RowHash>()
            for row in try rows("""
                SELECT request_id FROM failed_rows WHERE job = ?1 AND kind = 'undelivered' AND status = 'delivered'
                    AND request_id IS NOT NULL LIMIT ?2
                """, [.string(job), .int(Int64(Self.retriedIDsMax + 1))]) {
                if let text = Self.text(row[0]), let hash = RowHash(hex: text) { ids.insert(hash) }
            }
            return ids.count > Self.retriedIDsMax ? nil : ids
        }
    }

    /// After a run that read its whole window: undelivered rows of earlier runs were read again
    /// (the checkpoint never passes an unacknowledged row), and rows `jobs retry` delivered were
    /// read and skipped, so neither needs anything more.
    package func settleUndelivered(job: String, beforeRun runID: Int64) throws {
        try withDatabase {
            try transaction {
                let now = Value.int(Self.now())
                try run("UPDATE failed_rows SET status = 'superseded', updated_at = ?3 WHERE job = ?1 AND run_id < ?2 AND kind = 'undelivered' AND status = 'pending'",
                        [.string(job), .int(runID), now])
                try run("UPDATE failed_rows SET status = 'passed', updated_at = ?2 WHERE job = ?1 AND kind = 'undelivered' AND status = 'delivered'",
                        [.string(job), now])
            }
        }
    }
}

/// The `source_request_id` of a batch: every batch ends with it (`…,"source_request_id":"<32 hex>"}`).
enum SourceRequestID {
    static func `in`(batch: String) -> String? {
        let bytes = Array(batch.utf8.suffix(56))
        let marker = Array(#","source_request_id":""#.utf8)
        guard bytes.count == 56, Array(bytes[0..<marker.count]) == marker, bytes[54] == UInt8(ascii: "\""),
              bytes[55] == UInt8(ascii: "}") else { return nil }
        let id = bytes[marker.count..<54]
        guard id.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        else { return nil }
        return String(decoding: id, as: UTF8.self)
    }
}

extension RowHash {
    /// Reads the 32 hex digits `description` writes.
    init?(hex: String) {
        guard hex.utf8.count == 32, let high = UInt64(hex.prefix(16), radix: 16), let low = UInt64(hex.suffix(16), radix: 16)
        else { return nil }
        self.init(high: high, low: low)
    }
}

/// What `jobs status` shows of a job's rejected rows.
package struct RejectedRows: Sendable, Equatable {
    /// Distinct rejected rows not settled since.
    package var total = 0
    /// Rows a destination refused that `jobs retry` delivered later.
    package var deliveredByRetry = 0
    package var rows: [RejectedRow] = []
}

package struct RejectedRow: Sendable, Equatable {
    /// The (latest) run that rejected the row.
    package var runID: Int64
    package var rowNumber: Int
    package var reason: String
    /// The row as JSON (an object of column to value, or the raw text of a malformed record).
    package var row: String
    /// Set when a destination refused the batch: it is also kept for `jobs retry`.
    package var retryable: RetryableBatch? = nil
    /// How many times runs rejected this row, and the first run that did (as stored).
    package var timesSeen = 1
    package var firstRunID: Int64? = nil
}

package struct RetryableBatch: Sendable, Equatable {
    package var batch: String
    package var eventTime: Int64?
}

/// A row kept for `jobs retry`: its batch exactly as it was sent (ids included, so a resend is
/// deduplicated by mParticle).
package struct FailedRow: Sendable, Equatable {
    package enum Kind: String, Sendable {
        /// The destination answered and refused the batch (HTTP 400).
        case refused
        /// The request failed for good (retries ran out, or the run stopped).
        case undelivered
    }

    package var id: Int64 = 0
    package var runID: Int64
    package var rowNumber: Int
    package var kind: Kind
    package var reason: String
    package var batch: String
    package var eventTime: Int64?
    package var attempts = 1

    package init(runID: Int64, rowNumber: Int, kind: Kind, reason: String, batch: String, eventTime: Int64?) {
        self.runID = runID
        self.rowNumber = rowNumber
        self.kind = kind
        self.reason = reason
        self.batch = batch
        self.eventTime = eventTime
    }
}
