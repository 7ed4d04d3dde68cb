import Foundation

/// Where each incremental job has got to (see `Checkpoint`), one row per job.
extension StateStore {
    package func checkpoint(job: String) throws -> Checkpoint? {
        try withDatabase {
            let statement = try database.prepare("""
                SELECT iterator, iterator_type, lower_value, boundary_count, boundary_hashes, resume, resume_max,
                       resume_boundary_count, resume_boundary_hashes FROM checkpoints WHERE job = ?1
                """)
            try statement.bind([.string(job)])
            guard try statement.step() else { return nil }
            let row = try statement.row()
            guard case .string(let iterator) = row[0], case .string(let typeName) = row[1],
                  let type = IteratorType(rawValue: typeName) else { return nil }
            var checkpoint = Checkpoint(iterator: iterator, iteratorType: type)
            checkpoint.lower = IteratorValue(storage: row[2])
            checkpoint.boundary = Boundary.decode(count: Int(Self.int(row[3])), text: Self.text(row[4]))
            if let resumeText = Self.text(row[5]), let data = resumeText.data(using: .utf8) {
                checkpoint.resume = try? JSONDecoder().decode(FileResume.self, from: data)
                checkpoint.resumeMax = IteratorValue(storage: row[6])
                checkpoint.resumeBoundary = Boundary.decode(count: Int(Self.int(row[7])), text: Self.text(row[8]))
            }
            return checkpoint
        }
    }

    package func storeCheckpoint(job: String, _ checkpoint: Checkpoint, runID: Int64?) throws {
        try withDatabase {
            var resumeText: Value = .null
            if let resume = checkpoint.resume, let data = try? JSONEncoder().encode(resume) {
                resumeText = .string(String(decoding: data, as: UTF8.self))
            }
            try run("""
                INSERT INTO checkpoints (job, iterator, iterator_type, lower_value, boundary_count, boundary_hashes, resume,
                    resume_max, resume_boundary_count, resume_boundary_hashes, run_id, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                ON CONFLICT(job) DO UPDATE SET iterator = excluded.iterator, iterator_type = excluded.iterator_type,
                    lower_value = excluded.lower_value, boundary_count = excluded.boundary_count,
                    boundary_hashes = excluded.boundary_hashes, resume = excluded.resume, resume_max = excluded.resume_max,
                    resume_boundary_count = excluded.resume_boundary_count,
                    resume_boundary_hashes = excluded.resume_boundary_hashes, run_id = excluded.run_id,
                    updated_at = excluded.updated_at
                """, [
                    .string(job), .string(checkpoint.iterator), .string(checkpoint.iteratorType.rawValue),
                    checkpoint.lower?.sqlValue ?? .null, .int(Int64(checkpoint.boundary.count)),
                    checkpoint.boundary.encoded.map(Value.string) ?? .null, resumeText,
                    checkpoint.resumeMax?.sqlValue ?? .null, .int(Int64(checkpoint.resumeBoundary.count)),
                    checkpoint.resumeBoundary.encoded.map(Value.string) ?? .null,
                    runID.map(Value.int) ?? .null, .int(Self.now()),
                ])
        }
    }

    /// Forgets a job's checkpoint; returns whether there was one.
    @discardableResult
    package func resetCheckpoint(job: String) throws -> Bool {
        try withDatabase {
            try run("DELETE FROM checkpoints WHERE job = ?1", [.string(job)])
            return database.changes > 0
        }
    }
}
