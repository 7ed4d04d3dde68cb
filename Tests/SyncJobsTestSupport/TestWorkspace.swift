import Foundation
import Logging
import SyncJobsCore

/// A temporary folder laid out like a project: `jobs/`, `data/`, `out/`, `.jobs/state.db`, for
/// tests that call SyncJobsCore directly.
package final class TestWorkspace: TemporaryFolder {
    package init() throws {
        try super.init(prefix: "syncjobs-test-")
        for folder in ["jobs", "data", "out"] {
            try FileManager.default.createDirectory(atPath: path(folder), withIntermediateDirectories: true)
        }
    }

    /// The state: `.jobs/state.db` unless a test points it elsewhere (a PostgreSQL URL).
    package lazy var statePath: String = path(".jobs/state.db")

    /// The workspace `jobs --jobs <root>/jobs --state <statePath>` resolves to.
    package var workspace: Workspace { Workspace.resolve(jobsDirectory: root + "/jobs", statePath: statePath) }

    /// Output lines of a file destination, each parsed into its batches.
    package func requests(_ relative: String) throws -> [[Value]] {
        try read(relative).split(separator: "\n").map { line in
            guard case .array(let batches) = try JSONParser.parse(String(line)) else { return [] }
            return batches
        }
    }

    /// Creates a SQLite database from a script.
    package func sqlite(_ relative: String, _ script: String) throws {
        let db = try SQLiteDatabase(path: path(relative), mode: .readWriteCreate)
        try db.execute(script)
        db.close()
    }

    package func execute(_ relative: String, _ sql: String) throws {
        let db = try SQLiteDatabase(path: path(relative), mode: .readWrite)
        try db.execute(sql)
        db.close()
    }

    package func job(_ name: String, _ yaml: String) throws -> JobDefinition {
        let path = try write("jobs/\(name).yaml", yaml)
        return try JobFileParser.load(path: path, displayPath: "jobs/\(name).yaml").0
    }

    package func state() throws -> StateStore { try StateStore(path: statePath) }

    /// Runs a job once with its own destination, or `destination` when given.
    package func run(_ job: JobDefinition, _ options: RunOptions = RunOptions(), destination: (any Destination)? = nil) async throws -> RunResult {
        let runner = JobRunner(job: job, state: try state(), destination: options.dryRun ? nil : try destination ?? DestinationFactory.make(for: job, statePath: statePath),
                               logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        return try await runner.run(options)
    }
}
