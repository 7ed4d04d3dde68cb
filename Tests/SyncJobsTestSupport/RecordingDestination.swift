import Foundation
import SyncJobsCore

/// A destination that records requests and can fail on a chosen request, to test what is kept.
package final class RecordingDestination: Destination, @unchecked Sendable {
    // @unchecked: the received requests are behind the lock.
    private let lock = NSLock()
    private var received: [PackedRequest] = []
    package let failOnRequest: Int?
    package let onSend: (@Sendable (Int) throws -> Void)?
    package let maxInFlight: Int
    package let packing: PackingLimits

    package init(failOnRequest: Int? = nil, maxInFlight: Int = 1, packing: PackingLimits = .eventsAPI,
                 onSend: (@Sendable (Int) throws -> Void)? = nil) {
        self.failOnRequest = failOnRequest
        self.maxInFlight = maxInFlight
        self.packing = packing
        self.onSend = onSend
    }

    package struct Failure: Error, CustomStringConvertible {
        package init() {}
        package var description: String { "the destination is down" }
    }

    package func send(_ request: PackedRequest) async throws -> DeliveryResult {
        try onSend?(request.sequence)
        if request.sequence == failOnRequest { throw Failure() }
        lock.withLock { received.append(request) }
        return .accepted
    }

    package func makeDurable() async throws {}
    package func close() async throws {}

    package var requests: [PackedRequest] { lock.withLock { received } }

    /// Every batch received, parsed.
    package var batches: [Value] {
        requests.flatMap { request in
            (0..<request.batchCount).compactMap { try? JSONParser.parse(String(decoding: request.batch($0), as: UTF8.self)) }
        }
    }
}
