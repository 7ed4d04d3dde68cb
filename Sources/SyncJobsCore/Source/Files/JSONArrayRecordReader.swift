/// Streams records from a file holding one top-level JSON array of objects.
///
/// The array is never loaded whole: each element's extent is found by a scan that follows
/// strings, escapes and nesting across chunk boundaries, and only that slice is parsed. An
/// element that is valid JSON but not an object, or whose inside does not parse, is reported as
/// malformed and reading goes on; broken structure between elements (a missing comma, an
/// unclosed bracket) leaves no safe place to resume, so it throws. Columns come from the first
/// object in the file, as for NDJSON.
public final class JSONArrayRecordReader: FileRecordReader {
    public let path: String
    public let columns: [String]

    private let elements: JSONArrayElementSource
    private let aligner: JSONColumnAligner
    private let maximumRecordBytes: Int

    /// - Parameters:
    ///   - startOffset: resume point, a previous record's `endOffset` (just after an element).
    ///   - startNumber: records before `startOffset`; the next record is numbered one more.
    ///   - endOffset: bytes from this offset on are not read (the file size when the run started).
    ///   - maximumRecordBytes: longer elements are reported as malformed without being kept.
    public init(
        path: String,
        startOffset: Int64? = nil,
        startNumber: Int = 0,
        endOffset: Int64? = nil,
        maximumRecordBytes: Int = FileRecordLimits.defaultMaximumRecordBytes
    ) throws {
        self.path = path
        self.maximumRecordBytes = max(maximumRecordBytes, 1)
        let probe = try JSONArrayElementSource(path: path, startOffset: nil, startNumber: 0, endOffset: endOffset,
                                               maximumElementBytes: self.maximumRecordBytes)
        var columns: [String] = []
        while let element = try probe.nextElement() {
            guard element.oversizedPrefix == nil else { continue }
            if case .object(let entries)? = try? JSONParser.parse(element.bytes) {
                columns = entries.map(\.key)
                break
            }
        }
        self.columns = columns
        self.aligner = JSONColumnAligner(columns: columns)
        self.elements = try JSONArrayElementSource(path: path, startOffset: startOffset, startNumber: startNumber,
                                                   endOffset: endOffset, maximumElementBytes: self.maximumRecordBytes)
    }

    public func next() throws -> FileRecordResult? {
        guard let element = try elements.nextElement() else { return nil }
        return aligner.decode(element.bytes, oversizedPrefix: element.oversizedPrefix, number: element.number,
                              place: "record \(element.number)", startOffset: element.startOffset,
                              endOffset: element.endOffset, maximumRecordBytes: maximumRecordBytes)
    }
}

/// Finds the elements of a top-level JSON array one at a time.
final class JSONArrayElementSource {
    struct Element {
        /// The element's text; valid until the next `nextElement()`. Empty when it was too long to keep.
        var bytes: UnsafeRawBufferPointer
        var number: Int
        var startOffset: Int64
        /// Offset just after the element's last byte (before any comma).
        var endOffset: Int64
        /// The element's first bytes, set instead of `bytes` when it was longer than the limit.
        var oversizedPrefix: [UInt8]?
    }

    private enum Place {
        case beforeArray, beforeFirstElement, afterComma, afterElement, afterArray
    }

    private let path: String
    private let chunks: FileChunkReader
    private let maximumElementBytes: Int
    private var place: Place
    /// Number of the last element returned.
    private var number: Int
    /// Bytes of the element last returned, consumed at the next call so its `bytes` stay valid.
    private var pendingConsume = 0
    /// The array is a value inside a larger document (a Looker result's `data`), so whatever
    /// follows its closing `]` belongs to that document and is not read.
    private let stopsAtArrayEnd: Bool

    /// - Parameters:
    ///   - arrayOffset: where the array's `[` is, when it is not the whole file.
    ///   - stopsAtArrayEnd: stop at the closing `]` instead of requiring the file to end there.
    init(path: String, startOffset: Int64?, startNumber: Int, endOffset: Int64?, maximumElementBytes: Int,
         arrayOffset: Int64 = 0, stopsAtArrayEnd: Bool = false) throws(FileSourceError) {
        self.path = path
        self.maximumElementBytes = maximumElementBytes
        self.number = startNumber
        self.stopsAtArrayEnd = stopsAtArrayEnd
        if let startOffset, startOffset > 0 {
            chunks = try FileChunkReader(path: path, startOffset: startOffset, endOffset: endOffset)
            place = .afterElement
        } else {
            chunks = try FileChunkReader(path: path, startOffset: arrayOffset, endOffset: endOffset)
            place = .beforeArray
            if arrayOffset == 0 { try chunks.skipByteOrderMark() }
        }
    }

    private func broken(_ message: String) -> FileSourceError {
        FileSourceError(path: path, message: "the JSON array is broken: \(message)")
    }

    private static func describe(_ byte: UInt8) -> String { JSONValueScanner.describe(byte) }

