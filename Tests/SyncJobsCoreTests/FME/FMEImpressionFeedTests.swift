import Foundation
import Testing
@testable import SyncJobsCore

/// `mapping: fme_impressions`: FME impressions become mParticle custom events the way FME's own
/// mParticle feed sends them, through the same engine as any job; exact batches and reasons.
@Suite struct FMEImpressionFeedTests {
    static let header = "key,split,environmentId,environmentName,treatment,time,bucketingKey,label,machineName,machineIp,splitVersionNumber,sdk,sdkVersion,trafficTypeName"

    var workspace: TestWorkspace

    init() throws { workspace = try TestWorkspace() }

    /// How messages name the source file of `run`.
    var csvFile: String { "CSV file \(Paths.display(workspace.path("data/impressions.csv")))" }

    func run(_ data: String, file: String = "data/impressions.csv", format: String = "", fme: String = "identities: { user: customer_id, anonymous: other_id_2 }",
             sync: String = "sync: { mode: incremental, iterator: time, iterator_type: unix_ms }",
             in workspace: TestWorkspace? = nil) async throws -> (RunResult, [String], RecordingDestination) {
        let t = workspace ?? self.workspace
        try t.write(file, data)
        let job = try t.job("fme", """
            type: event
            source: { file: ../\(file)\(format.isEmpty ? "" : ", format: \(format)") }
            mapping: fme_impressions
            fme: { \(fme) }
            \(sync)
            destination: { path: ../out/fme.ndjson, environment: production }
            """)
        let destination = RecordingDestination()
        let result = try await t.run(job, destination: destination)
        return (result, destination.batches.map { JSONWriter.compact($0) }, destination)
    }

    static func event(_ identity: String, _ attributes: String, time: Int64, name: String = "get_treatment", messageID: String) -> String {
        #"{"environment":"production","user_identities":{\#(identity)},"events":[{"event_type":"custom_event","data":{"event_name":"\#(name)","custom_event_type":"other","timestamp_unixtime_ms":\#(time),"custom_attributes":{\#(attributes)},"source_message_id":"\#(messageID)"}}]"#
    }

    @Test func eachImpressionIsOneCustomEventWithTheFeedsAttributeNames() async throws {
        let (result, batches, _) = try await run("""
            \(Self.header)
            u-1,new_checkout,env-1,Production,on,1764547200000,,default rule,web-1,10.0.0.5,1764000000000,javascript,10.26.0,user
            anon-2,new_checkout,env-1,Production,off,1764547260000,b-2,in segment beta,web-1,10.0.0.5,1764000000000,javascript,10.26.0,anonymous

            """)
        #expect(result.succeeded)
        #expect(result.counts.rowsSent == 2)
        let withoutRequestIDs = batches.map { $0.replacingOccurrences(of: #","source_request_id":"[0-9a-f]{32}""#, with: "", options: .regularExpression) }
        let ids = batches.map { batch in
            batch.firstMatch(of: /"source_message_id":"([0-9a-f-]{36})"/).map { String($0.1) } ?? "none"
        }
        #expect(withoutRequestIDs == [
            Self.event(#""customer_id":"u-1""#,
                       #""key":"u-1","split":"new_checkout","treatment":"on","label":"default rule","splitVersionNumber":"1764000000000","environmentId":"env-1","environmentName":"Production","sdk":"javascript","sdkVersion":"10.26.0","machineName":"web-1","machineIp":"10.0.0.5""#,
                       time: 1_764_547_200_000, messageID: ids[0]) + "}",
            Self.event(#""other_id_2":"anon-2""#,
                       #""key":"anon-2","split":"new_checkout","treatment":"off","label":"in segment beta","bucketingKey":"b-2","splitVersionNumber":"1764000000000","environmentId":"env-1","environmentName":"Production","sdk":"javascript","sdkVersion":"10.26.0","machineName":"web-1","machineIp":"10.0.0.5""#,
                       time: 1_764_547_260_000, messageID: ids[1]) + "}",
        ])
        #expect(result.checkpoint == "time = 2025-12-01T00:01:00Z (1 row at this value delivered)")
    }

