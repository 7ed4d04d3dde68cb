/// Which rows an incremental run reads: iterator values from `lower` (inclusive) up to `upper`
/// (inclusive). Values above `ceiling` wait for a later run (time iterators: the run's start).
public struct ReadWindow: Sendable {
    public var column: String
    public var columnIndex: Int
    public var type: IteratorType
    public var lower: IteratorValue?
    public var upper: IteratorValue?
    public var ceiling: IteratorValue?
    /// Backfill and catch-up windows are half-open: `upper` itself belongs to the next window.
    public var upperExclusive = false
    /// Whether rows whose iterator is null or unreadable come back as rejected rows. Regular runs
    /// report them; a backfill window reads only rows that fall in it.
    public var includeUnreadable = true
}

/// Where an interrupted pass over an unordered file stopped.
public struct FileResume: Sendable, Equatable, Codable {
    /// The file when the interrupted run started.
    public var fingerprint: FileFingerprint
    public var offset: Int64
    public var rowNumber: Int
    /// Hash of the up to 64 KiB before `offset`, taken when the point was stored; nil in points
    /// stored by earlier versions, which are never resumed (see `FileFingerprint`).
    public var precedingHash: String?
}
