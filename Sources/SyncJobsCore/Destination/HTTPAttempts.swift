import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import Synchronization

/// One HTTP destination's attempts at its requests: turns from the run's `LaunchGate`, retries
/// with `RetryPolicy` backoff within `retry_for`, and one stop for the whole run once a request
/// gives up or the credentials are refused. A destination says what each answer means; this
/// does the waiting, counting and giving up the same way for every destination.
final class HTTPAttempts: Sendable {
    /// What an answer means for the request.
    enum Verdict<T: Sendable>: Sendable {
        case done(T)
        /// Try again after `backoff` (zero when a `Retry-After` paused the gate instead).
        case retry(DeliveryProblem, backoff: Duration)
    }

    let clock: any SyncClock
    let policy: RetryPolicy
    let gate: LaunchGate
    let retryFor: Duration
    let timeout: Duration
    /// `host:port`, for connection errors.
    let endpoint: String
    private let random: @Sendable () -> Double
    private let logger: Logger
    private let stopSignal = DeliveryStopSignal()
    private let stopped = Mutex<(any Error)?>(nil)

    init(clock: any SyncClock, policy: RetryPolicy, retryFor: Duration, timeout: Duration, baseURL: String,
         random: @escaping @Sendable () -> Double, logger: Logger) {
        self.clock = clock
        self.policy = policy
        self.gate = LaunchGate(clock: clock, pacing: policy.pacing)
        self.retryFor = retryFor
        self.timeout = timeout
        self.random = random
        self.logger = logger
        if let url = URL(string: baseURL), let host = url.host {
            endpoint = "\(host):\(url.port ?? (url.scheme == "https" ? 443 : 80))"
        } else {
            endpoint = baseURL
        }
    }

    /// How long one connection attempt may take: the timeout, at most 10 s.
    var connectTimeout: Duration { min(.seconds(10), timeout) }

    func backoff(attempt: Int) -> Duration { policy.backoff(attempt: attempt, random: random()) }

    /// Stops the run: requests waiting or retrying give up with `error`.
    func stop(_ error: any Error) {
        stopped.withLock { if $0 == nil { $0 = error } }
        stopSignal.fire()
    }

    var stopError: (any Error)? { stopped.withLock { $0 } }

    /// Sends `http` until `answer` says it is done, throws (the run stops), or the retries run out
    /// (`giveUp` makes the error, and the run stops).
    func send<T: Sendable>(_ http: HTTPClientRequest, client: HTTPClient, result: inout DeliveryResult, metadata: Logger.Metadata,
                           giveUp: (DeliveryProblem, _ attempts: Int, _ elapsed: Duration) -> any Error,
                           answer: (HTTPClientResponse, ByteBuffer, _ attempt: Int) throws -> Verdict<T>) async throws -> T {
        var metadata = metadata
        // retry_for counts from the first attempt: waiting for a first turn is not retrying.
        var started: Duration?
        var attempt = 0
        while true {
            if let error = stopError { throw error }
            guard let turn = try await gate.waitTurn(stop: stopSignal) else { throw stopError ?? CancellationError() }
            if turn.waited { result.throttledWaits += 1 }
            result.throttledMillis += turn.throttledMillis
            if started == nil { started = clock.elapsed() }
            var problem: DeliveryProblem
            var backoff: Duration
            var answered = false
            do {
                let response = try await client.execute(http, deadline: .now() + .milliseconds(timeout.milliseconds), logger: logger)
                answered = true
                result.httpRequests += 1
                let body = try await response.body.collect(upTo: 64 * 1024)
                let verdict: Verdict<T>
                do {
                    verdict = try answer(response, body, attempt)
                } catch {
                    // An answer that stops the run (refused credentials, an unexpected status).
                    stop(error)
                    throw StopVerdict(error: error)
                }
                switch verdict {
                case .done(let value): return value
                case .retry(let why, let wait): (problem, backoff) = (why, wait)
                }
            } catch let verdict as StopVerdict {
                throw verdict.error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                problem = DeliveryProblem.describe(error, endpoint: endpoint, timeout: timeout, connectTimeout: connectTimeout)
                // A request that reached the server counts, even without an answer.
                if !answered && !problem.unreachable { result.httpRequests += 1 }
                backoff = self.backoff(attempt: attempt)
            }
            attempt += 1
            result.retries += 1
            let elapsed = clock.elapsed() - (started ?? .zero)
            let pending = max(backoff, gate.pauseRemaining())
            metadata["attempt"] = "\(attempt)"
            metadata["problem"] = "\(problem.text)"
            if RetryPolicy.wouldPass(retryFor: retryFor, elapsed: elapsed, pending: pending) {
                let error = giveUp(problem, attempt, elapsed)
                logger.error("Giving up on a request", metadata: metadata)
                stop(error)
                throw error
            }
            logger.notice("Retrying a request", metadata: metadata.merging(["delay_ms": "\(pending.milliseconds)"]) { $1 })
            if backoff > .zero { try await interruptibleSleep(backoff) }
        }
    }

    private struct StopVerdict: Error { var error: any Error }

    /// Sleeps, but wakes as soon as the run stops.
    private func interruptibleSleep(_ duration: Duration) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.clock.sleep(for: duration) }
            group.addTask { await self.stopSignal.wait() }
            _ = try await group.next()
            group.cancelAll()
        }
    }
}
