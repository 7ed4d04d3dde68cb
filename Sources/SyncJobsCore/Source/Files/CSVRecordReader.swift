/// Streams records from an RFC 4180 CSV (or TSV) file with a header row into row batches.
///
/// Every field is a text cell, its bytes copied from the read buffer: an unquoted empty field is
/// null, a quoted empty one (`""`) empty text, and nothing else is guessed, because the mapping
/// decides types. A field that is not valid UTF-8 makes its row malformed; nothing is repaired.
/// Differences from the strict RFC, chosen so real exports load: a lone CR also ends a record, a
/// quote inside an unquoted field is kept as a literal character, blank lines are skipped (so in
/// a one-column file an empty unquoted value reads as a blank line), and a UTF-8 byte order mark
/// at the start is ignored. When `endOffset` stops reading inside a file that has grown since, a
/// last record without its line break is taken to be still being written and is left for the
/// next run.
package final class CSVRecordReader: FileRecordReader {
    package let path: String
    package private(set) var columns: [String] = []

    private let delimiter: UInt8
    private let maximumRecordBytes: Int
    private let chunks: FileChunkReader
    private var recordNumber: Int
    /// Physical line where the next record starts; nil after resuming mid-file, where the lines
    /// before the resume point were never counted.
    private var line: Int?
    /// Fields of the record being scanned, as offsets from its first byte; reused between records.
    private var fieldSpans: [FieldSpan] = []
    private var unescapeBuffer: [UInt8] = []

    /// - Parameters:
    ///   - startOffset: resume point, a previous record's `endOffset`; the header is still read
    ///     from the start of the file.
    ///   - startNumber: records before `startOffset`; the next record is numbered one more.
    ///   - endOffset: bytes from this offset on are not read (the file size when the run started).
    ///   - maximumRecordBytes: longer records are reported as malformed without being kept.
    package init(
        path: String,
        delimiter: UInt8 = UInt8(ascii: ","),
        startOffset: Int64? = nil,
        startNumber: Int = 0,
        endOffset: Int64? = nil,
        maximumRecordBytes: Int = FileRecordLimits.defaultMaximumRecordBytes
    ) throws {
        guard delimiter != UInt8(ascii: "\""), delimiter != 0x0A, delimiter != 0x0D else {
            throw FileSourceError(path: path, message: "a CSV delimiter cannot be a quote or a line break")
        }
        self.path = path
        self.delimiter = delimiter
        self.maximumRecordBytes = max(maximumRecordBytes, 1)
        self.recordNumber = startNumber
        self.chunks = try FileChunkReader(path: path, startOffset: 0, endOffset: endOffset)
        self.line = 1
        try chunks.skipByteOrderMark()
        columns = try readHeader()
        if let startOffset, startOffset > chunks.offset {
            chunks.seek(to: startOffset)
            line = nil
        }
    }

    package func appendRecord(to batch: inout RowBatch) throws -> Bool {
        while true {
            guard let scanned = try scanRecord() else { return false }
            let startLine = line
            line = line.map { $0 + scanned.newlines }
            defer { chunks.consume(scanned.length) }
            if isBlank(scanned) { continue }

            recordNumber += 1
            let number = recordNumber
            let endOffset = chunks.fileOffset(at: scanned.length)
            func malformed(_ reason: String) {
                let raw = scanned.oversizedPrefix.map { prefix in prefix.withUnsafeBytes { RawText.make($0) } }
                    ?? RawText.make(chunks.buffer(from: 0, to: scanned.length))
                batch.appendRejected(number: number, reason: reason, row: raw, endOffset: endOffset)
            }

            if let problem = scanned.problem {
                malformed(problem.message(line: startLine))
                return true
            }
            if scanned.oversizedPrefix != nil {
                malformed("row \(number) is longer than the \(maximumRecordBytes.byteSizeText) limit for one record")
                return true
            }
            if scanned.fieldCount != columns.count {
                let fields = scanned.fieldCount == 1 ? "1 field" : "\(scanned.fieldCount) fields"
                malformed("row \(number) has \(fields), the header has \(columns.count)")
                return true
            }
            let mark = batch.mark
            batch.startRow(number: number, endOffset: endOffset)
            let spans = fieldSpans
            for index in spans.indices {
                guard let cell = cell(of: spans[index], checkingUTF8: !scanned.isASCII, in: &batch) else {
                    batch.rollBack(to: mark)
                    malformed("row \(number): field \(index + 1) (\"\(columns[index])\") is not valid UTF-8")
                    return true
                }
                batch.append(cell)
            }
            if batch.columnCount > spans.count {
                for _ in spans.count..<batch.columnCount { batch.appendNull() }
            }
            return true
        }
    }

    // MARK: - Header

    private func readHeader() throws -> [String] {
        func fail(_ message: String) -> FileSourceError { FileSourceError(path: path, message: message) }
        while true {
            guard let scanned = try scanRecord() else {
                throw fail("the file is empty; a CSV source needs a header row naming its columns")
            }
            let headerLine = line ?? 1
            line = line.map { $0 + scanned.newlines }
            defer { chunks.consume(scanned.length) }
            if isBlank(scanned) { continue }
            if let problem = scanned.problem {
                throw fail("the header row is malformed: \(problem.message(line: headerLine)); fix the header row")
            }
            if scanned.oversizedPrefix != nil {
                throw fail("the header row is longer than \(maximumRecordBytes.byteSizeText); check that this is a CSV file and that the delimiter is right")
            }
            var names: [String] = []
            var firstColumnByName: [String: Int] = [:]
            for (index, span) in fieldSpans.enumerated() {
                guard let name = text(of: span) else {
                    throw fail("the header row is not valid UTF-8; save the file as UTF-8")
                }
                guard !name.isEmpty else {
                    throw fail("column \(index + 1) of the header row has no name; every column needs a name")
                }
                if let first = firstColumnByName[name] {
                    throw fail("the header row names column \"\(name)\" more than once (columns \(first + 1) and \(index + 1)); column names must be unique")
                }
                firstColumnByName[name] = index
                names.append(name)
            }
            return names
        }
    }

    // MARK: - Scanning

    private struct FieldSpan {
        var start: Int
        var end: Int
        var quoted: Bool
        var hasEscapedQuotes: Bool
    }

    private enum Problem {
        case unterminatedQuote(line: Int, offset: Int64)
        case textAfterClosingQuote(field: Int)

        func message(line recordLine: Int?) -> String {
            switch self {
            case .unterminatedQuote(let lineInRecord, let offset):
                if let recordLine { return "unterminated quoted field starting on line \(recordLine + lineInRecord)" }
                return "unterminated quoted field starting at byte \(offset)"
            case .textAfterClosingQuote(let field):
                return "field \(field) has text after its closing quote; a quoted field must be quoted as a whole, with any quote inside it doubled"
            }
        }
    }

    private struct ScannedRecord {
        /// Bytes of the record (terminator included) still in the window.
        var length: Int
        var fieldCount: Int
        /// Line breaks inside the record, its terminator included.
        var newlines: Int
        var problem: Problem?
        /// Set instead of `fieldSpans` when the record was too long to keep.
        var oversizedPrefix: [UInt8]?
        /// Every byte is ASCII, so no field needs a UTF-8 check.
        var isASCII: Bool
    }

    private enum Phase {
        case fieldStart
        case unquoted(start: Int)
        case quoted(start: Int, hasEscapedQuotes: Bool)
        case afterClosingQuote
        case textAfterClosingQuote
        case carriageReturn
    }

    private func isBlank(_ scanned: ScannedRecord) -> Bool {
        guard scanned.fieldCount == 1, scanned.problem == nil, scanned.oversizedPrefix == nil,
              let only = fieldSpans.first else { return false }
        return !only.quoted && only.start == only.end
    }

    /// Finds the extent and fields of the next record at the start of the window, reading more
    /// of the file as needed; nil at the end of the file.
    private func scanRecord() throws(FileSourceError) -> ScannedRecord? {
        let quote = UInt8(ascii: "\"")
        let lineFeed: UInt8 = 0x0A
        let carriageReturn: UInt8 = 0x0D
        let delimiter = self.delimiter

        // Work on a local array: appending to the stored property would pay a dynamic
        // exclusivity check per field.
        var fieldSpans: [FieldSpan] = []
        swap(&fieldSpans, &self.fieldSpans)
        defer { swap(&fieldSpans, &self.fieldSpans) }
        fieldSpans.removeAll(keepingCapacity: true)
        /// Where the most recent quoted field opened, for the unterminated-quote message.
        var quoteStart: (linesBefore: Int, offset: Int64) = (0, 0)
        var fieldCount = 0
        var phase = Phase.fieldStart
        var position = 0
        var newlines = 0
        var problem: Problem? = nil
        var oversizedPrefix: [UInt8]? = nil
        var discardedBytes = 0
        /// Every field byte seen, OR-ed: below 0x80 the record is ASCII.
        var highBits: UInt8 = 0

        while true {
            let bytes = chunks.bytes
            let limit = chunks.available
            var complete = false

            scan: while true {
                switch phase {
                case .fieldStart:
                    guard position < limit else { break scan }
                    if bytes[position] == quote {
                        quoteStart = (newlines, chunks.fileOffset(at: position))
                        position += 1
                        phase = .quoted(start: position, hasEscapedQuotes: false)
                    } else {
                        phase = .unquoted(start: position)
                    }

                case .unquoted(let start):
                    var index = position
                    while index < limit {
                        let byte = bytes[index]
                        if byte == delimiter || byte == lineFeed || byte == carriageReturn { break }
                        highBits |= byte
                        index += 1
                    }
                    position = index
                    guard index < limit else { break scan }
                    fieldCount += 1
                    if oversizedPrefix == nil {
                        fieldSpans.append(FieldSpan(start: start, end: index, quoted: false, hasEscapedQuotes: false))
                    }
                    let separator = bytes[index]
                    position = index + 1
                    if separator == delimiter {
                        phase = .fieldStart
                    } else if separator == lineFeed {
                        newlines += 1
                        complete = true
                        break scan
                    } else {
                        phase = .carriageReturn
                    }

                case .quoted(let start, let hasEscapedQuotes):
                    var index = position
                    while index < limit {
                        let byte = bytes[index]
                        if byte == quote { break }
                        if byte == lineFeed { newlines += 1 }
                        highBits |= byte
                        index += 1
                    }
                    position = index
                    // The byte after a quote tells a closing quote from a doubled one.
                    guard index + 1 < limit else { break scan }
                    if bytes[index + 1] == quote {
                        position = index + 2
                        phase = .quoted(start: start, hasEscapedQuotes: true)
                    } else {
                        fieldCount += 1
                        if oversizedPrefix == nil {
                            fieldSpans.append(FieldSpan(start: start, end: index, quoted: true, hasEscapedQuotes: hasEscapedQuotes))
                        }
                        position = index + 1
                        phase = .afterClosingQuote
                    }

                case .afterClosingQuote:
                    guard position < limit else { break scan }
                    let byte = bytes[position]
                    if byte == delimiter {
                        position += 1
                        phase = .fieldStart
                    } else if byte == lineFeed {
                        position += 1
                        newlines += 1
                        complete = true
                        break scan
                    } else if byte == carriageReturn {
                        position += 1
                        phase = .carriageReturn
                    } else {
                        if problem == nil { problem = .textAfterClosingQuote(field: fieldCount) }
                        phase = .textAfterClosingQuote
                    }

                case .textAfterClosingQuote:
                    // Already malformed: only find where the field ends.
                    var index = position
                    while index < limit {
                        let byte = bytes[index]
                        if byte == delimiter || byte == lineFeed || byte == carriageReturn { break }
                        index += 1
                    }
                    position = index
                    guard index < limit else { break scan }
                    phase = .afterClosingQuote

                case .carriageReturn:
                    guard position < limit else { break scan }
                    if bytes[position] == lineFeed { position += 1 }
                    newlines += 1
                    complete = true
                    break scan
                }
            }

            if complete {
                return ScannedRecord(length: position, fieldCount: fieldCount, newlines: newlines,
                                     problem: problem, oversizedPrefix: oversizedPrefix, isASCII: highBits < 0x80)
            }

            // The record runs past the window. Past the size limit, keep only its first bytes
            // for the error and drop the rest as it is scanned.
            if discardedBytes + position > maximumRecordBytes {
                if oversizedPrefix == nil {
                    oversizedPrefix = RawText.prefix(chunks.buffer(from: 0, to: position))
                    fieldSpans.removeAll()
                }
                chunks.consume(position)
                discardedBytes += position
                position = 0
                switch phase {
                case .unquoted: phase = .unquoted(start: 0)
                case .quoted(_, let hasEscapedQuotes): phase = .quoted(start: 0, hasEscapedQuotes: hasEscapedQuotes)
                default: break
                }
            }
            if try chunks.readMore() { continue }

            // End of the file: a final record needs no line break. At `endOffset` inside a
            // growing file, an unfinished record is left for the next run.
            if chunks.stoppedInsideFile { return nil }
            switch phase {
            case .fieldStart:
                if fieldCount == 0 && position == 0 && discardedBytes == 0 { return nil }
                fieldCount += 1
                if oversizedPrefix == nil {
                    fieldSpans.append(FieldSpan(start: position, end: position, quoted: false, hasEscapedQuotes: false))
                }
            case .unquoted(let start):
                fieldCount += 1
                if oversizedPrefix == nil {
                    fieldSpans.append(FieldSpan(start: start, end: position, quoted: false, hasEscapedQuotes: false))
                }
            case .quoted(let start, let hasEscapedQuotes):
                if position < chunks.available {
                    // The last byte of the file is the closing quote.
                    fieldCount += 1
                    if oversizedPrefix == nil {
                        fieldSpans.append(FieldSpan(start: start, end: position, quoted: true, hasEscapedQuotes: hasEscapedQuotes))
                    }
                    position += 1
                } else {
                    problem = .unterminatedQuote(line: quoteStart.linesBefore, offset: quoteStart.offset)
                }
            case .afterClosingQuote, .textAfterClosingQuote, .carriageReturn:
                break
            }
            return ScannedRecord(length: position, fieldCount: fieldCount, newlines: newlines,
                                 problem: problem, oversizedPrefix: oversizedPrefix, isASCII: highBits < 0x80)
        }
    }

    /// The field's cell, its text stored in the batch; nil if it is not valid UTF-8.
    @inline(__always)
    private func cell(of span: FieldSpan, checkingUTF8: Bool, in batch: inout RowBatch) -> RowBatch.Cell? {
        if span.start == span.end {
            return span.quoted ? batch.storeText(validUTF8: UnsafeRawBufferPointer(start: nil, count: 0)) : .null
        }
        if !span.hasEscapedQuotes {
            let text = chunks.buffer(from: span.start, to: span.end)
            return !checkingUTF8 || UTF8Validation.isValid(text) ? batch.storeText(validUTF8: text) : nil
        }
        unescape(span)
        return unescapeBuffer.withUnsafeBytes { !checkingUTF8 || UTF8Validation.isValid($0) ? batch.storeText(validUTF8: $0) : nil }
    }

    /// The field's text (header names).
    private func text(of span: FieldSpan) -> String? {
        if !span.hasEscapedQuotes {
            return String(validatingUTF8Bytes: chunks.buffer(from: span.start, to: span.end))
        }
        unescape(span)
        return unescapeBuffer.withUnsafeBytes { String(validatingUTF8Bytes: $0) }
    }

    /// Copies a quoted field with doubled quotes into `unescapeBuffer`, keeping one of each pair.
    private func unescape(_ span: FieldSpan) {
        let bytes = chunks.bytes
        unescapeBuffer.removeAll(keepingCapacity: true)
        var index = span.start
        while index < span.end {
            let byte = bytes[index]
            unescapeBuffer.append(byte)
            // Inside a quoted field every quote is doubled; keep one of each pair.
            index += byte == UInt8(ascii: "\"") ? 2 : 1
        }
    }
}
