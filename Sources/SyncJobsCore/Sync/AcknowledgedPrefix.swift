/// Tracks which rows are finished, so the checkpoint only ever covers the prefix of rows whose
/// requests were all acknowledged.
///
/// Every row the run reads gets an ordinal. A rejected or skipped row is finished at once; a
/// mapped row is finished when the request holding it is acknowledged. Requests may complete in
/// any order; the prefix only moves past a request once every request before it is done too.
struct AcknowledgedPrefix {
    /// What the checkpoint needs to know about one row.
    struct Row {
        var ordinal: Int
        var number: Int
        var iterator: IteratorValue?
        var hash: RowHash?
        var endOffset: Int64?
        /// Whether the row changes the boundary (false for rows skipped as already delivered).
        var counts: Bool
    }

    private(set) var checkpoint: Checkpoint?
    private let sortedSource: Bool
    private var rows: [Row] = []
    private var head = 0
    /// First row ordinal of each sealed request not yet acknowledged, by request sequence.
    private var unacknowledged: [Int: Int] = [:]
    private(set) var lastOrdinal = 0
    /// Rows applied to `checkpoint` since it was last stored.
    private(set) var appliedSinceStore = 0
    private(set) var changedSinceStore = false

    init(checkpoint: Checkpoint?, sortedSource: Bool) {
        self.checkpoint = checkpoint
        self.sortedSource = sortedSource
    }

    var pendingCount: Int { rows.count - head }

    mutating func append(_ row: Row) {
        lastOrdinal = row.ordinal
        if checkpoint != nil { rows.append(row) }
    }

    mutating func sealed(_ request: PackedRequest) {
        unacknowledged[request.sequence] = request.firstRowOrdinal
    }

    mutating func acknowledged(_ request: PackedRequest) {
        unacknowledged[request.sequence] = nil
    }

    /// Applies every finished row up to the first row still waiting for an acknowledgement
    /// (in a sealed request or in the request being filled).
    mutating func advance(openRequestFirstOrdinal: Int?) {
        guard checkpoint != nil else { return }
        var limit = lastOrdinal
        if let oldest = unacknowledged.values.min() { limit = min(limit, oldest - 1) }
        if let open = openRequestFirstOrdinal { limit = min(limit, open - 1) }
        while head < rows.count, rows[head].ordinal <= limit {
            apply(rows[head])
            head += 1
        }
        if head > 4096, head * 2 > rows.count {
            rows.removeFirst(head)
            head = 0
        }
    }

    private mutating func apply(_ row: Row) {
        guard var c = checkpoint else { return }
        // Release the stored copy first so `c`'s boundary set is uniquely referenced and grows in
        // place; otherwise every row would copy the whole set.
        checkpoint = nil
        appliedSinceStore += 1
        changedSinceStore = true
        if sortedSource {
            if let value = row.iterator, row.counts {
                if c.lower == nil || c.lower! < value {
                    c.lower = value
                    c.boundary = Boundary()
                }
                if c.lower == value, let hash = row.hash { c.boundary.insert(hash) }
            }
        } else {
            if let offset = row.endOffset, let fingerprint = c.resume?.fingerprint {
                c.resume = FileResume(fingerprint: fingerprint, offset: offset, rowNumber: row.number)
            }
            if let value = row.iterator, row.counts {
                if c.resumeMax == nil || c.resumeMax! < value {
                    c.resumeMax = value
                    c.resumeBoundary = Boundary()
                }
                if c.resumeMax == value, let hash = row.hash { c.resumeBoundary.insert(hash) }
            }
        }
        checkpoint = c
    }

    mutating func markStored() {
        appliedSinceStore = 0
        changedSinceStore = false
    }

    /// Folds a finished file pass into the lower bound: the greatest value seen becomes the new
    /// lower bound with the rows delivered at it.
    mutating func completeFilePass() {
        guard var c = checkpoint, !sortedSource else { return }
        if let max = c.resumeMax {
            if c.lower == nil || c.lower! < max {
                c.lower = max
                c.boundary = c.resumeBoundary
            } else if c.lower == max {
                c.boundary.merge(c.resumeBoundary)
            }
        }
        c.resume = nil
        c.resumeMax = nil
        c.resumeBoundary = Boundary()
        checkpoint = c
        changedSinceStore = true
    }
}
