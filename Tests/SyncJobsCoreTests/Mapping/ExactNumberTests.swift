import Foundation
import Testing
@testable import SyncJobsCore

/// Numbers reach a batch with their exact value: an integer beyond Int64 or a decimal with more
/// digits than a double holds keeps its literal where a field takes text or a number, and a row
/// whose integer field cannot hold it exactly is rejected with the reason.
@Suite struct ExactNumberTests {
    static let huge = "18446744073709551615"
    static let longDecimal = "0.1000000000000000055511151231257827"
    static let bigDecimal = "12345678901234567890.5"

    @Test(arguments: [
        ("18446744073709551615", Value.number("18446744073709551615")),
        ("-9223372036854775809", .number("-9223372036854775809")),
        ("9223372036854775807", .int(9_223_372_036_854_775_807)),
        ("-9223372036854775808", .int(.min)),
        ("0.1000000000000000055511151231257827", .number("0.1000000000000000055511151231257827")),
        ("12345678901234567890.5", .number("12345678901234567890.5")),
        ("9007199254740993.0", .number("9007199254740993.0")),
        ("1e-400", .number("1e-400")),
        ("0.1", .double(0.1)),
        ("1.50", .double(1.5)),
        ("2.5e-3", .double(0.0025)),
        ("0.30000000000000004", .double(0.30000000000000004)),
        ("123456789012345.67", .double(123_456_789_012_345.67)),
        ("1e19", .double(1e19)),
        ("5e-324", .double(.leastNonzeroMagnitude)),
        ("-0.0", .double(-0.0)),
    ])
    func theParserKeepsWhatADoubleCannotHold(literal: String, expected: Value) throws {
        #expect(try JSONParser.parse(literal) == expected)
        #expect(JSONWriter.compact(try JSONParser.parse("[\(literal)]")) == "[\(JSONWriter.compact(expected))]")
    }

    static let userJob = """
        name: n
        type: user
        source: { file: ../data/%FILE% }
        mapping:
          - { column: id, to: user_identities.customer_id }
          - { column: score, to: user_attributes.score }
          - { column: big, to: user_attributes.big, type: string }
          - { column: tiny, to: user_attributes.tiny }
        destination: { path: ../out/n.ndjson }
        """

    static let expectedUsers = #"[{"environment":"development","user_identities":{"customer_id":"18446744073709551615"},"user_attributes":{"score":0.1000000000000000055511151231257827,"big":"12345678901234567890.5","tiny":1e-400},"source_request_id":"2e31dbb58ff0b7b5aab49b63b0274dab"},{"environment":"development","user_identities":{"customer_id":"18446744073709551614"},"user_attributes":{"score":0.1,"big":"1","tiny":2},"source_request_id":"5afe7775b39a82706a0dcc72326342b2"}]"#

    func runUsers(file: String, _ content: String, format: String? = nil) async throws -> (RunResult, String) {
        let t = try TestWorkspace()
        try t.write("data/\(file)", content)
        var yaml = Self.userJob.replacingOccurrences(of: "%FILE%", with: file)
        if let format { yaml = yaml.replacingOccurrences(of: "file: ../data/\(file)", with: "file: ../data/\(file), format: \(format)") }
        let result = try await t.run(try t.job("n", yaml))
        return (result, t.read("out/n.ndjson"))
    }

    @Test func ndjsonKeepsEveryDigit() async throws {
        let (run, output) = try await runUsers(file: "u.ndjson", """
            {"id": \(Self.huge), "score": \(Self.longDecimal), "big": \(Self.bigDecimal), "tiny": 1e-400}
            {"id": 18446744073709551614, "score": 0.1, "big": 1, "tiny": 2}

            """)
        #expect(run.succeeded)
        #expect(output == Self.expectedUsers + "\n")
    }

    @Test func jsonKeepsEveryDigit() async throws {
        let (run, output) = try await runUsers(file: "u.json", """
            [{"id": \(Self.huge), "score": \(Self.longDecimal), "big": \(Self.bigDecimal), "tiny": 1e-400},
             {"id": 18446744073709551614, "score": 0.1, "big": 1, "tiny": 2}]
            """)
        #expect(run.succeeded)
        #expect(output == Self.expectedUsers + "\n")
    }

    @Test func lookerKeepsEveryDigit() async throws {
        var fixture = LookerFixture()
        fixture.dimensions = [.field("id"), .field("score"), .field("big"), .field("tiny")]
        fixture.rows = [[Self.huge, Self.longDecimal, Self.bigDecimal, "1e-400"], ["18446744073709551614", "0.1", "1", "2"]]
        let (run, output) = try await runUsers(file: "u.json", fixture.json(), format: "looker")
        #expect(run.succeeded)
        #expect(output == Self.expectedUsers + "\n")
    }

