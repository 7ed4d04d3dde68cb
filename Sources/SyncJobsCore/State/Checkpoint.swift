/// Where an incremental job stands: the next run reads iterator values from `lower` up, skipping
/// the rows at exactly `lower` that `boundary` says were already delivered.
package struct Checkpoint: Sendable, Equatable {
    package var iterator: String
    package var iteratorType: IteratorType
    package var lower: IteratorValue?
    package var boundary: Boundary
    /// Set while a pass over an unordered file is unfinished: where it stopped, and the greatest
    /// iterator value (with its delivered rows) seen so far in that pass.
    package var resume: FileResume?
    package var resumeMax: IteratorValue?
    package var resumeBoundary: Boundary

    package init(iterator: String, iteratorType: IteratorType, lower: IteratorValue? = nil, boundary: Boundary = Boundary(),
                resume: FileResume? = nil, resumeMax: IteratorValue? = nil, resumeBoundary: Boundary = Boundary()) {
        self.iterator = iterator
        self.iteratorType = iteratorType
        self.lower = lower
        self.boundary = boundary
        self.resume = resume
        self.resumeMax = resumeMax
        self.resumeBoundary = resumeBoundary
    }

    /// The checkpoint a run that ignored `previous` (`--full-refresh`) may store: it never moves
    /// below `previous`, which the next run would otherwise re-send from. Nil when it is behind
    /// (keep `previous`); at the same value, the rows delivered there are merged.
    func notBehind(_ previous: Checkpoint) -> Checkpoint? {
        guard iterator == previous.iterator, iteratorType == previous.iteratorType, let previousLower = previous.lower
        else { return self }
        // An unfinished pass over a file is behind any finished one.
        guard resume == nil, let lower else { return nil }
        if previousLower < lower { return self }
        guard lower == previousLower else { return nil }
        var merged = self
        merged.boundary.merge(previous.boundary)
        return merged
    }

    /// "updated_at = 2026-01-01T00:00:00Z (3 rows at this value delivered)"
    package var display: String {
        guard let lower else { return "nothing delivered yet" }
        var text = "\(iterator) = \(iteratorType.display(lower)) (\(boundary.count) row\(boundary.count == 1 ? "" : "s") at this value delivered"
        if boundary.hashes == nil { text += "; too many to remember each" }
        text += ")"
        if let resume { text += "; file pass interrupted at byte \(resume.offset) (row \(resume.rowNumber))" }
        return text
    }
}

/// The rows delivered at one iterator value, remembered by content hash so rows that arrive later
/// with the same value are sent and the delivered ones are not sent again.
///
/// Bounded: past `cap` rows only the count is kept; the next run then compares counts and resends
/// the whole group if it changed (mParticle drops the duplicates by `source_request_id`).
package struct Boundary: Sendable, Equatable {
    package static let cap = 100_000

    package var count: Int
    /// nil once more than `cap` rows share the value.
    package var hashes: Set<RowHash>?

    package init(count: Int = 0, hashes: Set<RowHash>? = []) {
        self.count = count
        self.hashes = hashes
    }

    /// Records one more delivered row. While hashes are kept, a row already remembered (read
    /// again through `lookback`, or one with an equal id) is not counted twice.
    package mutating func insert(_ hash: RowHash) {
        guard hashes != nil else {
            count += 1
            return
        }
        if hashes?.insert(hash).inserted == true { count += 1 }
        if let size = hashes?.count, size > Boundary.cap { hashes = nil }
    }

    package func contains(_ hash: RowHash) -> Bool { hashes?.contains(hash) ?? false }

    package mutating func merge(_ other: Boundary) {
        guard let mine = hashes, let theirs = other.hashes else {
            hashes = nil
            count += other.count
            return
        }
        let union = mine.union(theirs)
        hashes = union.count > Boundary.cap ? nil : union
        count = union.count
    }

    /// Hashes as hex text, sorted, for storage.
    var encoded: String? {
        hashes.map { $0.sorted().map(\.description).joined() }
    }

    static func decode(count: Int, text: String?) -> Boundary {
        guard let text else { return Boundary(count: count, hashes: nil) }
        var set = Set<RowHash>()
        set.reserveCapacity(text.utf8.count / 32)
        var index = text.startIndex
        while let end = text.index(index, offsetBy: 32, limitedBy: text.endIndex), end > index {
            let chunk = text[index..<end]
            if let high = UInt64(chunk.prefix(16), radix: 16), let low = UInt64(chunk.suffix(16), radix: 16) {
                set.insert(RowHash(high: high, low: low))
            }
            index = end
        }
        return Boundary(count: count, hashes: set)
    }
}
