import Foundation
import Synchronization

/// The source seam: rows arrive in batches, many per call, so an async, networked source
/// (PostgreSQL) pays for being async once per batch, not once per row.
///
/// A source that reads by blocking calls (SQLite steps, file reads) implements `BlockingRowReader`
/// instead and is run by `ThreadedRowStream` on a thread of its own, off the cooperative pool; the
/// engine maps one batch while the next is being read.
package protocol RowStream: AnyObject {
    /// Fills `batch` with the next rows (emptying it first); false when there are none left.
    func next(into batch: inout RowBatch) async throws -> Bool
    /// Ends the read, early or not; reading stops and resources are freed. Safe to call twice.
    func close() async
}

/// A reader that blocks while it reads.
protocol BlockingRowReader: AnyObject {
    /// Empties `batch` and fills it with up to its capacity of rows; false when there are none left.
    func read(into batch: inout RowBatch) throws -> Bool
}

/// Runs a blocking reader on its own thread, a few batches ahead of the engine.
///
/// The reader is handed to the thread and only the thread touches it until `close` has joined
/// it, which is why the `@unchecked Sendable` box below is safe. Memory stays bounded: at most
/// `depth` batches are read ahead.
final class ThreadedRowStream: RowStream, @unchecked Sendable {
    // @unchecked: every mutable field is inside `state`; `reader` is touched only by the thread.
    private struct State {
        var filled: [RowBatch] = []
        var free: [RowBatch] = []
        var finished = false
        var failure: (any Error)?
        var stopping = false
        var consumer: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    /// Counts free batches, so the thread waits (blocking its own thread only) when it is ahead.
    private let freeSlots: DispatchSemaphore
    private let done = DispatchSemaphore(value: 0)
    private var started = false
    private var closed = false
    private let reader: any BlockingRowReader
    private let columnCount: Int
    private let batchRows: Int

    init(_ reader: any BlockingRowReader, columnCount: Int, batchRows: Int = 2048, depth: Int = 4) {
        self.reader = reader
        self.columnCount = columnCount
        self.batchRows = batchRows
        // Created at zero and signalled: libdispatch refuses to free a semaphore whose count is
        // below the value it was created with, which a stream closed early would leave.
        freeSlots = DispatchSemaphore(value: 0)
        state.withLock { state in
            for _ in 0..<depth { state.free.append(RowBatch(columnCount: columnCount, capacity: batchRows)) }
        }
        for _ in 0..<depth { freeSlots.signal() }
    }

    private func start() {
        started = true
        let thread = Thread { [self] in produce() }
        thread.name = "syncjobs source reader"
        thread.start()
    }

    private func produce() {
        defer { done.signal() }
        while true {
            freeSlots.wait()
            guard var batch = state.withLock({ $0.stopping ? nil : $0.free.popLast() }) else { return }
            let more: Bool
            do {
                more = try reader.read(into: &batch)
            } catch {
                finish(failure: error)
                return
            }
            if !more {
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
        if !started { start() }
        // The caller's batch has been used: it goes back to the thread to be filled again.
        if batch.capacity == batchRows, batch.columnCount == columnCount {
            batch.removeAll()
            let returned = batch
            state.withLock { $0.free.append(returned) }
            freeSlots.signal()
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
        guard started else { return }
        state.withLock { $0.stopping = true }
        freeSlots.signal()
        // The thread finishes the batch it is reading (bounded), then ends; wait for it off the pool.
        let done = self.done
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread { done.wait(); continuation.resume() }.start()
        }
    }
}
