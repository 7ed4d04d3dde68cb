import Testing
@testable import SyncJobsCore

/// The eventTypeId clean-up, FME's per-event limits at and just over each one, the maximum age,
/// the FME JSON field order, and a Firehose request all the way to FME events.
@Suite struct FMEEventLimitsTests {
    static let now = FMEEventMapperTests.now
    static let user = FMEEventMapperTests.user

    func map(_ json: String, _ mapper: FMEEventMapper = Self.user, now: Int64 = Self.now) throws -> [String] {
        try FMEEventMapperTests().map(json, mapper, now: now)
    }

    func custom(name: String = "e", timestamp: Int64 = Self.now, attributes: String = "{}", key: String = "user-1") -> String {
        #"{"user_identities":{"customer_id":"\#(key)"},"events":[{"event_type":"custom_event","data":{"event_name":"\#(name)","timestamp_unixtime_ms":\#(timestamp),"custom_attributes":\#(attributes)}}]}"#
    }

    func eventTypeId(_ name: String) throws -> String? {
        let outcome = Self.user.map(try JSONParser.parse(custom(name: name)), now: Self.now)
        return outcome.events.first?.eventTypeId
    }

    // MARK: - eventTypeId

    @Test func eventNamesAreCleanedToFMEsRule() throws {
        #expect(try eventTypeId("checkout:step-1.done_ok") == "checkout:step-1.done_ok")
        #expect(try eventTypeId("Add to Cart") == "Add_to_Cart")
        #expect(try eventTypeId("a/b?c#d") == "a_b_c_d")
        #expect(try eventTypeId("  __-Signup") == "Signup")
        #expect(try eventTypeId("!!Go!") == "Go_")
        #expect(try eventTypeId("café ☕ order") == "caf____order")
        #expect(try eventTypeId("9lives") == "9lives")
        let long = String(repeating: "abcdefghij", count: 10)
        #expect(try eventTypeId(long) == String(long.prefix(80)))
        #expect(try eventTypeId(" " + long) == String(long.prefix(80)))
        #expect(FMEEventTypeID.isValid("Add_to_Cart") && !FMEEventTypeID.isValid("Add to Cart") && !FMEEventTypeID.isValid(long))
    }

    @Test func aNameWithNothingValidLeftIsRejected() throws {
        let rule = "leaves nothing for an FME eventTypeId (letters, digits, '-', '_', '.', ':', starting with a letter or digit)"
        #expect(try map(custom(name: "!!!")) == ["rejected: event name '!!!' \(rule)"])
        #expect(try map(custom(name: "")) == ["rejected: event name '' \(rule)"])
        #expect(try map(custom(name: " _-.: ")) == ["rejected: event name ' _-.: ' \(rule)"])
        #expect(FMEEventTypeID.clean("☕") == nil)
    }

    // MARK: - Limits

