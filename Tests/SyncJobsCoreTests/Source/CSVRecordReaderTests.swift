import Foundation
import Testing
@testable import SyncJobsCore

@Suite struct CSVRecordReaderTests {
    typealias F = FileSourceFixtures

    @Test func readsHeaderAndPlainRows() throws {
        try F.withFile("id,name,city\n1,Ada,London\n2,Grace,New York\n") { path in
            let reader = try CSVRecordReader(path: path)
            #expect(reader.columns == ["id", "name", "city"])
            let results = try F.readAll(reader)
            #expect(results == [
                .record(FileRecord(number: 1, values: [.s("1"), .s("Ada"), .s("London")], endOffset: 26)),
                .record(FileRecord(number: 2, values: [.s("2"), .s("Grace"), .s("New York")], endOffset: 43)),
            ])
        }
    }

    @Test func unquotedEmptyIsNullAndQuotedEmptyIsEmptyString() throws {
        try F.withFile("a,b,c\n,\"\",x\n\"\",,\n") { path in
            let rows = F.valueRows(try F.readAll(CSVRecordReader(path: path)))
            #expect(rows == [
                [.null, .s(""), .s("x")],
                [.s(""), .null, .null],
            ])
        }
    }

    @Test func quotedFieldsWithDelimitersEscapedQuotesAndEmbeddedNewlines() throws {
        let csv = "id,text,note\r\n"
            + "1,\"a, b\",\"she said \"\"hi\"\"\"\r\n"
            + "2,\"line one\r\nline two\",\"lf\nonly\"\r\n"
            + "3,\"\"\"\",plain\r\n"
        try F.withFile(csv) { path in
            let rows = F.valueRows(try F.readAll(CSVRecordReader(path: path)))
            #expect(rows == [
                [.s("1"), .s("a, b"), .s("she said \"hi\"")],
                [.s("2"), .s("line one\r\nline two"), .s("lf\nonly")],
                [.s("3"), .s("\""), .s("plain")],
            ])
        }
    }

    @Test func crlfRecordEndsGiveOffsetsAfterTheLineFeed() throws {
        try F.withFile("a,b\r\n1,2\r\n3,4\r\n") { path in
            let results = try F.readAll(CSVRecordReader(path: path))
            #expect(results.map(F.endOffset) == [10, 15])
            #expect(F.valueRows(results) == [[.s("1"), .s("2")], [.s("3"), .s("4")]])
        }
    }

    @Test func skipsByteOrderMark() throws {
        try F.withFile([0xEF, 0xBB, 0xBF] + Array("id,name\n1,é\n".utf8)) { path in
            let reader = try CSVRecordReader(path: path)
            #expect(reader.columns == ["id", "name"])
            #expect(try F.valueRows(F.readAll(reader)) == [[.s("1"), .s("é")]])
        }
    }

    @Test func lastRecordWithoutTrailingNewline() throws {
        try F.withFile("a,b\n1,2\n3,\"x\"") { path in
            let results = try F.readAll(CSVRecordReader(path: path))
            #expect(F.valueRows(results) == [[.s("1"), .s("2")], [.s("3"), .s("x")]])
            #expect(results.map(F.endOffset) == [8, 13])
        }
        try F.withFile("a,b\n1,") { path in
            let rows = F.valueRows(try F.readAll(CSVRecordReader(path: path)))
            #expect(rows == [[.s("1"), .null]])
        }
    }

    @Test func skipsBlankLinesWithoutCountingThem() throws {
        try F.withFile("\na,b\n\n1,2\r\n\r\n\n3,4\n\n") { path in
            let reader = try CSVRecordReader(path: path)
            #expect(reader.columns == ["a", "b"])
            let results = try F.readAll(reader)
            #expect(results.map(F.number) == [1, 2])
            #expect(F.valueRows(results) == [[.s("1"), .s("2")], [.s("3"), .s("4")]])
        }
    }

    @Test func readsTabSeparatedValues() throws {
        try F.withFile("a\tb\n1,5\t\"x\ty\"\n") { path in
            let reader = try CSVRecordReader(path: path, delimiter: UInt8(ascii: "\t"))
            #expect(reader.columns == ["a", "b"])
            #expect(try F.valueRows(F.readAll(reader)) == [[.s("1,5"), .s("x\ty")]])
        }
    }

    @Test func wrongFieldCountIsMalformedAndReadingGoesOn() throws {
        try F.withFile("a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n") { path in
            let results = try F.readAll(CSVRecordReader(path: path))
            #expect(results == [
                .record(FileRecord(number: 1, values: [.s("1"), .s("2"), .s("3")], endOffset: 12)),
                .malformed(number: 2, endOffset: 16, reason: "row 2 has 2 fields, the header has 3", raw: "4,5"),
                .malformed(number: 3, endOffset: 24, reason: "row 3 has 4 fields, the header has 3", raw: "6,7,8,9"),
                .record(FileRecord(number: 4, values: [.s("10"), .s("11"), .s("12")], endOffset: 33)),
            ])
        }
    }

    @Test func textAfterClosingQuoteIsMalformed() throws {
        try F.withFile("a,b\n\"x\"y,1\n2,3\n") { path in
            let results = try F.readAll(CSVRecordReader(path: path))
            #expect(results.count == 2)
            guard case .malformed(let number, _, let reason, let raw) = results[0] else {
                Issue.record("expected a malformed row, got \(results[0])")
                return
            }
            #expect(number == 1)
            #expect(reason.hasPrefix("field 1 has text after its closing quote"))
            #expect(raw == "\"x\"y,1")
            #expect(F.valueRows([results[1]]) == [[.s("2"), .s("3")]])
        }
    }

    @Test func unterminatedQuoteAtEndOfFileIsMalformed() throws {
        try F.withFile("a,b\n1,2\n3,\"open\nnext line\n4,5\n") { path in
            let results = try F.readAll(CSVRecordReader(path: path))
            #expect(results == [
                .record(FileRecord(number: 1, values: [.s("1"), .s("2")], endOffset: 8)),
                .malformed(number: 2, endOffset: 30, reason: "unterminated quoted field starting on line 3",
                           raw: "3,\"open\nnext line\n4,5"),
            ])
        }
    }

    @Test func malformedRawTextIsCutTo1000Bytes() throws {
        let long = String(repeating: "é", count: 800)  // 1600 bytes
        try F.withFile("a,b\n\(long)\n1,2\n") { path in
            let results = try F.readAll(CSVRecordReader(path: path))
            guard case .malformed(_, _, let reason, let raw) = results.first else {
                Issue.record("expected a malformed row")
                return
            }
            #expect(reason == "row 1 has 1 field, the header has 2")
            #expect(raw == String(repeating: "é", count: 500))
            #expect(F.valueRows(Array(results.dropFirst())) == [[.s("1"), .s("2")]])
        }
    }

    @Test func invalidUTF8IsMalformed() throws {
        try F.withFile(Array("a,b\n1,".utf8) + [0xFF, 0xFE] + Array("\n2,ok\n".utf8)) { path in
            let results = try F.readAll(CSVRecordReader(path: path))
            #expect(results.count == 2)
            guard case .malformed(1, _, let reason, _) = results[0] else {
                Issue.record("expected a malformed row 1, got \(results[0])")
                return
            }
            #expect(reason == "row 1: field 2 (\"b\") is not valid UTF-8")
            #expect(F.valueRows([results[1]]) == [[.s("2"), .s("ok")]])
        }
    }

    @Test func recordsLongerThanTheLimitAreSkippedWithoutBeingKept() throws {
        let huge = String(repeating: "x", count: 3_000_000)
        let csv = "a,b\n1,2\n\(huge),\"\(huge)\nstill quoted\"\n3,4\n"
        try F.withFile(csv) { path in
            let results = try F.readAll(CSVRecordReader(path: path, maximumRecordBytes: 1 << 20))
            #expect(results.count == 3)
            guard case .malformed(2, let endOffset, let reason, let raw) = results[1] else {
                Issue.record("expected malformed row 2, got \(results[1])")
                return
            }
            #expect(reason == "row 2 is longer than the 1 MiB limit for one record")
            #expect(raw == String(repeating: "x", count: 1000))
            #expect(endOffset == Int64(csv.utf8.count - 4))
            #expect(F.valueRows([results[0], results[2]]) == [[.s("1"), .s("2")], [.s("3"), .s("4")]])
        }
    }

    @Test func headerProblemsAreFatalAndSayWhatToFix() throws {
        func headerError(_ contents: [UInt8]) throws -> String {
            try F.withFile(contents) { path in
                do {
                    _ = try CSVRecordReader(path: path)
                    return "no error"
                } catch let error as FileSourceError {
                    #expect(error.path == path)
                    return error.message
                }
            }
        }
        let empty = "the file is empty; a CSV source needs a header row naming its columns"
        #expect(try headerError([]) == empty)
        #expect(try headerError([0xEF, 0xBB, 0xBF]) == empty)
        #expect(try headerError(Array("\n\r\n".utf8)) == empty)
        #expect(try headerError(Array("id,,name\n".utf8))
                == "column 2 of the header row has no name; every column needs a name")
        #expect(try headerError(Array("id,\"\"\n".utf8))
                == "column 2 of the header row has no name; every column needs a name")
        #expect(try headerError(Array("id,name,id\n".utf8))
                == "the header row names column \"id\" more than once (columns 1 and 3); column names must be unique")
        #expect(try headerError(Array("id,\"name\n".utf8))
                == "the header row is malformed: unterminated quoted field starting on line 1; fix the header row")
        #expect(try headerError(Array("\n\nid,\"na\"me\n".utf8))
                == "the header row is malformed: field 2 has text after its closing quote; a quoted field must be quoted as a whole, with any quote inside it doubled; fix the header row")
        #expect(try headerError(Array("\n\nid,\"name\n".utf8))
                == "the header row is malformed: unterminated quoted field starting on line 3; fix the header row")
        #expect(try headerError([0x61, 0x2C, 0xC3, 0x0A]) == "the header row is not valid UTF-8; save the file as UTF-8")
    }

    @Test func missingFileIsFatal() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/missing.csv"
            #expect(throws: FileSourceError(path: path, message: "the file does not exist")) {
                _ = try CSVRecordReader(path: path)
            }
            #expect(throws: FileSourceError(path: directory, message: "is a directory, not a file")) {
                _ = try CSVRecordReader(path: directory)
            }
        }
    }

    @Test func resumingAtAnyRecordEndGivesExactlyTheRemainingRecords() throws {
        let csv = "id,text\n1,a\n2,\"multi\r\nline\"\nbad\n\n4,\"q\"\"q\"\r\n5,e\n6,f"
        try F.withFile(csv) { path in
            let all = try F.readAll(CSVRecordReader(path: path))
            #expect(all.map(F.number) == [1, 2, 3, 4, 5, 6])
            for (index, result) in all.enumerated() {
                let resumed = try F.readAll(CSVRecordReader(
                    path: path, startOffset: F.endOffset(result), startNumber: F.number(result)))
                #expect(resumed == Array(all[(index + 1)...]), "resuming after record \(index + 1)")
            }
        }
    }

    @Test func endOffsetStopsReading() throws {
        let csv = "a,b\n1,2\n3,4\n5,6\n"
        try F.withFile(csv) { path in
            let all = try F.readAll(CSVRecordReader(path: path))
            let limited = try F.readAll(CSVRecordReader(path: path, endOffset: F.endOffset(all[1])))
            #expect(limited == Array(all[0...1]))
            // A record cut by the limit in a file that has grown is left for the next run.
            let cut = try F.readAll(CSVRecordReader(path: path, endOffset: F.endOffset(all[1]) + 2))
            #expect(cut == Array(all[0...1]))
            // The next run, resuming where this one stopped, reads the rest.
            let next = try F.readAll(CSVRecordReader(path: path, startOffset: F.endOffset(all[1]), startNumber: 2,
                                                     endOffset: Int64(csv.utf8.count)))
            #expect(next == [all[2]])
        }
        // At the true end of the file a record needs no terminator.
        try F.withFile("a,b\n1,2\n3,4") { path in
            let results = try F.readAll(CSVRecordReader(path: path, endOffset: 11))
            #expect(F.valueRows(results) == [[.s("1"), .s("2")], [.s("3"), .s("4")]])
        }
    }

    /// Places tricky byte sequences across the first 1 MiB read boundary at every alignment.
    @Test func readsAcrossChunkBoundariesAtEveryAlignment() throws {
        let boundary = 1 << 20
        let tricky = "\"x\"\"y\",\"p\r\nq\"\r\n\"\",\r\n"
        let trickyValues: [[Value]] = [[.s("x\"y"), .s("p\r\nq")], [.s(""), .null]]
        try withTemporaryDirectory { directory in
            for shift in 0...tricky.utf8.count {
                let header = "a,b\n"
                // One filler record, sized so that the tricky part starts `shift` bytes before the boundary.
                let fillerLength = boundary - header.utf8.count - 3 - shift
                let filler = "f," + String(repeating: "z", count: fillerLength) + "\n"
                let path = directory + "/shift\(shift).csv"
                try Data((header + filler + tricky + "end,1\n").utf8).write(to: URL(fileURLWithPath: path))
                let rows = F.valueRows(try F.readAll(CSVRecordReader(path: path)))
                let expected: [[Value]?] = [[.s("f"), .s(String(repeating: "z", count: fillerLength))]]
                    + trickyValues + [[.s("end"), .s("1")]]
                #expect(rows == expected, "shift \(shift)")
            }
        }
    }

    @Test func readsAFileOfSeveralChunks() throws {
        var csv = "id,name,comment,amount\r\n"
        var expected: [[Value]] = []
        for index in 1...80_000 {
            let comment = index % 7 == 0 ? "\"has, comma and \"\"quote\"\"\r\nand a line\"" : "plain \(index)"
            let commentValue = index % 7 == 0 ? "has, comma and \"quote\"\r\nand a line" : "plain \(index)"
            let amount = index % 5 == 0 ? "" : "\(index).25"
            csv += "\(index),name-\(index)-ü,\(comment),\(amount)\r\n"
            expected.append([.s("\(index)"), .s("name-\(index)-ü"), .s(commentValue), index % 5 == 0 ? .null : .s("\(index).25")])
        }
        #expect(csv.utf8.count > 3 << 20)
        try F.withFile(csv) { path in
            let results = try F.readAll(CSVRecordReader(path: path))
            #expect(results.count == expected.count)
            #expect(F.valueRows(results) == expected.map { Optional($0) })
            #expect(results.last.map(F.endOffset) == Int64(csv.utf8.count))
            // Resume in the middle of the file, past the first chunk.
            let middle = results[60_000]
            let rest = try F.readAll(CSVRecordReader(path: path, startOffset: F.endOffset(middle), startNumber: 60_001))
            #expect(rest == Array(results[60_001...]))
        }
    }
}

private extension Value {
    /// Short for `.string`, to keep the expected rows readable.
    static func s(_ text: String) -> Value { .string(text) }
}
