#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams records from a newline-delimited JSON file, one object per line, into row batches.
///
/// Columns are the keys of the first object in the file, in order, even when resuming, so a
/// resumed run maps values the same way as the run it continues. Later objects are lined up with
/// those columns; their other keys go to `extras`. Blank lines are skipped; a line that is not a
/// JSON object is reported as malformed and reading goes on with the next line. A last line cut
/// by `endOffset` in a file that has grown since is left for the next run.
package final class NDJSONRecordReader: FileRecordReader {
    package let path: String
    package let columns: [String]

    private let lines: LineSource
    private var decoder: JSONRecordDecoder
    private let maximumRecordBytes: Int
    private var recordNumber: Int
    /// Number of the last line read; nil after resuming mid-file, where lines were not counted.
    private var lineNumber: Int?

    /// - Parameters:
    ///   - startOffset: resume point, a previous record's `endOffset`.
    ///   - startNumber: records before `startOffset`; the next record is numbered one more.
    ///   - endOffset: bytes from this offset on are not read (the file size when the run started).
    ///   - maximumRecordBytes: longer lines are reported as malformed without being kept.
    package init(
        path: String,
        startOffset: Int64? = nil,
        startNumber: Int = 0,
        endOffset: Int64? = nil,
        maximumRecordBytes: Int = FileRecordLimits.defaultMaximumRecordBytes,
        columnGroups: [[String]] = []
    ) throws {
        self.path = path
        self.maximumRecordBytes = max(maximumRecordBytes, 1)
        let probe = try LineSource(path: path, startOffset: 0, endOffset: endOffset, maximumLineBytes: self.maximumRecordBytes)
        var columns: [String] = []
        while let line = try probe.nextLine() {
            guard line.oversizedPrefix == nil, !line.bytes.isJSONWhitespace else { continue }
            if case .object(let entries)? = try? JSONParser.parse(line.bytes) {
                columns = entries.map(\.key)
                break
            }
        }
        // Fields a later record may hold although the first one does not (any spelling counts).
        for group in columnGroups where !group.contains(where: columns.contains) { columns.append(group[0]) }
        self.columns = columns
        self.decoder = JSONRecordDecoder(columns: columns)
        let resumeOffset = startOffset ?? 0
        self.lines = try LineSource(path: path, startOffset: resumeOffset, endOffset: endOffset, maximumLineBytes: self.maximumRecordBytes)
        self.recordNumber = startNumber
        self.lineNumber = resumeOffset > 0 ? nil : 0
    }

    package func appendRecord(to batch: inout RowBatch) throws -> Bool {
        while let line = try lines.nextLine() {
            lineNumber = lineNumber.map { $0 + 1 }
            if line.oversizedPrefix == nil && line.bytes.isJSONWhitespace { continue }

            recordNumber += 1
            let lineNumber = self.lineNumber
            decoder.decode(line.bytes, oversizedPrefix: line.oversizedPrefix, number: recordNumber,
                           place: lineNumber.map { "line \($0)" } ?? "the line at byte \(line.startOffset)",
                           startOffset: line.startOffset, endOffset: line.endOffset,
                           maximumRecordBytes: maximumRecordBytes, into: &batch)
            return true
        }
        return false
    }
}

/// Yields a file's lines one at a time without holding more than the current line.
final class LineSource {
    struct Line {
        /// The line without its LF or CRLF; valid until the next `nextLine()`. Empty when the
        /// line was too long to keep.
        var bytes: UnsafeRawBufferPointer
        var startOffset: Int64
        /// Offset just after the line's terminator.
        var endOffset: Int64
        /// The line's first bytes, set instead of `bytes` when it was longer than the limit.
        var oversizedPrefix: [UInt8]?
    }

    private let chunks: FileChunkReader
    private let maximumLineBytes: Int
    /// Bytes of the line last returned, consumed at the next call so its `bytes` stay valid.
    private var pendingConsume = 0

    init(path: String, startOffset: Int64, endOffset: Int64?, maximumLineBytes: Int) throws(FileSourceError) {
        chunks = try FileChunkReader(path: path, startOffset: startOffset, endOffset: endOffset)
        self.maximumLineBytes = maximumLineBytes
        try chunks.skipByteOrderMark()
    }

    func nextLine() throws(FileSourceError) -> Line? {
        chunks.consume(pendingConsume)
        pendingConsume = 0
        let startOffset = chunks.offset
        var searched = 0
        var discardedBytes = 0
        var oversizedPrefix: [UInt8]? = nil

        while true {
            let available = chunks.available
            if searched < available, let found = memchr(chunks.bytes + searched, 0x0A, available - searched) {
                let newline = UnsafeRawPointer(found) - UnsafeRawPointer(chunks.bytes)
                pendingConsume = newline + 1
                return makeLine(contentEnd: newline, startOffset: startOffset, oversizedPrefix: oversizedPrefix)
            }
            searched = available
            if discardedBytes + searched > maximumLineBytes {
                if oversizedPrefix == nil { oversizedPrefix = RawText.prefix(chunks.buffer(from: 0, to: searched)) }
                chunks.consume(searched)
                discardedBytes += searched
                searched = 0
            }
            if try chunks.readMore() { continue }
            // The last line may lack a terminator, unless `endOffset` cut it in a growing file.
            let remaining = chunks.available
            if (remaining == 0 && discardedBytes == 0) || chunks.stoppedInsideFile { return nil }
            pendingConsume = remaining
            return makeLine(contentEnd: remaining, startOffset: startOffset, oversizedPrefix: oversizedPrefix)
        }
    }

    private func makeLine(contentEnd: Int, startOffset: Int64, oversizedPrefix: [UInt8]?) -> Line {
        var end = contentEnd
        if end > 0 && chunks.bytes[end - 1] == 0x0D { end -= 1 }
        let bytes = oversizedPrefix == nil ? chunks.buffer(from: 0, to: end) : UnsafeRawBufferPointer(start: nil, count: 0)
        return Line(bytes: bytes, startOffset: startOffset, endOffset: chunks.fileOffset(at: pendingConsume),
                    oversizedPrefix: oversizedPrefix)
    }
}
