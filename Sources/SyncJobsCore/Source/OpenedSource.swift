/// A source opened for one run: its columns are known before any row is read.
package protocol OpenedSource: AnyObject {
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
    /// The rows of `window` (everything when nil), at most `limit` of them, as batches; a file
    /// pass continues at `resume` when it is still valid.
    func rows(_ window: ReadWindow?, resume: FileResume?, limit: Int?) throws -> any RowStream
    /// The file's fingerprint, for sources that resume by byte offset.
    var fingerprint: FileFingerprint? { get }
    /// Whether `resume` is still a valid place to continue, or why the pass must start again.
    func verifyResume(_ resume: FileResume) -> ResumeVerdict
    /// `resume` with what a later run needs to verify it; called before a resume point is stored.
    func sealResume(_ resume: FileResume) -> FileResume
    /// Notes for the user about the source as opened (an empty file).
    var notes: [String] { get }
    /// A Looker result's fields with their tags, for `mapping: looker`; nil for other sources.
    var lookerFields: [LookerField]? { get }
    func close()
}

extension OpenedSource {
    func verifyResume(_ resume: FileResume) -> ResumeVerdict { .restart("the source cannot resume") }
    func sealResume(_ resume: FileResume) -> FileResume { resume }
    var notes: [String] { [] }
    var lookerFields: [LookerField]? { nil }
}

/// A source that cannot be opened or read, with a message that says what to fix.
package struct SourceError: Error, CustomStringConvertible {
    package var message: String
    /// The job file key that is wrong (`source.table`), when the job itself names what is not
    /// there: the job is then invalid (exit code 2), and the diagnostic points at that key. Nil
    /// when the source fails for reasons of its own (a locked or unreadable database).
    package var jobKey: String?
    /// The source could not be reached at all (a server that does not answer, a connection URL
    /// variable that is not set): nothing was checked against it, so `jobs validate` warns rather
    /// than fails. A run fails.
    package var unreachable: Bool
    package init(_ message: String, jobKey: String? = nil, unreachable: Bool = false) {
        self.message = message
        self.jobKey = jobKey
        self.unreachable = unreachable
    }
    package var description: String { message }
}

package enum SourceOpener {
    /// Opens a job's source. A `SourceError` that blames the job file (a table or database that
    /// does not exist, a query that does not compile) is thrown as a `JobFileError` at the key
    /// it blames, so every command treats it like a missing column: an invalid job.
    package static func open(_ job: JobDefinition) throws -> any OpenedSource {
        do {
            switch job.source {
            case .sqlite(let path, let selection):
                return try SQLiteSource(path: path, selection: selection)
            case .postgres(let spec):
                return try PostgresSource(spec: spec, job: job)
            case .file(let path, let format):
                return try FileSource(path: path, format: format, namedColumns: job.namedColumns,
                                      columnGroups: job.fmeImpressions == nil ? [] : FMEImpressionFields.columnGroups)
            }
        } catch let error as SourceError {
            guard let key = error.jobKey else { throw error }
            throw JobFileError([Diagnostic(at: job.location(key), error.message)])
        }
    }
}
