import Foundation
import Testing
@testable import SyncJobsCore

/// A file pass whose greatest iterator value equals the checkpoint adds its rows to the boundary
/// rows already stored at that value (`AcknowledgedPrefix.completeFilePass`); were they replaced
/// instead, the next run would send the earlier boundary rows again.
@Suite struct FilePassTieTests {
    static let job = """
        name: ties
        type: user
        source: { file: ../data/ties.csv }
        mapping:
          - { column: id, to: user_identities.customer_id }
          - { ignore: at }
        sync: { mode: incremental, iterator: at, iterator_type: timestamp }
        destination: { path: ../out/ties.ndjson }
        """

    static func csv(_ rows: [(Int, Int)]) -> String {
        "id,at\n" + rows.map { "\($0.0),\(IncrementalRunTests.ts($0.1))\n" }.joined()
    }

    static let id1 = "6ff3d59eec897d4197e8f1c846082968"
    static let id2 = "93cf08d2759a6674db4a7255cbd4a451"
    static let id3 = "a73fccfafde90d8626a259f7ac0ab04d"
    static let id4 = "90a5346281794734b108b6f80bc2e2ec"

    static func hash(_ hex: String) -> RowHash {
        RowHash(high: UInt64(hex.prefix(16), radix: 16)!, low: UInt64(hex.suffix(16), radix: 16)!)
    }

    static func batch(_ id: Int, _ requestID: String) -> String {
        #"{"environment":"development","user_identities":{"customer_id":"\#(id)"},"source_request_id":"\#(requestID)"}"#
    }

    /// 2026-01-01T00:09:00Z
    static let nine: Int64 = 1_767_226_140_000

    @Test func tiesAddedAtTheCheckpointValueJoinTheStoredBoundaryRows() async throws {
        let t = try TestWorkspace()
        try t.write("data/ties.csv", Self.csv([(1, 5), (2, 9), (3, 9)]))
        let job = try t.job("ties", Self.job)
        let run1 = try await t.run(job)
        #expect(run1.counts == RunCounts(rowsRead: 3, rowsSent: 3, rowsRejected: 0, requests: 1))
        let line1 = "[" + [Self.batch(1, Self.id1), Self.batch(2, Self.id2), Self.batch(3, Self.id3)].joined(separator: ",") + "]"
        #expect(t.read("out/ties.ndjson") == line1 + "\n")
        #expect(try t.state().checkpoint(job: "ties") == Checkpoint(
            iterator: "at", iteratorType: .timestamp, lower: .int(Self.nine),
            boundary: Boundary(count: 2, hashes: [Self.hash(Self.id2), Self.hash(Self.id3)])))

        // Appended: one more row at the checkpoint's value, and nothing later.
        try t.write("data/ties.csv", Self.csv([(1, 5), (2, 9), (3, 9), (4, 9)]))
        let run2 = try await t.run(job)
        #expect(run2.counts == RunCounts(rowsRead: 3, rowsSent: 1, rowsRejected: 0, requests: 1, rowsSkipped: 2))
        let line2 = "[" + Self.batch(4, Self.id4) + "]"
        #expect(t.read("out/ties.ndjson") == line1 + "\n" + line2 + "\n")
        #expect(try t.state().checkpoint(job: "ties") == Checkpoint(
            iterator: "at", iteratorType: .timestamp, lower: .int(Self.nine),
            boundary: Boundary(count: 3, hashes: [Self.hash(Self.id2), Self.hash(Self.id3), Self.hash(Self.id4)])))

        let run3 = try await t.run(job)
        #expect(run3.counts == RunCounts(rowsRead: 3, rowsSent: 0, rowsRejected: 0, requests: 0, rowsSkipped: 3))
        #expect(t.read("out/ties.ndjson") == line1 + "\n" + line2 + "\n")
        #expect(try t.state().checkpoint(job: "ties") == Checkpoint(
            iterator: "at", iteratorType: .timestamp, lower: .int(Self.nine),
            boundary: Boundary(count: 3, hashes: [Self.hash(Self.id2), Self.hash(Self.id3), Self.hash(Self.id4)])))
    }
}