    @Test func keyOf250CharactersPassesAnd251IsRejected() throws {
        let at = String(repeating: "k", count: 249) + "é"
        #expect(Self.user.map(try JSONParser.parse(custom(key: at)), now: Self.now).events.map(\.key) == [at])
        let over = String(repeating: "k", count: 251)
        #expect(try map(custom(key: over))
                == ["rejected: the customer_id key for traffic type 'user' is 251 characters long; FME keys are at most 250"])
    }

    @Test func threeHundredPropertiesPassAnd301AreRejected() throws {
        func attributes(_ n: Int) -> String {
            "{" + (1...n).map { #""a\#($0)":\#($0)"# }.joined(separator: ",") + "}"
        }
        let at = Self.user.map(try JSONParser.parse(custom(attributes: attributes(300))), now: Self.now).events
        #expect(at.count == 1 && at[0].properties.count == 300)
        #expect(try map(custom(attributes: attributes(301))) == ["rejected: the event has 301 properties; FME takes at most 300"])
    }

    @Test func anEstimatedSizeOf32768PassesAndOneByteMoreIsRejected() throws {
        // 1024 + "attribute.s" (11) + "attribute.n" (11, a number adds nothing) + the string's UTF-8 bytes.
        let fits = String(repeating: "x", count: 32_768 - 1024 - 22 - 2) + "é"
        let at = Self.user.map(try JSONParser.parse(custom(attributes: #"{"s":"\#(fits)","n":5}"#)), now: Self.now).events
        #expect(at.map(\.estimatedSize) == [32_768])
        #expect(try map(custom(attributes: #"{"s":"\#(fits)x","n":5}"#))
                == ["rejected: the event's estimated size is 32769 bytes (1024 + property keys + string values); FME takes at most 32768"])
    }

    @Test func maxEventAgeOnAndOff() throws {
        let day = FMEEventMapper.defaultMaxEventAge
        let on = FMEEventMapper(trafficTypes: [("user", "customer_id")], environmentName: nil, maxEventAge: day)
        #expect(try map(custom(timestamp: Self.now - day), on).count == 1)
        #expect(try map(custom(timestamp: Self.now - day), on).first?.hasPrefix("rejected") == false)
        #expect(try map(custom(timestamp: Self.now - day - 1), on)
                == ["rejected: event at 2025-12-30T23:59:59.999Z is older than max_event_age 24h"])
        // Events from the future are not old.
        #expect(try map(custom(timestamp: Self.now + day), on).first?.hasPrefix("rejected") == false)
        let ninetyMinutes = FMEEventMapper(trafficTypes: [("user", "customer_id")], environmentName: nil, maxEventAge: 5_400_000)
        #expect(try map(custom(timestamp: 1_767_000_000_000), ninetyMinutes)
                == ["rejected: event at 2025-12-29T09:20:00Z is older than max_event_age 90m"])
        // Off: a ten-year-old event is sent.
        #expect(try map(custom(timestamp: 1_451_606_400_000)).first?.hasPrefix(#"{"eventTypeId":"e""#) == true)
        #expect(FMEEventMapper.ageText(1500) == "1500ms" && FMEEventMapper.ageText(30_000) == "30s")
    }

    // MARK: - FME JSON

    @Test func fmeJSONFieldOrder() {
        var event = FMEEvent(eventTypeId: "checkout.click", trafficTypeName: "user", key: "user-123", timestamp: 1_557_936_519_990)
        #expect(event.description == #"{"eventTypeId":"checkout.click","trafficTypeName":"user","key":"user-123","timestamp":1557936519990,"value":null,"properties":{}}"#)
        event.environmentName = "Production"
        event.foreignId = "f-1"
        event.properties = [("category", .string("guest")), ("admin", .bool(true)), ("discount", .int(50)), ("ratio", .double(0.5))]
        #expect(String(decoding: event.json, as: UTF8.self) == #"{"eventTypeId":"checkout.click","trafficTypeName":"user","key":"user-123","environmentName":"Production","timestamp":1557936519990,"value":null,"foreignId":"f-1","properties":{"category":"guest","admin":true,"discount":50,"ratio":0.5}}"#)
        #expect(event.estimatedSize == 1024 + 8 + 5 + 5 + 8 + 5)
    }

    // MARK: - From each shape

    @Test func aFirehoseRequestAllTheWayToFMEEvents() throws {
        let record = try MParticleBatchShapes.normalize(try JSONParser.parse(MParticleBatchShapesTests.firehose))
        let mapper = FMEEventMapper(trafficTypes: [("user", "customer_id"), ("anonymous", "other_id_2")], environmentName: nil, maxEventAge: nil)
        let outcome = mapper.map(record.batches[0], now: Self.now)
        // The Firehose id is the foreignId; its source_id is the source_message_id property.
        #expect(outcome.events.first?.description == #"{"eventTypeId":"session_start","trafficTypeName":"user","key":"123","timestamp":1767225600001,"value":null,"foreignId":"e-1","properties":{"session_id":42,"source_message_id":"s-1","event_id":"e-1","location.latitude":40.7142,"location.longitude":74.0064,"location.accuracy":15}}"#)
        #expect(outcome.events.map { "\($0.trafficTypeName):\($0.eventTypeId):\($0.foreignId ?? "")" } == [
            "user:session_start:e-1", "anonymous:session_start:e-1", "user:session_end:e-2", "anonymous:session_end:e-2",
            "user:Transaction_7:e-3", "anonymous:Transaction_7:e-3", "user:Tap:e-4", "anonymous:Tap:e-4",
            "user:screen_view:e-5", "anonymous:screen_view:e-5", "user:product_action:e-6", "anonymous:product_action:e-6",
        ])
        #expect(outcome.skipCounts == [.commerceWithoutProductAction: 2, .eventType("crash_report"): 1, .eventType("application_state_transition"): 1,
                                       .eventType("push_registration"): 1, .eventType("push_message"): 2, .eventType("opt_out"): 1])
    }

    @Test func aRawOutputBatchAllTheWayToFMEEvents() throws {
        let record = try MParticleBatchShapes.normalize(try JSONParser.parse(MParticleBatchShapesTests.rawOutput))
        let mapper = FMEEventMapper(trafficTypes: [("user", "customer_id")], environmentName: nil, maxEventAge: nil)
        #expect(mapper.map(record.batches[0], now: Self.now).events.map(\.description) == [
            #"{"eventTypeId":"Play","trafficTypeName":"user","key":"h.jekyll.md","timestamp":1573828863888,"value":null,"foreignId":"-109840007014118971","properties":{"session_id":"-8572887793551346848","event_id":"-109840007014118971","attribute.content_title":"My media"}}"#,
        ])
    }
}
