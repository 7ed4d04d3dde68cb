import Foundation

/// Backfills and the windows they completed.
///
/// A backfill re-sends rows mParticle has probably seen: with the original `source_request_id`s it
/// would drop them as repeats (it remembers ids for 30 to 60 days), so each backfill has its own
/// id, mixed into the ids of what it sends. Running the same backfill again after a failure or a
/// crash continues it with the same id, so what already arrived is not taken twice.
extension StateStore {
    package func completedBackfillWindows(job: String) throws -> Set<BackfillWindowKey> {
        try withDatabase {
            var keys: Set<BackfillWindowKey> = []
            for r in try rows("SELECT lower_value, upper_value FROM backfill_windows WHERE job = ?1", [.string(job)]) {
                keys.insert(BackfillWindowKey(lower: Self.text(r[0]) ?? "", upper: Self.text(r[1]) ?? ""))
            }
            return keys
        }
    }

    package func recordBackfillWindow(job: String, _ key: BackfillWindowKey, runID: Int64, rowsSent: Int) throws {
        try withDatabase {
            try run("""
                INSERT INTO backfill_windows (job, lower_value, upper_value, run_id, rows_sent, completed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                ON CONFLICT(job, lower_value, upper_value) DO UPDATE SET run_id = excluded.run_id, rows_sent = excluded.rows_sent,
                    completed_at = excluded.completed_at
                """, [.string(job), .string(key.lower), .string(key.upper), .int(runID), .int(Int64(rowsSent)), .int(Self.now())])
        }
    }


    /// The backfill of `[lower, upper)` to continue (the latest unfinished one of the same range),
    /// or a new one when there is none or `fresh` is set (`--again`).
    func beginBackfill(job: String, lower: String, upper: String, fresh: Bool, now: Int64) throws -> (id: Int64, resumed: Bool) {
        try withDatabase {
            try transaction {
                if !fresh, let id = try scalarInt("""
                    SELECT id FROM backfills WHERE job = ?1 AND lower_value = ?2 AND upper_value = ?3 AND completed_at IS NULL
                    ORDER BY id DESC LIMIT 1
                    """, [.string(job), .string(lower), .string(upper)]) {
                    return (id, true)
                }
                let inserted = try rows("INSERT INTO backfills (job, lower_value, upper_value, started_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                                        [.string(job), .string(lower), .string(upper), .int(now)])
                return (Self.int(inserted.first?.first ?? .null), false)
            }
        }
    }

    func completeBackfill(_ id: Int64, now: Int64) throws {
        try withDatabase {
            try run("UPDATE backfills SET completed_at = ?2 WHERE id = ?1", [.int(id), .int(now)])
        }
    }
}

/// A backfill window as stored: its bounds as the user reads them.
package struct BackfillWindowKey: Sendable, Hashable {
    package var lower: String
    package var upper: String
    package init(lower: String, upper: String) {
        self.lower = lower
        self.upper = upper
    }
}

