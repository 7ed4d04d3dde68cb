/// Batches a non-idempotent destination has accepted since the job's last successful run, by
/// the batch's `source_request_id`. FME's events API makes a second event of a resent one; a run
/// that crashes (or fails) after FME accepted a request but before a checkpoint covered it leaves
/// rows that the next run reads again, and this list is how that run knows to skip them. Once a
/// run of the job has succeeded, its checkpoint covers everything delivered before it ended.
extension StateStore {
    /// Forgets what a successful run has covered, and returns the batches delivered since.
    package func uncoveredDeliveries(job: String, destination: String) throws -> Set<String> {
        try withDatabase {
            try transaction {
                if let covered = try scalarInt("SELECT max(ended_at) FROM runs WHERE job = ?1 AND status = 'succeeded'", [.string(job)]) {
                    try run("DELETE FROM delivered_batches WHERE job = ?1 AND destination = ?2 AND delivered_at <= ?3",
                            [.string(job), .string(destination), .int(covered)])
                }
                var ids: Set<String> = []
                for row in try rows("SELECT batch_id FROM delivered_batches WHERE job = ?1 AND destination = ?2", [.string(job), .string(destination)]) {
                    if let id = Self.text(row[0]) { ids.insert(id) }
                }
                return ids
            }
        }
    }

    /// Records batches as delivered, in one transaction committed when this returns.
    package func recordDeliveredBatches(job: String, destination: String, ids: [String], at time: Int64) throws {
        guard !ids.isEmpty else { return }
        try withDatabase {
            try transaction {
                // Many rows per statement: on PostgreSQL each statement is a round trip.
                for start in stride(from: 0, to: ids.count, by: 500) {
                    let slice = ids[start..<min(start + 500, ids.count)]
                    let rows = (0..<slice.count).map { "(?1, ?2, ?\($0 + 4), ?3)" }.joined(separator: ", ")
                    try run("INSERT INTO delivered_batches (job, destination, batch_id, delivered_at) VALUES " + rows,
                            [.string(job), .string(destination), .int(time)] + slice.map(Value.string))
                }
            }
        }
    }
}
