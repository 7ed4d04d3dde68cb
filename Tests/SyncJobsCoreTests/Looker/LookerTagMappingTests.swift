import Foundation
import Testing
@testable import SyncJobsCore

/// `mapping: looker`: the Looker mParticle action's tag rules, tag by tag, in both modes, through
/// the same engine as any job, asserting the exact batches.
@Suite struct LookerTagMappingTests {
    typealias Field = LookerFixture.Field

    /// Writes the result and a job with `mapping: looker`, runs it, and returns the run and its batches.
    func run(_ fixture: LookerFixture, type: String, extra: String = "", environment: String = "production",
             in workspace: TestWorkspace? = nil) async throws -> (RunResult, [String], RecordingDestination) {
        let t = try workspace ?? TestWorkspace()
        try t.write("data/result.json", fixture.json())
        let job = try t.job("j", jobYAML(type: type, extra: extra, environment: environment))
        let destination = RecordingDestination()
        let result = try await t.run(job, destination: destination)
        return (result, destination.batches.map { JSONWriter.compact($0.withoutIDs) }, destination)
    }

    func jobYAML(type: String, extra: String = "", environment: String = "production") -> String {
        """
        type: \(type)
        source: { file: ../data/result.json, format: looker }
        mapping: looker
        \(extra)
        destination: { path: ../out/j.ndjson, environment: \(environment) }
        """
    }

    // MARK: identities

