import Foundation

/// Rows from a CSV, TSV, NDJSON or JSON file or a Looker result, streamed record by record.
///
/// A run reads the file as it was when the run started: bytes appended later are left for the
/// next run. Files have no order, so incremental runs scan every record and keep those in the
/// window; an interrupted pass resumes from the byte offset of the last acknowledged row only when
/// the file is unchanged in every way `FileFingerprint` can tell.
final class FileSource: OpenedSource {
    let path: String
    let format: FileFormat
    let columns: [String]
    let columnGroups: [[String]]
    /// Read through `GzipInflater`: resume offsets count uncompressed bytes.
    let isGzip: Bool
    let description: String
    let snapshotSize: Int64
    let fingerprint: FileFingerprint?
    /// A Looker result's fields with their tags, for `mapping: looker`; nil for other formats.
    let lookerFields: [LookerField]?
    /// Set when an NDJSON or JSON file holds no records at all: a run sends nothing and says so.
    let emptyNote: String?
    var notes: [String] { emptyNote.map { [$0] } ?? [] }
    var acceptsExtraKeys: Bool { format == .ndjson || format == .json }
    var deliversInIteratorOrder: Bool { false }

    /// - Parameter namedColumns: the columns the job names; an NDJSON or JSON file with no object
    ///   records has no columns of its own (they come from the first object), so it is taken to
    ///   have these, and the mapping is checked once the file holds a record.
    /// - Parameter columnGroups: fields an NDJSON or JSON source has as columns although its first
    ///   record lacks them, each by any of its spellings (`mapping: fme_impressions`).
    init(path: String, format: FileFormat, namedColumns: [String] = [], columnGroups: [[String]] = []) throws {
        self.columnGroups = columnGroups
        self.path = path
        self.format = format
        let shown = Paths.display(path)
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SourceError("the source file '\(shown)' does not exist; check 'source.file' (paths are relative to the job file)",
                              jobKey: "source.file")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SourceError("the source '\(shown)' is not a regular file", jobKey: "source.file")
        }
        snapshotSize = Int64(info.st_size)
        isGzip = FileIdentity.startsWithGzipMagic(path: path)
        fingerprint = FileIdentity.fingerprint(path: path, info: info)
        switch format {
        case .looker: description = "Looker result \(shown)"
        case .mparticle: description = "file of mParticle batches \(shown)"
        default: description = "\(format.rawValue.uppercased()) file \(shown)"
        }
        let reader = try Self.recordReader(path: path, format: format, startOffset: nil, startNumber: 0, endOffset: Int64(info.st_size),
                                           columnGroups: columnGroups)
        lookerFields = (reader as? LookerRecordReader)?.fields
        if (format == .ndjson || format == .json) && (reader.columns.isEmpty || !columnGroups.isEmpty) {
            columns = reader.columns.isEmpty ? namedColumns : reader.columns
            var probe = RowBatch(columnCount: reader.columns.count, capacity: 1)
            emptyNote = try reader.appendRecord(to: &probe) ? nil : "\(shown) holds no records, so there is nothing to send"
        } else {
            columns = reader.columns
            emptyNote = nil
        }
    }

    static func recordReader(path: String, format: FileFormat, startOffset: Int64?, startNumber: Int,
                             endOffset: Int64, columnGroups: [[String]] = []) throws -> any FileRecordReader {
        do {
            switch format {
            case .csv:
                return try CSVRecordReader(path: path, delimiter: UInt8(ascii: ","), startOffset: startOffset, startNumber: startNumber, endOffset: endOffset)
            case .tsv:
                return try CSVRecordReader(path: path, delimiter: UInt8(ascii: "\t"), startOffset: startOffset, startNumber: startNumber, endOffset: endOffset)
            case .ndjson:
                return try NDJSONRecordReader(path: path, startOffset: startOffset, startNumber: startNumber, endOffset: endOffset,
                                              columnGroups: columnGroups)
            case .json:
                return try JSONArrayRecordReader(path: path, startOffset: startOffset, startNumber: startNumber, endOffset: endOffset,
                                                 columnGroups: columnGroups)
            case .mparticle:
                return try MParticleRecordReader(path: path, startOffset: startOffset, startNumber: startNumber, endOffset: endOffset)
            case .looker:
                return try LookerRecordReader(path: path, startOffset: startOffset, startNumber: startNumber, endOffset: endOffset)
            }
        } catch let error as SourceError {
            throw error
        } catch let error as FileSourceError {
            throw SourceError("cannot read '\(Paths.display(path))': \(error.message)")
        } catch {
            throw SourceError("cannot read '\(Paths.display(path))': \(error)")
        }
    }

    func highWatermark(_ window: ReadWindow) throws -> IteratorValue? { nil }

    func readDescription(_ window: ReadWindow?) -> String {
        let scan = "read the \(snapshotSize) bytes of \(Paths.display(path)) present at the start of the run"
        guard let window else { return scan + ", every record" }
        var conditions: [String] = []
        if let lower = window.lower { conditions.append("\(window.column) >= \(window.type.display(lower))") }
        if let upper = window.upper { conditions.append("\(window.column) \(window.upperExclusive ? "<" : "<=") \(window.type.display(upper))") }
        if let ceiling = window.ceiling { conditions.append("\(window.column) <= \(window.type.display(ceiling))") }
        let filter = conditions.isEmpty ? "every record with a valid \(window.column)" : "records where " + conditions.joined(separator: " and ")
        return scan + ", keeping \(filter) (\(window.column) read as \(window.type.rawValue))"
    }

    func countRows(_ window: ReadWindow?) throws -> Int {
        let reader = try makeReader(window, resume: nil, limit: nil)
        var batch = RowBatch(columnCount: columns.count)
        var count = 0
        while try reader.read(into: &batch) { count += batch.count }
        return count
    }

    func countRows(at value: IteratorValue, window: ReadWindow) throws -> Int {
        let reader = try makeReader(window, resume: nil, limit: nil)
        var batch = RowBatch(columnCount: columns.count)
        var count = 0
        while try reader.read(into: &batch) {
            count += batch.rows.lazy.filter { $0.rejection == nil && $0.iterator == value }.count
        }
        return count
    }

    func rows(_ window: ReadWindow?, resume: FileResume?, limit: Int?) throws -> any RowStream {
        ThreadedRowStream(try makeReader(window, resume: resume, limit: limit), columnCount: columns.count)
    }

    func makeReader(_ window: ReadWindow?, resume: FileResume?, limit: Int?) throws -> FileRowReader {
        var startOffset: Int64?
        var startNumber = 0
        if let resume, verifyResume(resume) == .resume {
            startOffset = resume.offset
            startNumber = resume.rowNumber
        }
        let records = try Self.recordReader(path: path, format: format, startOffset: startOffset, startNumber: startNumber,
                                            endOffset: snapshotSize, columnGroups: columnGroups)
        return FileRowReader(records: records, columns: columns, window: window, limit: limit)
    }

    func verifyResume(_ resume: FileResume) -> ResumeVerdict {
        guard let fingerprint else { return .restart("the file cannot be identified") }
        return FileIdentity.verify(resume, current: fingerprint, path: path, wholeFile: isGzip)
    }

    func sealResume(_ resume: FileResume) -> FileResume {
        var sealed = resume
        sealed.precedingHash = FileIdentity.precedingHash(path: path, offset: isGzip ? snapshotSize : resume.offset)
        return sealed
    }

    func close() {}
}

extension JobDefinition {
    /// Every column the job names: in its mapping, `key:` and `sync.iterator`, in that order.
    var namedColumns: [String] {
        var names: [String] = []
        for entry in mapping {
            switch entry.input {
            case .column(let name), .ignore(let name): names.append(name)
            case .staticValue, .unmapped: break
            }
        }
        names += key ?? []
        if let iterator = sync.iterator { names.append(iterator) }
        var seen: Set<String> = []
        return names.filter { seen.insert($0).inserted }
    }
}
