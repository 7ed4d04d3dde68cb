import Testing
@testable import SyncJobsCore

@Suite struct JSONParserTests {
    private func parseError(_ text: String) -> JSONParseError? {
        do {
            _ = try JSONParser.parse(text)
            return nil
        } catch {
            return error
        }
    }

    private func parseError(bytes: [UInt8]) -> JSONParseError? {
        do {
            _ = try bytes.withUnsafeBytes { try JSONParser.parse($0) }
            return nil
        } catch let error as JSONParseError {
            return error
        } catch {
            Issue.record("unexpected error type \(error)")
            return nil
        }
    }

    @Test func scalarsAndWhitespace() throws {
        #expect(try JSONParser.parse(" \t\r\n null \n") == .null)
        #expect(try JSONParser.parse("true") == .bool(true))
        #expect(try JSONParser.parse("false") == .bool(false))
        #expect(try JSONParser.parse("\"text\"") == .string("text"))
        #expect(try JSONParser.parse("\"\"") == .string(""))
    }

    @Test func integersStayIntegers() throws {
        #expect(try JSONParser.parse("0") == .int(0))
        #expect(try JSONParser.parse("42") == .int(42))
        #expect(try JSONParser.parse("-17") == .int(-17))
        #expect(try JSONParser.parse("9223372036854775807") == .int(.max))
        #expect(try JSONParser.parse("-9223372036854775808") == .int(.min))
    }

    @Test func bigIntegersKeepTheirLiteral() throws {
        // A double would keep only the first 17 digits, so distinct ids would collapse into one.
        #expect(try JSONParser.parse("9223372036854775808") == .number("9223372036854775808"))
        #expect(try JSONParser.parse("-9223372036854775809") == .number("-9223372036854775809"))
        #expect(try JSONParser.parse("123456789012345678901234567890") == .number("123456789012345678901234567890"))
    }

    @Test func negativeZero() throws {
        // Written without a fraction it is an integer, and Int64 has no negative zero.
        #expect(try JSONParser.parse("-0") == .int(0))
        guard case .double(let value) = try JSONParser.parse("-0.0") else {
            Issue.record("-0.0 should be a double")
            return
        }
        #expect(value == 0 && value.sign == .minus)
    }

    @Test func fractionsAndExponentsAreDoubles() throws {
        #expect(try JSONParser.parse("1.5") == .double(1.5))
        #expect(try JSONParser.parse("-0.25") == .double(-0.25))
        #expect(try JSONParser.parse("1e2") == .double(100))
        #expect(try JSONParser.parse("1E+2") == .double(100))
        #expect(try JSONParser.parse("25e-2") == .double(0.25))
        #expect(try JSONParser.parse("2.5E3") == .double(2500))
        #expect(try JSONParser.parse("0.1") == .double(0.1))
        #expect(try JSONParser.parse("1.7976931348623157e308") == .double(.greatestFiniteMagnitude))
        #expect(try JSONParser.parse("5e-324") == .double(.leastNonzeroMagnitude))
    }

