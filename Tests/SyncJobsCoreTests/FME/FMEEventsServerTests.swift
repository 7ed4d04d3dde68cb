import AsyncHTTPClient
import EventsAPIServer
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The loopback FME events server, over real loopback HTTP: what it refuses and why, what it
/// records, and its scripted faults.
@Suite struct FMEEventsServerTests {
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String
    }

    static let key = "test-sdk-key"
    /// A valid event, for the places a test does not look at.
    static let valid = #"{"eventTypeId":"checkout.click","trafficTypeName":"user","key":"user-1","timestamp":1767225600000}"#

    /// Runs `body` with a started server and an HTTP client of its own (so no connection outlives
    /// the test), and stops both.
    static func withServer(_ configure: (inout FMEEventsServer.Configuration) -> Void = { _ in },
                           _ body: (FMEEventsServer, HTTPClient) async throws -> Void) async throws {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        do {
            try await withFMEEvents(configure) { server in try await body(server, client) }
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    static func post(_ client: HTTPClient, _ server: FMEEventsServer, _ body: String, path: String = "/events/bulk",
                     method: HTTPMethod = .POST, authorization: String? = "Bearer \(key)",
                     contentType: String? = "application/json") async throws -> Reply {
        var request = HTTPClientRequest(url: server.baseURL + path)
        request.method = method
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        let answer = try await response.body.collect(upTo: 1 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: answer))
    }

    static func message(_ text: String) -> String {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return #"{"message":"\#(escaped)"}"#
    }

    /// A JSON array of `count` valid events.
    static func events(_ count: Int) -> String { "[" + Array(repeating: valid, count: count).joined(separator: ",") + "]" }

    @Test func aValidRequestIsAcceptedAndRecordedExactlyAsSent() async throws {
        let first = #"""
            {"eventTypeId": "checkout.click", "trafficTypeName": "user", "key": "user-123", "environmentName": "Production",
               "timestamp": 1557936519990, "value": 12.5,
               "properties": {"category": "guest", "admin": true, "discount": 50, "note": null, "city": "caf\u00e9"}, "foreignId": "mp-1"}
            """#
        let second = #"{"eventTypeId":"signup:done","trafficTypeName":"account","key":"a-9","timestamp":1557936519991,"value":null}"#
        try await Self.withServer { server, client throws in
            let reply = try await Self.post(client, server, "[\n  \(first),\n  \(second)\n]\n")
            #expect(reply.status == 202)
            #expect(reply.body == "")
            #expect(server.requestsReceived == 1)
            #expect(server.acceptedRequests == 1)
            #expect(server.acceptedEventCounts == [2])
            let events = server.events
            try #require(events.count == 2)
            #expect(events[0].json == first)
            #expect(events[0].eventTypeId == "checkout.click")
            #expect(events[0].trafficTypeName == "user")
            #expect(events[0].key == "user-123")
            #expect(events[0].environmentName == "Production")
            #expect(events[0].timestamp == 1_557_936_519_990)
            #expect(events[0].value == "12.5")
            #expect(events[0].properties == [.init("category", #""guest""#), .init("admin", "true"), .init("discount", "50"),
                                             .init("note", "null"), .init("city", #""caf\u00e9""#)])
            #expect(events[0].foreignId == "mp-1")
            #expect(events[0].request == 0)
            #expect(events[1].json == second)
            #expect(events[1].eventTypeId == "signup:done")
            #expect(events[1].value == "null")
            #expect(events[1].properties == nil)
            #expect(events[1].environmentName == nil)
            #expect(events[1].foreignId == nil)
        }
    }

    @Test func requestsOnOneKeptAliveConnectionAreRecordedInArrivalOrder() async throws {
        try await Self.withServer { server, client throws in
            for n in 1...3 {
                let event = #"{"eventTypeId":"e\#(n)","trafficTypeName":"user","key":"k","timestamp":\#(n)}"#
                #expect(try await Self.post(client, server, "[\(event)]").status == 202)
            }
            #expect(server.events.map(\.eventTypeId) == ["e1", "e2", "e3"])
            #expect(server.events.map(\.request) == [0, 1, 2])
            #expect(server.acceptedEventCounts == [1, 1, 1])
            #expect(server.connections == 1)
        }
    }

    @Test func aMissingOrWrongKeyIsRefusedWith401() async throws {
        try await Self.withServer { server, client throws in
            let body = Self.events(1)
            let missing = try await Self.post(client, server, body, authorization: nil)
            #expect(missing.status == 401)
            #expect(missing.body == Self.message("missing Authorization header"))
            let wrong = try await Self.post(client, server, body, authorization: "Bearer other-key")
            #expect(wrong.status == 401)
            #expect(wrong.body == Self.message("invalid SDK key"))
            let basic = try await Self.post(client, server, body, authorization: "Basic dGVzdDp0ZXN0")
            #expect(basic.status == 401)
            #expect(basic.body == Self.message("Authorization is not Bearer <SDK key>"))
            #expect(server.requestsReceived == 3)
            #expect(server.acceptedRequests == 0)
            #expect(server.events.isEmpty)
        }
    }

    @Test func otherPathsMethodsAndContentTypesAreRefused() async throws {
        try await Self.withServer { server, client throws in
            let body = Self.events(1)
            let single = try await Self.post(client, server, body, path: "/events")
            #expect(single.status == 404)
            #expect(single.body == Self.message("no such endpoint: /api/events"))
            let put = try await Self.post(client, server, body, method: .PUT)
            #expect(put.status == 405)
            #expect(put.body == Self.message("method PUT is not allowed: use POST"))
            let text = try await Self.post(client, server, body, contentType: "text/plain")
            #expect(text.status == 400)
            #expect(text.body == Self.message("Content-Type is 'text/plain', not application/json"))
            let none = try await Self.post(client, server, body, contentType: nil)
            #expect(none.status == 400)
            #expect(none.body == Self.message("missing Content-Type: application/json"))
            #expect(try await Self.post(client, server, body, contentType: "application/json; charset=utf-8").status == 202)
            #expect(server.acceptedEventCounts == [1])
        }
    }

    @Test func aBodyThatIsNotAnArrayOfEventsIsRefused() async throws {
        try await Self.withServer { server, client throws in
            let cases = [
                ("[{", "body is not valid JSON: expected a member name at byte 2"),
                ("[\(Self.valid),]", "body is not valid JSON: unexpected character at byte \(Self.valid.utf8.count + 2)"),
                (Self.valid, "body must be a JSON array of events, not an object"),
                ("[]", "body is an empty array: no events"),
            ]
            for (body, expected) in cases {
                let reply = try await Self.post(client, server, body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.body == Self.message(expected), "\(body)")
            }
            #expect(server.acceptedRequests == 0)
        }
    }

    struct FieldCase: Sendable, CustomTestStringConvertible {
        var event: String
        var message: String
        var testDescription: String { message }
    }

    static let manyProperties = "{" + (0...300).map { #""p\#($0)":\#($0)"# }.joined(separator: ",") + "}"
    static let fieldCases: [FieldCase] = [
        .init(event: #"{"eventTypeId":"has space","trafficTypeName":"user","key":"k","timestamp":1}"#,
              message: "eventTypeId 'has space' does not match ^[a-zA-Z0-9][-_.:a-zA-Z0-9]{0,79}$"),
        .init(event: #"{"eventTypeId":"\#(String(repeating: "a", count: 81))","trafficTypeName":"user","key":"k","timestamp":1}"#,
              message: "eventTypeId '\(String(repeating: "a", count: 81))' does not match ^[a-zA-Z0-9][-_.:a-zA-Z0-9]{0,79}$"),
        .init(event: #"{"eventTypeId":"_start","trafficTypeName":"user","key":"k","timestamp":1}"#,
              message: "eventTypeId '_start' does not match ^[a-zA-Z0-9][-_.:a-zA-Z0-9]{0,79}$"),
        .init(event: #"{"trafficTypeName":"user","key":"k","timestamp":1}"#, message: "eventTypeId is missing"),
        .init(event: #"{"eventTypeId":5,"trafficTypeName":"user","key":"k","timestamp":1}"#,
              message: "eventTypeId must be a string, not a number"),
        .init(event: #"{"eventTypeId":"e","key":"k","timestamp":1}"#, message: "trafficTypeName is missing"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"","key":"k","timestamp":1}"#, message: "trafficTypeName is empty"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","timestamp":1}"#, message: "key is missing"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"\#(String(repeating: "k", count: 251))","timestamp":1}"#,
              message: "key has 251 characters; it must have 1 to 250"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"","timestamp":1}"#,
              message: "key has 0 characters; it must have 1 to 250"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k"}"#, message: "timestamp is missing"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":"1767225600000"}"#,
              message: "timestamp must be an integer of milliseconds, not a string"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1767225600000.5}"#,
              message: "timestamp 1767225600000.5 is not an integer of milliseconds"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"value":"12"}"#,
              message: "value must be a number or null, not a string"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"environmentName":null}"#,
              message: "environmentName must be a string, not null"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"properties":{"a":"x","cart":{"items":2}}}"#,
              message: "property 'cart' must be a string, number, boolean or null, not an object"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"properties":{"tags":["a"]}}"#,
              message: "property 'tags' must be a string, number, boolean or null, not an array"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"properties":["a"]}"#,
              message: "properties must be an object, not an array"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"properties":\#(manyProperties)}"#,
              message: "properties has 301 entries; at most 300 allowed"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"properties":{"p":"\#(String(repeating: "x", count: 31744))"}}"#,
              message: "properties are estimated at 32769 bytes (1024 + keys + string values); at most 32768 allowed"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"properties":{"a":1,"a":2}}"#,
              message: "property 'a' appears twice"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"foreignId":7}"#,
              message: "foreignId must be a string, not a number"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":1,"source":"Segment"}"#,
              message: "unknown field 'source'"),
        .init(event: #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","key":"k2","timestamp":1}"#,
              message: "field 'key' appears twice"),
        .init(event: #""e""#, message: "must be a JSON object, not a string"),
    ]

    /// The bad event is the fourth of its request; the whole request is refused.
    @Test(arguments: fieldCases)
    func anInvalidEventIsRefusedWithItsIndexAndField(_ field: FieldCase) async throws {
        try await Self.withServer { server, client throws in
            let reply = try await Self.post(client, server, "[\(Self.valid),\(Self.valid),\(Self.valid),\(field.event),\(Self.valid)]")
            #expect(reply.status == 400)
            #expect(reply.body == Self.message("event 3: " + field.message))
            #expect(reply.headers.first(name: "Content-Type") == "application/json")
            #expect(server.requestsReceived == 1)
            #expect(server.acceptedRequests == 0)
            #expect(server.events.isEmpty)
        }
    }

    @Test func eventsAtEveryFieldLimitAreAccepted() async throws {
        let id = "A" + String(repeating: "-_.:z9", count: 13) + "x"  // 80 characters
        let key = String(repeating: "é", count: 250)  // 250 characters, 500 bytes
        let most = "{" + (1...300).map { #""p\#($0)":true"# }.joined(separator: ",") + "}"
        let largest = #"{"p":"\#(String(repeating: "x", count: 31743))"}"#  // 1024 + 1 + 31743 = 32768
        let body = "[" + [
            #"{"eventTypeId":"\#(id)","trafficTypeName":"user","key":"\#(key)","timestamp":0,"value":-1.5e3}"#,
            #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":9223372036854775807,"properties":\#(most)}"#,
            #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":0,"properties":\#(largest)}"#,
            #"{"eventTypeId":"e","trafficTypeName":"user","key":"k","timestamp":0,"properties":null,"value":0}"#,
        ].joined(separator: ",") + "]"
        try await Self.withServer { server, client throws in
            let reply = try await Self.post(client, server, body)
            #expect(reply.status == 202, "\(reply.body)")
            let events = server.events
            try #require(events.count == 4)
            #expect(events[0].eventTypeId == id)
            #expect(events[0].key == key)
            #expect(events[0].timestamp == 0)
            #expect(events[0].value == "-1.5e3")
            #expect(events[1].timestamp == Int64.max)
            #expect(events[1].properties?.count == 300)
            #expect(events[2].properties == [.init("p", "\"" + String(repeating: "x", count: 31743) + "\"")])
            #expect(events[3].properties == nil)
        }
    }

    @Test func moreThan5000EventsAreRefusedWith413() async throws {
        try await Self.withServer { server, client throws in
            let over = try await Self.post(client, server, Self.events(5001))
            #expect(over.status == 413)
            #expect(over.body == Self.message("request holds 5001 events; at most 5000 allowed"))
            #expect(server.acceptedRequests == 0)
            #expect(try await Self.post(client, server, Self.events(5000)).status == 202)
            #expect(server.acceptedEventCounts == [5000])
            #expect(server.events.count == 5000)
        }
    }

    @Test func aBodyOverAMillionBytesIsRefusedWith413() async throws {
        /// One valid event, padded with whitespace to `size` bytes.
        func padded(_ size: Int) -> String {
            let start = "[" + Self.valid
            return start + String(repeating: " ", count: size - start.utf8.count - 1) + "]"
        }
        try await Self.withServer { server, client throws in
            let over = try await Self.post(client, server, padded(1_000_001))
            #expect(over.status == 413)
            #expect(over.body == Self.message("request body of 1000001 bytes exceeds 1000000"))
            #expect(server.acceptedRequests == 0)
            #expect(try await Self.post(client, server, padded(1_000_000)).status == 202)
            #expect(server.acceptedEventCounts == [1])
            #expect(server.acceptedBytes == 1_000_000)
        }
    }

    @Test func aScriptedTooManyRequestsCarriesRetryAfter() async throws {
        try await Self.withServer({ $0.faults = { $0.number == 0 ? .status(429, retryAfter: 7) : nil } }) { server, client throws in
            let limited = try await Self.post(client, server, Self.events(2))
            #expect(limited.status == 429)
            #expect(limited.headers.first(name: "Retry-After") == "7")
            #expect(limited.body == Self.message("too many requests"))
            #expect(server.events.isEmpty)
            #expect(try await Self.post(client, server, Self.events(2)).status == 202)
            #expect(server.exchanges.map(\.status) == [429, 202])
            #expect(server.exchanges.map(\.retryAfter) == [7, nil])
            #expect(server.acceptedEventCounts == [2])
        }
    }

    @Test func aScriptedServerErrorRecordsNothing() async throws {
        try await Self.withServer({ $0.faults = { $0.number == 0 ? .status(500) : nil } }) { server, client throws in
            let failed = try await Self.post(client, server, Self.events(2))
            #expect(failed.status == 500)
            #expect(failed.headers.first(name: "Retry-After") == nil)
            #expect(failed.body == Self.message("internal error"))
            #expect(server.requestsReceived == 1)
            #expect(server.acceptedRequests == 0)
            #expect(server.events.isEmpty)
        }
    }

    @Test func aScriptedDelayAnswersLater() async throws {
        try await Self.withServer({ $0.faults = { $0.number == 0 ? .delay(milliseconds: 300) : nil } }) { server, client throws in
            let started = ContinuousClock.now
            #expect(try await Self.post(client, server, Self.events(1)).status == 202)
            #expect(ContinuousClock.now - started >= .milliseconds(300))
            let exchange = try #require(server.exchanges.first)
            #expect(try #require(exchange.answeredAt) - exchange.arrivedAt >= .milliseconds(300))
            #expect(server.acceptedEventCounts == [1])
        }
    }

    @Test func aScriptedDropClosesTheConnectionWithoutAccepting() async throws {
        try await Self.withServer({ $0.faults = { $0.number == 0 ? .drop : nil } }) { server, client throws in
            await #expect(throws: HTTPClientError.remoteConnectionClosed) { try await Self.post(client, server, Self.events(2)) }
            #expect(server.requestsReceived == 1)
            #expect(server.acceptedRequests == 0)
            #expect(server.events.isEmpty)
            #expect(server.exchanges.map(\.status) == [nil])
            #expect(try await Self.post(client, server, Self.events(2)).status == 202)
            #expect(server.acceptedEventCounts == [2])
        }
    }

    /// FME does not deduplicate: a client that resends what was accepted makes duplicates.
    @Test func aScriptedDropAfterAcceptRecordsTheEventsThenDropsAndAResendDuplicatesThem() async throws {
        let body = #"[{"eventTypeId":"e","trafficTypeName":"user","key":"a","timestamp":1},{"eventTypeId":"e","trafficTypeName":"user","key":"b","timestamp":2}]"#
        try await Self.withServer({ $0.faults = { $0.number == 0 ? .dropAfterAccept : nil } }) { server, client throws in
            await #expect(throws: HTTPClientError.remoteConnectionClosed) { try await Self.post(client, server, body) }
            #expect(server.events.map(\.key) == ["a", "b"])
            #expect(server.acceptedEventCounts == [2])
            #expect(server.exchanges.map(\.status) == [nil])
            #expect(try await Self.post(client, server, body).status == 202)
            #expect(server.events.map(\.key) == ["a", "b", "a", "b"])
            #expect(server.events.map(\.request) == [0, 0, 1, 1])
            #expect(server.acceptedEventCounts == [2, 2])
            #expect(server.requestsReceived == 2)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aHeldRequestIsAnsweredWhenReleased() async throws {
        let hold = RequestHold()
        defer { hold.release() }
        try await Self.withServer({ $0.faults = { $0.number == 0 ? .hold(hold) : nil } }) { server, client throws in
            async let reply = Self.post(client, server, Self.events(1))
            #expect(try await waitUntil(timeout: .seconds(20)) { hold.arrivals == 1 })
            #expect(server.exchanges.isEmpty)
            #expect(server.acceptedRequests == 0)
            hold.release()
            #expect(try await reply.status == 202)
            #expect(server.acceptedEventCounts == [1])
        }
    }

    @Test func aSinkThatDoesNotValidateCountsEvents() async throws {
        try await Self.withServer({ $0.validate = false }) { server, client throws in
            #expect(try await Self.post(client, server, Self.events(3)).status == 202)
            #expect(try await Self.post(client, server, Self.events(2), authorization: "Bearer nope").status == 401)
            #expect(server.acceptedEventCounts == [3])
            #expect(server.events.isEmpty)
        }
    }

    @Test func aRefusedEventFailsItsWholeRequest() async throws {
        try await Self.withServer({ config in
            config.refuse = { $0.key == "bad" ? "key 'bad' is refused by this test" : nil }
        }) { server, client throws in
            let body = #"[\#(Self.valid),{"eventTypeId":"e","trafficTypeName":"user","key":"bad","timestamp":1}]"#
            let reply = try await Self.post(client, server, body)
            #expect(reply.status == 400)
            #expect(reply.body == Self.message("event 1: key 'bad' is refused by this test"))
            #expect(server.events.isEmpty)
        }
    }
}
