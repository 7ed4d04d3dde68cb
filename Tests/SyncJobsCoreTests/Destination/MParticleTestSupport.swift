import EventsAPIServer
import Foundation
import Logging
import Synchronization
import Testing
@testable import SyncJobsCore

/// A clock whose sleeps return at once and are recorded, so retry tests take no real backoff time.
final class FakeRetryClock: RetryClock {
    private let state = Mutex<(now: Duration, sleeps: [Duration])>((.zero, []))

    func now() -> Duration { state.withLock { $0.now } }

    func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLock {
            $0.now += duration
            $0.sleeps.append(duration)
        }
        await Task.yield()
    }

    var sleeps: [Duration] { state.withLock { $0.sleeps } }
}

/// A clock that moves only when the test says so: sleepers wait until `advance(to:)` passes their
/// deadline, so concurrent requests see one shared, exact time.
final class ManualClock: RetryClock {
    private struct Sleeper {
        var deadline: Duration
        var continuation: CheckedContinuation<Void, Error>
    }

    private struct State {
        var now: Duration = .zero
        var nextID = 0
        var sleepers: [Int: Sleeper] = [:]
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    func now() -> Duration { state.withLock { $0.now } }

    func sleep(for duration: Duration) async throws {
        let id = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let outcome = state.withLock { s -> Result<Void, Error>? in
                    if s.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if duration <= .zero { return .success(()) }
                    s.sleepers[id] = Sleeper(deadline: s.now + duration, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = state.withLock { s -> Sleeper? in
                if let sleeper = s.sleepers.removeValue(forKey: id) { return sleeper }
                s.cancelled.insert(id)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time to `time` and wakes every sleeper whose deadline has come.
    func advance(to time: Duration) {
        let due = state.withLock { s -> [CheckedContinuation<Void, Error>] in
            s.now = max(s.now, time)
            let due = s.sleepers.filter { $0.value.deadline <= s.now }
            for id in due.keys { s.sleepers.removeValue(forKey: id) }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    /// The deadlines of the current sleepers, earliest first.
    var deadlines: [Duration] { state.withLock { $0.sleepers.values.map(\.deadline).sorted() } }

    /// Waits (in real time, for at most 30 s) until `condition` holds for the sleepers' deadlines.
    func waitFor(_ what: String, _ condition: ([Duration]) -> Bool) async throws {
        let limit = ContinuousClock.now + .seconds(30)
        while !condition(deadlines) {
            if ContinuousClock.now > limit {
                Issue.record("timed out waiting for \(what); sleepers: \(deadlines)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}

/// 2026-01-10T00:00:00Z: "now" for destinations and servers in these tests.
let testNow: Int64 = 1_768_003_200_000
/// 2026-01-01T00:00:00Z
let jan1: Int64 = 1_767_225_600_000

/// Runs `body` with a started loopback Events API server, and stops it afterwards.
func withEventsAPI<T>(_ configure: (inout EventsAPIServer.Configuration) -> Void = { _ in },
                      _ body: (EventsAPIServer) async throws -> T) async throws -> T {
    var configuration = EventsAPIServer.Configuration()
    configuration.now = { testNow }
    configure(&configuration)
    let server = EventsAPIServer(configuration)
    try await server.start()
    do {
        let result = try await body(server)
        try await server.stop()
        return result
    } catch {
        try? await server.stop()
        throw error
    }
}

extension TestWorkspace {
    /// `data/events.db` with `rows` events: id 1…rows, customer C00001…, one per second from
    /// `start`.
    func eventsDatabase(rows: Int, start: Int64 = jan1) throws {
        try sqlite("data/events.db", """
            CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id TEXT, event_name TEXT, at INTEGER);
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(rows))
            INSERT INTO events SELECT i, printf('C%05d', i), 'Viewed', \(start) + i * 1000 FROM n;
            """)
    }

    /// An event job from `data/events.db`, incremental on `id`, delivered to `server`.
    func mparticleJob(_ name: String = "mp", server: EventsAPIServer, maxInFlight: Int = 8, retryFor: String = "10s", timeout: String = "2s", extra: String = "",
                      destinationExtra: String = "") throws -> JobDefinition {
        try job(name, """
            name: \(name)
            type: event
            source: { sqlite: ../data/events.db, table: events }
            mapping:
              - { column: customer_id, to: user_identities.customer_id }
              - { column: event_name, to: events.data.event_name }
              - { column: at, to: events.data.timestamp_unixtime_ms }
              - { ignore: id }
            sync: { mode: incremental, iterator: id, iterator_type: integer }
            destination:
              type: mparticle
              url: \(server.baseURL)
              api_key: ${MP_TEST_KEY}
              api_secret: { file: ../secret.txt }
              environment: production
              max_in_flight: \(maxInFlight)
              retry_for: \(retryFor)
              timeout: \(timeout)\(destinationExtra)
            \(extra)
            """)
    }

    /// A destination for `job` with the test credentials, a fake clock and fixed randomness.
    func mparticle(_ job: JobDefinition, clock: any RetryClock = FakeRetryClock(), policy: RetryPolicy = RetryPolicy(),
                   key: String = "test-key", secret: String = "test-secret", random: Double = 0.5) throws -> MParticleDestination {
        MParticleDestination(spec: try mparticleSpec(job), credentials: MParticleCredentials(key: key, secret: secret),
                             logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                             clock: clock, policy: policy, random: { random }, wallClock: { testNow })
    }

    func checkpointValue(_ job: String) throws -> IteratorValue? { try state().checkpoint(job: job)?.lower }
}

extension EventsAPIServer {
    /// The customer ids of the accepted batches, deduplicated by `source_request_id` as mParticle
    /// does, sorted.
    var deliveredCustomers: [String] {
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
func mparticleSpec(_ job: JobDefinition) throws -> MParticleSpec {
    guard case .mparticle(let spec) = job.destination.kind else {
        Issue.record("job \(job.name) does not send to mParticle: \(job.destination.kind)")
        throw CancellationError()
    }
    return spec
}

/// Customer ids of rows in `range`, sorted as `deliveredCustomers` is.
func customers(_ range: ClosedRange<Int>) -> [String] { range.map { String(format: "C%05d", $0) }.sorted() }
