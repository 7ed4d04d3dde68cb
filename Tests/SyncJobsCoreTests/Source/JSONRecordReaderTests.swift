import Foundation
import Testing
@testable import SyncJobsCore

@Suite struct NDJSONRecordReaderTests {
    typealias F = FileSourceFixtures

    @Test func columnsComeFromTheFirstObjectAndLaterObjectsAlignToThem() throws {
        let ndjson = #"""
        {"id": 1, "name": "Ada", "score": 1.5}
        {"name": "Grace", "id": 2, "team": "navy", "extra": [1]}
        {"id": 3}
        """#
        try F.withFile(ndjson + "\n") { path in
            let reader = try NDJSONRecordReader(path: path)
            #expect(reader.columns == ["id", "name", "score"])
            let records = F.records(try F.readAll(reader))
            #expect(records.map(\.number) == [1, 2, 3])
            #expect(records.map(\.values) == [
                [.int(1), .string("Ada"), .double(1.5)],
                [.int(2), .string("Grace"), .null],
                [.int(3), .null, .null],
            ])
            #expect(records.map(\.extras) == [
                [],
                [.init("team", .string("navy")), .init("extra", .array([.int(1)]))],
                [],
            ])
        }
    }

    @Test func blankLinesAndCRLFAreFine() throws {
        try F.withFile("\r\n{\"a\": \"x\"}\r\n\r\n   \n{\"a\": \"y\"}\r\n") { path in
            let results = try F.readAll(NDJSONRecordReader(path: path))
            #expect(results == [
                .record(FileRecord(number: 1, values: [.string("x")], endOffset: 14)),
                .record(FileRecord(number: 2, values: [.string("y")], endOffset: 32)),
            ])
        }
    }

    @Test func malformedLinesAreReportedAndReadingGoesOn() throws {
        let ndjson = "{\"a\": 1}\n{\"a\": 2,}\n[1, 2]\n\n\"text\"\n{\"a\": 3}\n{\"a\": 1, \"a\": 2}\n{\"a\": 4}"
        try F.withFile(ndjson) { path in
            let results = try F.readAll(NDJSONRecordReader(path: path))
            #expect(results == [
                .record(FileRecord(number: 1, values: [.int(1)], endOffset: 9)),
                .malformed(number: 2, endOffset: 19,
                           reason: "line 2 is not valid JSON: expected a string key in object, found '}' at byte 17",
                           raw: "{\"a\": 2,}"),
                .malformed(number: 3, endOffset: 26, reason: "line 3 is a list, not a JSON object", raw: "[1, 2]"),
                .malformed(number: 4, endOffset: 34, reason: "line 5 is a string, not a JSON object", raw: "\"text\""),
                .record(FileRecord(number: 5, values: [.int(3)], endOffset: 43)),
                .malformed(number: 6, endOffset: 60,
                           reason: "line 7 is not valid JSON: duplicate key \"a\" in object at byte 52",
                           raw: "{\"a\": 1, \"a\": 2}"),
                .record(FileRecord(number: 7, values: [.int(4)], endOffset: 68)),
            ])
        }
    }

    @Test func columnsComeFromTheFirstValidObject() throws {
        try F.withFile("not json\n{\"b\": true, \"a\": null}\n") { path in
            let reader = try NDJSONRecordReader(path: path)
            #expect(reader.columns == ["b", "a"])
            let results = try F.readAll(reader)
            #expect(results.map(F.number) == [1, 2])
            #expect(F.valueRows(results) == [nil, [.bool(true), .null]])
        }
    }

    @Test func emptyFileHasNoColumnsAndNoRecords() throws {
        for contents in ["", "\n\n", "  \r\n"] {
            try F.withFile(contents) { path in
                let reader = try NDJSONRecordReader(path: path)
                #expect(reader.columns == [])
                #expect(try reader.next() == nil)
            }
        }
    }

    @Test func missingFileIsFatal() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/missing.ndjson"
            #expect(throws: FileSourceError(path: path, message: "the file does not exist")) {
                _ = try NDJSONRecordReader(path: path)
            }
        }
    }

    @Test func resumingKeepsTheFirstObjectsColumnsAndGivesTheRemainingRecords() throws {
        let ndjson = "{\"id\": 1, \"v\": \"a\"}\n{\"v\": \"b\", \"id\": 2}\nbroken\n\n{\"id\": 4, \"w\": 0}\n{\"id\": 5}\n"
        try F.withFile(ndjson) { path in
            let all = try F.readAll(NDJSONRecordReader(path: path))
            #expect(all.map(F.number) == [1, 2, 3, 4, 5])
            for (index, result) in all.enumerated() {
                let reader = try NDJSONRecordReader(path: path, startOffset: F.endOffset(result), startNumber: F.number(result))
                #expect(reader.columns == ["id", "v"])
                let resumed = try F.readAll(reader)
                #expect(resumed.count == all.count - index - 1)
                #expect(F.valueRows(resumed) == F.valueRows(Array(all[(index + 1)...])))
                #expect(resumed.map(F.endOffset) == all[(index + 1)...].map(F.endOffset))
            }
            // Mid-file, a malformed line is named by its byte offset: earlier lines were not counted.
            let resumed = try F.readAll(NDJSONRecordReader(path: path, startOffset: F.endOffset(all[1]), startNumber: 2))
            guard case .malformed(3, _, let reason, "broken") = resumed.first else {
                Issue.record("expected malformed record 3, got \(String(describing: resumed.first))")
                return
            }
            #expect(reason.hasPrefix("the line at byte 40 is not valid JSON: "))
        }
    }

    @Test func endOffsetStopsReading() throws {
        let ndjson = "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3}\n"
        try F.withFile(ndjson) { (path) throws in
            #expect(try F.valueRows(F.readAll(NDJSONRecordReader(path: path, endOffset: 18))) == [[.int(1)], [.int(2)]])
            // A line cut by the limit in a file that has grown is left for the next run.
            #expect(try F.valueRows(F.readAll(NDJSONRecordReader(path: path, endOffset: 22))) == [[.int(1)], [.int(2)]])
        }
        try F.withFile("{\"a\": 1}\n{\"a\": 2}") { (path) throws in
            #expect(try F.valueRows(F.readAll(NDJSONRecordReader(path: path, endOffset: 17))) == [[.int(1)], [.int(2)]])
        }
    }

    @Test func longLinesAreSkippedWithoutBeingKept() throws {
        let long = "{\"a\": \"" + String(repeating: "x", count: 2_500_000) + "\"}"
        try F.withFile("{\"a\": 1}\n\(long)\n{\"a\": 2}\n") { path in
            let results = try F.readAll(NDJSONRecordReader(path: path, maximumRecordBytes: 1 << 20))
            #expect(results.count == 3)
            guard case .malformed(2, let endOffset, let reason, let raw) = results[1] else {
                Issue.record("expected malformed record 2, got \(results[1])")
                return
            }
            #expect(reason == "line 2 is longer than the 1 MiB limit for one record")
            #expect(raw.utf8.count == 1000)
            #expect(endOffset == Int64(9 + long.utf8.count + 1))
            #expect(F.valueRows([results[0], results[2]]) == [[.int(1)], [.int(2)]])
        }
    }

    /// Places a CRLF and escapes across the first 1 MiB read boundary at every alignment.
    @Test func readsAcrossChunkBoundariesAtEveryAlignment() throws {
        let boundary = 1 << 20
        let tricky = "{\"id\":\"a\\\"b\"}\r\n\r\n{\"id\":\"\\u00e9\"}\r\n"
        try withTemporaryDirectory { directory in
            for shift in 0...tricky.utf8.count {
                // `{"id":"` + filler + `"}\n` puts the tricky part `shift` bytes before the boundary.
                let filler = String(repeating: "z", count: boundary - 10 - shift)
                let path = directory + "/shift\(shift).ndjson"
                try Data(("{\"id\":\"\(filler)\"}\n" + tricky + "{\"id\":1}").utf8).write(to: URL(fileURLWithPath: path))
                let rows = try F.valueRows(F.readAll(NDJSONRecordReader(path: path)))
                #expect(rows == [[.string(filler)], [.string("a\"b")], [.string("é")], [.int(1)]], "shift \(shift)")
            }
        }
    }

    @Test func readsAFileOfSeveralChunks() throws {
        var ndjson = ""
        for index in 1...50_000 {
            ndjson += #"{"id":\#(index),"name":"n\#(index) \"q\" ü","price":\#(index).5,"flags":[true,null],"big":\#(index)0000000000000000000}"#
            ndjson += index % 3 == 0 ? "\r\n" : "\n"
        }
        #expect(ndjson.utf8.count > 3 << 20)
        try F.withFile(ndjson) { path in
            let reader = try NDJSONRecordReader(path: path)
            #expect(reader.columns == ["id", "name", "price", "flags", "big"])
            var count = 0
            while let result = try reader.next() {
                count += 1
                guard case .record(let record) = result else {
                    Issue.record("record \(count) is malformed: \(result)")
                    break
                }
                #expect(record.number == count)
                let expected: [Value] = [.int(Int64(count)), .string("n\(count) \"q\" ü"), .double(Double(count) + 0.5),
                                         .array([.bool(true), .null]), .number("\(count)0000000000000000000")]
                if record.values != expected {
                    Issue.record("record \(count): \(record.values)")
                    break
                }
            }
            #expect(count == 50_000)
        }
    }
}

@Suite struct JSONArrayRecordReaderTests {
    typealias F = FileSourceFixtures

    @Test func streamsObjectsOfTheArray() throws {
        let json = """
        [
          {"id": 1, "name": "Ada", "tags": ["x", "]"], "meta": {"s": "}{\\"["}},
          {"name": "Grace", "id": 2, "note": "extra"},
          {"id": 3}
        ]

        """
        try F.withFile(json) { path in
            let reader = try JSONArrayRecordReader(path: path)
            #expect(reader.columns == ["id", "name", "tags", "meta"])
            let results = try F.readAll(reader)
            let records = F.records(results)
            #expect(records.map(\.number) == [1, 2, 3])
            #expect(records.map(\.values) == [
                [.int(1), .string("Ada"), .array([.string("x"), .string("]")]), .object([.init("s", .string("}{\"["))])],
                [.int(2), .string("Grace"), .null, .null],
                [.int(3), .null, .null, .null],
            ])
            #expect(records.map(\.extras) == [[], [.init("note", .string("extra"))], []])
            // Each end offset is just after the element's closing brace.
            let bytes = Array(json.utf8)
            #expect(records.map { bytes[Int($0.endOffset) - 1] } == Array(repeating: UInt8(ascii: "}"), count: 3))
        }
    }

    @Test func elementsThatAreNotValidObjectsAreMalformedAndReadingGoesOn() throws {
        let json = #"[{"a": 1}, 2, "s", [3, {"b": 4}], {"a": tru}, null, {"a": 5}]"#
        try F.withFile(json) { path in
            let results = try F.readAll(JSONArrayRecordReader(path: path))
            #expect(results == [
                .record(FileRecord(number: 1, values: [.int(1)], endOffset: 9)),
                .malformed(number: 2, endOffset: 12, reason: "record 2 is an integer, not a JSON object", raw: "2"),
                .malformed(number: 3, endOffset: 17, reason: "record 3 is a string, not a JSON object", raw: "\"s\""),
                .malformed(number: 4, endOffset: 32, reason: "record 4 is a list, not a JSON object", raw: "[3, {\"b\": 4}]"),
                .malformed(number: 5, endOffset: 44,
                           reason: "record 5 is not valid JSON: invalid literal, expected 'true' at byte 40",
                           raw: "{\"a\": tru}"),
                .malformed(number: 6, endOffset: 50, reason: "record 6 is null, not a JSON object", raw: "null"),
                .record(FileRecord(number: 7, values: [.int(5)], endOffset: 60)),
            ])
        }
    }

    @Test func emptyArrayAndEmptyFileHaveNoRecords() throws {
        for contents in ["[]", " [ \n ] \n", "", "\n"] {
            try F.withFile(contents) { path in
                let reader = try JSONArrayRecordReader(path: path)
                #expect(reader.columns == [])
                #expect(try reader.next() == nil)
            }
        }
    }

    @Test func notAnArrayIsFatal() throws {
        _ = try F.withFile(#"{"a": 1}"#) { path in
            #expect(throws: FileSourceError(path: path, message: "expected '[' at byte 0, found '{'; a JSON source must hold one top-level array of objects (use NDJSON for one object per line)")) {
                _ = try F.readAll(JSONArrayRecordReader(path: path))
            }
        }
    }

    /// Broken structure leaves no safe place to go on: the records before it are read, then the
    /// rest of the file is one malformed record that names the byte where the damage starts.
    @Test(arguments: [
        (#"[{"a": 1} {"a": 2}]"#, 1, 9, "the JSON array is broken: expected ',' or ']' after record 1 at byte 10, found '{'; nothing from byte 10 on is read", #"{"a": 2}]"#),
        (#"[{"a": 1}, {"a": 2},]"#, 2, 19, "the JSON array is broken: a ',' after record 2 is followed by ']' at byte 20; nothing from byte 20 on is read", "]"),
        (#"[{"a": 1}, {"a": [2}]"#, 1, 9, "the JSON array is broken: record 2 has a mismatched '}' at byte 19; nothing from byte 11 on is read", #"{"a": [2}]"#),
        (#"[{"a": 1}, {"a": "2"#, 1, 9, "the JSON array is cut short: the file ends inside record 2, which starts at byte 11", #"{"a": "2"#),
        (#"[{"a": 1}"#, 1, 9, "the JSON array is cut short: the file ends at byte 9 after record 1, without the array's closing ']'", ""),
        (#"[{"a": 1}] x"#, 1, 9, "the JSON array is broken: unexpected 'x' at byte 11 after the array's closing ']'; nothing from byte 11 on is read", "x"),
        (#"[{"a": 1},"#, 1, 9, "the JSON array is cut short: the file ends at byte 10, after a ',' that follows record 1", ""),
        (#"[{"a": 1}, ,{"a": 2}]"#, 1, 9, "the JSON array is broken: expected record 2 at byte 11, found ','; nothing from byte 11 on is read", #",{"a": 2}]"#),
        ("[", 0, 0, "the JSON array is cut short: the file ends at byte 1 before the array's closing ']'", ""),
    ])
    func damageEndsTheArrayAsOneMalformedRecord(json: String, good: Int, resumeOffset: Int64, reason: String, raw: String) throws {
        try F.withFile(json) { path in
            let results = try F.readAll(JSONArrayRecordReader(path: path))
            #expect(F.records(results).map(\.number) == Array(0..<good).map { $0 + 1 })
            #expect(results.last == .malformed(number: good + 1, endOffset: resumeOffset, reason: reason, raw: raw))
            #expect(results.count == good + 1)
        }
    }

    @Test func aResumedReadReportsTheDamageAgain() throws {
        try F.withFile(#"[{"a": 1}, {"a": 2} {"a": 3}]"#) { path in
            let all = try F.readAll(JSONArrayRecordReader(path: path))
            #expect(all.map(F.number) == [1, 2, 3])
            let resumed = try F.readAll(JSONArrayRecordReader(path: path, startOffset: F.endOffset(all[1]), startNumber: 2))
            #expect(resumed == [all[2]])
        }
    }

    @Test func resumingAtARecordEndGivesTheRemainingRecords() throws {
        let json = "\u{FEFF}[ {\"id\": 1, \"v\": \"a\"} ,\n {\"v\": \"b,]\", \"id\": 2}, 7,\n{\"id\": 4}\n]\n"
        try F.withFile(json) { path in
            let all = try F.readAll(JSONArrayRecordReader(path: path))
            #expect(all.map(F.number) == [1, 2, 3, 4])
            #expect(F.valueRows(all) == [[.int(1), .string("a")], [.int(2), .string("b,]")], nil, [.int(4), .null]])
            for (index, result) in all.enumerated() {
                let reader = try JSONArrayRecordReader(path: path, startOffset: F.endOffset(result), startNumber: F.number(result))
                #expect(reader.columns == ["id", "v"])
                #expect(try F.readAll(reader) == Array(all[(index + 1)...]), "resuming after record \(index + 1)")
            }
        }
    }

    /// Cut at the run's snapshot in a file that has grown since: still being written, not damage.
    @Test func endOffsetInsideTheArrayOfAGrowingFileIsFatal() throws {
        try F.withFile(#"[{"a": 1}, {"a": 2}]"#) { path in
            let reader = try JSONArrayRecordReader(path: path, endOffset: 12)
            #expect(try reader.next().map { F.number($0) } == 1)
            #expect(throws: FileSourceError(path: path, message: "the JSON array stops at byte 12, where the file ended when the run started, and the file has grown since: it is still being written; run again once it is complete")) {
                try reader.next()
            }
        }
    }

    @Test func longElementsAreSkippedWithoutBeingKept() throws {
        let long = "{\"a\": [\"" + String(repeating: "\\\"{[", count: 600_000) + "\"]}"
        try F.withFile("[{\"a\": 1}, \(long), {\"a\": 2}]") { path in
            let results = try F.readAll(JSONArrayRecordReader(path: path, maximumRecordBytes: 1 << 20))
            #expect(results.count == 3)
            guard case .malformed(2, let endOffset, let reason, let raw) = results[1] else {
                Issue.record("expected malformed record 2, got \(results[1])")
                return
            }
            #expect(reason == "record 2 is longer than the 1 MiB limit for one record")
            #expect(raw.utf8.count == 1000)
            #expect(endOffset == Int64(11 + long.utf8.count))
            #expect(F.valueRows([results[0], results[2]]) == [[.int(1)], [.int(2)]])
        }
    }

    /// Places escapes, strings and brackets across the first 1 MiB read boundary at every alignment.
    @Test func readsAcrossChunkBoundariesAtEveryAlignment() throws {
        let boundary = 1 << 20
        let tricky = #"{"s":"\\\"]}","l":[{}]} , 12 ,"#
        try withTemporaryDirectory { directory in
            for shift in 0...tricky.utf8.count {
                // `[{"s":"` + filler + `"},` puts the tricky part `shift` bytes before the boundary.
                let filler = String(repeating: "z", count: boundary - 10 - shift)
                let path = directory + "/shift\(shift).json"
                try Data(("[{\"s\":\"\(filler)\"}," + tricky + #"{"s":"end"}]"#).utf8).write(to: URL(fileURLWithPath: path))
                let rows = try F.valueRows(F.readAll(JSONArrayRecordReader(path: path)))
                let expected: [[Value]?] = [[.string(filler)], [.string("\\\"]}")], nil, [.string("end")]]
                #expect(rows == expected, "shift \(shift)")
            }
        }
    }

    @Test func readsAFileOfSeveralChunks() throws {
        var json = "[\n"
        for index in 1...40_000 {
            if index > 1 { json += ",\n" }
            json += #"  {"id": \#(index), "s": "a\\\"b]}\u00e9 \#(index)", "nested": {"list": [[\#(index)], {"x": "}"}]}, "n": -\#(index).25e1}"#
        }
        json += "\n]\n"
        #expect(json.utf8.count > 3 << 20)
        try F.withFile(json) { path in
            let reader = try JSONArrayRecordReader(path: path)
            #expect(reader.columns == ["id", "s", "nested", "n"])
            var count = 0
            while let result = try reader.next() {
                count += 1
                guard case .record(let record) = result else {
                    Issue.record("record \(count) is malformed: \(result)")
                    break
                }
                let expected: [Value] = [
                    .int(Int64(count)), .string("a\\\"b]}é \(count)"),
                    .object([.init("list", .array([.array([.int(Int64(count))]), .object([.init("x", .string("}"))])]))]),
                    .double(-(Double(count) + 0.25) * 10),
                ]
                if record.values != expected || record.number != count {
                    Issue.record("record \(count): \(record.values)")
                    break
                }
            }
            #expect(count == 40_000)
        }
    }
}
