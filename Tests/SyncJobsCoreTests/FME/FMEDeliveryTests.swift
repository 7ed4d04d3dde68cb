import EventsAPIServer
import Foundation
import Synchronization
import Testing
@testable import SyncJobsCore

/// `destination: { type: fme }` through a real loopback FME events server: exact events, skips
/// counted by reason, rejected rows, faults, and no batch accepted twice.
@Suite struct FMEDeliveryTests {
    static let sdkKey = "fme-test-sdk-key-1234"
    let t: TestWorkspace

    init() throws { t = try TestWorkspace() }

    func job(_ url: String, source: String = "{ file: ../data/events.csv }", mapping: String = Self.eventMapping,
             settings: String = "max_event_age: off") throws -> JobDefinition {
        try t.job("to-fme", """
            type: event
            source: \(source)
            \(mapping)
            sync: { mode: full }
            destination:
              type: fme
              url: \(url)
              api_key: ${FME_TEST_SDK_KEY}
              environment_name: Production
              traffic_types: { user: customer_id, anonymous: other }
              \(settings)
            """)
    }

    static let eventMapping = """
        mapping:
          - { column: customer_id, to: user_identities.customer_id }
          - { column: device, to: user_identities.other }
          - { column: event_name, to: events.data.event_name }
          - { column: at, to: events.data.timestamp_unixtime_ms }
          - { column: plan, to: events.data.custom_attributes.plan }
        """

    func destination(_ job: JobDefinition, clock: any SyncClock = SystemClock(), policy: RetryPolicy = RetryPolicy()) throws -> FMEDestination {
        guard case .fme(let spec) = job.destination.kind else { throw MParticleError("not an fme job") }
        return try FMEDestination(spec: spec, job: job.name, sdkKey: Self.sdkKey, ledgerPath: t.path(".jobs/state.db"), clock: clock,
                                  policy: policy)
    }

    func run(_ job: JobDefinition, policy: RetryPolicy = RetryPolicy()) async throws -> RunResult {
        try await t.run(job, destination: try destination(job, policy: policy))
    }

