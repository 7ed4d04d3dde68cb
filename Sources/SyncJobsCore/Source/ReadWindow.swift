/// Which rows an incremental run reads: iterator values from `lower` (inclusive) up to `upper`
/// (inclusive). Values above `ceiling` wait for a later run (time iterators: the run's start).
package struct ReadWindow: Sendable {
    package var column: String
    package var columnIndex: Int
    package var type: IteratorType
    package var lower: IteratorValue?
    package var upper: IteratorValue?
    package var ceiling: IteratorValue?
    /// Backfill and catch-up windows are half-open: `upper` itself belongs to the next window.
    package var upperExclusive = false
    /// Whether rows whose iterator is null or unreadable come back as rejected rows. Regular runs
    /// report them; a backfill window reads only rows that fall in it.
    package var includeUnreadable = true
}

/// Where an interrupted pass over an unordered file stopped.
package struct FileResume: Sendable, Equatable, Codable {
    /// The file when the interrupted run started.
    package var fingerprint: FileFingerprint
    package var offset: Int64
    package var rowNumber: Int
    /// Hash of the up to 64 KiB before `offset`, taken when the point was stored; nil in points
    /// stored by earlier versions, which are never resumed (see `FileFingerprint`).
    package var precedingHash: String?
}