    /// The next element, or nil after the closing `]` (or for an empty file).
    func nextElement() throws(FileSourceError) -> Element? {
        chunks.consume(pendingConsume)
        pendingConsume = 0
        while true {
            let byte = try nextSignificantByte()
            let offset = chunks.offset
            switch place {
            case .beforeArray:
                guard let byte else { return nil }
                guard byte == UInt8(ascii: "[") else {
                    throw FileSourceError(path: path, message: "expected '[' at byte \(offset), found \(Self.describe(byte)); a JSON source must hold one top-level array of objects (use NDJSON for one object per line)")
                }
                chunks.consume(1)
                place = .beforeFirstElement
            case .beforeFirstElement:
                guard let byte else { throw broken("the file ends at byte \(offset) before the array's closing ']'") }
                if byte == UInt8(ascii: "]") {
                    chunks.consume(1)
                    place = .afterArray
                } else {
                    return try scanElement()
                }
            case .afterComma:
                guard let byte else { throw broken("the file ends at byte \(offset), after a ',' that follows record \(number)") }
                if byte == UInt8(ascii: "]") { throw broken("a ',' after record \(number) is followed by ']' at byte \(offset)") }
                return try scanElement()
            case .afterElement:
                guard let byte else {
                    throw broken("the file ends at byte \(offset) after record \(number), without the array's closing ']'")
                }
                if byte == UInt8(ascii: ",") {
                    chunks.consume(1)
                    place = .afterComma
                } else if byte == UInt8(ascii: "]") {
                    chunks.consume(1)
                    place = .afterArray
                } else {
                    throw broken("expected ',' or ']' after record \(number) at byte \(offset), found \(Self.describe(byte))")
                }
            case .afterArray:
                if stopsAtArrayEnd { return nil }
                guard let byte else { return nil }
                throw broken("unexpected \(Self.describe(byte)) at byte \(offset) after the array's closing ']'")
            }
        }
    }

    /// Consumes whitespace and returns the next byte without consuming it; nil at end of file.
    private func nextSignificantByte() throws(FileSourceError) -> UInt8? {
        try JSONValueScanner.nextSignificantByte(chunks)
    }

    /// Finds the end of the element that starts at the window's first byte.
    private func scanElement() throws(FileSourceError) -> Element {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        let elementNumber = number + 1
        let startOffset = chunks.offset
        let first = chunks.bytes[0]
        switch first {
        case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ":"):
            throw broken("expected record \(elementNumber) at byte \(startOffset), found \(Self.describe(first))")
        default: break
        }
        let isScalar = first != UInt8(ascii: "{") && first != UInt8(ascii: "[") && first != quote

        var index = 0
        var depth = 0
        /// Open brackets, to catch a '}' closing a '['; deeper than the parser allows is only counted.
        var openers: [UInt8] = []
        var inString = false
        var oversizedPrefix: [UInt8]? = nil
        var discardedBytes = 0

        while true {
            let bytes = chunks.bytes
            let limit = chunks.available
            var complete = false

            scan: while index < limit {
                if isScalar {
                    switch bytes[index] {
                    case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x0A, 0x0D, 0x09:
                        complete = true
                        break scan
                    default:
                        index += 1
                        continue
                    }
                }
                if inString {
                    while index < limit, bytes[index] != quote, bytes[index] != backslash { index += 1 }
                    guard index < limit else { break scan }
                    if bytes[index] == backslash {
                        // An escape needs its next byte in the window, so it is never split.
                        guard index + 1 < limit else { break scan }
                        index += 2
                        continue
                    }
                    inString = false
                    index += 1
                    if depth == 0 {
                        complete = true
                        break scan
                    }
                    continue
                }
                let byte = bytes[index]
                switch byte {
                case quote:
                    inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                    if openers.count <= JSONParser.maximumDepth { openers.append(byte) }
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth <= openers.count, let opener = openers.popLast() {
                        let matches = (opener == UInt8(ascii: "{")) == (byte == UInt8(ascii: "}"))
                        guard matches else {
                            throw broken("record \(elementNumber) has a mismatched \(Self.describe(byte)) at byte \(chunks.fileOffset(at: index))")
                        }
                    }
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        complete = true
                        break scan
                    }
                default:
                    break
                }
                index += 1
            }

            if complete { return finish(length: index, number: elementNumber, startOffset: startOffset, oversizedPrefix: oversizedPrefix) }

            if discardedBytes + index > maximumElementBytes {
                if oversizedPrefix == nil { oversizedPrefix = RawText.prefix(chunks.buffer(from: 0, to: index)) }
                chunks.consume(index)
                discardedBytes += index
                index = 0
            }
            if try chunks.readMore() { continue }
            if isScalar { return finish(length: index, number: elementNumber, startOffset: startOffset, oversizedPrefix: oversizedPrefix) }
            throw broken("the file ends inside record \(elementNumber), which starts at byte \(startOffset)")
        }
    }

    private func finish(length: Int, number elementNumber: Int, startOffset: Int64, oversizedPrefix: [UInt8]?) -> Element {
        number = elementNumber
        place = .afterElement
        pendingConsume = length
        let bytes = oversizedPrefix == nil ? chunks.buffer(from: 0, to: length) : UnsafeRawBufferPointer(start: nil, count: 0)
        return Element(bytes: bytes, number: elementNumber, startOffset: startOffset,
                       endOffset: chunks.fileOffset(at: length), oversizedPrefix: oversizedPrefix)
    }
}
