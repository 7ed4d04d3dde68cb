import EventsAPIServer
import Foundation
import Logging
import SyncJobsCore
import Testing

/// 2026-01-10T00:00:00Z: "now" for destinations and servers in these tests.
package let testNow: Int64 = 1_768_003_200_000
/// 2026-01-01T00:00:00Z
package let jan1: Int64 = 1_767_225_600_000

/// A started loopback Events API server; the caller stops it.
package func startEventsAPI(_ configure: (inout EventsAPIServer.Configuration) -> Void = { _ in }) async throws -> EventsAPIServer {
    var configuration = EventsAPIServer.Configuration()
    configure(&configuration)
    let server = EventsAPIServer(configuration)
    try await server.start()
    return server
}

/// Runs `body` with a started loopback Events API server whose clock says `testNow`, and stops it
/// afterwards.
package func withEventsAPI<T>(_ configure: (inout EventsAPIServer.Configuration) -> Void = { _ in },
                              _ body: (EventsAPIServer) async throws -> T) async throws -> T {
    let server = try await startEventsAPI { configuration in
        configuration.now = { testNow }
        configure(&configuration)
    }
    do {
        let result = try await body(server)
        try await server.stop()
        return result
    } catch {
        try? await server.stop()
        throw error
    }
}

/// The job file of an event job that reads table `events` (id, customer_id, event_name, at) from
/// `database`, incremental on `id`, and sends it to the Events API at `url`. `settings` are the
/// destination's other lines (`max_in_flight: 8`); `extra` is a last top-level line.
package func mparticleEventsJobFile(name: String, database: String, url: String, apiKey: String, apiSecret: String,
                                    settings: [String], extra: String = "") -> String {
    let lines = [
        "name: \(name)",
        "type: event",
        "source: { sqlite: \(database), table: events }",
        "mapping:",
        "  - { column: customer_id, to: user_identities.customer_id }",
        "  - { column: event_name, to: events.data.event_name }",
        "  - { column: at, to: events.data.timestamp_unixtime_ms }",
        "  - { ignore: id }",
        "sync: { mode: incremental, iterator: id, iterator_type: integer }",
        "destination:",
        "  type: mparticle",
        "  url: \(url)",
        "  api_key: \(apiKey)",
        "  api_secret: \(apiSecret)",
    ] + settings.map { "  " + $0 }
    return lines.joined(separator: "\n") + (extra.isEmpty ? "" : "\n" + extra)
}

extension TestWorkspace {
    /// `data/events.db` with `rows` events: id 1…rows, customer C00001…, one per second from
    /// `start`.
    package func eventsDatabase(rows: Int, start: Int64 = jan1) throws {
        try sqlite("data/events.db", """
            CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id TEXT, event_name TEXT, at INTEGER);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(rows))
            INSERT INTO events SELECT i, printf('C%05d', i), 'Viewed', \(start) + i * 1000 FROM n;
            """)
    }

    /// An event job from `data/events.db`, incremental on `id`, delivered to `server`.
    package func mparticleJob(_ name: String = "mp", server: EventsAPIServer, maxInFlight: Int = 8, retryFor: String = "10s", timeout: String = "10s",
                              extra: String = "", destinationExtra: String = "") throws -> JobDefinition {
        try job(name, mparticleEventsJobFile(
            name: name, database: "../data/events.db", url: server.baseURL, apiKey: "${MP_TEST_KEY}", apiSecret: "{ file: ../secret.txt }",
            settings: ["environment: production", "max_in_flight: \(maxInFlight)", "retry_for: \(retryFor)", "timeout: \(timeout)\(destinationExtra)"],
            extra: extra))
    }

    /// A destination for `job` with the test credentials, a fake clock and fixed randomness.
    package func mparticle(_ job: JobDefinition, clock: any SyncClock = FakeRetryClock(), policy: RetryPolicy = RetryPolicy(),
                           key: String = "test-key", secret: String = "test-secret", random: Double = 0.5) throws -> MParticleDestination {
        MParticleDestination(spec: try mparticleSpec(job), credentials: MParticleCredentials(key: key, secret: secret),
                             logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                             clock: clock, policy: policy, random: { random })
    }

    package func checkpointValue(_ job: String) throws -> IteratorValue? { try state().checkpoint(job: job)?.lower }
}

extension EventsAPIServer {
    /// The customer ids of the accepted batches, deduplicated by `source_request_id` as mParticle
    /// does, sorted.
    package var deliveredCustomers: [String] {
        var seen: Set<String> = []
        var customers: [String] = []
        for batch in acceptedBatches {
            guard case .object(let entries)? = try? JSONParser.parse(batch) else { continue }
            let object = Value.object(entries)
            guard case .string(let id)? = object["source_request_id"], seen.insert(id).inserted,
                  let customer = object.customerID else { continue }
            customers.append(customer)
        }
        return customers.sorted()
    }
}

/// The mParticle settings of `job`; a job with another destination fails the test.
package func mparticleSpec(_ job: JobDefinition) throws -> MParticleSpec {
    guard case .mparticle(let spec) = job.destination.kind else {
        Issue.record("job \(job.name) does not send to mParticle: \(job.destination.kind)")
        throw CancellationError()
    }
    return spec
}

/// Customer ids of rows in `range`, sorted as `deliveredCustomers` is.
package func customers(_ range: ClosedRange<Int>) -> [String] { range.map { String(format: "C%05d", $0) }.sorted() }
