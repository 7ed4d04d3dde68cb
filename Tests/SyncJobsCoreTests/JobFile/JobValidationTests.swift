import Foundation
import Testing
@testable import SyncJobsCore

/// Checks of a job against its source (what `jobs validate` and every run do before reading a
/// row), and how commands resolve job names, in-process. The built binary's exit codes for the
/// same cases are in `ExitCodeBinaryTests`.
@Suite struct JobValidationTests {
    static let users = "id,email,plan\n1,a@x.io,pro\n"

    // MARK: a mapping with no identity (issue 11, item 10)

    @Test func anEmptyMappingIsAnErrorThatSaysWhereAndHowToFixIt() async throws {
        let t = try TestWorkspace()
        try t.write("data/u.csv", Self.users)
        let path = try t.write("jobs/empty.yaml", "type: user\nsource: { file: ../data/u.csv }\nmapping: []\n")
        let expected = "\(path):3:10: the mapping is empty, so no batch could say which user it is about; add entries, at least one mapping a column to 'user_identities.customer_id', 'user_identities.email', another identity key, 'mpid' or a device id"
        #expect(JobValidation.validate(path: path).map(\.description) == [expected])

        // A run refuses it before reading a row, as an invalid job (exit code 2 in `jobs run`).
        let result = try await t.run(try JobFileParser.load(path: path).0)
        guard case .invalidJob(let diagnostics)? = result.failure else {
            Issue.record("expected an invalid job, got \(String(describing: result.failure))")
            return
        }
        #expect(diagnostics.map(\.description) == [expected])
        #expect(result.counts.rowsRead == 0)
    }

