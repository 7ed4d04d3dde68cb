import Testing
@testable import SyncJobsCore

@Suite struct MappingTests {
    static let header = """
        type: %TYPE%
        source: { file: data.csv }
        destination: { environment: production }
        mapping:

        """

    func job(_ mapping: String, type: String = "user") throws -> JobDefinition {
        try JobFileParser.parse(Self.header.replacingOccurrences(of: "%TYPE%", with: type) + mapping,
                                filePath: "/p/jobs/j.yaml", displayPath: "jobs/j.yaml").0
    }

    func compile(_ mapping: String, columns: [String], type: String = "user") throws -> (MappingPlan?, [String]) {
        let (plan, diagnostics) = MappingCompiler.compile(job: try job(mapping, type: type), columns: columns,
                                                          acceptsExtraKeys: false, sourceDescription: "CSV file data.csv")
        return (plan, diagnostics.map(\.description))
    }

    func map(_ mapping: String, columns: [String], _ values: [Value], type: String = "user") throws -> MappedRow {
        let (plan, diagnostics) = try compile(mapping, columns: columns, type: type)
        let compiled = try #require(plan, "\(diagnostics)")
        return BatchBuilder(plan: compiled).map(values)
    }

    func json(_ row: MappedRow) -> String {
        switch row {
        case .batch(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .rejected(let reason): return "rejected: \(reason)"
        }
    }

    @Test func userBatchWithUnmappedStaticAndConversions() throws {
        let row = try map("""
              - { column: id, to: user_identities.customerid }
              - { column: email, to: user_identities.email }
              - { column: first, to: user_attributes.$FirstName }
              - { static: warehouse, to: user_attributes.source }
              - { column: vip, to: user_attributes.vip, type: boolean }
              - { column: tags, to: user_attributes.tags, type: list }
              - { column: os, to: device_info.platform }
              - { ignore: updated_at }
              - { column: $unmapped, to: user_attributes.* }
            """, columns: ["id", "email", "first", "vip", "tags", "os", "plan", "ltv", "updated_at"],
            [.int(42), .string("ada@example.com"), .string("Ada"), .string("yes"), .string("a, b,c"), .string("ios"),
             .string("pro"), .double(12.5), .string("2026-01-01")])
        #expect(json(row) == #"{"environment":"production","user_identities":{"customer_id":"42","email":"ada@example.com"},"user_attributes":{"$FirstName":"Ada","source":"warehouse","vip":true,"tags":["a","b","c"],"plan":"pro","ltv":12.5},"device_info":{"platform":"iOS"},"source_request_id":"fce8d012e6bd11b2e7f916d644e51999"}"#)
    }

    @Test func nullValuesAreLeftOutAndEmptyIdentitiesDoNotCount() throws {
        let mapping = """
              - { column: id, to: user_identities.customer_id }
              - { column: email, to: user_identities.email }
              - { column: plan, to: user_attributes.plan }
            """
        let columns = ["id", "email", "plan"]
        let emailOnly = json(try map(mapping, columns: columns, [.null, .string("a@b.c"), .null]))
        #expect(emailOnly == #"{"environment":"production","user_identities":{"email":"a@b.c"},"source_request_id":"0019b207fb1e87e9c23577d1a13d35de"}"#)
        #expect(json(try map(mapping, columns: columns, [.null, .string(""), .string("pro")]))
                == "rejected: every identity is null or empty (column 'id', column 'email'); a batch must identify its user")
    }

    @Test func eventBatchHasOneEventWithDefaults() throws {
        let row = try map("""
              - { column: user, to: user_identities.customer_id }
              - { column: name, to: events.data.event_name }
              - { column: at, to: events.data.timestamp_unixtime_ms }
              - { column: lat, to: events.data.location.latitude }
              - { column: lon, to: events.data.location.longitude }
              - { column: sku, to: events.data.custom_attributes.sku }
              - { static: 1, to: events.data.custom_flags.internal }
            """, columns: ["user", "name", "at", "lat", "lon", "sku"],
            [.string("u1"), .string("Viewed"), .string("2026-01-01T01:00:00+01:00"), .string("52.5"), .double(13.4), .int(123)],
            type: "event")
        #expect(json(row) == #"{"environment":"production","user_identities":{"customer_id":"u1"},"events":[{"event_type":"custom_event","data":{"event_name":"Viewed","custom_event_type":"other","timestamp_unixtime_ms":1767225600000,"location":{"latitude":52.5,"longitude":13.4},"custom_attributes":{"sku":"123"},"custom_flags":{"internal":"1"},"source_message_id":"2c05fda6-a92b-8b2d-b354-fad010064795"}}],"source_request_id":"966bb41e432aa6ba7926743522206b1f"}"#)
    }

