import Synchronization

/// Reads an async stream a few batches ahead in a task of its own, so decoding the next rows
/// overlaps with what the engine does with the last ones (packing, writing), as
/// `ThreadedRowStream` does for the blocking readers. Memory stays bounded: at most `depth`
/// batches are read ahead, and the reader waits for a free one.
final class PrefetchingRowStream: RowStream, @unchecked Sendable {
    // @unchecked: the mutable fields are in `state`; `reader` is touched only by the task (and
    // by `close`, after the task has ended).
    private struct State {
        var filled: [RowBatch] = []
        var free: [RowBatch] = []
        var finished = false
        var failure: (any Error)?
        var stopping = false
        var consumer: CheckedContinuation<Void, Never>?
        var producer: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let reader: any RowStream
    private let columnCount: Int
    private let batchRows: Int
    private var task: Task<Void, Never>?
    private var closed = false

    init(_ reader: any RowStream, columnCount: Int, batchRows: Int, depth: Int = 4) {
        self.reader = reader
        self.columnCount = columnCount
        self.batchRows = batchRows
        state.withLock { state in
            for _ in 0..<depth { state.free.append(RowBatch(columnCount: columnCount, capacity: batchRows)) }
        }
    }

    private func produce() async {
        while true {
            // A free batch, or nil once the stream is closing.
            var next: RowBatch? = nil
            while next == nil {
                enum Step { case batch(RowBatch), stop, wait }
                let step = state.withLock { state -> Step in
                    if state.stopping { return .stop }
                    if let batch = state.free.popLast() { return .batch(batch) }
                    return .wait
                }
                switch step {
                case .batch(let batch): next = batch
                case .stop: return
                case .wait:
                    await withCheckedContinuation { continuation in
                        let resumeNow = state.withLock { state -> Bool in
                            if state.stopping || !state.free.isEmpty { return true }
                            state.producer = continuation
                            return false
                        }
                        if resumeNow { continuation.resume() }
                    }
                }
            }
            guard var batch = next else { return }
            let more: Bool
            do {
                more = try await reader.next(into: &batch)
            } catch {
                finish(failure: error)
                return
            }
            guard more else {
                finish(failure: nil)
                return
            }
            let consumer = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.filled.append(batch)
                defer { state.consumer = nil }
                return state.consumer
            }
            consumer?.resume()
        }
    }

    private func finish(failure: (any Error)?) {
        let consumer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.finished = true
            state.failure = failure
            defer { state.consumer = nil }
            return state.consumer
        }
        consumer?.resume()
    }

    func next(into batch: inout RowBatch) async throws -> Bool {
        if task == nil { task = Task { [self] in await produce() } }
        // The caller's batch has been used: it goes back to the reader to be filled again.
        if batch.capacity == batchRows, batch.columnCount == columnCount {
            batch.removeAll()
            let returned = batch
            let producer = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.free.append(returned)
                defer { state.producer = nil }
                return state.producer
            }
            producer?.resume()
        }
        while true {
            enum Step { case batch(RowBatch), end, failed(any Error), wait }
            let step = state.withLock { state -> Step in
                if !state.filled.isEmpty { return .batch(state.filled.removeFirst()) }
                if let failure = state.failure { return .failed(failure) }
                return state.finished ? .end : .wait
            }
            switch step {
            case .batch(let filled):
                batch = filled
                return true
            case .end:
                batch = RowBatch(columnCount: columnCount, capacity: 0)
                return false
            case .failed(let error):
                throw error
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if !state.filled.isEmpty || state.finished { return true }
                        state.consumer = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    func close() async {
        guard !closed else { return }
        closed = true
        let producer = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.stopping = true
            defer { state.producer = nil }
            return state.producer
        }
        producer?.resume()
        if let task {
            // A read in progress ends with its batch (bounded) or with the cancellation.
            task.cancel()
            await task.value
        }
        await reader.close()
    }
}
