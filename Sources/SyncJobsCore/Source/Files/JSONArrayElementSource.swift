/// Finds the elements of a top-level JSON array one at a time.
///
/// Broken structure (a missing comma, a mismatched bracket, a file cut short) leaves no safe
/// place to go on reading, so it ends the array: the elements before it come out as usual, then
/// one element with `damage` that stands for the rest of the file, then nil. Only a cut at the
/// run's `endOffset` in a file that has grown since throws: that file is still being written.
final class JSONArrayElementSource {
    struct Element {
        /// The element's text; valid until the next `nextElement()`. Empty when it was too long to keep.
        var bytes: UnsafeRawBufferPointer
        var number: Int
        var startOffset: Int64
        /// Offset just after the element's last byte (before any comma); for a damaged tail, the
        /// end of the last good element, where a resumed run reads the damage again.
        var endOffset: Int64
        /// The element's first bytes, set instead of `bytes` when it was longer than the limit.
        var oversizedPrefix: [UInt8]?
        /// Set for the damaged rest of the file: why it cannot be read, and its first bytes.
        var damage: (reason: String, raw: [UInt8])?
    }

    private enum Place {
        case beforeArray, beforeFirstElement, afterComma, afterElement, afterArray, damaged
    }

    /// Why reading stops: the problem and the byte it starts at; `cutShort` when the file ends
    /// where the array needs more.
    private struct Damage: Error {
        var problem: String
        var offset: Int64
        var cutShort: Bool
    }

    private let path: String
    private let chunks: FileChunkReader
    private let maximumElementBytes: Int
    private var place: Place
    /// Number of the last element returned.
    private var number: Int
    /// Where the last good element ended (or reading resumed), for a damaged tail's `endOffset`.
    private var lastEndOffset: Int64
    /// Bytes of the element last returned, consumed at the next call so its `bytes` stay valid.
    private var pendingConsume = 0
    /// The array is a value inside a larger document (a Looker result's `data`), so whatever
    /// follows its closing `]` belongs to that document and is not read.
    private let stopsAtArrayEnd: Bool
    /// "the JSON array" or "the 'data' array", and "record" or "row", for messages.
    private let arrayName: String
    private let elementName: String

    /// - Parameters:
    ///   - arrayOffset: where the array's `[` is, when it is not the whole file.
    ///   - stopsAtArrayEnd: stop at the closing `]` instead of requiring the file to end there.
    init(path: String, startOffset: Int64?, startNumber: Int, endOffset: Int64?, maximumElementBytes: Int,
         arrayOffset: Int64 = 0, stopsAtArrayEnd: Bool = false, arrayName: String = "the JSON array",
         elementName: String = "record") throws(FileSourceError) {
        self.path = path
        self.maximumElementBytes = maximumElementBytes
        self.number = startNumber
        self.stopsAtArrayEnd = stopsAtArrayEnd
        self.arrayName = arrayName
        self.elementName = elementName
        if let startOffset, startOffset > 0 {
            chunks = try FileChunkReader(path: path, startOffset: startOffset, endOffset: endOffset)
            place = .afterElement
            lastEndOffset = startOffset
        } else {
            chunks = try FileChunkReader(path: path, startOffset: arrayOffset, endOffset: endOffset)
            place = .beforeArray
            lastEndOffset = 0
            if arrayOffset == 0 { try chunks.skipByteOrderMark() }
        }
    }

    private func broken(_ problem: String, at offset: Int64) -> Damage {
        Damage(problem: problem, offset: offset, cutShort: false)
    }

    private func cutShort(_ problem: String, at offset: Int64) -> Damage {
        Damage(problem: problem, offset: offset, cutShort: true)
    }

    private static func describe(_ byte: UInt8) -> String { JSONValueScanner.describe(byte) }

    /// The next element, or nil after the closing `]` (or for an empty file, or after damage).
    func nextElement() throws(FileSourceError) -> Element? {
        chunks.consume(pendingConsume)
        pendingConsume = 0
        do {
            return try step()
        } catch let damage as Damage {
            return try damagedTail(damage)
        } catch let error as FileSourceError {
            throw error
        } catch {
            throw FileSourceError(path: path, message: "\(error)")
        }
    }