    @Test func theMessageIDComesFromKeySplitTimeAndTreatmentOnly() async throws {
        // The same impression exported twice with different optional fields is one event to mParticle.
        let (_, first, _) = try await run("\(Self.header)\nu-1,s,e,P,on,1764547200000,,rule a,m,ip,1,js,1,user\n", in: TestWorkspace())
        let (_, second, _) = try await run("\(Self.header)\nu-1,s,e2,P2,on,1764547200000,bk,rule b,m2,ip2,2,java,2,user\n", in: TestWorkspace())
        let (_, other, _) = try await run("\(Self.header)\nu-1,s,e,P,off,1764547200000,,rule a,m,ip,1,js,1,user\n", in: TestWorkspace())
        let id = { (batch: String) in batch.firstMatch(of: /"source_message_id":"([0-9a-f-]{36})"/).map { String($0.1) } }
        #expect(id(first[0]) != nil)
        #expect(id(first[0]) == id(second[0]))
        #expect(id(first[0]) != id(other[0]))
    }

    @Test func theSDKSpellingsAreAcceptedAndSentUnderTheWebhookNames() async throws {
        let (result, batches, _) = try await run("""
            {"keyName":"u-9","feature":"flag_a","treatment":"v1","time":1764547200000,"changeNumber":1763000000000,"label":"default rule","trafficTypeName":"user"}
            {"keyName":"u-10","feature":"flag_a","treatment":"v2","time":1764547200001,"label":"default rule","trafficTypeName":"user","sdk":"go"}

            """, file: "data/impressions.ndjson")
        #expect(result.succeeded)
        #expect(batches.map { $0.firstMatch(of: /"custom_attributes":\{[^}]*\}/).map { String($0.0) } } == [
            #""custom_attributes":{"key":"u-9","split":"flag_a","treatment":"v1","label":"default rule","splitVersionNumber":"1763000000000"}"#,
            // `sdk` is not in the first record: it is a column all the same.
            #""custom_attributes":{"key":"u-10","split":"flag_a","treatment":"v2","label":"default rule","sdk":"go"}"#,
        ])
    }

    @Test func theWebhooksJSONArrayIsASource() async throws {
        let (result, batches, _) = try await run("""
            [{"key":"u-1","split":"s","environmentId":"e","environmentName":"Production","treatment":"on","time":1764547200000,
              "bucketingKey":null,"label":"default rule","machineName":null,"machineIp":null,"splitVersionNumber":1764000000000,
              "sdk":"python","sdkVersion":"10.7.0","properties":null}]
            """, file: "data/webhook.json", format: "json", fme: "identity: customer_id")
        #expect(result.succeeded)
        #expect(batches.map { $0.replacingOccurrences(of: #","source_message_id":"[0-9a-f-]{36}"\}\}\],"source_request_id":"[0-9a-f]{32}""#, with: "}}]", options: .regularExpression) } == [
            #"{"environment":"production","user_identities":{"customer_id":"u-1"},"events":[{"event_type":"custom_event","data":{"event_name":"get_treatment","custom_event_type":"other","timestamp_unixtime_ms":1764547200000,"custom_attributes":{"key":"u-1","split":"s","treatment":"on","label":"default rule","splitVersionNumber":"1764000000000","environmentId":"e","environmentName":"Production","sdk":"python","sdkVersion":"10.7.0"}}}]}"#,
        ])
    }

    @Test func theEventNameIsConfigurable() async throws {
        let (_, batches, _) = try await run("\(Self.header)\nu-1,s,e,P,on,1764547200000,,,,,,,,user\n",
                                           fme: "event_name: Flag Evaluated, identity: email")
        #expect(batches.count == 1)
        #expect(batches[0].contains(#""user_identities":{"email":"u-1"}"#))
        #expect(batches[0].contains(#""event_name":"Flag Evaluated""#))
    }

    @Test func impressionsThatCannotBeSentAreRejectedWithTheirReason() async throws {
        let (result, batches, _) = try await run("""
            \(Self.header)
            u-1,s,e,P,on,1764547200000,,,,,,,,user
            ,s,e,P,on,1764547200001,,,,,,,,user
            u-3,,e,P,on,1764547200002,,,,,,,,user
            u-4,s,e,P,,1764547200003,,,,,,,,user
            u-5,s,e,P,on,1764547200004,,,,,,,,account
            u-6,s,e,P,on,1764547200005,,,,,,,,
            u-7,s,e,P,on,yesterday,,,,,,,,user
            u-8,s,e,P,on,,,,,,,,,user

            """)
        #expect(result.succeeded)
        #expect(batches.count == 1)
        #expect(result.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "2: the impression has no key",
            "3: the impression has no split",
            "4: the impression has no treatment",
            "5: trafficTypeName 'account' is not mapped in fme.identities (it maps 'user', 'anonymous')",
            "6: the row has no trafficTypeName, which chooses its identity (fme.identities maps 'user', 'anonymous')",
            "7: iterator column 'time' holds 'yesterday', which is not an integer count of milliseconds since 1970",
            "8: iterator column 'time' is null",
        ])
    }

    @Test func aFullSyncRejectsABadTimeAtTheTimestamp() async throws {
        let (result, _, _) = try await run("\(Self.header)\nu-7,s,e,P,on,yesterday,,,,,,,,user\nu-8,s,e,P,on,,,,,,,,,user\n",
                                           sync: "sync: { mode: full }")
        #expect(result.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
            "1: column 'time' → events.data.timestamp_unixtime_ms: 'yesterday' is not a timestamp (ISO 8601 like 2026-01-01T00:00:00Z, a date, or unix seconds or milliseconds)",
            "2: the impression has no time",
        ])
    }

    @Test func aSourceWithoutTheRequiredFieldsIsAnInvalidJob() async throws {
        let (result, _, _) = try await run("key,treatment,trafficTypeName\nu-1,on,user\n", sync: "sync: { mode: full }")
        guard case .invalidJob(let diagnostics)? = result.failure else {
            Issue.record("expected an invalid job, got \(String(describing: result.failure))")
            return
        }
        #expect(diagnostics.map(\.description) == [
            "jobs/fme.yaml:3:10: \(csvFile) has no 'split' or 'feature' column, which every FME impression needs; export the impressions with Split's field names (key, split, treatment, time, …)",
            "jobs/fme.yaml:3:10: \(csvFile) has no 'time' column, which every FME impression needs; export the impressions with Split's field names (key, split, treatment, time, …)",
        ])
    }

    @Test func trafficTypesNeedATrafficTypeColumn() async throws {
        let (result, _, _) = try await run("key,split,treatment,time\nu-1,s,on,1764547200000\n")
        guard case .invalidJob(let diagnostics)? = result.failure else {
            Issue.record("expected an invalid job, got \(String(describing: result.failure))")
            return
        }
        #expect(diagnostics.map(\.description) == [
            "jobs/fme.yaml:4:6: 'fme.identities' chooses the identity by traffic type, but \(csvFile) has no 'trafficTypeName' column; export 'trafficTypeName' with the impressions, or use 'fme: { identity: customer_id }' for every impression",
        ])
        // One traffic type serves every impression without the column.
        let (single, batches, _) = try await run("key,split,treatment,time\nu-1,s,on,1764547200000\n", fme: "identities: { user: email }",
                                                 in: TestWorkspace())
        #expect(single.succeeded)
        #expect(batches.count == 1 && batches[0].contains(#""user_identities":{"email":"u-1"}"#))
    }
}
