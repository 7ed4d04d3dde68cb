import Foundation
import Testing
@testable import SyncJobsCore

/// Strings are scanned eight bytes at a time; every byte that ends that fast path (a quote, an
/// escape, a control character, a byte past ASCII) is tried at every offset within the words,
/// read by the parser and into a batch cell.
@Suite struct JSONStringScanTests {
    typealias F = FileSourceFixtures

    /// What reading `{"k":"<prefix><special><suffix>"}` gives: a string, or an error text.
    enum Outcome: Equatable {
        case string(String)
        case error(String)
    }

    static func parsed(_ bytes: [UInt8]) -> Outcome {
        do {
            guard case .object(let entries) = try bytes.withUnsafeBytes({ try JSONParser.parse($0) }),
                  case .string(let text) = entries.first?.value else { return .error("not an object of a string") }
            return .string(text)
        } catch let error as JSONParseError {
            return .error(error.message)
        } catch {
            return .error("\(error)")
        }
    }

    static func readIntoCell(_ bytes: [UInt8]) throws -> Outcome {
        try F.withFile(Array(#"{"k":"x"}"#.utf8) + [0x0A] + bytes) { path in
            let results = try F.readAll(NDJSONRecordReader(path: path))
            switch results.last {
            case .record(let record)?:
                guard case .string(let text) = record.values.first else { return .error("not a string: \(record.values)") }
                return .string(text)
            case .malformed(_, _, let reason, _)?:
                // "line 2 is not valid JSON: <problem> at byte <file offset>": back to the record's offset.
                let prefix = "line 2 is not valid JSON: "
                guard reason.hasPrefix(prefix), let at = reason.range(of: " at byte ", options: .backwards),
                      let offset = Int(reason[at.upperBound...]) else { return .error(reason) }
                return .error("\(reason[reason.index(reason.startIndex, offsetBy: prefix.count)..<at.lowerBound]) at byte \(offset - 10)")
            case nil:
                return .error("no record")
            }
        }
    }

    @Test func everyByteThatEndsTheFastPathIsFoundAtEveryOffset() throws {
        let open = Array(#"{"k":""#.utf8)  // the string's content starts at byte 6
        typealias Expected = (_ prefix: String, _ suffix: String, _ at: Int) -> Outcome
        func text(_ middle: String) -> Expected { { prefix, suffix, _ in .string(prefix + middle + suffix) } }
        let control: Expected = { _, _, at in .error("unescaped control character in string at byte \(at)") }
        let invalid: Expected = { _, _, _ in .error("invalid UTF-8 in string at byte 6") }
        let specials: [([UInt8], Expected)] = [
            (Array(#"\""#.utf8), text("\"")),
            (Array(#"\\"#.utf8), text("\\")),
            (Array(#"\u00e9"#.utf8), text("é")),
            (Array("é".utf8), text("é")),
            (Array("\u{1F600}".utf8), text("\u{1F600}")),
            ([0x09], control),
            ([0x1F], control),
            ([0xFF], invalid),
            ([0xC3], invalid),
        ]
        for (special, expected) in specials {
            for offset in 0...17 {
                let prefix = String(repeating: "a", count: offset)
                let suffix = String(repeating: "b", count: 17 - offset)
                let record = open + Array(prefix.utf8) + special + Array(suffix.utf8) + Array(#""}"#.utf8)
                let want = expected(prefix, suffix, 6 + offset)
                #expect(Self.parsed(record) == want, "\(special) at \(offset), parsed")
                #expect(try Self.readIntoCell(record) == want, "\(special) at \(offset), into a cell")
            }
        }
        // A string that ends inside its first word, and one that is never closed.
        #expect(Self.parsed(Array(#"{"k":"abc"}"#.utf8)) == .string("abc"))
        #expect(Self.parsed(Array(#"{"k":"abcdefghijklmnop"#.utf8)) == .error("unterminated string at byte 5"))
    }
}