    /// The element that stands for the unreadable rest of the file.
    private func damagedTail(_ damage: Damage) throws(FileSourceError) -> Element {
        if damage.cutShort && chunks.stoppedInsideFile {
            throw FileSourceError(path: path, message: "\(arrayName) stops at byte \(chunks.offset + Int64(chunks.available)), where the file ended when the run started, and the file has grown since: it is still being written; run again once it is complete")
        }
        place = .damaged
        let reason = damage.cutShort
            ? "\(arrayName) is cut short: \(damage.problem)"
            : "\(arrayName) is broken: \(damage.problem); nothing from byte \(damage.offset) on is read"
        // Up to the raw-text limit of what comes from where the damage starts.
        let skip = Int(max(0, damage.offset - chunks.offset))
        try chunks.ensureAvailable(skip + FileRecordLimits.rawTextLimit + 4)
        let start = min(skip, chunks.available)
        let raw = RawText.prefix(chunks.buffer(from: start, to: chunks.available))
        return Element(bytes: UnsafeRawBufferPointer(start: nil, count: 0), number: number + 1, startOffset: damage.offset,
                       endOffset: lastEndOffset, oversizedPrefix: nil, damage: (reason, raw))
    }

    private func step() throws -> Element? {
        while true {
            let byte = try nextSignificantByte()
            let offset = chunks.offset
            switch place {
            case .damaged:
                return nil
            case .beforeArray:
                guard let byte else { return nil }
                guard byte == UInt8(ascii: "[") else {
                    throw FileSourceError(path: path, message: "expected '[' at byte \(offset), found \(Self.describe(byte)); a JSON source must hold one top-level array of objects (use NDJSON for one object per line)")
                }
                chunks.consume(1)
                place = .beforeFirstElement
            case .beforeFirstElement:
                guard let byte else { throw cutShort("the file ends at byte \(offset) before the array's closing ']'", at: offset) }
                if byte == UInt8(ascii: "]") {
                    chunks.consume(1)
                    place = .afterArray
                } else {
                    return try scanElement()
                }
            case .afterComma:
                guard let byte else { throw cutShort("the file ends at byte \(offset), after a ',' that follows \(elementName) \(number)", at: offset) }
                if byte == UInt8(ascii: "]") { throw broken("a ',' after \(elementName) \(number) is followed by ']' at byte \(offset)", at: offset) }
                return try scanElement()
            case .afterElement:
                guard let byte else {
                    throw cutShort("the file ends at byte \(offset) after \(elementName) \(number), without the array's closing ']'", at: offset)
                }
                if byte == UInt8(ascii: ",") {
                    chunks.consume(1)
                    place = .afterComma
                } else if byte == UInt8(ascii: "]") {
                    chunks.consume(1)
                    place = .afterArray
                } else {
                    throw broken("expected ',' or ']' after \(elementName) \(number) at byte \(offset), found \(Self.describe(byte))", at: offset)
                }
            case .afterArray:
                if stopsAtArrayEnd { return nil }
                guard let byte else { return nil }
                throw broken("unexpected \(Self.describe(byte)) at byte \(offset) after the array's closing ']'", at: offset)
            }
        }
    }

    /// Consumes whitespace and returns the next byte without consuming it; nil at end of file.
    private func nextSignificantByte() throws(FileSourceError) -> UInt8? {
        try JSONValueScanner.nextSignificantByte(chunks)
    }

    /// Finds the end of the element that starts at the window's first byte.
    private func scanElement() throws -> Element {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        let elementNumber = number + 1
        let startOffset = chunks.offset
        let first = chunks.bytes[0]
        switch first {
        case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ":"):
            throw broken("expected \(elementName) \(elementNumber) at byte \(startOffset), found \(Self.describe(first))", at: startOffset)
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
                            throw broken("\(elementName) \(elementNumber) has a mismatched \(Self.describe(byte)) at byte \(chunks.fileOffset(at: index))",
                                         at: max(startOffset, chunks.offset))
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
            throw cutShort("the file ends inside \(elementName) \(elementNumber), which starts at byte \(startOffset)",
                           at: max(startOffset, chunks.offset))
        }
    }

    private func finish(length: Int, number elementNumber: Int, startOffset: Int64, oversizedPrefix: [UInt8]?) -> Element {
        number = elementNumber
        place = .afterElement
        pendingConsume = length
        let bytes = oversizedPrefix == nil ? chunks.buffer(from: 0, to: length) : UnsafeRawBufferPointer(start: nil, count: 0)
        let endOffset = chunks.fileOffset(at: length)
        lastEndOffset = endOffset
        return Element(bytes: bytes, number: elementNumber, startOffset: startOffset,
                       endOffset: endOffset, oversizedPrefix: oversizedPrefix)
    }
}
