/// One field of a Looker query result, as its `fields` section describes it.
package struct LookerField: Sendable, Hashable {
    /// Where the field is listed in `fields`. The Looker mParticle action visits measures, then
    /// dimensions, then table calculations, and that order decides which field wins a shared key.
    package enum Category: String, Sendable, CaseIterable {
        case measure, dimension
        case tableCalculation = "table calculation"

        /// The key of the list in `fields`.
        var listKey: String {
            switch self {
            case .measure: return "measures"
            case .dimension: return "dimensions"
            case .tableCalculation: return "table_calculations"
            }
        }
    }

    /// `<view>.<field>` for measures and dimensions; a bare name for table calculations.
    package var name: String
    package var category: Category
    /// The LookML `tags` exactly as Looker wrote them (usually strings; may be missing).
    package var tags: [Value]

    package init(name: String, category: Category, tags: [Value]) {
        self.name = name
        self.category = category
        self.tags = tags
    }
}

/// Streams the rows of a Looker `json_detail` query result (also `json_detail_lite_stream`).
///
/// The document is one object: metadata, `fields` (measures, dimensions and table calculations
/// with their tags), then `data`, an array of rows mapping a field name to a cell
/// `{value, rendered, links, …}`. Only the `fields` object is parsed whole; `data` is read one
/// row at a time by `JSONArrayElementSource`, so memory stays bounded whatever the result size;
/// a `data` array cut short or broken gives its rows up to the damage, then one malformed row.
/// Columns are the field names in the action's visit order (measures, dimensions, table
/// calculations) and a row's values are its cells' `value`s. Pivoted results are refused: their
/// cells hold one value per pivot column, which no single mParticle field can take.
package final class LookerRecordReader: FileRecordReader {
    package let path: String
    package let fields: [LookerField]
    package let columns: [String]

    private let elements: JSONArrayElementSource
    private var decoder: LookerRowDecoder
    private let maximumRecordBytes: Int

    /// - Parameters:
    ///   - startOffset: resume point, a previous record's `endOffset` (just after a row of `data`).
    ///   - startNumber: rows before `startOffset`; the next row is numbered one more.
    ///   - endOffset: bytes from this offset on are not read (the file size when the run started).
    package init(
        path: String,
        startOffset: Int64? = nil,
        startNumber: Int = 0,
        endOffset: Int64? = nil,
        maximumRecordBytes: Int = FileRecordLimits.defaultMaximumRecordBytes
    ) throws {
        self.path = path
        self.maximumRecordBytes = max(maximumRecordBytes, 1)
        let header = try LookerResultHeader.scan(path: path, endOffset: endOffset, maximumFieldsBytes: FileRecordLimits.defaultMaximumRecordBytes)
        fields = header.fields
        columns = header.fields.map(\.name)
        decoder = LookerRowDecoder(columns: columns)
        elements = try JSONArrayElementSource(path: path, startOffset: startOffset, startNumber: startNumber, endOffset: endOffset,
                                              maximumElementBytes: self.maximumRecordBytes, arrayOffset: header.dataOffset,
                                              stopsAtArrayEnd: true, arrayName: "the 'data' array", elementName: "row")
    }

    package func appendRecord(to batch: inout RowBatch) throws -> Bool {
        guard let element = try elements.nextElement() else { return false }
        decoder.decode(element, maximumRecordBytes: maximumRecordBytes, into: &batch)
        return true
    }
}

/// The part of a Looker result read before its rows: the fields, and where `data` starts.
struct LookerResultHeader {
    var fields: [LookerField]
    /// File offset of the `[` that opens `data`.
    var dataOffset: Int64

