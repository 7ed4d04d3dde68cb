import Foundation
import Testing
@testable import SyncJobsCore

/// Sources as jobs see them: errors before any row is read, every file format, JSON extras.
@Suite struct SourceRunTests {
    func job(_ t: TestWorkspace, source: String, mapping: String = "  - { column: id, to: user_identities.customer_id }\n  - { column: $unmapped, to: user_attributes.* }") throws -> JobDefinition {
        try t.job("j", """
            type: user
            source: \(source)
            mapping:
            \(mapping)
            destination: { path: ../out/j.ndjson, environment: production }
            """)
    }

    @Test func sqliteProblemsFailBeforeAnyRowIsRead() async throws {
        let t = try TestWorkspace()
        try t.sqlite("data/s.db", "CREATE TABLE users (id TEXT, avatar BLOB); INSERT INTO users VALUES ('1', x'00ff');")
        let missing = try await t.run(try job(t, source: "{ sqlite: ../data/nope.db, table: users }"), destination: RecordingDestination())
        // What the job names wrongly is an invalid job, reported at the key that names it.
        #expect(missing.errorMessage == "jobs/j.yaml:2:19: the SQLite database '\(t.path("data/nope.db"))' does not exist; check 'source.sqlite' (paths are relative to the job file)")
        let table = try await t.run(try job(t, source: "{ sqlite: ../data/s.db, table: user }"), destination: RecordingDestination())
        #expect(table.errorMessage == "jobs/j.yaml:2:40: table 'user' does not exist in '\(t.path("data/s.db"))'; did you mean 'users'?")
        let query = try await t.run(try job(t, source: "{ sqlite: ../data/s.db, query: SELEC id FROM users }"), destination: RecordingDestination())
        #expect(query.errorMessage == "jobs/j.yaml:2:40: the query on '\(t.path("data/s.db"))' does not compile: near \"SELEC\": syntax error; run it in the sqlite3 shell to check it")
        for result in [missing, table, query] {
            guard case .invalidJob? = result.failure else {
                Issue.record("expected an invalid job, got \(String(describing: result.failure))")
                continue
            }
        }
        let blob = try await t.run(try job(t, source: "{ sqlite: ../data/s.db, table: users }"), destination: RecordingDestination())
        #expect(blob.errorMessage == "table 'users' in \(t.path("data/s.db")), row 1: column 'avatar' holds a BLOB; syncjobs sends JSON values only — select it as hex(avatar) or leave it out of the query")
        #expect(try t.state().runs(job: "j", limit: 10).map(\.status) == [.failed, .failed, .failed, .failed])
    }