    @Test func commerceEventWithOneProduct() throws {
        let row = try map("""
              - { column: user, to: user_identities.customer_id }
              - { static: commerce_event, to: events.event_type }
              - { static: purchase, to: events.data.product_action.action }
              - { column: order, to: events.data.product_action.transaction_id }
              - { column: total, to: events.data.product_action.total_amount }
              - { column: sku, to: events.data.product_action.products.id }
              - { column: qty, to: events.data.product_action.products.quantity }
              - { static: EUR, to: events.data.currency_code }
            """, columns: ["user", "order", "total", "sku", "qty"],
            [.string("u1"), .int(1001), .string("19.90"), .string("SKU-1"), .string("2")], type: "event")
        #expect(json(row) == #"{"environment":"production","user_identities":{"customer_id":"u1"},"events":[{"event_type":"commerce_event","data":{"currency_code":"EUR","product_action":{"action":"purchase","transaction_id":"1001","total_amount":19.9,"products":[{"id":"SKU-1","quantity":2}]},"source_message_id":"81800044-3005-8fa5-a9ab-f61ca3391f86"}}],"source_request_id":"959b72fda4c60b9e948fa98f8b14077c"}"#)
    }

    @Test(arguments: [
        // (target, type, value, expected JSON of the field or the rejection)
        ("events.data.timestamp_unixtime_ms", nil, Value.int(1_767_225_600), "1767225600000"),
        ("events.data.timestamp_unixtime_ms", nil, Value.int(1_767_225_600_123), "1767225600123"),
        ("events.data.timestamp_unixtime_ms", nil, Value.string("2026-01-01"), "1767225600000"),
        ("events.data.timestamp_unixtime_ms", nil, Value.string("1767225600"), "1767225600000"),
        ("events.data.timestamp_unixtime_ms", nil, Value.string("soon"), "rejected: column 'v' → events.data.timestamp_unixtime_ms: 'soon' is not a timestamp (ISO 8601 like 2026-01-01T00:00:00Z, a date, or unix seconds or milliseconds)"),
        ("events.data.custom_event_type", nil, Value.string("Navigation"), #""navigation""#),
        ("events.data.custom_event_type", nil, Value.string("purchase"), "rejected: column 'v' → events.data.custom_event_type: 'purchase' is not one of navigation, location, search, transaction, user_content, user_preference, social, other, media, attribution"),
        ("device_info.screen_height", nil, Value.string("1080"), "1080"),
        ("device_info.screen_height", nil, Value.string("tall"), "rejected: column 'v' → device_info.screen_height: 'tall' is not an integer"),
        ("device_info.ios_advertising_id", nil, Value.string("not-a-uuid"), "rejected: column 'v' → device_info.ios_advertising_id: 'not-a-uuid' is not a UUID like 01234567-89ab-cdef-0123-456789abcdef"),
        ("device_info.is_tablet", nil, Value.string("0"), "false"),
        ("events.data.custom_attributes.n", "integer", Value.string("x7"), "rejected: column 'v' → events.data.custom_attributes.n: 'x7' is not an integer"),
        ("events.data.custom_attributes.n", "number", Value.string("7.50"), #""7.5""#),
        ("events.data.custom_attributes.n", "timestamp_ms", Value.string("2026-01-01T00:00:00Z"), #""1767225600000""#),
    ] as [(String, String?, Value, String)])
    func fieldConversions(target: String, type: String?, value: Value, expected: String) throws {
        let typeText = type.map { ", type: \($0)" } ?? ""
        let row = try map("""
              - { column: user, to: user_identities.customer_id }
              - { static: e, to: events.data.event_name }
              - { column: v, to: \(target)\(typeText) }
            """, columns: ["user", "v"], [.string("u"), value], type: "event")
        let text = json(row)
        if expected.hasPrefix("rejected: ") {
            #expect(text == expected)
        } else {
            let batch = try JSONParser.parse(text)
            var field: Value? = batch
            let path = target.split(separator: ".").map(String.init)
            if path[0] == "events" {
                field = batch["events"].flatMap { if case .array(let e) = $0 { return e.first } else { return nil } }?["data"]
                for key in path.dropFirst(2) { field = field?[key] }
            } else {
                for key in path { field = field?[key] }
            }
            #expect(field.map(JSONWriter.compact) == expected)
        }
    }

    @Test func mParticleLimitsRejectRows() throws {
        let mapping = """
              - { column: id, to: user_identities.customer_id }
              - { column: v, to: user_attributes.v }
            """
        #expect(json(try map(mapping, columns: ["id", "v"], [.string("1"), .string(String(repeating: "x", count: 4097))]))
                == "rejected: column 'v' → user_attributes.v: is 4097 characters long; user attribute values are limited to 4096")
        #expect(json(try map(mapping, columns: ["id", "v"], [.string("1"), .array(Array(repeating: .string("a"), count: 1001))]))
                == "rejected: column 'v' → user_attributes.v: is a list of 1001 entries; user attribute lists are limited to 1000")
        #expect(json(try map(mapping, columns: ["id", "v"], [.string("1"), .object([.init("a", .int(1))])]))
                == "rejected: column 'v' → user_attributes.v: is an object; user attributes take a single value or a list")
        let big = (0..<40).map { _ in Value.string(String(repeating: "y", count: 4000)) }
        let many = (0..<40).map { "  - { column: c\($0), to: user_attributes.c\($0) }" }.joined(separator: "\n")
        let oversized = json(try map("  - { column: id, to: user_identities.customer_id }\n" + many,
                                     columns: ["id"] + (0..<40).map { "c\($0)" }, [.string("1")] + big))
        #expect(oversized == "rejected: the batch is 160491 bytes; mParticle accepts at most 131072 bytes (128 KB) per batch")
    }

