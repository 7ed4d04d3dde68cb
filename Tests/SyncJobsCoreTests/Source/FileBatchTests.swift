import Foundation
import Testing
@testable import SyncJobsCore

/// File readers write cells straight into row batches; these pin what that must not change:
/// the read window's filter, JSON keys matched as `String`s are, and JSON's number rules.
@Suite struct FileBatchTests {
    typealias F = FileSourceFixtures

    static let csv = "id,at\n1,2026-01-01T00:00:00Z\n2,2026-01-02T00:00:00Z\n3,2026-01-03T00:00:00Z\n4,x\n"

    static func window(lower: String?, includeUnreadable: Bool = true) -> ReadWindow {
        ReadWindow(column: "at", columnIndex: 1, type: .timestamp, lower: lower.flatMap(IteratorType.timestamp.parseBound),
                   upper: nil, ceiling: nil, includeUnreadable: includeUnreadable)
    }

    /// Reads everything `FileRowReader` keeps into one batch.
    static func read(_ path: String, _ window: ReadWindow) throws -> RowBatch {
        let reader = FileRowReader(records: try CSVRecordReader(path: path), columns: ["id", "at"], window: window)
        var batch = RowBatch(columnCount: 2, capacity: 100)
        #expect(try reader.read(into: &batch) == !batch.isEmpty)
        return batch
    }

    @Test func rowsOutsideTheWindowLeaveNothingInTheBatch() throws {
        try F.withFile(Self.csv) { path in
            let batch = try Self.read(path, Self.window(lower: "2026-01-02T00:00:00Z"))
            #expect(batch.rows.map(\.number) == [2, 3, 4])
            #expect(batch.values(ofRow: 0) == [.string("2"), .string("2026-01-02T00:00:00Z")])
            #expect(batch.values(ofRow: 1) == [.string("3"), .string("2026-01-03T00:00:00Z")])
            #expect(batch.rows[0].iterator == .int(1_767_312_000_000))
            #expect(batch.rows[1].iterator == .int(1_767_398_400_000))
            // The unreadable row is rejected with the row as JSON, and its cells are null.
            #expect(batch.rows[2].rejection?.row == #"{"id":"4","at":"x"}"#)
            #expect(batch.rows[2].rejection?.reason == IteratorType.timestamp.rejection(column: "at", cell: .string("x")))
            #expect(batch.values(ofRow: 2) == [.null, .null])
            // Only the two kept rows' text is in the buffer: row 1's went with it.
            #expect(batch.bytes.count == 2 * (1 + 20))
        }
    }

    @Test func aPassThatKeepsNoRowDoesNotGrowTheBatch() throws {
        try F.withFile(Self.csv) { path in
            let batch = try Self.read(path, Self.window(lower: "2027-01-01T00:00:00Z", includeUnreadable: false))
            #expect(batch.isEmpty)
            #expect(batch.cells.isEmpty)
            #expect(batch.bytes.isEmpty)
        }
    }

    /// A record of ASCII bytes skips the UTF-8 check; any other is checked field by field,
    /// quoted or not, with doubled quotes or not.
    @Test func csvFieldsPastASCIIAreChecked() throws {
        let bytes = Array("a,b\n\"x".utf8) + [0xC3] + Array("\",1\n\"o\"\"k\u{E9}\",2\n\u{E9},".utf8) + [0xE9]
            + Array("\n3,4\n".utf8)
        try F.withFile(bytes) { path in
            let results = try F.readAll(CSVRecordReader(path: path))
            #expect(F.valueRows(results) == [nil, [.string("o\"k\u{E9}"), .string("2")], nil, [.string("3"), .string("4")]])
            let reasons = results.compactMap { result -> String? in
                if case .malformed(_, _, let reason, _) = result { return reason } else { return nil }
            }
            #expect(reasons == ["row 1: field 1 (\"a\") is not valid UTF-8", "row 3: field 2 (\"b\") is not valid UTF-8"])
        }
    }