    /// Reads the top-level object member by member: `fields` is parsed (it is small), every other
    /// member is skipped without being kept, and `data` is only located. Looker writes `fields`
    /// first; when `data` comes first it is skipped over to find `fields`, then read from its start.
    static func scan(path: String, endOffset: Int64?, maximumFieldsBytes: Int) throws -> LookerResultHeader {
        let chunks = try FileChunkReader(path: path, startOffset: 0, endOffset: endOffset)
        try chunks.skipByteOrderMark()
        func fail(_ message: String) -> FileSourceError {
            FileSourceError(path: path, message: message)
        }
        let notLooker = "a Looker source must be a json_detail query result: one object with 'fields' and 'data'"
        guard let first = try JSONValueScanner.nextSignificantByte(chunks) else { throw fail("the file is empty; \(notLooker)") }
        guard first == UInt8(ascii: "{") else {
            throw fail("expected '{' at byte \(chunks.offset), found \(JSONValueScanner.describe(first)); \(notLooker)")
        }
        chunks.consume(1)
        var fieldsValue: Value?
        var dataOffset: Int64?
        var expectMember = false
        members: while true {
            guard let byte = try JSONValueScanner.nextSignificantByte(chunks) else {
                throw fail("the file ends at byte \(chunks.offset) inside the result object")
            }
            if byte == UInt8(ascii: "}"), !expectMember { break }
            guard byte == UInt8(ascii: "\"") else {
                throw fail("expected a key at byte \(chunks.offset), found \(JSONValueScanner.describe(byte))")
            }
            let keyOffset = chunks.offset
            let keyLength = try JSONValueScanner.scan(chunks, keepLimit: 1 << 16, path: path)
            guard let keyLength, case .string(let key)? = try? JSONParser.parse(chunks.buffer(from: 0, to: keyLength)) else {
                throw fail("the key at byte \(keyOffset) is not a valid JSON string")
            }
            chunks.consume(keyLength)
            guard try JSONValueScanner.nextSignificantByte(chunks) == UInt8(ascii: ":") else {
                throw fail("expected ':' after the key '\(key)' at byte \(chunks.offset)")
            }
            chunks.consume(1)
            guard let valueStart = try JSONValueScanner.nextSignificantByte(chunks) else {
                throw fail("the file ends at byte \(chunks.offset) before the value of '\(key)'")
            }
            switch key {
            case "fields":
                let start = chunks.offset
                guard let length = try JSONValueScanner.scan(chunks, keepLimit: maximumFieldsBytes, path: path) else {
                    throw fail("the 'fields' object at byte \(start) is longer than \(maximumFieldsBytes.byteSizeText)")
                }
                do {
                    fieldsValue = try JSONParser.parse(chunks.buffer(from: 0, to: length))
                } catch {
                    throw fail("the 'fields' object is not valid JSON: \(error.problem) at byte \(start + Int64(error.offset))")
                }
                chunks.consume(length)
            case "data":
                guard valueStart == UInt8(ascii: "[") else {
                    throw fail("'data' at byte \(chunks.offset) is not an array of rows (found \(JSONValueScanner.describe(valueStart)))")
                }
                dataOffset = chunks.offset
                if fieldsValue != nil { break members }
                if let length = try JSONValueScanner.scan(chunks, keepLimit: 0, path: path) { chunks.consume(length) }
            default:
                if let length = try JSONValueScanner.scan(chunks, keepLimit: 0, path: path) { chunks.consume(length) }
            }
            guard let separator = try JSONValueScanner.nextSignificantByte(chunks) else {
                throw fail("the file ends at byte \(chunks.offset) inside the result object")
            }
            if separator == UInt8(ascii: "}") { break }
            guard separator == UInt8(ascii: ",") else {
                throw fail("expected ',' or '}' after the value of '\(key)' at byte \(chunks.offset), found \(JSONValueScanner.describe(separator))")
            }
            chunks.consume(1)
            expectMember = true
        }
        guard let fieldsValue else {
            throw fail("the result has no 'fields'; \(notLooker) (in Looker, download or schedule the query as JSON detail)")
        }
        guard let dataOffset else {
            throw fail("the result has no 'data' array of rows; \(notLooker)")
        }
        return LookerResultHeader(fields: try fields(of: fieldsValue, path: path), dataOffset: dataOffset)
    }

