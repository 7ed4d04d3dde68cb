import Foundation
import Testing
@testable import SyncJobsCore

/// README, "Sources": empty JSON sources, repeated keys, the per-record limit, and the wording of
/// values that do not fit.
@Suite struct JSONSourceEdgeTests {
    static func job(_ file: String, sync: String = "") -> String {
        """
        name: j
        type: user
        source: { file: ../data/\(file) }
        mapping:
          - { column: id, to: user_identities.customer_id }
          - { column: tags, to: user_attributes.tags }
        \(sync)destination: { path: ../out/j.ndjson }
        """
    }

    /// An empty export is zero rows: the run succeeds, sends nothing and says so; `validate` warns
    /// that the mapping's columns cannot be checked yet.
    @Test(arguments: [("e.ndjson", ""), ("e.ndjson", "\n\n  \n"), ("e.json", ""), ("e.json", "[]"), ("e.json", " [\n ]\n")])
    func anEmptyFileIsZeroRowsWithANote(file: String, contents: String) async throws {
        let t = try TestWorkspace()
        try t.write("data/\(file)", contents)
        let yaml = Self.job(file, sync: "sync: { mode: incremental, iterator: at, iterator_type: timestamp }\n")
        let job = try t.job("j", yaml)
        let run = try await t.run(job)
        #expect(run.succeeded)
        #expect(run.counts == RunCounts(rowsRead: 0, rowsSent: 0, rowsRejected: 0, requests: 0))
        let shown = Paths.display(t.path("data/\(file)"))
        #expect(run.notes == ["\(shown) holds no records, so there is nothing to send"])
        #expect(t.read("out/j.ndjson") == "")
        #expect(try t.state().checkpoint(job: "j") == Checkpoint(iterator: "at", iteratorType: .timestamp))
        #expect(JobValidation.validate(path: t.path("jobs/j.yaml")).map(\.description) == [
            "\(Paths.display(t.path("jobs/j.yaml"))):3:9: warning: \(shown) holds no records, so there is nothing to send; the columns the mapping names are checked once it holds a record",
        ])
    }

    /// A file whose records are all unreadable has no columns either; its records are rejected
    /// rows, and nothing claims the file is empty.
    @Test func aFileOfOnlyMalformedRecordsRejectsThem() async throws {
        let t = try TestWorkspace()
        try t.write("data/m.ndjson", "[1]\nnot json\n")
        let run = try await t.run(try t.job("j", Self.job("m.ndjson")))
        #expect(run.succeeded)
        #expect(run.notes == [])
        #expect(run.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "1: line 1 is a list, not a JSON object",
            "2: line 2 is not valid JSON: invalid literal, expected 'null' at byte 4",
        ])
    }

    /// Keeping one of two values silently would lose the other, so the record is refused.
    @Test func aRepeatedKeyRejectsTheRecord() async throws {
        let t = try TestWorkspace()
        try t.write("data/d.ndjson", #"{"id": "a", "tags": "x"}"# + "\n" + #"{"id": "b", "tags": "x", "id": "c"}"# + "\n")
        let run = try await t.run(try t.job("j", Self.job("d.ndjson")))
        #expect(run.counts.rowsSent == 1)
        #expect(run.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            #"2: line 2 is not valid JSON: duplicate key "id" in object at byte 50"#,
        ])
    }

    @Test func valuesThatDoNotFitAreNamedWithTheRightArticle() async throws {
        let t = try TestWorkspace()
        try t.write("data/v.ndjson", #"{"id": "a", "tags": [{"x": 1}]}"# + "\n" + #"{"id": {"x": 1}, "tags": null}"# + "\n")
        let run = try await t.run(try t.job("j", Self.job("v.ndjson")))
        #expect(run.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "1: column 'tags' → user_attributes.tags: holds an object inside a list; list entries must be single values",
            "2: column 'id' → user_identities.customer_id: an identity must be a single value, not an object",
        ])
    }

    /// One record may be up to 16 MiB; a longer one is a rejected row and the run goes on.
    @Test func aRecordOverSixteenMiBIsRejected() async throws {
        let t = try TestWorkspace()
        let long = #"{"id": "b", "tags": ""# + String(repeating: "x", count: 18 << 20) + #""}"#
        try t.write("data/l.ndjson", #"{"id": "a", "tags": "x"}"# + "\n" + long + "\n" + #"{"id": "c", "tags": "y"}"# + "\n")
        let run = try await t.run(try t.job("j", Self.job("l.ndjson")))
        #expect(run.succeeded)
        #expect(run.counts.rowsSent == 2)
        #expect(run.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "2: line 2 is longer than the 16 MiB limit for one record",
        ])
    }
}
