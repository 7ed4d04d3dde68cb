import Foundation
import Testing
@testable import SyncJobsCore

/// What a `timestamp` iterator reads in a file, and the reason a row it cannot read gets.
@Suite struct IteratorRejectionTests {
    static let job = """
        name: t
        type: user
        source: { file: ../data/t.%EXT% }
        mapping:
          - { column: id, to: user_identities.customer_id }
          - { ignore: at }
        sync: { mode: incremental, iterator: at, iterator_type: timestamp }
        destination: { path: ../out/t.ndjson }
        """

    @Test func offsetsWithoutAColonAndLowercaseSeparatorsAreTimestampsAndUnixTimesGetAHint() async throws {
        let t = try TestWorkspace()
        try t.write("data/t.csv", """
            id,at
            1,2026-01-01T02:00:00+0200
            2,2026-01-01t00:05:00z
            3,1767225600
            4,1767225600000
            5,17672256
            6,2026-01-01 00:03:00.5-0000

            """)
        let run = try await t.run(try t.job("t", Self.job.replacingOccurrences(of: "%EXT%", with: "csv")))
        #expect(run.succeeded)
        #expect(try t.requests("out/t.ndjson").flatMap { $0 }.map(\.customerID) == ["1", "2", "6"])
        #expect(run.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "3: iterator column 'at' holds '1767225600', which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z; it looks like unix seconds (2026-01-01T00:00:00Z): set 'iterator_type: unix_s'",
            "4: iterator column 'at' holds '1767225600000', which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z; it looks like unix milliseconds (2026-01-01T00:00:00Z): set 'iterator_type: unix_ms'",
            "5: iterator column 'at' holds '17672256', which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z",
        ])
        #expect(try t.state().checkpoint(job: "t")?.display == "at = 2026-01-01T00:05:00Z (1 row at this value delivered)")
    }

    @Test func aJSONNumberOfSecondsGetsTheHintToo() async throws {
        let t = try TestWorkspace()
        try t.write("data/t.ndjson", """
            {"id": "1", "at": 1767225600}
            {"id": "2", "at": 1767225600.25}

            """)
        let run = try await t.run(try t.job("t", Self.job.replacingOccurrences(of: "%EXT%", with: "ndjson")))
        #expect(run.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "1: iterator column 'at' holds 1767225600, which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z; it looks like unix seconds (2026-01-01T00:00:00Z): set 'iterator_type: unix_s'",
            "2: iterator column 'at' holds 1767225600.25, which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z; it looks like unix seconds (2026-01-01T00:00:00.250Z): set 'iterator_type: unix_s'",
        ])
    }
}