    /// `String`s are equal when canonically equivalent, so a key is its column whichever way its
    /// characters are composed, even an ASCII one ("K" and U+212A KELVIN SIGN), and two such
    /// keys in one object are a repeated key, as `JSONParser` says.
    @Test func keysMatchColumnsAsStringsDo() throws {
        let lines = ["{\"Å\": 1, \"K\": 2}", "{\"A\u{30A}\": 3, \"\u{212A}\": 4}", "{\"K\": 5, \"\u{212A}\": 6}"]
        try F.withFile(lines.joined(separator: "\n")) { path in
            let reader = try NDJSONRecordReader(path: path)
            #expect(reader.columns == ["Å", "K"])
            let results = try F.readAll(reader)
            let secondKey = lines[0].utf8.count + 1 + lines[1].utf8.count + 1 + 9
            #expect(results == [
                .record(FileRecord(number: 1, values: [.int(1), .int(2)], endOffset: Int64(lines[0].utf8.count + 1))),
                .record(FileRecord(number: 2, values: [.int(3), .int(4)], endOffset: Int64(lines[0].utf8.count + lines[1].utf8.count + 2))),
                .malformed(number: 3, endOffset: Int64(lines.joined(separator: "\n").utf8.count),
                           reason: "line 3 is not valid JSON: duplicate key \"\u{212A}\" in object at byte \(secondKey)", raw: lines[2]),
            ])
        }
    }

    @Test func escapedKeysAreTheirTextAndRepeatsAreFound() throws {
        let ndjson = #"{"ab": 1, "c": "x"}"# + "\n" + #"{"a\u0062": 2, "\u0063": "\"y\""}"# + "\n" + #"{"a\u0062": 3, "ab": 4}"# + "\n" + #"{"c\"": 5}"#
        try F.withFile(ndjson) { path in
            let results = try F.readAll(NDJSONRecordReader(path: path))
            #expect(results.count == 4)
            #expect(F.valueRows(results) == [[.int(1), .string("x")], [.int(2), .string("\"y\"")], nil, [.null, .null]])
            guard case .malformed(3, _, let reason, _) = results[2] else {
                Issue.record("expected malformed record 3, got \(results[2])")
                return
            }
            #expect(reason == "line 3 is not valid JSON: duplicate key \"ab\" in object at byte 69")
            #expect(F.records(results).last?.extras == [.init("c\"", .int(5))])
        }
    }

    /// Numbers keep JSONParser's rules in cells: Int64 integers, doubles that write back the same
    /// number, and the literal for anything else; a decimal beyond a double is malformed.
    @Test func numbersAreReadExactlyIntoCells() throws {
        let ndjson = #"{"i": 1, "z": -0, "d": 1.5e3, "p": 0.1000000000000000055511151231257827, "s": 1e-400, "b": -12345678901234567890, "t": true, "n": null, "l": [1.25, 99999999999999999999]}"#
            + "\n" + #"{"i": 1e400}"#
        try F.withFile(ndjson) { path in
            let results = try F.readAll(NDJSONRecordReader(path: path))
            #expect(F.valueRows(results) == [
                [.int(1), .int(0), .double(1500), .number("0.1000000000000000055511151231257827"), .number("1e-400"),
                 .number("-12345678901234567890"), .bool(true), .null, .array([.double(1.25), .number("99999999999999999999")])],
                nil,
            ])
            guard case .malformed(2, _, let reason, _) = results[1] else {
                Issue.record("expected malformed record 2, got \(results[1])")
                return
            }
            let start = ndjson.utf8.count - #"{"i": 1e400}"#.utf8.count
            #expect(reason == "line 2 is not valid JSON: number 1e400 is out of range at byte \(start + 6)")
        }
    }

    /// A Looker row is judged as a whole parse would judge it: broken JSON anywhere (a repeated
    /// key included) before a cell's problem, and lists or objects as a cell's value are kept.
    @Test func lookerRowsAreJudgedAsAWholeParseWould() throws {
        let rows = [
            #"{"u.zz":{"value":1},"u.e":{"value":tru}}"#,
            #"{"u.e":{"value":"a","value":"b"}}"#,
            #"{"u.e":{"value":"a"},"u.e":{"value":"b"}}"#,
            #"{"u.e":{"rendered":"x","value":[1,{"k":"v"}],"links":[{"url":"/"}]}}"#,
            #"{"u.e":{"rendered":"x","links":[]}}"#,
            #"{"u.e":{"a":{"value":1},"b":{"value":2},"c":{},"d":{}}}"#,
        ]
        let text = #"{"fields":{"dimensions":[{"name":"u.e"}]},"data":["# + rows.joined(separator: ",\n") + "]}"
        func offset(_ needle: String, after row: Int) throws -> Int {
            let rowStart = try #require(text.range(of: rows[row])).lowerBound
            return try #require(text.range(of: needle, range: rowStart..<text.endIndex)).lowerBound.utf16Offset(in: text)
        }
        try F.withFile(text) { path in
            let results = try F.readAll(LookerRecordReader(path: path))
            let reasons = results.map { result -> String in
                switch result {
                case .record(let record): return "ok \(record.values)"
                case .malformed(_, _, let reason, _): return reason
                }
            }
            #expect(try reasons == [
                "row 1 is not valid JSON: invalid literal, expected 'true' at byte \(offset("tru}", after: 0))",
                "row 2 is not valid JSON: duplicate key \"value\" in object at byte \(offset(#""value":"b""#, after: 1))",
                "row 3 is not valid JSON: duplicate key \"u.e\" in object at byte \(offset(#""u.e":{"value":"b""#, after: 2))",
                "ok \([Value.array([.int(1), .object([.init("k", .string("v"))])])])",
                "row 5: the cell of 'u.e' has no 'value'",
                "row 6: the cell of 'u.e' holds one cell per pivot value ('a', 'b', 'c'); pivoted results are not supported, remove the pivot in Looker",
            ])
        }
    }
}
