import Foundation
import Testing
@testable import SyncJobsCore

/// The shipped FME impressions feed, run and planned through the built binary as a user runs it.
@Suite struct FMEJobBinaryTests {
    @Test func theImpressionsFeedExampleRunsAndPlansFromTheProjectRoot() async throws {
        let project = try Project()
        let result = try await project.jobs("run", "fme-impressions")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.range(of: #"^fme-impressions run #1: read 6 rows, sent 4 in 1 request, rejected 2 in \d+\.\d\d s \([\d,]+ rows/s\); checkpoint time = 2026-11-30T09:05:00Z \(1 row at this value delivered\)\n$"#, options: .regularExpression) != nil, "\(result.stdout)")
        #expect(result.stderr == """
              rejected row 4: the impression has no split
              rejected row 5: trafficTypeName 'account' is not mapped in fme.identities (it maps 'user', 'anonymous')

            """)
        let batches = try project.read("out/fme-impressions.ndjson").split(separator: "\n").flatMap { line -> [Value] in
            guard case .array(let items) = try JSONParser.parse(String(line)) else { return [] }
            return items
        }
        #expect(batches.map { JSONWriter.compact($0.withoutIDs) } == [
            #"{"environment":"production","user_identities":{"customer_id":"u-1001"},"events":[{"event_type":"custom_event","data":{"event_name":"get_treatment","custom_event_type":"other","timestamp_unixtime_ms":1796029200000,"custom_attributes":{"key":"u-1001","split":"new_checkout","treatment":"on","label":"default rule","splitVersionNumber":"1764000000000","environmentId":"194da2f0-3e22-11ea-ba75-12f2f63694e5","environmentName":"Production","sdk":"javascript","sdkVersion":"10.26.0","machineName":"web-1","machineIp":"10.0.0.5"}}}]}"#,
            #"{"environment":"production","user_identities":{"other_id_2":"anon-77f3"},"events":[{"event_type":"custom_event","data":{"event_name":"get_treatment","custom_event_type":"other","timestamp_unixtime_ms":1796029260000,"custom_attributes":{"key":"anon-77f3","split":"new_checkout","treatment":"off","label":"in segment beta_testers","splitVersionNumber":"1764000000000","environmentId":"194da2f0-3e22-11ea-ba75-12f2f63694e5","environmentName":"Production","sdk":"javascript","sdkVersion":"10.26.0","machineName":"web-1","machineIp":"10.0.0.5"}}}]}"#,
            #"{"environment":"production","user_identities":{"customer_id":"u-1002"},"events":[{"event_type":"custom_event","data":{"event_name":"get_treatment","custom_event_type":"other","timestamp_unixtime_ms":1796029320000,"custom_attributes":{"key":"u-1002","split":"search_ranking_v2","treatment":"v2","label":"targeting rule","bucketingKey":"org-9","splitVersionNumber":"1763900000000","environmentId":"194da2f0-3e22-11ea-ba75-12f2f63694e5","environmentName":"Production","sdk":"java","sdkVersion":"4.13.0","machineName":"api-3","machineIp":"10.0.1.7"}}}]}"#,
            #"{"environment":"production","user_identities":{"customer_id":"u-1004"},"events":[{"event_type":"custom_event","data":{"event_name":"get_treatment","custom_event_type":"other","timestamp_unixtime_ms":1796029500000,"custom_attributes":{"key":"u-1004","split":"search_ranking_v2","treatment":"control","label":"definition not found","splitVersionNumber":"1763900000000","environmentId":"194da2f0-3e22-11ea-ba75-12f2f63694e5","environmentName":"Production","sdk":"java","sdkVersion":"4.13.0","machineName":"api-3","machineIp":"10.0.1.7"}}}]}"#,
        ])

        let plan = try await project.jobs("plan", "fme-impressions")
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("""
            mapping: derived from the FME impression fields (mapping: fme_impressions)
              column              target
              key                 user_identities.customer_id when trafficTypeName is 'user'; user_identities.other_id_2 when trafficTypeName is 'anonymous'
              key                 events.data.custom_attributes.key
              split               events.data.custom_attributes.split
              treatment           events.data.custom_attributes.treatment
              label               events.data.custom_attributes.label
              bucketingKey        events.data.custom_attributes.bucketingKey
              splitVersionNumber  events.data.custom_attributes.splitVersionNumber
              environmentId       events.data.custom_attributes.environmentId
              environmentName     events.data.custom_attributes.environmentName
              sdk                 events.data.custom_attributes.sdk
              sdkVersion          events.data.custom_attributes.sdkVersion
              machineName         events.data.custom_attributes.machineName
              machineIp           events.data.custom_attributes.machineIp
              time                events.data.timestamp_unixtime_ms
              (static)            events.data.event_name = 'get_treatment'
              (static)            events.data.custom_event_type = 'other'
              trafficTypeName     chooses the identity (not sent)

            """), "\(plan.stdout)")
        #expect(plan.stdout.contains("checkpoint: time = 2026-11-30T09:05:00Z"), "\(plan.stdout)")
    }
}
