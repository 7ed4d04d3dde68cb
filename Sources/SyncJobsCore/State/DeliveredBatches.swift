/// Batches a non-idempotent destination has accepted, by the batch's `source_request_id`: FME's
/// events API makes a second event of a resent one, so a batch it accepted is never sent again,
/// not even after a crash between its acknowledgement and the checkpoint.
extension StateStore {
    /// Which of `ids` were delivered to `destination` for `job`.
    package func deliveredBatches(job: String, destination: String, among ids: [String]) throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try withDatabase {
            var found: Set<String> = []
            // SQLite's default limit on bound parameters is 32,766; requests hold far fewer batches.
            for start in stride(from: 0, to: ids.count, by: 500) {
                let part = Array(ids[start..<min(start + 500, ids.count)])
                let placeholders = (0..<part.count).map { "?\($0 + 3)" }.joined(separator: ",")
                let statement = try database.prepare(
                    "SELECT batch_id FROM delivered_batches WHERE job = ?1 AND destination = ?2 AND batch_id IN (\(placeholders))")
                try statement.bind([.string(job), .string(destination)] + part.map(Value.string))
                while try statement.step() {
                    if case .string(let id) = try statement.value(at: 0) { found.insert(id) }
                }
            }
            return found
        }
    }

    /// Records batches as delivered, in one transaction committed when this returns.
    package func recordDeliveredBatches(job: String, destination: String, ids: [String], at time: Int64) throws {
        guard !ids.isEmpty else { return }
        try withDatabase {
            try database.transaction(.immediate) {
                let statement = try database.prepare(
                    "INSERT OR IGNORE INTO delivered_batches (job, destination, batch_id, delivered_at) VALUES (?1, ?2, ?3, ?4)")
                for id in ids {
                    try statement.bind([.string(job), .string(destination), .string(id), .int(time)])
                    while try statement.step() {}
                    try statement.reset()
                }
            }
        }
    }

    /// Forgets deliveries recorded before `time` (they can no longer be sent again: see the caller).
    package func forgetDeliveredBatches(job: String, destination: String, before time: Int64) throws {
        try withDatabase {
            try run("DELETE FROM delivered_batches WHERE job = ?1 AND destination = ?2 AND delivered_at < ?3",
                    [.string(job), .string(destination), .int(time)])
        }
    }
}
