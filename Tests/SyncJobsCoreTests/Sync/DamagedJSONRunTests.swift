import Foundation
import Testing
@testable import SyncJobsCore

/// A JSON array cut short or broken mid-file: the records before the damage are sent, the damaged
/// rest is one rejected row with its byte offset, and the run ends normally.
@Suite struct DamagedJSONRunTests {
    static let job = """
        name: d
        type: user
        source: { file: ../data/%FILE% }
        mapping:
          - { column: id, to: user_identities.customer_id }
        destination: { path: ../out/d.ndjson }
        """

    static func batch(_ id: String, _ requestID: String) -> String {
        #"{"environment":"development","user_identities":{"customer_id":"\#(id)"},"source_request_id":"\#(requestID)"}"#
    }

    static let expected = "[" + batch("a", "303565a204ad8b6da90b4df4c312cd49") + "," + batch("b", "13f502254d5a35bcb023151d5256efb1") + "]\n"

    @Test func aTruncatedJSONArraySendsWhatParsedAndRejectsTheTail() async throws {
        let t = try TestWorkspace()
        let text = #"[{"id": "a"}, {"id": "b"}, {"id": "c", "na"#
        try t.write("data/d.json", text)
        let run = try await t.run(try t.job("d", Self.job.replacingOccurrences(of: "%FILE%", with: "d.json")))
        #expect(run.succeeded)
        #expect(run.counts == RunCounts(rowsRead: 3, rowsSent: 2, rowsRejected: 1, requests: 1))
        #expect(t.read("out/d.ndjson") == Self.expected)
        let rejected = try t.state().rejectedRows(job: "d", limit: 10).rows
        #expect(rejected.map { "\($0.rowNumber): \($0.reason) | \($0.row)" } == [
            #"3: the JSON array is cut short: the file ends inside record 3, which starts at byte 27 | {"id": "c", "na"#,
        ])
    }

    @Test func aTruncatedLookerDataArraySendsWhatParsedAndRejectsTheTail() async throws {
        let t = try TestWorkspace()
        var fixture = LookerFixture()
        fixture.dimensions = [.field("users.id", #"["mp_customer_id"]"#)]
        fixture.rows = [[#""a""#], [#""b""#], [#""c""#]]
        let whole = fixture.json()
        let cut = String(whole[..<whole.range(of: #""c""#)!.upperBound])
        try t.write("data/d.json", cut)
        let job = try t.job("d", """
            name: d
            type: user
            source: { file: ../data/d.json, format: looker }
            mapping: looker
            destination: { path: ../out/d.ndjson }
            """)
        let run = try await t.run(job)
        #expect(run.succeeded)
        #expect(run.counts == RunCounts(rowsRead: 3, rowsSent: 2, rowsRejected: 1, requests: 1))
        #expect(t.read("out/d.ndjson") == Self.expected)
        let rowStart = cut.utf8.count - cut.split(separator: "\n").last!.utf8.count
        let rejected = try t.state().rejectedRows(job: "d", limit: 10).rows
        #expect(rejected.map { "\($0.rowNumber): \($0.reason)" } == [
            "3: the 'data' array is cut short: the file ends inside row 3, which starts at byte \(rowStart)",
        ])
    }
}
