/// A request body: the JSON array of batches exactly as it is POSTed, with where each batch sits
/// so a destination can split it (to find the batch a server refuses).
package struct PackedRequest: Sendable {
    /// Position of this request in the run, from 0.
    package var sequence: Int
    package var body: [UInt8]
    /// Byte ranges of the batches inside `body`.
    package var batchRanges: [Range<Int>]
    /// The source row number of each batch, for rejection records.
    package var rowNumbers: [Int]
    /// Each batch's event time (`timestamp_unixtime_ms`), when it has one: routes historical data.
    package var eventTimes: [Int64?] = []
    /// Engine bookkeeping: the run-wide ordinal of the first and last row in the request.
    package var firstRowOrdinal: Int
    package var lastRowOrdinal: Int

    package var batchCount: Int { batchRanges.count }

    package func batch(_ index: Int) -> ArraySlice<UInt8> { body[batchRanges[index]] }

    package func eventTime(_ index: Int) -> Int64? { index < eventTimes.count ? eventTimes[index] : nil }

    /// A request holding some of this one's batches (by index, in order): to split a request the
    /// server refuses, or to route batches to another endpoint. `sequence` and ordinals are kept.
    package func subset(_ indices: [Int]) -> PackedRequest {
        var body: [UInt8] = [UInt8(ascii: "[")]
        body.reserveCapacity(indices.reduce(2) { $0 + batchRanges[$1].count + 1 })
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(indices.count)
        for (n, index) in indices.enumerated() {
            if n > 0 { body.append(UInt8(ascii: ",")) }
            let start = body.count
            body.append(contentsOf: self.body[batchRanges[index]])
            ranges.append(start..<body.count)
        }
        body.append(UInt8(ascii: "]"))
        return PackedRequest(sequence: sequence, body: body, batchRanges: ranges, rowNumbers: indices.map { rowNumbers[$0] },
                             eventTimes: indices.map { eventTime($0) }, firstRowOrdinal: firstRowOrdinal, lastRowOrdinal: lastRowOrdinal)
    }
}

/// How much one request may hold; each destination says (`Destination.packing`).
package struct PackingLimits: Sendable, Equatable {
    package var maxBatches: Int
    package var maxBytes: Int

    package init(maxBatches: Int, maxBytes: Int) {
        self.maxBatches = maxBatches
        self.maxBytes = maxBytes
    }

    /// mParticle's Events API: at most 100 batches and 256 KB per request.
    package static let eventsAPI = PackingLimits(maxBatches: 100, maxBytes: 256 * 1024)
}

/// Packs batches into requests within a destination's limits (100 batches and 256 KB for
/// mParticle's Events API).
package struct RequestPacker: Sendable {
    package static let maxBatches = 100
    package static let maxBytes = 256 * 1024

    package let maxBatches: Int
    package let maxBytes: Int
    private var body: [UInt8] = []
    private var ranges: [Range<Int>] = []
    private var rowNumbers: [Int] = []
    private var eventTimes: [Int64?] = []
    private var firstOrdinal = 0
    private var lastOrdinal = 0
    private var nextSequence = 0

    package init(maxBatches: Int = RequestPacker.maxBatches, maxBytes: Int = RequestPacker.maxBytes) {
        self.maxBatches = maxBatches
        self.maxBytes = maxBytes
    }

    package init(_ limits: PackingLimits) {
        self.init(maxBatches: limits.maxBatches, maxBytes: limits.maxBytes)
    }

    package var isEmpty: Bool { ranges.isEmpty }
    package var count: Int { ranges.count }
    /// The ordinal of the oldest row waiting in the open request.
    package var firstPendingOrdinal: Int? { ranges.isEmpty ? nil : firstOrdinal }

    /// Whether `batch` fits in the open request. The size counts the brackets and commas.
    package func fits(_ batch: [UInt8]) -> Bool { fits(byteCount: batch.count) }

    /// Whether a batch of `byteCount` bytes fits in the open request.
    package func fits(byteCount: Int) -> Bool {
        if ranges.isEmpty { return true }
        return ranges.count < maxBatches && body.count + 1 + byteCount + 1 <= maxBytes
    }

    /// Adds a batch; the caller seals the open request first when `fits` says no.
    package mutating func add(_ batch: [UInt8], rowNumber: Int, ordinal: Int, eventTime: Int64? = nil) {
        batch.withUnsafeBytes { add($0, rowNumber: rowNumber, ordinal: ordinal, eventTime: eventTime) }
    }

    package mutating func add(_ batch: UnsafeRawBufferPointer, rowNumber: Int, ordinal: Int, eventTime: Int64? = nil) {
        if ranges.isEmpty {
            body.reserveCapacity(min(maxBytes, batch.count * maxBatches))
            body.append(UInt8(ascii: "["))
            firstOrdinal = ordinal
        } else {
            body.append(UInt8(ascii: ","))
        }
        let start = body.count
        body.append(contentsOf: batch)
        ranges.append(start..<body.count)
        rowNumbers.append(rowNumber)
        eventTimes.append(eventTime)
        lastOrdinal = ordinal
    }

    /// Closes the open request and returns it, or nil when it is empty.
    package mutating func seal() -> PackedRequest? {
        guard !ranges.isEmpty else { return nil }
        body.append(UInt8(ascii: "]"))
        let request = PackedRequest(sequence: nextSequence, body: body, batchRanges: ranges, rowNumbers: rowNumbers,
                                    eventTimes: eventTimes, firstRowOrdinal: firstOrdinal, lastRowOrdinal: lastOrdinal)
        nextSequence += 1
        body = []
        ranges = []
        rowNumbers = []
        eventTimes = []
        return request
    }
}
