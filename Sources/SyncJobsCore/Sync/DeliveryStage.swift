/// A request and what its destination said about it.
struct Completion: Sendable {
    var request: PackedRequest
    var delivery: DeliveryResult
}

/// The deliver stage: sealed requests go to the destination, at most `maxInFlight` at once, each
/// awaited. Used by runs and by `jobs retry` alike.
///
/// Requests run as child tasks of the caller's task group, so none outlives the run; completions
/// are handed back in the order they arrive, and the acknowledge stage keeps the checkpoint in
/// order whatever that order is.
struct DeliveryStage {
    /// Nil for a dry run: every request counts as accepted at once.
    let destination: (any Destination)?
    let maxInFlight: Int
    private(set) var inFlight = 0

    init(destination: (any Destination)?) {
        self.destination = destination
        maxInFlight = max(1, destination?.maxInFlight ?? 1)
    }

    /// Sends `request` once a slot is free; returns the completions that arrived while waiting
    /// (or, in a dry run, the request's own). A request that fails for good throws
    /// `UndeliveredRequest`.
    mutating func launch(_ request: PackedRequest, in group: inout ThrowingTaskGroup<Completion, any Error>) async throws -> [Completion] {
        guard let destination else { return [Completion(request: request, delivery: .accepted)] }
        var arrived: [Completion] = []
        while inFlight >= maxInFlight, let done = try await group.next() {
            inFlight -= 1
            arrived.append(done)
        }
        group.addTask {
            do {
                return Completion(request: request, delivery: try await destination.send(request))
            } catch {
                throw UndeliveredRequest(request: request, underlying: error)
            }
        }
        inFlight += 1
        return arrived
    }

    /// The next completion of a request in flight, or nil when none is left.
    mutating func next(in group: inout ThrowingTaskGroup<Completion, any Error>) async throws -> Completion? {
        guard let done = try await group.next() else { return nil }
        inFlight -= 1
        return done
    }

    /// After a failure: launches nothing more, but lets requests in flight finish, since an answer
    /// that arrives still moves the checkpoint. Each answer is a completion or the error of a
    /// request that failed too; nil when none is left.
    mutating func drain(_ group: inout ThrowingTaskGroup<Completion, any Error>) async -> Result<Completion, any Error>? {
        do {
            guard let done = try await group.next() else { return nil }
            inFlight -= 1
            return .success(done)
        } catch {
            inFlight -= 1
            return .failure(error)
        }
    }
}
