/// The map stage: one source row becomes a batch, a rejected row, or a row skipped because it
/// was delivered before.
struct MapStage {
    enum Outcome {
        /// The batch is in the writer; `hash` is how the checkpoint remembers the row.
        case batch(facts: BatchFacts, hash: RowHash?)
        case rejected(reason: String, hash: RowHash?)
        /// Delivered by an earlier run (a tie at the checkpoint's value) or by `jobs retry`;
        /// `counts` says whether the checkpoint's ledger must learn it (retry) or knows it already.
        case skipped(hash: RowHash?, counts: Bool)
    }

    let builder: BatchBuilder
    /// Whether the run is incremental, so rows need a ledger identity.
    let incremental: Bool
    let boundary: RunWindow.BoundaryRule
    let deliveredByRetry: Set<RowHash>
    /// One buffer for every batch of the run: mapping a row allocates nothing.
    var writer = JSONWriter(reservingCapacity: 1024)
    private var facts = BatchFacts()
    /// Keys of JSON records beyond the columns that no `$unmapped` entry sends, for a note.
    private(set) var unsentKeys: (records: Int, names: [String]) = (0, [])

    init(builder: BatchBuilder, incremental: Bool, boundary: RunWindow.BoundaryRule, deliveredByRetry: Set<RowHash>) {
        self.builder = builder
        self.incremental = incremental
        self.boundary = boundary
        self.deliveredByRetry = deliveredByRetry
    }

    mutating func map(_ batch: RowBatch, row: Int) -> Outcome {
        let info = batch.rows[row]
        if builder.plan.extrasTarget == nil, info.extrasIndex >= 0 { noteUnsentKeys(batch.extras(ofRow: row)) }
        let rejection = builder.map(batch, row: row, into: &writer, facts: &facts)
        let hash = incremental ? facts.requestID ?? RowHash.of(values: batch.values(ofRow: row), extras: batch.extras(ofRow: row)) : nil
        if let value = info.iterator, let hash, Self.alreadyDelivered(value, hash, boundary) {
            return .skipped(hash: hash, counts: false)
        }
        if let id = facts.requestID, deliveredByRetry.contains(id) {
            return .skipped(hash: hash, counts: true)
        }
        if let rejection { return .rejected(reason: rejection, hash: hash) }
        return .batch(facts: facts, hash: hash)
    }

    private mutating func noteUnsentKeys(_ extras: [Value.ObjectEntry]) {
        unsentKeys.records += 1
        for extra in extras where unsentKeys.names.count < 5 && !unsentKeys.names.contains(extra.key) {
            unsentKeys.names.append(extra.key)
        }
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