    @Test func invalidNumbers() {
        #expect(parseError("01")?.message == "leading zeros are not allowed in numbers at byte 0")
        #expect(parseError("-")?.message == "expected a digit in number at byte 1")
        #expect(parseError("1.")?.message == "expected a digit after the decimal point at byte 2")
        #expect(parseError("1e")?.message == "expected a digit in the exponent at byte 2")
        #expect(parseError(".5")?.message == "unexpected '.', expected a JSON value at byte 0")
        #expect(parseError("+1")?.message == "unexpected '+', expected a JSON value at byte 0")
        #expect(parseError("1e999")?.message == "number 1e999 is out of range at byte 0")
        #expect(parseError("[1, 1" + String(repeating: "0", count: 400) + ".0]")?.message
                == "number 1000000000000000000000000000000000000000… is out of range at byte 4")
    }

    @Test func stringEscapes() throws {
        #expect(try JSONParser.parse(#""a\"b\\c\/d\b\f\n\r\t""#) == .string("a\"b\\c/d\u{8}\u{C}\n\r\t"))
        #expect(try JSONParser.parse(#""caf\u00e9 \u00E9""#) == .string("café é"))
        #expect(try JSONParser.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSONParser.parse("\"raw ü and 😀\"") == .string("raw ü and 😀"))
    }

    @Test func surrogatePairs() throws {
        #expect(try JSONParser.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSONParser.parse(#""x\uD834\uDD1Ey""#) == .string("x𝄞y"))
        #expect(parseError(#""\ud83d""#)?.message == "lone high surrogate \\uD83D in string at byte 1")
        #expect(parseError(#""\ud83dx""#)?.message == "lone high surrogate \\uD83D in string at byte 1")
        #expect(parseError(#""\ud83d\u0041""#)?.message
                == "high surrogate \\uD83D is not followed by a low surrogate at byte 1")
        #expect(parseError(#""\ude00""#)?.message == "lone low surrogate \\uDE00 in string at byte 1")
    }

    @Test func invalidStrings() {
        #expect(parseError(#""\x""#)?.message == "invalid escape sequence '\\x' in string at byte 1")
        #expect(parseError(#""\u12G4""#)?.message == "invalid hex digit in \\u escape at byte 1")
        #expect(parseError("\"tab\there\"")?.message == "unescaped control character in string at byte 4")
        #expect(parseError("\"open")?.message == "unterminated string at byte 0")
        #expect(parseError(bytes: [0x22, 0xC3, 0x28, 0x22])?.message == "invalid UTF-8 in string at byte 1")
        #expect(parseError(bytes: [0x22, 0x5C, 0x6E, 0xFF, 0x22])?.message == "invalid UTF-8 in string at byte 1")
    }

    @Test func objectsKeepKeyOrder() throws {
        let value = try JSONParser.parse(#"{"z": 1, "a": [true, null, {"k": "v"}], "m": {}}"#)
        #expect(value == .object([
            .init("z", .int(1)),
            .init("a", .array([.bool(true), .null, .object([.init("k", .string("v"))])])),
            .init("m", .object([])),
        ]))
        #expect(try JSONParser.parse("[]") == .array([]))
    }

    @Test func duplicateKeysAreErrorsNamingTheKey() {
        #expect(parseError(#"{"a": 1, "b": 2, "a": 3}"#)?.message == "duplicate key \"a\" in object at byte 17")
        // Large objects switch to a set; the check must still hold.
        let members = (0..<40).map { "\"k\($0)\": \($0)" }.joined(separator: ", ")
        #expect(parseError("{\(members), \"k7\": 0}")?.problem == "duplicate key \"k7\" in object")
        // The same key in different objects is fine.
        #expect(parseError(#"[{"a": 1}, {"a": 2}]"#) == nil)
    }

    @Test func depthLimit() throws {
        let deepest = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(parseError(deepest) == nil)
        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(parseError(tooDeep)?.message == "nesting deeper than 512 levels at byte 512")
        let tooDeepObjects = String(repeating: #"{"a":"#, count: 513) + "1" + String(repeating: "}", count: 513)
        #expect(parseError(tooDeepObjects)?.problem == "nesting deeper than 512 levels")
    }

    @Test func structuralErrorsSayWhatWasExpected() {
        #expect(parseError(#"{"a":1 "b":2}"#)?.message == "expected ',' or '}' after object member at byte 7")
        #expect(parseError(#"{"a" 1}"#)?.message == "expected ':' after object key \"a\" at byte 5")
        #expect(parseError(#"{"a":1,}"#)?.message == "expected a string key in object, found '}' at byte 7")
        #expect(parseError("[1 2]")?.message == "expected ',' or ']' after array element at byte 3")
        #expect(parseError("[1,]")?.message == "unexpected ']', expected a JSON value at byte 3")
        #expect(parseError("[1")?.message == "unexpected end of input inside an array at byte 2")
        #expect(parseError("")?.message == "unexpected end of input, expected a JSON value at byte 0")
        #expect(parseError("tru")?.message == "invalid literal, expected 'true' at byte 0")
        #expect(parseError("nul1")?.message == "invalid literal, expected 'null' at byte 0")
    }

    @Test func trailingGarbageIsAnError() {
        #expect(parseError("{} x")?.message == "unexpected 'x' after the JSON value at byte 3")
        #expect(parseError("1 2")?.message == "unexpected '2' after the JSON value at byte 2")
        #expect(parseError("nullx")?.message == "unexpected 'x' after the JSON value at byte 4")
    }

    @Test func utf8ValidationRejectsIllFormedSequences() {
        func valid(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { UTF8Validation.isValid($0) } }
        #expect(valid(Array("plain ascii, then é, € and 😀".utf8)))
        #expect(!valid([0xC0, 0xAF]))              // overlong '/'
        #expect(!valid([0xE0, 0x80, 0xAF]))        // overlong
        #expect(!valid([0xED, 0xA0, 0x80]))        // UTF-8 encoded surrogate
        #expect(!valid([0xF4, 0x90, 0x80, 0x80]))  // past U+10FFFF
        #expect(!valid([0xE2, 0x82]))              // truncated
        #expect(!valid([0x80]))                    // lone continuation byte
        #expect(!valid(Array("12345678".utf8) + [0xFF]))
    }

    /// Compares the hand-written validator with the standard library's on random bytes.
    @Test func utf8ValidationAgreesWithTheStandardLibrary() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func nextByte() -> UInt8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let raw = UInt8(truncatingIfNeeded: state >> 56)
            // Mostly lead and continuation bytes, so that multi-byte sequences come up often.
            return raw < 64 ? raw : 0x80 | (raw & 0x7F)
        }
        for length in 0..<20 {
            for _ in 0..<3000 {
                let bytes = (0..<length).map { _ in nextByte() }
                let expected = String(validating: bytes, as: UTF8.self) != nil
                let actual = bytes.withUnsafeBytes { UTF8Validation.isValid($0) }
                if actual != expected {
                    Issue.record("disagreement on \(bytes.map { String($0, radix: 16) })")
                    return
                }
            }
        }
    }

    @Test func roundTripsThroughTheWriter() throws {
        let text = #"{"id":123,"price":12.5,"tags":["a","b\n"],"nested":{"ok":false,"none":null}}"#
        #expect(JSONWriter.compact(try JSONParser.parse(text)) == text)
    }
}