    @Test func ndjsonKeysBeyondTheFirstRecordGoThroughUnmapped() async throws {
        let t = try TestWorkspace()
        try t.write("data/u.ndjson", """
            {"id": 1, "plan": "pro"}
            {"id": 2, "plan": null, "tier": "gold", "tags": ["a", "b"]}
            {"id": 3, "plan": "free", "nested": {"x": 1}}
            not json

            """)
        let destination = RecordingDestination()
        let run = try await t.run(try job(t, source: "{ file: ../data/u.ndjson }"), destination: destination)
        #expect(destination.batches.map(JSONWriter.compact) == [
            #"{"environment":"production","user_identities":{"customer_id":"1"},"user_attributes":{"plan":"pro"},"source_request_id":"f8b369784471b303fecc9cb49f6d477a"}"#,
            #"{"environment":"production","user_identities":{"customer_id":"2"},"user_attributes":{"tier":"gold","tags":["a","b"]},"source_request_id":"3c4768e068e205685b3883a31bc394f9"}"#,
        ])
        #expect(run.rejectedSamples.map(\.rowNumber) == [3, 4])
        #expect(run.rejectedSamples.first?.reason == "key 'nested' ($unmapped): is an object; user attributes take a single value or a list")
    }

    @Test func keysThatNoEntrySendsAreReported() async throws {
        let t = try TestWorkspace()
        try t.write("data/u.ndjson", """
            {"id": 1, "plan": "pro"}
            {"id": 2, "plan": "free", "tier": "gold"}
            {"id": 3, "tier": "silver", "tags": ["a"]}

            """)
        let destination = RecordingDestination()
        let run = try await t.run(try job(t, source: "{ file: ../data/u.ndjson }",
                                          mapping: "  - { column: id, to: user_identities.customer_id }\n  - { column: plan, to: user_attributes.plan }"),
                                  destination: destination)
        #expect(destination.batches.count == 3)
        #expect(run.notes == ["2 records had keys that are not columns (the columns are the first record's keys), and no mapping entry sends them: 'tier', 'tags'; add '- { column: $unmapped, to: user_attributes.* }' to send them"])
    }

    @Test func tsvAndJSONArraySources() async throws {
        let t = try TestWorkspace()
        try t.write("data/u.tsv", "id\tplan\r\n7\t\"pro\tplus\"\r\n8\t\r\n")
        let tsv = RecordingDestination()
        _ = try await t.run(try job(t, source: "{ file: ../data/u.tsv }"), destination: tsv)
        #expect(tsv.batches.map(JSONWriter.compact) == [
            #"{"environment":"production","user_identities":{"customer_id":"7"},"user_attributes":{"plan":"pro\tplus"},"source_request_id":"4c632f883df31c95190f8e736df7a64d"}"#,
            #"{"environment":"production","user_identities":{"customer_id":"8"},"source_request_id":"1826594e02c27c347197ff2d80a68e70"}"#,
        ])
        try t.write("data/u.json", #"[{"id": 9, "score": 1.5}, {"id": 10, "score": 2}]"#)
        let json = RecordingDestination()
        _ = try await t.run(try job(t, source: "{ file: ../data/u.json }"), destination: json)
        #expect(json.batches.map(JSONWriter.compact) == [
            #"{"environment":"production","user_identities":{"customer_id":"9"},"user_attributes":{"score":1.5},"source_request_id":"292b0e31d4ddd7a279cb2213f65ce0ec"}"#,
            #"{"environment":"production","user_identities":{"customer_id":"10"},"user_attributes":{"score":2},"source_request_id":"dcaec6b8add288d84aae7e1b69cb997e"}"#,
        ])
    }

    @Test func theFileDestinationWritesOneLinePerRequest() async throws {
        let t = try TestWorkspace()
        try t.write("data/u.csv", "id\n" + (1...150).map(String.init).joined(separator: "\n") + "\n")
        let run = try await t.run(try job(t, source: "{ file: ../data/u.csv }"))
        #expect(run.counts.requests == 2)
        let lines = t.read("out/j.ndjson").split(separator: "\n")
        #expect(lines.count == 2)
        // Each batch ends with its source_request_id (exact values are pinned in MappingTests).
        let withoutIDs = lines[1].replacingOccurrences(of: #","source_request_id":"[0-9a-f]{32}"\}"#, with: "}", options: .regularExpression)
        #expect(withoutIDs == (101...150).map { #"{"environment":"production","user_identities":{"customer_id":"\#($0)"}}"# }.joined(separator: ",").wrapped)
        #expect(lines[1].components(separatedBy: "source_request_id").count == 51)
    }

    @Test(.timeLimit(.minutes(2)))
    func moreTiesThanTheBoundaryRemembersFallBackToCounting() async throws {
        let t = try TestWorkspace()
        let tied = Boundary.cap + 1
        try t.sqlite("data/s.db", """
            CREATE TABLE e (id INTEGER, ts TEXT);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(tied))
            INSERT INTO e SELECT i, '2026-01-01T00:00:00Z' FROM n;
            """)
        let job = try t.job("j", """
            type: user
            source: { sqlite: ../data/s.db, table: e }
            mapping:
              - { column: id, to: user_identities.customer_id }
              - { ignore: ts }
            sync: { mode: incremental, iterator: ts, iterator_type: timestamp }
            """)
        let first = try await t.run(job, destination: CountingDestination())
        #expect(first.counts.rowsSent == tied)
        let stored = try #require(try t.state().checkpoint(job: "j"))
        #expect(stored.boundary.hashes == nil)
        #expect(stored.boundary.count == tied)
        #expect(stored.display == "ts = 2026-01-01T00:00:00Z (100001 rows at this value delivered; too many to remember each)")

        let unchanged = try await t.run(job, destination: CountingDestination())
        #expect(unchanged.counts.rowsSent == 0)
        #expect(unchanged.counts.rowsSkipped == tied)

        try t.execute("data/s.db", "INSERT INTO e VALUES (0, '2026-01-01T00:00:00Z')")
        let changed = try await t.run(job, destination: CountingDestination())
        #expect(changed.notes == ["more than 100000 rows share ts = 2026-01-01T00:00:00Z and their number changed from 100001 to 100002; all 100002 are sent again (mParticle drops the duplicates by source_request_id)"])
        #expect(changed.counts.rowsSent == tied + 1)
        #expect(try t.state().checkpoint(job: "j")?.boundary.count == tied + 1)
    }
}

private extension String {
    var wrapped: String { "[" + self + "]" }
}

/// Counts batches without keeping them.
final class CountingDestination: Destination, @unchecked Sendable {
    let maxInFlight = 1
    func send(_ request: PackedRequest) async throws -> DeliveryResult { .accepted }
    func makeDurable() async throws {}
    func close() async throws {}
}