    @Test func eventNameIsRequiredPerRow() throws {
        #expect(json(try map("""
              - { column: user, to: user_identities.customer_id }
              - { column: name, to: events.data.event_name }
            """, columns: ["user", "name"], [.string("u"), .null], type: "event"))
            == "rejected: column 'name' → events.data.event_name: a custom_event needs an event name, and it is null")
    }

    @Test func compileErrorsNameLinesAndFixes() throws {
        let (plan, diagnostics) = try compile("""
              - { column: customer, to: user_identities.customer_id }
              - { column: email, to: user_identities.emial }
              - { column: email, to: user_attributes.email }
              - { column: plan, to: user_attributes.email }
              - { column: name, to: events.data.event_name }
              - { ignore: gone }
            """, columns: ["customer_id", "email", "plan", "name"])
        #expect(plan == nil)
        #expect(diagnostics == [
            "jobs/j.yaml:5:7: column 'customer' is not in CSV file data.csv; did you mean 'customer_id'?",
            "jobs/j.yaml:6:26: 'user_identities.emial' is not a place in an mParticle batch: unknown identity key 'emial'; did you mean 'email'?",
            "jobs/j.yaml:8:25: two mapping entries write 'user_attributes.email' (the other is on line 7); keep one of them, or send one to another path",
            "jobs/j.yaml:9:25: 'events.data.event_name' is an event field, but this is a user job (type: user); use user_identities, user_attributes or device_info paths, or set 'type: event'",
            "jobs/j.yaml:10:7: column 'gone' is not in CSV file data.csv; the columns are 'customer_id', 'email', 'plan', 'name'",
        ])
    }

    @Test func aMappingWithoutAnyIdentityIsAnError() throws {
        let (_, diagnostics) = try compile("""
              - { column: plan, to: user_attributes.plan }
            """, columns: ["plan"])
        #expect(diagnostics == ["jobs/j.yaml:5:3: no mapping entry writes a user identity, so no batch could say which user it is about; map a column to 'user_identities.customer_id', 'user_identities.email', another identity key, 'mpid' or a device id"])
    }

    @Test func unmappedCollisionsAndUnsentColumns() throws {
        let (_, collision) = try compile("""
              - { column: id, to: user_identities.customer_id }
              - { column: nick, to: user_attributes.plan }
              - { column: $unmapped, to: user_attributes.* }
            """, columns: ["id", "nick", "plan"])
        #expect(collision == ["jobs/j.yaml:7:7: '$unmapped' would send column 'plan' to 'user_attributes.plan', which line 6 already writes; add '- { ignore: plan }' or map column 'plan' explicitly"])

        let (plan, warnings) = try compile("""
              - { column: id, to: user_identities.customer_id }
              - { column: plan, to: user_attributes.plan }
            """, columns: ["id", "plan", "secret", "notes"])
        #expect(plan != nil)
        #expect(warnings == ["jobs/j.yaml:5:3: warning: columns 'secret', 'notes' are neither mapped nor ignored, so they are not sent; map them, add '- { ignore: <column> }', or add '- { column: $unmapped, to: user_attributes.* }'"])
    }

    @Test func eventFieldsMustBelongToTheEventType() throws {
        let (_, diagnostics) = try compile("""
              - { column: user, to: user_identities.customer_id }
              - { static: screen_view, to: events.event_type }
              - { column: name, to: events.data.event_name }
            """, columns: ["user", "name"], type: "event")
        #expect(diagnostics == ["jobs/j.yaml:7:25: 'events.data.event_name' does not exist on screen_view events; it belongs to commerce_event, custom_event; remove it or change 'events.event_type'"])
        let (_, missing) = try compile("""
              - { column: user, to: user_identities.customer_id }
            """, columns: ["user"], type: "event")
        #expect(missing == ["jobs/j.yaml:5:3: custom_event batches need an event name; map a column or a static value to 'events.data.event_name'"])
    }

    @Test func staticValuesAreCheckedWhenCompiled() throws {
        let (_, diagnostics) = try compile("""
              - { column: id, to: user_identities.customer_id }
              - { static: phone, to: device_info.platform }
            """, columns: ["id"])
        #expect(diagnostics == ["jobs/j.yaml:6:7: static value for 'device_info.platform' does not fit: 'phone' is not one of iOS, Android, web, tvOS, roku, out_of_band, alexa, smart_tv, fire_tv, xbox, desktop; change the value"])
    }
}
