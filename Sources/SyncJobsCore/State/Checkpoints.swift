import Foundation

/// Where each incremental job has got to (see `Checkpoint`), one row per job.
extension StateStore {
    package func checkpoint(job: String) throws -> Checkpoint? {
        try withDatabase {
            guard let row = try rows("""
                SELECT iterator, iterator_type, lower_value, boundary_count, boundary_hashes, resume, resume_max,
                       resume_boundary_count, resume_boundary_hashes FROM checkpoints WHERE job = ?1
                """, [.string(job)]).first else { return nil }
            guard case .string(let iterator) = row[0], case .string(let typeName) = row[1],
                  let type = IteratorType(rawValue: typeName) else { return nil }
            var checkpoint = Checkpoint(iterator: iterator, iteratorType: type)
            checkpoint.lower = storedIteratorValue(row[2])
            checkpoint.boundary = Boundary.decode(count: Int(Self.int(row[3])), text: Self.text(row[4]))
            if let resumeText = Self.text(row[5]), let data = resumeText.data(using: .utf8) {
                checkpoint.resume = try? JSONDecoder().decode(FileResume.self, from: data)
                checkpoint.resumeMax = storedIteratorValue(row[6])
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
                    storage(of: checkpoint.lower), .int(Int64(checkpoint.boundary.count)),
                    checkpoint.boundary.encoded.map(Value.string) ?? .null, resumeText,
                    storage(of: checkpoint.resumeMax), .int(Int64(checkpoint.resumeBoundary.count)),
                    checkpoint.resumeBoundary.encoded.map(Value.string) ?? .null,
                    runID.map(Value.int) ?? .null, .int(Self.now()),
                ])
        }
    }

    /// Forgets a job's checkpoint; returns whether there was one.
    @discardableResult
    package func resetCheckpoint(job: String) throws -> Bool {
        try withDatabase {
            !(try rows("DELETE FROM checkpoints WHERE job = ?1 RETURNING job", [.string(job)]).isEmpty)
        }
    }

    /// An iterator value as its column keeps it. SQLite's column is untyped and keeps the value's
    /// own kind; PostgreSQL's is text, so the kind goes first: `i:`, `d:` or `s:`.
    func storage(of value: IteratorValue?) -> Value {
        guard let value else { return .null }
        guard dialect == .postgres else { return value.sqlValue }
        switch value {
        case .int(let i): return .string("i:\(i)")
        case .double(let d): return .string("d:\(d)")
        case .string(let text): return .string("s:" + text)
        }
    }

    func storedIteratorValue(_ stored: Value) -> IteratorValue? {
        guard dialect == .postgres else { return IteratorValue(storage: stored) }
        guard case .string(let text) = stored, text.utf8.count >= 2 else { return nil }
        let body = String(text.dropFirst(2))
        switch text.prefix(2) {
        case "i:": return Int64(body).map(IteratorValue.int)
        case "d:": return Double(body).map(IteratorValue.double)
        case "s:": return .string(body)
        default: return nil
        }
    }
}
