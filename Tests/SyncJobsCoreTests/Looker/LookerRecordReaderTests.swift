import Foundation
import Testing
@testable import SyncJobsCore

/// The Looker json_detail reader: fields first, then rows streamed one at a time.
@Suite struct LookerRecordReaderTests {
    typealias F = FileSourceFixtures

    let fixture = LookerFixture(
        measures: [.field("orders.count")],
        dimensions: [.field("users.email", #"["mp_email"]"#), .field("users.id", nil)],
        tableCalculations: [.field("calc_1")],
        rows: [[#"3"#, #""a@x.io""#, "1001", "1.5"], ["null", #""b@x.io""#, #""1002""#, "null"]])

    @Test func columnsAreFieldNamesInVisitOrderAndValuesAreCellValues() throws {
        try F.withFile(fixture.json()) { path in
            let reader = try LookerRecordReader(path: path)
            #expect(reader.columns == ["orders.count", "users.email", "users.id", "calc_1"])
            #expect(reader.fields.map(\.category) == [.measure, .dimension, .dimension, .tableCalculation])
            #expect(reader.fields[1].tags == [.string("mp_email")])
            #expect(reader.fields[2].tags == [])
            #expect(F.valueRows(try F.readAll(reader)) == [
                [.int(3), .string("a@x.io"), .int(1001), .double(1.5)],
                [.null, .string("b@x.io"), .string("1002"), .null],
            ])
        }
    }

    @Test func dataBeforeFieldsIsReadFromItsStart() throws {
        let text = #"{"data":[{"u.e":{"value":"a"}},{"u.e":{"value":"b"}}],"fields":{"dimensions":[{"name":"u.e","tags":["mp_email"]}]}}"#
        try F.withFile(text) { path in
            let reader = try LookerRecordReader(path: path)
            #expect(reader.columns == ["u.e"])
            #expect(F.valueRows(try F.readAll(reader)) == [[.string("a")], [.string("b")]])
        }
    }

    @Test func valuesLargerThanAChunkAreSkippedAcrossChunkBoundaries() throws {
        // A 3 MiB `sql` string full of escapes and brackets before `fields`, and a 2 MiB cell.
        let noise = String(repeating: #"\"[{\\}]"#, count: 3 << 17)
        let big = String(repeating: "x", count: 2 << 20)
        let text = #"{"sql":"\#(noise)","fields":{"dimensions":[{"name":"u.e","tags":["mp_email"]}]},"data":[{"u.e":{"value":"\#(big)"}},{"u.e":{"value":"b"}}]}"#
        try F.withFile(text) { path in
            let reader = try LookerRecordReader(path: path)
            let rows = F.valueRows(try F.readAll(reader))
            #expect(rows == [[.string(big)], [.string("b")]])
        }
    }

    @Test func resumingAfterARowReadsTheRest() throws {
        try F.withFile(fixture.json()) { path in
            let first = try LookerRecordReader(path: path)
            guard case .record(let record)? = try first.next() else { Issue.record("no first row"); return }
            let resumed = try LookerRecordReader(path: path, startOffset: record.endOffset, startNumber: record.number)
            let rest = F.records(try F.readAll(resumed))
            #expect(rest.map(\.number) == [2])
            #expect(rest.first?.values.first == .null)
        }
    }

    @Test func badRowsAreMalformedAndReadingGoesOn() throws {
        let text = """
            {"fields":{"dimensions":[{"name":"u.e","tags":["mp_email"]},{"name":"u.n"}]},"data":[
            {"u.e":{"value":"a"},"u.n":{"value":1}},
            {"u.e":{"value":"b"}},
            {"u.e":{"value":"c"},"u.n":{"value":3},"u.zz":{"value":4}},
            {"u.e":"d","u.n":{"value":4}},
            {"u.e":{"2026-01":{"value":1},"2026-02":{"value":2}},"u.n":{"value":5}},
            {"u.e":{"rendered":"f"},"u.n":{"value":6}},
            [1, 2],
            {"u.e":{"value":"g"},"u.n":{"value":tru}},
            {"u.e":{"value":"h"},"u.n":{"value":8}}
            ]}
            """
        let badLiteral = try #require(text.range(of: "tru}")).lowerBound.utf16Offset(in: text)
        try F.withFile(text) { path in
            let results = try F.readAll(try LookerRecordReader(path: path))
            let reasons = results.map { result -> String in
                switch result {
                case .record(let record): return "ok \(record.number)"
                case .malformed(_, _, let reason, _): return reason
                }
            }
            #expect(reasons == [
                "ok 1",
                "row 2 has no cell for field 'u.n'",
                "row 3 has a cell for 'u.zz', which is not among the result's fields",
                #"row 4: the cell of 'u.e' is a string, not a Looker cell like {"value": …}"#,
                "row 5: the cell of 'u.e' holds one cell per pivot value ('2026-01', '2026-02'); pivoted results are not supported, remove the pivot in Looker",
                "row 6: the cell of 'u.e' has no 'value'",
                "row 7 is a list, not an object of cells",
                "row 8 is not valid JSON: invalid literal, expected 'true' at byte \(badLiteral)",
                "ok 9",
            ])
        }
    }

    @Test func aPivotedResultIsRefusedBeforeAnyRow() throws {
        var pivoted = fixture
        pivoted.pivots = #"[{"name":"orders.created_month","label":"Orders Created Month"}]"#
        try F.withFile(pivoted.json(), name: "pivoted.json") { path in
            let error = #expect(throws: SourceError.self) { _ = try LookerRecordReader(path: path) }
            #expect(error?.message == "the Looker result \(Paths.display(path)) is pivoted on 'orders.created_month': each row holds one cell per pivot value, which no single mParticle field can take; remove the pivot in Looker and export the query again")
        }
    }

    @Test func documentsThatAreNotLookerResultsSayWhatIsExpected() throws {
        let cases: [(String, String)] = [
            ("", "the file is empty; a Looker source must be a json_detail query result: one object with 'fields' and 'data'"),
            ("[1]", "expected '{' at byte 0, found '['; a Looker source must be a json_detail query result: one object with 'fields' and 'data'"),
            (#"{"data":[]}"#, "the result has no 'fields'; a Looker source must be a json_detail query result: one object with 'fields' and 'data' (in Looker, download or schedule the query as JSON detail)"),
            (#"{"fields":{}}"#, "the result has no 'data' array of rows; a Looker source must be a json_detail query result: one object with 'fields' and 'data'"),
            (#"{"fields":{},"data":{}}"#, "'data' at byte 20 is not an array of rows (found '{')"),
            (#"{"fields":{"dimensions":[{"label":"x"}]},"data":[]}"#, "'fields.dimensions' entry 1 has no 'name'"),
            (#"{"fields":{"measures":[{"name":"a"}],"dimensions":[{"name":"a"}]},"data":[]}"#, "the field 'a' is listed twice in 'fields'"),
            (#"{"fields":{"dimensions":[]} "data":[]}"#, "expected ',' or '}' after the value of 'fields' at byte 28, found '\"'"),
            (#"{"sql":"unterminated"#, "the file ends inside the value that starts at byte 7"),
        ]
        for (text, message) in cases {
            _ = try F.withFile(text) { path in
                #expect(throws: FileSourceError(path: path, message: message)) { _ = try LookerRecordReader(path: path) }
            }
        }
    }

    @Test func missingOrNullFieldListsAreEmpty() throws {
        // The action crashes on a missing table_calculations list; here it is simply empty.
        let text = #"{"fields":{"dimensions":[{"name":"u.e","tags":null}],"table_calculations":null},"data":[{"u.e":{"value":"a"}}]}"#
        try F.withFile(text) { path in
            let reader = try LookerRecordReader(path: path)
            #expect(reader.fields == [LookerField(name: "u.e", category: .dimension, tags: [])])
            #expect(F.valueRows(try F.readAll(reader)) == [[.string("a")]])
        }
    }
}
