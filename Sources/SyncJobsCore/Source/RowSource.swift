/// One row from a source, with what the engine needs to checkpoint past it.
public struct SourceRow: Sendable {
    /// 1-based position in the source (file record number, or position in the query result).
    public var number: Int
    public var values: [Value]
    /// JSON keys outside the columns (NDJSON and JSON sources only).
    public var extras: [Value.ObjectEntry]
    /// The normalized iterator value, in incremental runs.
    public var iterator: IteratorValue?
    /// Byte offset just past the row, for resuming an interrupted pass over a file.
    public var endOffset: Int64?
}

public enum SourceItem: Sendable {
    case row(SourceRow)
    /// A row that cannot be read or placed (malformed record, null or unparseable iterator).
    case rejected(number: Int, reason: String, row: Value, endOffset: Int64?)
}

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

/// A pull-based reader of rows; the engine calls `next` until nil.
public protocol RowReader: AnyObject {
    func next() throws -> SourceItem?
}

/// A source opened for one run: its columns are known before any row is read.
public protocol OpenedSource: AnyObject {
    var columns: [String] { get }
    /// JSON sources may carry keys beyond the columns.
    var acceptsExtraKeys: Bool { get }
    /// "table 'users' in examples/shop.db", for messages.
    var description: String { get }
    /// Whether rows come ordered by the iterator (SQLite), so a checkpoint can be a value.
    var deliversInIteratorOrder: Bool { get }

    /// The greatest iterator value in the window at run start, when the source can compute it
    /// before reading (SQLite). Files compute it while reading.
    func highWatermark(_ window: ReadWindow) throws -> IteratorValue?
    /// The statement or filter that reads `window`, for `jobs plan`.
    func readDescription(_ window: ReadWindow?) -> String
    /// How many rows a read of `window` returns (including rows rejected for their iterator).
    func countRows(_ window: ReadWindow?) throws -> Int
    /// How many rows hold exactly `value` as iterator.
    func countRows(at value: IteratorValue, window: ReadWindow) throws -> Int
    func makeReader(_ window: ReadWindow?, resume: FileResume?) throws -> any RowReader
    /// The file's fingerprint, for sources that resume by byte offset.
    var fingerprint: FileFingerprint? { get }
    func close()
}

/// A source that cannot be opened or read, with a message that says what to fix.
public struct SourceError: Error, CustomStringConvertible {
    public var message: String
    /// The job file key that is wrong (`source.table`), when the job itself names what is not
    /// there: the job is then invalid (exit code 2), and the diagnostic points at that key. Nil
    /// when the source fails for reasons of its own (a locked or unreadable database).
    public var jobKey: String?
    public init(_ message: String, jobKey: String? = nil) {
        self.message = message
        self.jobKey = jobKey
    }
    public var description: String { message }
}

public enum SourceOpener {
    /// Opens a job's source. A `SourceError` that blames the job file (a table or database that
    /// does not exist, a query that does not compile) is thrown as a `JobFileError` at the key
    /// it blames, so every command treats it like a missing column: an invalid job.
    public static func open(_ job: JobDefinition) throws -> any OpenedSource {
        do {
            switch job.source {
            case .sqlite(let path, let selection):
                return try SQLiteSource(path: path, selection: selection)
            case .file(let path, let format):
                return try FileSource(path: path, format: format, namedColumns: job.namedColumns)
            }
        } catch let error as SourceError {
            guard let key = error.jobKey else { throw error }
            throw JobFileError([Diagnostic(at: job.location(key), error.message)])
        }
    }
}

extension SourceRow {
    /// The row as a JSON object, for rejected-row records and previews.
    func asObject(columns: [String]) -> Value {
        var entries = zip(columns, values).map { Value.ObjectEntry($0, $1) }
        entries.append(contentsOf: extras)
        return .object(entries)
    }
}
