import Foundation
import SyncJobsTestSupport
import Testing
@testable import SyncJobsCore

/// Every shipped job (jobs/*.yaml) writes batches that mParticle's published Events API JSON
/// schema accepts. The schema is kept unchanged in Tests/Fixtures; the validator is Python's
/// jsonschema, through scripts/check-batches.py (scripts/test.sh installs jsonschema when missing).
@Suite struct ShippedJobsSchemaTests {
    static let schema = JobsBinary.packageRoot.appendingPathComponent("Tests/Fixtures/mparticle-eventsapi.schema.json").path
    static let checker = JobsBinary.packageRoot.appendingPathComponent("scripts/check-batches.py").path

    /// Runs scripts/check-batches.py on `files`; its output names every batch that fails and why.
    static func check(_ files: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", checker, "--schema", schema] + files
        return try await JobsBinary.runInterleaved(process)
    }

    @Test func everyShippedJobWritesBatchesThePublishedSchemaAccepts() async throws {
        let project = try Project()
        let jobFiles = try FileManager.default.contentsOfDirectory(atPath: project.root + "/jobs")
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        try #require(jobFiles.count >= 6, "\(jobFiles)")
        var outputs: [String] = []
        var dropAfterwards: [(server: String, database: String)] = []
        for file in jobFiles {
            let job = try JobFileParser.load(path: project.root + "/jobs/" + file).0
            // FME events are not mParticle batches; FMECLITests runs that job against a server.
            if case .fme = job.destination.kind { continue }
            var environment: [String: String] = [:]
            if case .postgres = job.source {
                // The example warehouse, made by its script in a database of its own on the test server.
                guard let server = TestPostgres.serverURL else {
                    if TestPostgres.isRequired { Issue.record("\(job.name) needs PostgreSQL: \(TestPostgres.skipNote)") }
                    continue
                }
                let database = "syncjobs_example_\(ProcessInfo.processInfo.processIdentifier)"
                let script = Process()
                script.executableURL = JobsBinary.packageRoot.appendingPathComponent("examples/postgres/create-warehouse.sh")
                script.arguments = [server]
                script.environment = ProcessInfo.processInfo.environment.merging(["WAREHOUSE_DATABASE": database]) { $1 }
                let made = try await JobsBinary.runCapturing(script)
                try #require(made.status == 0, "\(made.stderr)")
                environment["WAREHOUSE_URL"] = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                dropAfterwards.append((server, database))
            }
            let run = try await project.jobs(environment: environment, "run", job.name)
            #expect(run.status == 0, "\(job.name): \(run.stderr)")
            guard case .file(let path) = job.destination.kind else {
                Issue.record("\(job.name): a shipped job writes to a file, so its batches can be checked")
                continue
            }
            #expect(!project.read(String(path.dropFirst(project.root.count + 1))).isEmpty, "\(job.name) wrote no batches")
            outputs.append(path)
        }
        for (server, database) in dropAfterwards { try await TestPostgres.dropDatabase(database, server: server) }
        let result = try await Self.check(outputs)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasSuffix(" batches validate against mparticle-eventsapi.schema.json\n"), "\(result.output)")
    }

    /// The check can fail: the Looker action's spelling `customerid` is refused, with the
    /// validator's own message.
    @Test func aBatchWithTheLookerActionsIdentityNamesFailsTheCheck() async throws {
        let project = try Project()
        let file = project.root + "/customerid.ndjson"
        try project.write("customerid.ndjson", #"[{"environment":"production","user_identities":{"customer_id":"1"}},{"environment":"production","user_identities":{"customerid":"1001"}}]"# + "\n")
        let result = try await Self.check([file])
        #expect(result.status == 1)
        #expect(result.output == """
            \(file):1: batch 2: Additional properties are not allowed ('customerid' was unexpected) (at user_identities)
            1 of 2 batches do not validate against mparticle-eventsapi.schema.json

            """)
    }
}
