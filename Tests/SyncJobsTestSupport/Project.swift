import Foundation
import SyncJobsCore

/// A temporary project folder with the shipped jobs and examples copied in, for tests that run the
/// built binary.
package final class Project: TemporaryFolder {
    package init(copyExamples: Bool = true) throws {
        try super.init(prefix: "syncjobs-cli-")
        let fm = FileManager.default
        if copyExamples {
            for folder in ["jobs", "examples"] {
                try fm.copyItem(atPath: JobsBinary.packageRoot.appendingPathComponent(folder).path, toPath: path(folder))
            }
        } else {
            try fm.createDirectory(atPath: path("jobs"), withIntermediateDirectories: true)
        }
    }

    package func jobs(_ arguments: String...) async throws -> JobsBinary.Result { try await JobsBinary.run(arguments, in: root) }

    package func jobs(environment: [String: String], _ arguments: String...) async throws -> JobsBinary.Result {
        try await JobsBinary.run(arguments, in: root, environment: environment)
    }

    /// The rows of `sql` on the project's state database, or none while it cannot be read (not
    /// made yet, or locked by the process under test).
    package func stateRows(_ sql: String) -> [[Value]] {
        guard let db = try? SQLiteDatabase(path: path(".jobs/state.db"), mode: .readOnly) else { return [] }
        defer { db.close() }
        return (try? rows(db, sql)) ?? []
    }
}