    static let identityFixture = LookerFixture(
        dimensions: [
            .field("users.id", #"["mp_customer_id"]"#), .field("users.email", #"["mp_email"]"#),
            .field("users.facebook", #"["mp_facebook"]"#), .field("users.google", #"["mp_google"]"#),
            .field("users.microsoft", #"["mp_microsoft"]"#), .field("users.twitter", #"["mp_twitter"]"#),
            .field("users.yahoo", #"["mp_yahoo"]"#), .field("users.other", #"["mp_other"]"#),
            .field("users.other2", #"["mp_other2"]"#), .field("users.other3", #"["mp_other3"]"#),
            .field("users.other4", #"["mp_other4"]"#),
        ],
        rows: [["1001", #""a@x.io""#, #""fb1""#, #""g1""#, #""m1""#, #""t1""#, #""y1""#, #""o1""#, #""o2""#, #""o3""#, #""o4""#]])

    static let defaultEvent = #","events":[{"event_type":"custom_event","data":{"event_name":"looker_custom_event","custom_event_type":"other"}}]"#

    @Test(arguments: ["user", "event"])
    func everyIdentityTagGoesToItsCanonicalKey(type: String) async throws {
        let (_, batches, _) = try await run(Self.identityFixture, type: type)
        #expect(batches == [
            #"{"environment":"production","user_identities":{"customer_id":"1001","email":"a@x.io","facebook":"fb1","google":"g1","microsoft":"m1","twitter":"t1","yahoo":"y1","other":"o1","other_id_2":"o2","other_id_3":"o3","other_id_4":"o4"}"#
            + (type == "event" ? Self.defaultEvent : "") + "}",
        ])
    }

    @Test(arguments: ["user", "event"])
    func identityNamesLookerUsesTheActionsSpellings(type: String) async throws {
        let (_, batches, _) = try await run(Self.identityFixture, type: type, extra: "identity_names: looker")
        #expect(batches == [
            #"{"environment":"production","user_identities":{"customerid":"1001","email":"a@x.io","facebook":"fb1","google":"g1","microsoft":"m1","twitter":"t1","yahoo":"y1","other":"o1","other2":"o2","other3":"o3","other4":"o4"}"#
            + (type == "event" ? Self.defaultEvent : "") + "}",
        ])
    }

    /// The action's spellings are not keys of mParticle's published schema: `validate` says so,
    /// naming exactly the keys this result writes that way.
    @Test func identityNamesLookerWarnsThatThePublishedSchemaRefusesTheActionsSpellings() throws {
        let t = try TestWorkspace()
        try t.write("data/result.json", Self.identityFixture.json())
        let path = try t.write("jobs/j.yaml", jobYAML(type: "user", extra: "identity_names: looker"))
        let identitiesOnly = "\(path):3:10: warning: user batches will carry identities only; map columns to 'user_attributes.<name>' to send attributes"
        #expect(JobValidation.validate(path: path).map(\.description) == [
            identitiesOnly,
            "\(path):4:17: warning: 'identity_names: looker' writes the user_identities keys 'customerid' (the schema's 'customer_id'), 'other2' (the schema's 'other_id_2'), 'other3' (the schema's 'other_id_3'), 'other4' (the schema's 'other_id_4'), which mParticle's published Events API schema refuses: its user_identities allows only its own key names; remove 'identity_names: looker' to write the schema's names, unless your mParticle input is known to accept the action's spellings",
        ])
        // Spellings the action shares with the schema draw no warning.
        try t.write("data/result.json", LookerFixture(dimensions: [.field("users.email", #"["mp_email"]"#)], rows: [[#""a@x.io""#]]).json())
        #expect(JobValidation.validate(path: path).map(\.description) == [identitiesOnly])
    }

    /// The warning's premise, checked against the schema itself: the canonical keys are exactly
    /// the schema's `user_identities` keys, and an action spelling is refused exactly when it
    /// differs from the canonical one.
    @Test func theCanonicalIdentityKeysAreThePublishedSchemasKeys() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/mparticle-eventsapi.schema.json")
        let schema = try JSONParser.parse(String(contentsOf: url, encoding: .utf8))
        guard case .object(let properties)? = schema["properties"]?["user_identities"]?["properties"] else {
            Issue.record("the schema has no user_identities properties")
            return
        }
        #expect(schema["properties"]?["user_identities"]?["additionalProperties"] == .bool(false))
        let keys = Set(properties.map(\.key))
        #expect(keys == Set(TargetCatalog.identityKeys))
        for identity in LookerTags.identities {
            #expect(keys.contains(identity.canonicalKey), "\(identity.canonicalKey)")
            #expect(keys.contains(identity.lookerKey) == (identity.lookerKey == identity.canonicalKey), "\(identity.lookerKey)")
        }
    }

    // MARK: user mode

    static let everyTagFixture = LookerFixture(
        measures: [.field("orders.total"), .field("orders.count", #"["mp_custom_attribute"]"#)],
        dimensions: [
            .field("users.email", #"["mp_email"]"#), .field("users.ltv", #"["mp_user_attribute"]"#),
            .field("users.plan", #"["tier"]"#), .field("devices.brand", #"["mp_device_info"]"#),
            .field("devices.model_name", #"["mp_device_info"]"#), .field("events.page", #"["mp_custom_attribute"]"#),
            .field("events.name", #"["mp_event_name"]"#), .field("events.type", #"["mp_custom_event_type"]"#),
            .field("events.id", #"["mp_event_id"]"#), .field("events.at", #"["mp_timestamp_unixtime_ms"]"#),
            .field("events.sid", #"["mp_session_id"]"#), .field("events.suuid", #"["mp_session_uuid"]"#),
            .field("users.typo", #"["mp_other_2"]"#), .field("events.uri", nil),
        ],
        tableCalculations: [.field("spend_per_seat", nil), .field("score", #"["mp_custom_attribute"]"#)],
        rows: [[
            "12.5", "3", #""a@x.io""#, "1200", #""pro""#, #""Apple""#, #""X1""#, #""/home""#, #""Signed Up""#,
            #""navigation""#, #""123""#, #""2026-01-02 03:04:05""#, "77", #""4c1e5a4e-1f0b-4a43-9d2c-3f1a2b3c4d5e""#,
            #""oops""#, #""/x""#, "4.25", "1.5",
        ]])

    @Test func userModeSendsEveryFieldButIdentitiesAndEventNamesAsLookerAttributes() async throws {
        let (_, batches, _) = try await run(Self.everyTagFixture, type: "user")
        #expect(batches == [
            #"{"environment":"production","user_identities":{"email":"a@x.io"},"user_attributes":{"looker_orders.total":12.5,"looker_orders.count":3,"looker_users.ltv":1200,"looker_users.plan":"pro","looker_devices.brand":"Apple","looker_devices.model_name":"X1","looker_events.page":"/home","looker_events.type":"navigation","looker_events.id":"123","looker_events.at":"2026-01-02 03:04:05","looker_events.sid":77,"looker_events.suuid":"4c1e5a4e-1f0b-4a43-9d2c-3f1a2b3c4d5e","looker_users.typo":"oops","looker_events.uri":"/x","looker_spend_per_seat":4.25,"looker_score":1.5}}"#,
        ])
    }

    @Test func eventModeSendsEachTagToItsField() async throws {
        let (_, batches, destination) = try await run(Self.everyTagFixture, type: "event")
        #expect(batches == [
            #"{"environment":"production","user_identities":{"email":"a@x.io"},"user_attributes":{"looker_users.ltv":1200},"device_info":{"brand":"Apple"},"events":[{"event_type":"custom_event","data":{"event_name":"Signed Up","custom_event_type":"navigation","timestamp_unixtime_ms":1767323045000,"session_id":77,"session_uuid":"4c1e5a4e-1f0b-4a43-9d2c-3f1a2b3c4d5e","custom_attributes":{"looker_orders.count":"3","looker_events.page":"/home","looker_score":"1.5"}}}]}"#,
        ])
        // mp_event_id is the event's source_message_id, as text (the action sends event_id).
        #expect(destination.batches.map(Self.messageID) == ["123"])
    }

    /// The `source_message_id` of a batch's event.
    static func messageID(_ batch: Value) -> String? {
        guard case .array(let events)? = batch["events"], case .string(let id)? = events.first?["data"]?["source_message_id"] else { return nil }
        return id
    }

    @Test func validateWarnsAboutTagsThatDoNotDoWhatTheyLookLike() throws {
        let t = try TestWorkspace()
        try t.write("data/result.json", Self.everyTagFixture.json())
        let user = try t.write("jobs/user.yaml", jobYAML(type: "user"))
        #expect(JobValidation.validate(path: user).map(\.description) == [
            "\(t.path("jobs/user.yaml")):3:10: warning: field 'events.name' is tagged mp_event_name, which user jobs do not send (the action drops it too); set 'type: event' to send events, or remove the field from the query",
            "\(t.path("jobs/user.yaml")):3:10: warning: field 'users.typo' has the tag 'mp_other_2', which is not an mParticle tag, so it is sent as the user attribute 'looker_users.typo'; did you mean 'mp_other2'?",
        ])
        let event = try t.write("jobs/event.yaml", jobYAML(type: "event"))
        #expect(JobValidation.validate(path: event).map(\.description) == [
            "\(t.path("jobs/event.yaml")):3:10: warning: field 'devices.model_name' is tagged mp_device_info, but 'model_name' is not one of the 36 device_info fields the action sends, so it is not sent; name the dimension after a device_info field (brand, platform, os_version, …)",
            "\(t.path("jobs/event.yaml")):3:10: warning: field 'users.typo' has the tag 'mp_other_2', which is not an mParticle tag, so it is not sent; did you mean 'mp_other2'?",
        ])
    }

    // MARK: which tag counts, visit order, who wins

    @Test(arguments: ["user", "event"])
    func onlyTheFirstMpTagCountsAndAnEmptyFirstTagHidesAll(type: String) async throws {
        let fixture = LookerFixture(
            dimensions: [
                .field("u.a", #"["mp_user_attribute", "mp_email"]"#), .field("u.b", #"["", "mp_email"]"#),
                .field("u.c", #"["pii", "mp_email"]"#), .field("u.d", #"["MP_EMAIL"]"#),
            ],
            rows: [[#""a""#, #""b""#, #""c@x.io""#, #""d""#]])
        let (_, batches, _) = try await run(fixture, type: type)
        let expected = type == "user"
            ? #"{"environment":"production","user_identities":{"email":"c@x.io"},"user_attributes":{"looker_u.a":"a","looker_u.b":"b","looker_u.d":"d"}}"#
            : #"{"environment":"production","user_identities":{"email":"c@x.io"},"user_attributes":{"looker_u.a":"a"}"# + Self.defaultEvent + "}"
        #expect(batches == [expected])

        let t = try TestWorkspace()
        try t.write("data/result.json", fixture.json())
        let path = try t.write("jobs/j.yaml", jobYAML(type: type))
        let at = "\(path):3:10: warning: "
        #expect(JobValidation.validate(path: path).map(\.description) == [
            at + "field 'u.a' has several mp_ tags ('mp_user_attribute', 'mp_email'); only the first, 'mp_user_attribute', counts; keep one mp_ tag on the field in LookML",
            at + "field 'u.b' has the tag 'mp_email' after an empty first tag, which hides every tag (the action reads no tag then); remove the empty tag in LookML",
            at + "field 'u.d' has the tag 'MP_EMAIL', which does not count: tags are case-sensitive; write it as 'mp_email'",
        ])
    }

    @Test func measuresThenDimensionsThenTableCalculationsAndTheLastVisitedWins() async throws {
        let fixture = LookerFixture(
            measures: [.field("m.email", #"["mp_email"]"#), .field("m.brand", #"["mp_device_info"]"#)],
            dimensions: [.field("d.id", #"["mp_customer_id"]"#), .field("d.email", #"["mp_email"]"#),
                         .field("devices.brand", #"["mp_device_info"]"#), .field("d.name", #"["mp_event_name"]"#)],
            tableCalculations: [.field("brand", #"["mp_device_info"]"#), .field("event", #"["mp_event_name"]"#)],
            rows: [[#""measure@x.io""#, #""m""#, "7", #""dimension@x.io""#, #""d""#, #""Dimension Name""#, #""t""#, #""Calc Name""#]])
        let (_, batches, _) = try await run(fixture, type: "event")
        // email keeps the position of the first field visited (a measure) but takes the last one's value.
        #expect(batches == [
            #"{"environment":"production","user_identities":{"email":"dimension@x.io","customer_id":"7"},"device_info":{"brand":"t"},"events":[{"event_type":"custom_event","data":{"event_name":"Calc Name","custom_event_type":"other"}}]}"#,
        ])
        let t = try TestWorkspace()
        try t.write("data/result.json", fixture.json())
        try t.write("jobs/j.yaml", jobYAML(type: "event"))
        let output = CapturedOutput()
        #expect(await PlanCommand.execute(workspace: t.workspace, job: "j", output: output) == .ok)
        let table = output.stdout.components(separatedBy: "\n").drop { !$0.hasPrefix("mapping:") }.prefix { !$0.isEmpty }
        #expect(Array(table) == [
            "mapping: derived from the LookML tags (event job, canonical identity names)",
            "  field                      tag             target",
            "  m.email (measure)          mp_email        not sent: replaced by 'd.email' (the last field visited wins)",
            "  m.brand (measure)          mp_device_info  not sent: replaced by 'brand' (the last field visited wins)",
            "  d.id                       mp_customer_id  user_identities.customer_id",
            "  d.email                    mp_email        user_identities.email",
            "  devices.brand              mp_device_info  not sent: replaced by 'brand' (the last field visited wins)",
            "  d.name                     mp_event_name   not sent: replaced by 'event' (the last field visited wins)",
            "  brand (table calculation)  mp_device_info  device_info.brand",
            "  event (table calculation)  mp_event_name   events.data.event_name",
            "  (no field)                 -               events.data.custom_event_type = 'other'",
        ])
    }

    // MARK: the identity check

    @Test(arguments: [0, 2])
    func aResultWithNoIdentityTagIsAnInvalidJobEvenWithNoRows(rows: Int) async throws {
        let fixture = LookerFixture(dimensions: [.field("users.email", #"["mp_user_attribute"]"#), .field("users.id", #"["customer_id"]"#)],
                                    rows: Array(repeating: [#""a@x.io""#, "1"], count: rows))
        let t = try TestWorkspace()
        let (result, batches, _) = try await run(fixture, type: "user", in: t)
        let message = "jobs/j.yaml:3:10: no field of the Looker result has an identity tag, so no batch could say which user it is about (the Looker action stops with \"Each row must specify at least 1 identity tag.\"); tag a dimension with one of mp_customer_id, mp_email, mp_facebook, mp_google, mp_microsoft, mp_twitter, mp_yahoo, mp_other, mp_other2, mp_other3, mp_other4 in LookML (e.g. tags: [\"mp_email\"]) and include it in the query"
        #expect(result.errorMessage == message)
        #expect(batches.isEmpty)
    }

    // MARK: defaults, nulls and conversions

    @Test func theUpstreamCustomEventTypeExampleGivesTheSameBatch() async throws {
        // The action's own test "sets custom_event_type to other" (reference §4): same fields and
        // values; the batch differs only in key order and the empty objects the action adds.
        let fixture = LookerFixture(
            dimensions: [.field("user.customerid", #"["mp_customer_id"]"#), .field("user.brand", #"["mp_device_info"]"#),
                         .field("user.bad_device_info_field", #"["mp_device_info"]"#),
                         .field("user.good_custom", #"["mp_custom_attribute"]"#), .field("user.bad_custom")],
            rows: [[#""value""#, #""foo""#, #""bar""#, #""good""#, #""bad""#]])
        let (_, batches, _) = try await run(fixture, type: "event", extra: "identity_names: looker", environment: "development")
        #expect(batches == [
            #"{"environment":"development","user_identities":{"customerid":"value"},"device_info":{"brand":"foo"},"events":[{"event_type":"custom_event","data":{"event_name":"looker_custom_event","custom_event_type":"other","custom_attributes":{"looker_user.good_custom":"good"}}}]}"#,
        ])
    }

    @Test func valuesAreConvertedToWhatMParticleExpectsOrTheRowIsRejected() async throws {
        let fixture = LookerFixture(
            dimensions: [.field("u.id", #"["mp_customer_id"]"#), .field("u.email", #"["mp_email"]"#),
                         .field("e.name", #"["mp_event_name"]"#), .field("e.type", #"["mp_custom_event_type"]"#),
                         .field("e.at", #"["mp_timestamp_unixtime_ms"]"#), .field("e.id", #"["mp_event_id"]"#)],
            rows: [
                ["1001", "null", #""Viewed""#, "null", #""2026-01-02""#, "5"],
                [#""C2""#, #""""#, #""Viewed""#, #""Search""#, "1767323045", "6"],
                ["null", #""""#, #""Viewed""#, #""search""#, #""2026-01-02""#, "7"],
                ["4", "null", "null", #""search""#, #""2026-01-02""#, "8"],
                ["5", "null", #""Viewed""#, #""bogus""#, #""2026-01-02""#, "9"],
                ["6", "null", #""Viewed""#, #""search""#, #""yesterday""#, "10"],
                ["7", "null", #""Viewed""#, #""search""#, #""2026-01-02""#, #""abc""#],
                ["8", "null", #""Viewed""#, #""search""#, "null", "null"],
            ])
        let (result, batches, destination) = try await run(fixture, type: "event")
        #expect(batches == [
            // A null custom_event_type gets the default (the action would send null); the engine
            // writes it after the fields it has.
            #"{"environment":"production","user_identities":{"customer_id":"1001"},"events":[{"event_type":"custom_event","data":{"event_name":"Viewed","timestamp_unixtime_ms":1767312000000,"custom_event_type":"other"}}]}"#,
            #"{"environment":"production","user_identities":{"customer_id":"C2"},"events":[{"event_type":"custom_event","data":{"event_name":"Viewed","custom_event_type":"search","timestamp_unixtime_ms":1767323045000}}]}"#,
            #"{"environment":"production","user_identities":{"customer_id":"7"},"events":[{"event_type":"custom_event","data":{"event_name":"Viewed","custom_event_type":"search","timestamp_unixtime_ms":1767312000000}}]}"#,
            #"{"environment":"production","user_identities":{"customer_id":"8"},"events":[{"event_type":"custom_event","data":{"event_name":"Viewed","custom_event_type":"search"}}]}"#,
        ])
        // mp_event_id values of any kind are the events' source_message_id, as text ('abc' is
        // fine: the action's event_id would refuse it); a null one gets the derived id.
        let messageIDs = destination.batches.map(Self.messageID)
        #expect(Array(messageIDs.prefix(3)) == ["5", "6", "abc"])
        #expect(messageIDs.last??.range(of: #"^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"#, options: .regularExpression) != nil, "\(messageIDs)")
        #expect(result.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "3: every identity is null or empty (column 'u.id', column 'u.email'); a batch must identify its user",
            "4: column 'e.name' → events.data.event_name: a custom_event needs an event name, and it is null",
            "5: column 'e.type' → events.data.custom_event_type: 'bogus' is not one of navigation, location, search, transaction, user_content, user_preference, social, other, media, attribution",
            "6: column 'e.at' → events.data.timestamp_unixtime_ms: 'yesterday' is not a timestamp (ISO 8601 like 2026-01-01T00:00:00Z, a date, or unix seconds or milliseconds)",
        ])
        #expect(result.counts.rowsSent == 4)
        #expect(result.counts.rowsRejected == 4)
    }

    @Test func aPivotedResultFailsTheRunAndSendsNothing() async throws {
        var fixture = Self.identityFixture
        fixture.pivots = #"[{"name":"orders.created_month"}]"#
        let t = try TestWorkspace()
        let (result, batches, _) = try await run(fixture, type: "user", in: t)
        #expect(result.errorMessage == "the Looker result \(t.path("data/result.json")) is pivoted on 'orders.created_month': each row holds one cell per pivot value, which no single mParticle field can take; remove the pivot in Looker and export the query again")
        #expect(batches.isEmpty)
    }

    // MARK: requests

    @Test func twoHundredFiftyRowsGoInRequestsOf100And100And50() async throws {
        let fixture = LookerFixture(
            measures: [.field("orders.count")],
            dimensions: [.field("users.id", #"["mp_customer_id"]"#)],
            rows: (1...250).map { [String($0 % 7), String($0)] })
        let (result, batches, destination) = try await run(fixture, type: "user")
        #expect(destination.requests.map(\.batchCount) == [100, 100, 50])
        #expect(result.counts.requests == 3)
        #expect(batches.count == 250)
        #expect(batches.first == #"{"environment":"production","user_identities":{"customer_id":"1"},"user_attributes":{"looker_orders.count":1}}"#)
        #expect(batches.last == #"{"environment":"production","user_identities":{"customer_id":"250"},"user_attributes":{"looker_orders.count":5}}"#)
    }

    @Test func aFailedRequestIsReportedEvenWhenTheRowCountIsAMultipleOf100() async throws {
        // The action answers success for 200 rows whose two POSTs both fail (it awaits no full
        // chunk); here the failure ends the run with its message and only acknowledged rows count.
        let fixture = LookerFixture(dimensions: [.field("users.id", #"["mp_customer_id"]"#)], rows: (1...200).map { [String($0)] })
        let t = try TestWorkspace()
        try t.write("data/result.json", fixture.json())
        let job = try t.job("j", jobYAML(type: "user"))
        let destination = RecordingDestination(failOnRequest: 1)  // the second request (0-based)
        let result = try await t.run(job, destination: destination)
        #expect(result.errorMessage == "the destination is down")
        #expect(result.counts.rowsSent == 100)
        #expect(destination.requests.map(\.batchCount) == [100])
        #expect(try t.state().runs(job: "j", limit: 1).map(\.status) == [.failed])
    }

    // MARK: written mappings and job-file errors

    @Test func anExplicitMappingNamesColumnsByLookerFieldName() async throws {
        let fixture = LookerFixture(
            measures: [.field("orders.count")],
            dimensions: [.field("users.email", #"["mp_email"]"#), .field("users.plan")],
            rows: [["3", #""a@x.io""#, #""pro""#]])
        let t = try TestWorkspace()
        try t.write("data/result.json", fixture.json())
        let job = try t.job("j", """
            type: user
            source: { file: ../data/result.json, format: looker }
            mapping:
              - { column: users.email, to: user_identities.email }
              - { column: $unmapped, to: user_attributes.* }
            destination: { path: ../out/j.ndjson, environment: production }
            """)
        let destination = RecordingDestination()
        _ = try await t.run(job, destination: destination)
        #expect(destination.batches.map { JSONWriter.compact($0.withoutIDs) } == [
            #"{"environment":"production","user_identities":{"email":"a@x.io"},"user_attributes":{"orders.count":3,"users.plan":"pro"}}"#,
        ])
        let typo = try t.write("jobs/typo.yaml", """
            type: user
            source: { file: ../data/result.json, format: looker }
            mapping:
              - { column: user.email, to: user_identities.email }
            """)
        #expect(JobValidation.validate(path: typo).map(\.description) == [
            "\(typo):4:7: column 'user.email' is not in Looker result \(Paths.display(t.path("data/result.json"))); did you mean 'users.email'?",
        ])
    }

    @Test func jobFileMistakesAreReportedWhereTheyAre() throws {
        let t = try TestWorkspace()
        try t.write("data/u.csv", "email\na@x.io\n")
        func diagnostics(_ yaml: String) throws -> [String] {
            let path = try t.write("jobs/j.yaml", yaml)
            return JobValidation.validate(path: path).map { $0.description.replacingOccurrences(of: path, with: "j.yaml") }
        }
        #expect(try diagnostics("type: user\nsource: { file: ../data/u.csv }\nmapping: looker\n") == [
            "j.yaml:3:10: 'mapping: looker' derives the mapping from the LookML tags of a Looker result, but the source is not one; add 'format: looker' to 'source:' for a Looker json_detail result, or write the mapping as a list",
        ])
        #expect(try diagnostics("type: user\nsource: { file: ../data/u.csv }\nmapping: lookr\n") == [
            "j.yaml:3:10: 'mapping' is 'lookr'; it must be a list of entries, 'looker' to derive it from the LookML tags of a Looker result, or 'fme_impressions' for Harness FME impressions; did you mean 'looker'?",
        ])
        #expect(try diagnostics("type: user\nsource: { file: ../data/u.csv }\nmapping: email\n") == [
            "j.yaml:3:10: 'mapping' is 'email'; it must be a list of entries, 'looker' to derive it from the LookML tags of a Looker result, or 'fme_impressions' for Harness FME impressions; write each entry on its own line starting with '- ', e.g. '- { column: email, to: user_identities.email }'",
        ])
        #expect(try diagnostics("type: user\nsource: { file: ../data/u.csv }\nmapping:\n  - { column: email, to: user_identities.email }\nidentity_names: looker\n") == [
            "j.yaml:5:1: 'identity_names' applies to 'mapping: looker' only; remove it; a mapping list names each identity key in its 'to:'",
        ])
        try t.write("data/r.json", Self.identityFixture.json())
        #expect(try diagnostics("type: user\nsource: { file: ../data/r.json, format: looker }\nmapping: looker\nidentity_names: Looker\n") == [
            "j.yaml:4:17: 'identity_names' is 'Looker', which is not allowed; did you mean 'looker'?",
        ])
        var pivoted = Self.identityFixture
        pivoted.pivots = #"[{"name":"orders.created_month"}]"#
        try t.write("data/p.json", pivoted.json())
        #expect(try diagnostics("type: user\nsource: { file: ../data/p.json, format: looker }\nmapping: looker\n") == [
            "j.yaml:2:9: the Looker result \(Paths.display(t.path("data/p.json"))) is pivoted on 'orders.created_month': each row holds one cell per pivot value, which no single mParticle field can take; remove the pivot in Looker and export the query again",
        ])
        try t.write("data/n.json", #"[{"users.email": "a@x.io"}]"#)
        #expect(try diagnostics("type: user\nsource: { file: ../data/n.json, format: looker }\nmapping: looker\n") == [
            "j.yaml:2:9: cannot read '\(Paths.display(t.path("data/n.json")))': expected '{' at byte 0, found '['; a Looker source must be a json_detail query result: one object with 'fields' and 'data'",
        ])
    }
}
