import Testing
@testable import SyncJobsCore

/// mParticle batches → FME events: every row of the Harness FME mParticle guide's mapping tables
/// as exact JSON, the identity and product fan-outs, the skipped event types, the eventTypeId
/// clean-up and FME's limits.
@Suite struct FMEEventMapperTests {
    /// 2026-01-01T00:00:00Z
    static let now: Int64 = 1_767_225_600_000
    static let user = FMEEventMapper(trafficTypes: [("user", "customer_id")], environmentName: nil, maxEventAge: nil)

    /// Each outcome as text: the FME events' JSON, one line each, or `skipped: …` / `rejected: …`.
    func map(_ json: String, _ mapper: FMEEventMapper = Self.user, now: Int64 = Self.now) throws -> [String] {
        mapper.map(try JSONParser.parse(json), now: now).outcomes.flatMap { outcome -> [String] in
            switch outcome {
            case .send(let events): return events.map(\.description)
            case .skipped(let reason): return ["skipped: \(reason)"]
            case .rejected(let reason): return ["rejected: \(reason)"]
            }
        }
    }

    /// A batch for customer `user-1` with these events.
    func batch(_ events: String...) -> String {
        #"{"environment":"production","user_identities":{"customer_id":"user-1"},"events":["# + events.joined(separator: ",") + "]}"
    }

    // MARK: - The mapping tables