    @Test func entriesWithoutAnIdentityAreAnError() throws {
        let t = try TestWorkspace()
        try t.write("data/u.csv", Self.users)
        let path = try t.write("jobs/j.yaml", """
            type: user
            source: { file: ../data/u.csv }
            mapping:
              - { column: plan, to: user_attributes.plan }
              - { ignore: id }
              - { ignore: email }
            """)
        #expect(JobValidation.validate(path: path).map(\.description) == [
            "\(path):4:3: no mapping entry writes a user identity, so no batch could say which user it is about; map a column to 'user_identities.customer_id', 'user_identities.email', another identity key, 'mpid' or a device id",
        ])
    }

    // MARK: a source the job names wrongly is an invalid job (item 13)

    @Test func aMissingTableOrABrokenQueryIsAnInvalidJobAtItsKey() async throws {
        let t = try TestWorkspace()
        try t.sqlite("data/shop.db", "CREATE TABLE users (id INTEGER, email TEXT); INSERT INTO users VALUES (1, 'a@x.io');")
        let db = Paths.display(t.path("data/shop.db"))
        let table = try t.write("jobs/table.yaml", """
            type: user
            source:
              sqlite: ../data/shop.db
              table: userz
            mapping:
              - { column: email, to: user_identities.email }
            """)
        let missing = "\(table):4:10: table 'userz' does not exist in '\(db)'; did you mean 'users'?"
        #expect(JobValidation.validate(path: table).map(\.description) == [missing])
        let result = try await t.run(try JobFileParser.load(path: table).0)
        guard case .invalidJob(let diagnostics)? = result.failure else {
            Issue.record("expected an invalid job, got \(String(describing: result.failure))")
            return
        }
        #expect(diagnostics.map(\.description) == [missing])

        let query = try t.write("jobs/query.yaml", """
            type: user
            source:
              sqlite: ../data/shop.db
              query: SELECT id, emial FROM users
            mapping:
              - { column: email, to: user_identities.email }
            """)
        #expect(JobValidation.validate(path: query).map(\.description) == [
            "\(query):4:10: the query on '\(db)' does not compile: no such column: emial; run it in the sqlite3 shell to check it",
        ])

        let nowhere = try t.write("jobs/nowhere.yaml", """
            type: user
            source: { sqlite: ../data/nope.db, table: users }
            mapping:
              - { column: email, to: user_identities.email }
            """)
        #expect(JobValidation.validate(path: nowhere).map(\.description) == [
            "\(nowhere):2:19: the SQLite database '\(Paths.display(t.path("data/nope.db")))' does not exist; check 'source.sqlite' (paths are relative to the job file)",
        ])
    }

    // MARK: resolving names (item 13)

    @Test func twoJobFilesWithOneNameAreRefusedWhicheverWayTheJobIsNamed() throws {
        let t = try TestWorkspace()
        try t.write("data/u.csv", Self.users)
        let job = "name: users\ntype: user\nsource: { file: ../data/u.csv }\nmapping:\n  - { column: email, to: user_identities.email }\n"
        try t.write("jobs/users.yaml", job)
        try t.write("jobs/users-copy.yaml", job)
        func refusal(_ first: String, _ second: String) -> UsageError {
            UsageError("job name 'users' is declared by 2 job files, \(t.path(first)) and \(t.path(second)); give each job a unique 'name:' (a job's name keys its checkpoint, lock and history)")
        }
        #expect(throws: refusal("jobs/users.yaml", "jobs/users-copy.yaml")) { try t.workspace.locate("users") }
        #expect(throws: refusal("jobs/users-copy.yaml", "jobs/users.yaml")) { try t.workspace.locate("users-copy") }
        #expect(throws: refusal("jobs/users.yaml", "jobs/users-copy.yaml")) { try t.workspace.locate(t.path("jobs/users.yaml")) }
        // A name that two files could mean is refused too.
        try t.write("jobs/users-copy.yaml", job.replacingOccurrences(of: "name: users", with: "name: people"))
        try t.write("jobs/other.yaml", job.replacingOccurrences(of: "name: users", with: "name: users-copy"))
        #expect(throws: UsageError("'users-copy' matches 2 job files, \(t.path("jobs/users-copy.yaml")) and \(t.path("jobs/other.yaml")); give each job a unique 'name:' and file name, or name the file by its path")) {
            try t.workspace.locate("users-copy")
        }
        #expect(try t.workspace.locate("people") == t.path("jobs/users-copy.yaml"))
    }

    @Test func runResolvesEveryNameBeforeRunningAny() async throws {
        let t = try TestWorkspace()
        try t.write("data/u.csv", Self.users)
        try t.write("jobs/users.yaml", "type: user\nsource: { file: ../data/u.csv }\nmapping:\n  - { column: email, to: user_identities.email }\n")
        let output = CapturedOutput()
        let status = await RunCommand.execute(workspace: t.workspace, jobs: ["users", "userz"], options: RunOptions(),
                                              output: output, logger: .init(label: "test"))
        #expect(status == .invalid)
        #expect(output.stderr == """
            no job named 'userz' in \(t.path("jobs")); did you mean 'users'?
            no job was run: every job named must be found and parse before any runs
            """)
        #expect(output.stdout == "")
        #expect(!FileManager.default.fileExists(atPath: t.path("out/users.ndjson")))
        #expect(try t.state().runs(job: "users", limit: 5).isEmpty)
    }

    /// Job files are `.yaml` or `.yml`, and the messages about finding them say so (item 26).
    @Test func ymlFilesAreJobFilesAndMessagesSaySo() throws {
        let t = try TestWorkspace()
        let output = CapturedOutput()
        #expect(ValidateCommand.execute(workspace: t.workspace, jobs: [], output: output) == .invalid)
        #expect(output.stderr == "no job files (.yaml or .yml) in \(t.path("jobs"))")
        #expect(throws: UsageError("no job named 'users' in \(t.path("jobs")); '\(t.path("jobs"))' holds no job files (.yaml or .yml)")) {
            try t.workspace.locate("users")
        }
        try t.write("data/u.csv", Self.users)
        try t.write("jobs/users.yml", "type: user\nsource: { file: ../data/u.csv }\nmapping:\n  - { column: email, to: user_identities.email }\n  - { column: $unmapped, to: user_attributes.* }\n")
        #expect(try t.workspace.locate("users") == t.path("jobs/users.yml"))
        let all = CapturedOutput()
        #expect(ValidateCommand.execute(workspace: t.workspace, jobs: [], output: all) == .ok)
        #expect(all.stdout == "ok \(t.path("jobs/users.yml"))")
    }

    // MARK: lists of names in messages are capped (item 22)

    @Test func aHundredThousandColumnsGiveOneShortWarning() throws {
        let t = try TestWorkspace()
        let header = (1...100_000).map { "c\($0)" }.joined(separator: ",")
        try t.write("data/wide.csv", header + "\n" + (1...100_000).map(String.init).joined(separator: ",") + "\n")
        let path = try t.write("jobs/wide.yaml", """
            type: user
            source: { file: ../data/wide.csv }
            mapping:
              - { column: c1, to: user_identities.customer_id }
              - { column: c100001, to: user_attributes.last }
            """)
        let csv = "CSV file \(Paths.display(t.path("data/wide.csv")))"
        #expect(JobValidation.validate(path: path).map(\.description) == [
            "\(path):5:7: column 'c100001' is not in \(csv); did you mean 'c10000'?",
        ])
        try t.write("jobs/wide.yaml", """
            type: user
            source: { file: ../data/wide.csv }
            mapping:
              - { column: c1, to: user_identities.customer_id }
              - { column: nope, to: user_attributes.last }
            """)
        #expect(JobValidation.validate(path: path).map(\.description) == [
            "\(path):5:7: column 'nope' is not in \(csv); the columns are 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10' and 99,990 more",
        ])
        try t.write("jobs/wide.yaml", """
            type: user
            source: { file: ../data/wide.csv }
            mapping:
              - { column: c1, to: user_identities.customer_id }
              - { column: c2, to: user_attributes.second }
            """)
        #expect(JobValidation.validate(path: path).map(\.description) == [
            "\(path):4:3: warning: columns 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10', 'c11', 'c12' and 99,988 more are neither mapped nor ignored, so they are not sent; map them, add '- { ignore: <column> }', or add '- { column: $unmapped, to: user_attributes.* }'",
        ])
    }

    @Test func aNameListShowsTenNamesThenHowManyMoreAndCutsLongNames() {
        #expect(Format.names(["a"]) == "'a'")
        #expect(Format.names((1...10).map { "n\($0)" }) == "'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10'")
        #expect(Format.names((1...11).map { "n\($0)" }) == "'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10' and 1 more")
        #expect(Format.names([String(repeating: "x", count: 101)]) == "'" + String(repeating: "x", count: 100) + "…'")
    }
}