    @Test func eachIdentityMappedToATrafficTypeIsOneFMEEvent() async throws {
        try t.write("data/events.csv", "customer_id,device,event_name,at,plan\nC1,d-9,Signed Up,1767225600000,pro\nC2,,Upgraded,1767225601000,\n")
        try await withFMEEvents({ $0.sdkKey = Self.sdkKey }) { server in
            let result = try await run(try job(server.baseURL))
            #expect(result.succeeded, "\(result.errorMessage ?? "")")
            #expect(result.counts.rowsSent == 2)
            let ids = server.events.map { $0.foreignId ?? "none" }
            #expect(server.events.map(\.json) == [
                #"{"eventTypeId":"Signed_Up","trafficTypeName":"user","key":"C1","environmentName":"Production","timestamp":1767225600000,"value":null,"foreignId":"\#(ids[0])","properties":{"source_message_id":"\#(ids[0])","event_id":"\#(ids[0])","attribute.plan":"pro"}}"#,
                #"{"eventTypeId":"Signed_Up","trafficTypeName":"anonymous","key":"d-9","environmentName":"Production","timestamp":1767225600000,"value":null,"foreignId":"\#(ids[0])","properties":{"source_message_id":"\#(ids[0])","event_id":"\#(ids[0])","attribute.plan":"pro"}}"#,
                #"{"eventTypeId":"Upgraded","trafficTypeName":"user","key":"C2","environmentName":"Production","timestamp":1767225601000,"value":null,"foreignId":"\#(ids[2])","properties":{"source_message_id":"\#(ids[2])","event_id":"\#(ids[2])"}}"#,
            ])
            #expect(server.acceptedEventCounts == [3])
        }
    }

    @Test func aRerunAfterAFailedRunDoesNotSendWhatFMEAcceptedAgain() async throws {
        // 1,500 rows: two requests; FME accepts the first and refuses the key on the second, so
        // the run fails with no checkpoint past the rows FME has.
        let rows = (1...1500).map { "C\($0),,e,\(1767225600000 + Int64($0)),\n" }.joined()
        try t.write("data/events.csv", "customer_id,device,event_name,at,plan\n" + rows)
        let refuse = Mutex(true)
        try await withFMEEvents({ configuration in
            configuration.sdkKey = Self.sdkKey
            configuration.faults = { request in refuse.withLock { $0 } && request.number == 1 ? .status(401) : nil }
        }) { server in
            let j = try job(server.baseURL, settings: "max_event_age: off\n  max_in_flight: 1")
            let first = try await run(j)
            #expect(!first.succeeded)
            #expect(server.events.count == 1000)
            refuse.withLock { $0 = false }
            let second = try await run(j)
            #expect(second.succeeded, "\(second.errorMessage ?? "")")
            #expect(server.events.map(\.key).sorted() == (1...1500).map { "C\($0)" }.sorted())
            #expect(second.counts.eventsSkipped == ["batch already delivered to FME by an interrupted run": 1000])
            let history = try t.state().runs(job: "to-fme", limit: 1)
            #expect(history.first?.counts.eventsSkipped == ["batch already delivered to FME by an interrupted run": 1000])
            // Once a run has succeeded, its checkpoint covers what it sent: a full sync sends every row again.
            let third = try await run(j)
            #expect(third.counts.eventsSkipped.isEmpty)
            #expect(server.events.count == 3000)
        }
    }

    @Test func eventsFMEDoesNotTakeAreSkippedAndCountedByReason() async throws {
        try t.write("data/batches.ndjson", """
            {"environment":"production","user_identities":{"customer_id":"C1"},"events":[{"event_type":"crash_report","data":{"timestamp_unixtime_ms":1767225600000}},{"event_type":"custom_event","data":{"event_name":"Opened","custom_event_type":"other","timestamp_unixtime_ms":1767225600000,"source_message_id":"m1"}},{"event_type":"commerce_event","data":{"timestamp_unixtime_ms":1767225600000,"promotion_action":{"action":"view","promotions":[{"id":"p"}]}}}],"source_request_id":"r1"}
            {"environment":"production","user_identities":{"customer_id":"C2"},"events":[{"event_type":"breadcrumb","data":{"timestamp_unixtime_ms":1767225600000}}],"source_request_id":"r2"}
            {"environment":"production","user_identities":{"customer_id":"C3"},"user_attributes":{"plan":"pro"},"source_request_id":"r3"}

            """)
        try await withFMEEvents({ $0.sdkKey = Self.sdkKey }) { server in
            let result = try await run(try job(server.baseURL, source: "{ file: ../data/batches.ndjson, format: mparticle }", mapping: ""))
            #expect(result.succeeded, "\(result.errorMessage ?? "")")
            #expect(server.events.map { "\($0.eventTypeId) \($0.key) \($0.foreignId ?? "-")" } == ["Opened C1 m1"])
            #expect(result.counts.eventsSkipped == [
                "event type 'crash_report' is not sent to FME": 1,
                "event type 'breadcrumb' is not sent to FME": 1,
                "a commerce event without a product action (promotion or impression) is not sent to FME": 1,
                "a batch without events sends nothing to FME": 1,
            ])
            #expect(RunCommand.summary(result).contains(
                ", skipped 4 events the destination does not take (a batch without events sends nothing to FME: 1; a commerce event without a product action (promotion or impression) is not sent to FME: 1; event type 'breadcrumb' is not sent to FME: 1; event type 'crash_report' is not sent to FME: 1)"),
                "\(RunCommand.summary(result))")
        }
    }

    @Test func aBatchWithAnEventFMEWouldRefuseIsARejectedRow() async throws {
        let longKey = String(repeating: "k", count: 251)
        try t.write("data/events.csv", "customer_id,device,event_name,at,plan\nC1,,ok,1767225600000,\n\(longKey),,too long,1767225601000,\nC3,,!!!,1767225602000,\n")
        try await withFMEEvents({ $0.sdkKey = Self.sdkKey }) { server in
            let result = try await run(try job(server.baseURL))
            #expect(result.succeeded)
            #expect(server.events.map(\.key) == ["C1"])
            #expect(result.rejectedSamples.map { "\($0.rowNumber): \($0.reason)" } == [
                "2: the destination refused the batch: FME would not take it: event 1: the customer_id key for traffic type 'user' is 251 characters long; FME keys are at most 250",
                "3: the destination refused the batch: FME would not take it: event 1: event name '!!!' leaves nothing for an FME eventTypeId (letters, digits, '-', '_', '.', ':', starting with a letter or digit)",
            ])
        }
    }

    @Test func eventsOlderThanMaxEventAgeAreRejected() async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try t.write("data/events.csv", "customer_id,device,event_name,at,plan\nC1,,fresh,\(now - 3_600_000),\nC2,,stale,\(now - 25 * 3_600_000),\n")
        try await withFMEEvents({ $0.sdkKey = Self.sdkKey }) { server in
            let result = try await run(try job(server.baseURL, settings: "max_event_age: 24h"))
            #expect(server.events.map(\.key) == ["C1"])
            #expect(result.rejectedSamples.count == 1)
            #expect(result.rejectedSamples.first?.reason.contains("is older than max_event_age 24h") == true, "\(result.rejectedSamples)")
        }
    }

    @Test func tooManyRequestsServerErrorsAndDroppedConnectionsAreRetried() async throws {
        try t.write("data/events.csv", "customer_id,device,event_name,at,plan\nC1,,a,1767225600000,\n")
        try await withFMEEvents({ configuration in
            configuration.sdkKey = Self.sdkKey
            configuration.faults = { request in
                switch request.number {
                case 0: return .status(429, retryAfter: 1)
                case 1: return .status(503)
                case 2: return .drop
                default: return nil
                }
            }
        }) { server in
            let started = ContinuousClock.now
            let result = try await run(try job(server.baseURL), policy: RetryPolicy(baseBackoff: .milliseconds(20), maxBackoff: .milliseconds(40)))
            #expect(result.succeeded, "\(result.errorMessage ?? "")")
            #expect(ContinuousClock.now - started >= .seconds(1), "the Retry-After second was waited")
            #expect(result.counts.retries == 3)
            #expect(result.counts.httpRequests == 4)
            #expect(server.events.map(\.key) == ["C1"])
        }
    }

    @Test func anAnswerLostAfterFMEAcceptedIsSentAgain() async throws {
        // FME's API is not idempotent: without an answer the client cannot know, and sends again.
        try t.write("data/events.csv", "customer_id,device,event_name,at,plan\nC1,,a,1767225600000,\n")
        try await withFMEEvents({ configuration in
            configuration.sdkKey = Self.sdkKey
            configuration.faults = { $0.number == 0 ? .dropAfterAccept : nil }
        }) { server in
            let result = try await run(try job(server.baseURL), policy: RetryPolicy(baseBackoff: .milliseconds(20), maxBackoff: .milliseconds(40)))
            #expect(result.succeeded)
            #expect(server.events.map(\.key) == ["C1", "C1"])
        }
    }

    @Test func aRefusedKeyStopsTheRunWithoutShowingIt() async throws {
        try t.write("data/events.csv", "customer_id,device,event_name,at,plan\nC1,,a,1767225600000,\n")
        try await withFMEEvents({ $0.sdkKey = "another-key" }) { server in
            let result = try await run(try job(server.baseURL))
            #expect(!result.succeeded)
            #expect(result.errorMessage == "FME (\(server.baseURL)) refused the SDK key with HTTP 401; check destination.api_key (${FME_TEST_SDK_KEY}) is a server-side SDK key of the FME environment")
            #expect(result.errorMessage?.contains(Self.sdkKey) == false)
            #expect(server.events.isEmpty)
        }
    }
}