    @Test func commerceEventTable() throws {
        let event = #"""
            {"event_type":"commerce_event","data":{"event_id":6004677780660780000,"source_message_id":"msg-1","session_id":4957918240501247982,
             "timestamp_unixtime_ms":1767225600000,"location":{"latitude":40.7142,"longitude":-74.0064,"accuracy":15.5},"currency_code":"USD",
             "screen_name":"Cart",
             "product_action":{"action":"purchase","transaction_id":"t-1","affiliation":"store","total_amount":89.96,"tax_amount":5.5,
               "shipping_amount":4.25,"coupon_code":"SAVE","checkout_step":2,
               "products":[{"id":"sku-1","name":"Shoe","brand":"Acme","category":"Shoes","variant":"red","position":1,"price":19.99,"quantity":4,
                            "coupon_code":"P","total_product_amount":79.96,"added_to_cart_time_ms":1767225500000,"custom_attributes":{"size":"9"}}]},
             "custom_attributes":{"Gift Wrap":"yes","count":2}}}
            """#
        #expect(try map(batch(event)) == [
            #"{"eventTypeId":"product_action","trafficTypeName":"user","key":"user-1","timestamp":1767225600000,"value":null,"foreignId":"6004677780660780000","properties":{"session_id":4957918240501247982,"source_message_id":"msg-1","event_id":"6004677780660780000","location.latitude":40.7142,"location.longitude":-74.0064,"location.accuracy":15.5,"action":"purchase","transaction_id":"t-1","total_amount":89.96,"tax_amount":5.5,"shipping_amount":4.25,"currency_code":"USD","affiliation":"store","product.id":"sku-1","product.name":"Shoe","product.brand":"Acme","product.category":"Shoes","product.variant":"red","product.position":1,"product.price":19.99,"product.quantity":4,"product.coupon_code":"P","product.total_amount":79.96,"attribute.Gift Wrap":"yes","attribute.count":2}}"#,
        ])
    }

    @Test func customEventTable() throws {
        let event = #"""
            {"event_type":"custom_event","data":{"event_name":"Viewed Plan","custom_event_type":"navigation","event_id":"-109840007014118971",
             "source_message_id":"msg-2","session_id":77,"timestamp_unixtime_ms":1767225600001,
             "location":{"latitude":1.5,"longitude":2.25},"custom_attributes":{"plan":"pro","seats":3,"trial":true}}}
            """#
        #expect(try map(batch(event)) == [
            #"{"eventTypeId":"Viewed_Plan","trafficTypeName":"user","key":"user-1","timestamp":1767225600001,"value":null,"foreignId":"-109840007014118971","properties":{"session_id":77,"source_message_id":"msg-2","event_id":"-109840007014118971","location.latitude":1.5,"location.longitude":2.25,"attribute.plan":"pro","attribute.seats":3,"attribute.trial":true}}"#,
        ])
    }

    @Test func sessionStartTable() throws {
        let event = #"""
            {"event_type":"session_start","data":{"event_id":11,"source_message_id":"src-3","session_id":5,"timestamp_unixtime_ms":1767225600002,
             "session_uuid":"u-1","location":{"latitude":10,"longitude":20,"accuracy":30},"custom_attributes":{"entry":"push"}}}
            """#
        #expect(try map(batch(event)) == [
            #"{"eventTypeId":"session_start","trafficTypeName":"user","key":"user-1","timestamp":1767225600002,"value":null,"foreignId":"11","properties":{"session_id":5,"source_message_id":"src-3","event_id":"11","location.latitude":10,"location.longitude":20,"location.accuracy":30,"attribute.entry":"push"}}"#,
        ])
    }

    @Test func sessionEndTable() throws {
        let event = #"""
            {"event_type":"session_end","data":{"event_id":12,"source_message_id":"src-4","session_id":5,"timestamp_unixtime_ms":1767225600003,
             "session_duration_ms":336000,"location":{"latitude":10.5,"longitude":20.5,"accuracy":3.5},"custom_attributes":{"exit":"home"}}}
            """#
        #expect(try map(batch(event)) == [
            #"{"eventTypeId":"session_end","trafficTypeName":"user","key":"user-1","timestamp":1767225600003,"value":null,"foreignId":"12","properties":{"session_id":5,"source_message_id":"src-4","event_id":"12","location.latitude":10.5,"location.longitude":20.5,"location.accuracy":3.5,"session_length_ms":336000,"attribute.exit":"home"}}"#,
        ])
    }

    @Test func screenViewTable() throws {
        let event = #"""
            {"event_type":"screen_view","data":{"screen_name":"Home","event_id":13,"source_message_id":"src-5","session_id":6,
             "timestamp_unixtime_ms":1767225600004,"location":{"latitude":-33.9,"longitude":151.2,"accuracy":8},"custom_attributes":{"tab":"feed"}}}
            """#
        #expect(try map(batch(event)) == [
            #"{"eventTypeId":"screen_view","trafficTypeName":"user","key":"user-1","timestamp":1767225600004,"value":null,"foreignId":"13","properties":{"session_id":6,"source_message_id":"src-5","event_id":"13","location.latitude":-33.9,"location.longitude":151.2,"location.accuracy":8,"screen_name":"Home","attribute.tab":"feed"}}"#,
        ])
    }

    @Test func commonFieldsKeyTrafficTypeEnvironmentTimestampAndForeignID() throws {
        let staging = FMEEventMapper(trafficTypes: [("account", "email")], environmentName: "Staging", maxEventAge: nil)
        let json = #"""
            {"user_identities":{"customer_id":"c","email":"ada@example.com"},"timestamp_unixtime_ms":1767225600999,
             "events":[{"event_type":"session_start","data":{"source_message_id":"only-msg","timestamp_unixtime_ms":"1767225600005"}},
                       {"event_type":"session_start","data":{}}]}
            """#
        // The foreignId falls back to source_message_id; the timestamp to the batch's; text milliseconds are read.
        #expect(try map(json, staging) == [
            #"{"eventTypeId":"session_start","trafficTypeName":"account","key":"ada@example.com","environmentName":"Staging","timestamp":1767225600005,"value":null,"foreignId":"only-msg","properties":{"source_message_id":"only-msg","event_id":"only-msg"}}"#,
            #"{"eventTypeId":"session_start","trafficTypeName":"account","key":"ada@example.com","environmentName":"Staging","timestamp":1767225600999,"value":null,"properties":{}}"#,
        ])
        #expect(try map(batch(#"{"event_type":"session_start","data":{"event_id":null}}"#))
                == ["rejected: the event has no timestamp_unixtime_ms, and neither has its batch"])
        #expect(try map(batch(#"{"event_type":"session_start","data":{"timestamp_unixtime_ms":"soon"}}"#))
                == [#"rejected: timestamp_unixtime_ms "soon" is not milliseconds since the epoch"#])
    }

    @Test func attributeValuesStayScalarsAndOthersBecomeJSONText() throws {
        let event = #"{"event_type":"custom_event","data":{"event_name":"x","timestamp_unixtime_ms":1,"custom_attributes":{"list":[1,"a"],"obj":{"k":null},"none":null,"big":12345678901234567890}}}"#
        #expect(try map(batch(event)) == [
            #"{"eventTypeId":"x","trafficTypeName":"user","key":"user-1","timestamp":1,"value":null,"properties":{"attribute.list":"[1,\"a\"]","attribute.obj":"{\"k\":null}","attribute.big":12345678901234567890}}"#,
        ])
    }

    // MARK: - Fan-out

    @Test func twoIdentitiesOfOneTrafficTypeGiveTwoEvents() throws {
        let mapper = FMEEventMapper(trafficTypes: [("user", "customer_id"), ("user", "other")], environmentName: nil, maxEventAge: nil)
        let json = #"{"user_identities":{"customer_id":"123","other":"456"},"events":[{"event_type":"custom_event","data":{"event_name":"Buy","event_id":9,"timestamp_unixtime_ms":5}}]}"#
        #expect(try map(json, mapper) == [
            #"{"eventTypeId":"Buy","trafficTypeName":"user","key":"123","timestamp":5,"value":null,"foreignId":"9","properties":{"event_id":"9"}}"#,
            #"{"eventTypeId":"Buy","trafficTypeName":"user","key":"456","timestamp":5,"value":null,"foreignId":"9","properties":{"event_id":"9"}}"#,
        ])
    }

    @Test func oneIdentityForTwoTrafficTypesAndTheMPID() throws {
        let mapper = FMEEventMapper(trafficTypes: [("user", "customer_id"), ("account", "customer_id"), ("device", "mpid"), ("anon", "other_id_2")],
                                    environmentName: nil, maxEventAge: nil)
        // other_id_2 is empty: no event for it.
        let json = #"{"mpid":-8203393785016115206,"user_identities":{"customer_id":"c1","other_id_2":""},"events":[{"event_type":"screen_view","data":{"screen_name":"Home","timestamp_unixtime_ms":5}}]}"#
        #expect(try map(json, mapper) == [
            #"{"eventTypeId":"screen_view","trafficTypeName":"user","key":"c1","timestamp":5,"value":null,"properties":{"screen_name":"Home"}}"#,
            #"{"eventTypeId":"screen_view","trafficTypeName":"account","key":"c1","timestamp":5,"value":null,"properties":{"screen_name":"Home"}}"#,
            #"{"eventTypeId":"screen_view","trafficTypeName":"device","key":"-8203393785016115206","timestamp":5,"value":null,"properties":{"screen_name":"Home"}}"#,
        ])
    }

    @Test func aBatchWithoutAnyMappedIdentityRejectsEveryEventButTheSkippedOnes() throws {
        let mapper = FMEEventMapper(trafficTypes: [("user", "customer_id"), ("user", "email"), ("account", "customer_id")],
                                    environmentName: nil, maxEventAge: nil)
        let json = #"{"user_identities":{"other":"x","email":""},"events":[{"event_type":"custom_event","data":{"event_name":"a","timestamp_unixtime_ms":1}},{"event_type":"uninstall","data":{}},{"event_type":"session_end","data":{}}]}"#
        let reason = "rejected: the batch has none of the identities mapped to FME traffic types: 'customer_id', 'email'"
        #expect(try map(json, mapper) == [reason, "skipped: event type 'uninstall' is not sent to FME", reason])
        let outcome = mapper.map(try JSONParser.parse(json), now: Self.now)
        #expect(outcome.rejections.map(\.index) == [0, 2])
        #expect(outcome.events.isEmpty)
    }

    @Test func threeProductsGiveThreeEventsWithOneForeignID() throws {
        let mapper = FMEEventMapper(trafficTypes: [("user", "customer_id"), ("anon", "other")], environmentName: nil, maxEventAge: nil)
        let json = #"""
            {"user_identities":{"customer_id":"c1","other":"o1"},"events":[{"event_type":"commerce_event","data":{"event_id":77,"timestamp_unixtime_ms":5,
             "product_action":{"action":"add_to_cart","products":[{"id":"a","quantity":1},{"id":"b","price":2.5},{"id":"c","custom_attributes":{"x":"y"}}]}}}]}
            """#
        let events = FMEEventMapper(trafficTypes: [("user", "customer_id")], environmentName: nil, maxEventAge: nil)
            .map(try JSONParser.parse(json), now: Self.now).events
        #expect(events.map(\.description) == [
            #"{"eventTypeId":"product_action","trafficTypeName":"user","key":"c1","timestamp":5,"value":null,"foreignId":"77","properties":{"event_id":"77","action":"add_to_cart","product.id":"a","product.quantity":1}}"#,
            #"{"eventTypeId":"product_action","trafficTypeName":"user","key":"c1","timestamp":5,"value":null,"foreignId":"77","properties":{"event_id":"77","action":"add_to_cart","product.id":"b","product.price":2.5}}"#,
            #"{"eventTypeId":"product_action","trafficTypeName":"user","key":"c1","timestamp":5,"value":null,"foreignId":"77","properties":{"event_id":"77","action":"add_to_cart","product.id":"c"}}"#,
        ])
        // With two identities: each identity's events, product by product.
        let both = mapper.map(try JSONParser.parse(json), now: Self.now).events
        #expect(both.map { "\($0.trafficTypeName) \($0.key) \($0.properties.first { $0.0 == "product.id" }!.1.scalarText!) \($0.foreignId!)" }
                == ["user c1 a 77", "user c1 b 77", "user c1 c 77", "anon o1 a 77", "anon o1 b 77", "anon o1 c 77"])
        // No products: one event with the action's fields.
        #expect(try map(batch(#"{"event_type":"commerce_event","data":{"timestamp_unixtime_ms":5,"product_action":{"action":"checkout","products":[]}}}"#)) == [
            #"{"eventTypeId":"product_action","trafficTypeName":"user","key":"user-1","timestamp":5,"value":null,"properties":{"action":"checkout"}}"#,
        ])
    }

    // MARK: - Skips

    @Test func everyEventTypeFMEDoesNotTakeIsSkipped() throws {
        let types = ["uninstall", "crash_report", "opt_out", "push_registration", "application_state_transition", "push_message",
                     "network_performance", "breadcrumb", "something_new"]
        let events = types.map { #"{"event_type":"\#($0)","data":{"timestamp_unixtime_ms":1}}"# } + [
            #"{"event_type":"commerce_event","data":{"timestamp_unixtime_ms":1,"promotion_action":{"action":"view","promotions":[{"id":"p"}]}}}"#,
            #"{"event_type":"commerce_event","data":{"timestamp_unixtime_ms":1,"product_impressions":[{"product_impression_list":"l","products":[{"id":"a"}]}]}}"#,
            #"{"event_type":"commerce_event","data":{"timestamp_unixtime_ms":1,"product_action":null,"promotion_action":{"action":"click"}}}"#,
        ]
        let commerce = "skipped: a commerce event without a product action (promotion or impression) is not sent to FME"
        #expect(try map(batch(events.joined(separator: ","))) == types.map { "skipped: event type '\($0)' is not sent to FME" } + [commerce, commerce, commerce])

        let outcome = Self.user.map(try JSONParser.parse(batch((events + events.prefix(2)).joined(separator: ","))), now: Self.now)
        var counts: [FMESkipReason: Int] = [.commerceWithoutProductAction: 3, .eventType("uninstall"): 2, .eventType("crash_report"): 2]
        for type in types.dropFirst(2) { counts[.eventType(type)] = 1 }
        #expect(outcome.skipCounts == counts)
        #expect(outcome.rejections.isEmpty && outcome.events.isEmpty)
    }

    @Test func malformedEventsAreRejected() throws {
        #expect(try map(batch(#""text""#, #"{"data":{}}"#, #"{"event_type":"custom_event","data":{"timestamp_unixtime_ms":1}}"#)) == [
            "rejected: the event is a string, not an object",
            "rejected: the event has no event_type",
            "rejected: a custom_event without an event_name has no FME eventTypeId",
        ])
        #expect(try map(#"{"user_identities":{"customer_id":"c"}}"#).isEmpty)
    }
}