    /// CSV cells are text, so identities and attributes always kept their digits; a number field
    /// now keeps them too, and an integer field says why it cannot take them.
    @Test func csvTextKeepsItsDigitsInNumberFields() async throws {
        let t = try TestWorkspace()
        try t.write("data/e.csv", "id,price,qty,height\n7,\(Self.bigDecimal),2,100\n8,19.99,\(Self.huge),100\n9,1,1,\(Self.huge)\n")
        let job = try t.job("e", """
            name: e
            type: event
            source: { file: ../data/e.csv }
            mapping:
              - { column: id, to: user_identities.customer_id }
              - { static: commerce_event, to: events.event_type }
              - { static: purchase, to: events.data.product_action.action }
              - { column: price, to: events.data.product_action.products.price }
              - { column: qty, to: events.data.product_action.products.quantity }
              - { column: height, to: device_info.screen_height }
            destination: { path: ../out/e.ndjson }
            """)
        let run = try await t.run(job)
        #expect(run.succeeded)
        #expect(t.read("out/e.ndjson") == #"""
            [{"environment":"development","user_identities":{"customer_id":"7"},"device_info":{"screen_height":100},"events":[{"event_type":"commerce_event","data":{"product_action":{"action":"purchase","products":[{"price":12345678901234567890.5,"quantity":2}]},"source_message_id":"8a5cac47-7359-8cea-8ed1-56230be369fd"}}],"source_request_id":"de2f139e36bbbbeb07d5f26313d2aa20"},{"environment":"development","user_identities":{"customer_id":"8"},"device_info":{"screen_height":100},"events":[{"event_type":"commerce_event","data":{"product_action":{"action":"purchase","products":[{"price":19.99,"quantity":18446744073709551615}]},"source_message_id":"1dac7663-34a0-8b5e-bfeb-7f6d6b1a1b3c"}}],"source_request_id":"058ffc7351360f50377ec5f2eb37584f"}]

            """#)
        #expect(run.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "3: column 'height' → device_info.screen_height: '18446744073709551615' is beyond the range of a 64-bit integer (-9223372036854775808 to 9223372036854775807)",
        ])
    }

    /// Integer fields take only what an Int64 holds exactly.
    @Test func integerFieldsRejectWhatTheyCannotHoldExactly() async throws {
        let t = try TestWorkspace()
        try t.write("data/e.ndjson", """
            {"user": "a", "mpid": \(Self.huge), "event": 1, "height": 100}
            {"user": "b", "mpid": 1, "event": \(Self.bigDecimal), "height": 100}
            {"user": "c", "mpid": 2, "event": 2, "height": 1e20}
            {"user": "d", "mpid": 3, "event": 9007199254740993.0, "height": 100}

            """)
        let job = try t.job("e", """
            name: e
            type: event
            source: { file: ../data/e.ndjson }
            mapping:
              - { column: user, to: user_identities.customer_id }
              - { column: mpid, to: mpid }
              - { static: Viewed, to: events.data.event_name }
              - { column: event, to: events.data.event_id }
              - { column: height, to: device_info.screen_height }
            destination: { path: ../out/e.ndjson }
            """)
        let run = try await t.run(job)
        #expect(run.succeeded)
        #expect(run.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "1: column 'mpid' → mpid: 18446744073709551615 is beyond the range of a 64-bit integer (-9223372036854775808 to 9223372036854775807)",
            "2: column 'event' → events.data.event_id: 12345678901234567890.5 is not an integer",
            "3: column 'height' → device_info.screen_height: 1e+20 is beyond the range of a 64-bit integer (-9223372036854775808 to 9223372036854775807)",
        ])
        // A decimal literal that is an integer is read exactly, not through a double (…992).
        #expect(t.read("out/e.ndjson") == #"""
            [{"environment":"development","mpid":3,"user_identities":{"customer_id":"d"},"device_info":{"screen_height":100},"events":[{"event_type":"custom_event","data":{"event_name":"Viewed","custom_event_type":"other","event_id":9007199254740993,"source_message_id":"8748eab2-aec7-8a78-85b6-7bf389593a6a"}}],"source_request_id":"3ed886dd56ade8667058047c3532a498"}]

            """#)
    }

    @Test func anIntegerIteratorBeyondInt64IsARejectedRow() async throws {
        let t = try TestWorkspace()
        try t.write("data/i.ndjson", """
            {"user": "a", "seq": 5}
            {"user": "b", "seq": \(Self.huge)}
            {"user": "c", "seq": 1.5}

            """)
        let job = try t.job("i", """
            name: i
            type: user
            source: { file: ../data/i.ndjson }
            mapping:
              - { column: user, to: user_identities.customer_id }
              - { ignore: seq }
            sync: { mode: incremental, iterator: seq, iterator_type: integer }
            destination: { path: ../out/i.ndjson }
            """)
        let run = try await t.run(job)
        #expect(run.succeeded)
        #expect(run.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "2: iterator column 'seq' holds 18446744073709551615, which is beyond the range of a 64-bit integer (-9223372036854775808 to 9223372036854775807)",
            "3: iterator column 'seq' holds 1.5, which is not an integer",
        ])
        #expect(try t.state().checkpoint(job: "i")?.lower == .int(5))
    }

    /// `type:` conversions read text and literals exactly.
    @Test(arguments: [
        (ValueType.number, Value.string("0.1000000000000000055511151231257827"), "0.1000000000000000055511151231257827"),
        (.number, .string(" +12345678901234567890.5 "), "12345678901234567890.5"),
        (.number, .string("2.50"), "2.5"),
        (.number, .number("18446744073709551615"), "18446744073709551615"),
        (.string, .number("18446744073709551615"), #""18446744073709551615""#),
        (.integer, .string("1e3"), "1000"),
        (.integer, .string("9007199254740993.0"), "9007199254740993"),
        (.integer, .number("9007199254740993.0"), "9007199254740993"),
        (.integer, .string("1.0000000000000000001"), "rejected: '1.0000000000000000001' is not an integer"),
        (.integer, .string("0x1A"), "rejected: '0x1A' is not an integer"),
        (.integer, .number("18446744073709551615"), "rejected: 18446744073709551615 is beyond the range of a 64-bit integer (-9223372036854775808 to 9223372036854775807)"),
    ])
    func typeConversionsAreExact(type: ValueType, value: Value, expected: String) {
        switch ValueConversion.apply(type, to: value) {
        case .success(let converted): #expect(JSONWriter.compact(converted) == expected)
        case .failure(let reason): #expect("rejected: \(reason.text)" == expected)
        }
    }
}