    /// The fields in the action's visit order; a pivoted result is refused here, before any row.
    static func fields(of value: Value, path: String) throws -> [LookerField] {
        func fail(_ message: String) -> FileSourceError { FileSourceError(path: path, message: message) }
        guard case .object = value else { throw fail("'fields' is \(value.kindPhrase), not an object") }
        if case .array(let pivots)? = value["pivots"], !pivots.isEmpty {
            let names = pivots.map { $0["name"].flatMap { if case .string(let s) = $0 { return s } else { return nil } } ?? "?" }
            throw SourceError("the Looker result \(Paths.display(path)) is pivoted on \(names.map { "'\($0)'" }.joined(separator: ", ")): each row holds one cell per pivot value, which no single mParticle field can take; remove the pivot in Looker and export the query again")
        }
        var fields: [LookerField] = []
        var seen: Set<String> = []
        for category in LookerField.Category.allCases {
            let list: [Value]
            switch value[category.listKey] {
            case nil, .null?: list = []
            case .array(let items)?: list = items
            case let other?: throw fail("'fields.\(category.listKey)' is \(other.kindPhrase), not a list")
            }
            for (position, item) in list.enumerated() {
                guard case .string(let name)? = item["name"], !name.isEmpty else {
                    throw fail("'fields.\(category.listKey)' entry \(position + 1) has no 'name'")
                }
                guard seen.insert(name).inserted else {
                    throw fail("the field '\(name)' is listed twice in 'fields'")
                }
                let tags: [Value]
                switch item["tags"] {
                case .array(let list)?: tags = list
                default: tags = []
                }
                fields.append(LookerField(name: name, category: category, tags: tags))
            }
        }
        return fields
    }
}

/// Finds the extent of JSON values in a `FileChunkReader` window without parsing them.
enum JSONValueScanner {
    static func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    /// Consumes whitespace and returns the next byte without consuming it; nil at end of file.
    static func nextSignificantByte(_ chunks: FileChunkReader) throws(FileSourceError) -> UInt8? {
        while true {
            let bytes = chunks.bytes
            let limit = chunks.available
            var index = 0
            while index < limit {
                switch bytes[index] {
                case 0x20, 0x0A, 0x0D, 0x09: index += 1
                default:
                    chunks.consume(index)
                    return chunks.bytes[0]
                }
            }
            chunks.consume(index)
            if !(try chunks.readMore()) { return nil }
        }
    }

    /// Scans the value starting at the window's first byte, following strings, escapes and
    /// nesting across chunk boundaries. Returns its length in the window (the caller consumes
    /// it), or nil when it grew past `keepLimit`: then it was consumed while scanning, so a
    /// skipped value of any size costs one chunk of memory.
    static func scan(_ chunks: FileChunkReader, keepLimit: Int, path: String) throws(FileSourceError) -> Int? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        let startOffset = chunks.offset
        let first = chunks.bytes[0]
        let isScalar = first != UInt8(ascii: "{") && first != UInt8(ascii: "[") && first != quote
        var index = 0
        var depth = 0
        var inString = false
        var discarded = false
        while true {
            let bytes = chunks.bytes
            let limit = chunks.available
            scan: while index < limit {
                if isScalar {
                    switch bytes[index] {
                    case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x0A, 0x0D, 0x09:
                        return discarded ? consumed(chunks, index) : index
                    default:
                        index += 1
                        continue
                    }
                }
                if inString {
                    while index < limit, bytes[index] != quote, bytes[index] != backslash { index += 1 }
                    guard index < limit else { break scan }
                    if bytes[index] == backslash {
                        guard index + 1 < limit else { break scan }
                        index += 2
                        continue
                    }
                    inString = false
                    index += 1
                    if depth == 0 { return discarded ? consumed(chunks, index) : index }
                    continue
                }
                switch bytes[index] {
                case quote: inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return discarded ? consumed(chunks, index) : index
                    }
                default: break
                }
                index += 1
            }
            if index > keepLimit {
                // Too long to keep: drop what was scanned (an escape cut by the window's end
                // was not scanned yet, so it stays).
                chunks.consume(index)
                index = 0
                discarded = true
            }
            if try chunks.readMore() { continue }
            if isScalar { return discarded ? consumed(chunks, index) : index }
            throw FileSourceError(path: path, message: "the file ends inside the value that starts at byte \(startOffset)")
        }
    }

    private static func consumed(_ chunks: FileChunkReader, _ length: Int) -> Int? {
        chunks.consume(length)
        return nil
    }
}
