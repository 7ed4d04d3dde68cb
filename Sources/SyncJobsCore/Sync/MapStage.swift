/// The map stage: each source row becomes a batch, a rejected row, or a row skipped because it
/// was delivered before.
///
/// Mapping a row depends on nothing but the row and the job, so whole row batches are mapped on
/// their own tasks, two at a time, while the pipeline packs and delivers the one before: on two
/// cores that is most of the run's work done beside the rest.
struct MapStage: Sendable {
    let builder: BatchBuilder
    /// Whether the run is incremental, so rows need a ledger identity.
    let incremental: Bool
    let boundary: RunWindow.BoundaryRule
    let deliveredByRetry: Set<RowHash>
    let columns: [String]

    /// Maps every row of `batch`.
    func map(_ batch: RowBatch) -> MappedBatch {
        var mapped = MappedBatch(rows: batch.rows)
        mapped.outcomes.reserveCapacity(batch.count)
        var writer = JSONWriter(reservingCapacity: batch.count * 600)
        var facts = BatchFacts()
        for row in 0..<batch.count {
            mapped.outcomes.append(map(batch, row, into: &writer, facts: &facts, mapped: &mapped))
        }
        mapped.bytes = writer.bytes
        return mapped
    }

    @inline(__always)
    private func map(_ batch: RowBatch, _ row: Int, into writer: inout JSONWriter, facts: inout BatchFacts,
                     mapped: inout MappedBatch) -> MappedBatch.Outcome {
        let info = batch.rows[row]
        if let rejection = info.rejection { return .unreadable(reason: rejection.reason, row: rejection.row) }
        if builder.plan.extrasTarget == nil, info.extrasIndex >= 0 { mapped.noteUnsentKeys(batch.extras(ofRow: row)) }
        if info.notesIndex >= 0 { for note in batch.notes(ofRow: row) { mapped.sourceNotes[note, default: 0] += 1 } }
        let start = writer.bytes.count
        let rejection = builder.map(batch, row: row, into: &writer, facts: &facts)
        let hash = incremental ? facts.requestID ?? RowHash.of(values: batch.values(ofRow: row), extras: batch.extras(ofRow: row)) : nil
        if let value = info.iterator, let hash, Self.alreadyDelivered(value, hash, boundary) {
            writer.bytes.removeLast(writer.bytes.count - start)
            return .skipped(hash: hash, counts: false)
        }
        if let id = facts.requestID, deliveredByRetry.contains(id) {
            writer.bytes.removeLast(writer.bytes.count - start)
            return .skipped(hash: hash, counts: true)
        }
        if let rejection {
            return .rejected(reason: rejection, row: JSONWriter.compact(batch.object(ofRow: row, columns: columns)), hash: hash)
        }
        return .batch(start..<writer.bytes.count, eventTime: facts.eventTime, hash: hash)
    }

    @inline(__always)
    static func alreadyDelivered(_ value: IteratorValue, _ hash: RowHash, _ rule: RunWindow.BoundaryRule) -> Bool {
        switch rule {
        case .none, .sendAll: return false
        case .skipAll(let boundary): return value == boundary
        case .skipRemembered(let boundary, let hashes): return value == boundary && hashes.contains(hash)
        }
    }
}

/// A row batch after the map stage: what became of each row, and the batches' bytes one after
/// another.
struct MappedBatch: Sendable {
    enum Outcome: Sendable {
        /// The batch is `bytes[range]`; `hash` is how the checkpoint remembers the row.
        case batch(Range<Int>, eventTime: Int64?, hash: RowHash?)
        case rejected(reason: String, row: String, hash: RowHash?)
        /// Delivered by an earlier run (a tie at the checkpoint's value) or by `jobs retry`;
        /// `counts` says whether the checkpoint's ledger must learn it (retry) or knows it already.
        case skipped(hash: RowHash?, counts: Bool)
        /// The source could not read or place the row (malformed record, bad iterator).
        case unreadable(reason: String, row: String)
    }

    var rows: [RowBatch.Row]
    var outcomes: [Outcome] = []
    var bytes: [UInt8] = []
    /// Records with JSON keys outside the columns that no `$unmapped` entry sends, and the first
    /// few of those keys, for a note.
    var unsentKeyRecords = 0
    var unsentKeyNames: [String] = []
    /// What the source left out, by note, with how many rows had it.
    var sourceNotes: [String: Int] = [:]

    init(rows: [RowBatch.Row]) { self.rows = rows }

    mutating func noteUnsentKeys(_ extras: [Value.ObjectEntry]) {
        unsentKeyRecords += 1
        for extra in extras where unsentKeyNames.count < 5 && !unsentKeyNames.contains(extra.key) {
            unsentKeyNames.append(extra.key)
        }
    }
}
