/// Streams records from a file holding one top-level JSON array of objects.
///
/// The array is never loaded whole: each element's extent is found by a scan that follows
/// strings, escapes and nesting across chunk boundaries, and only that slice is parsed. An
/// element that is valid JSON but not an object, or whose inside does not parse, is reported as
/// malformed and reading goes on. Broken structure (a missing comma, a mismatched bracket, a file
/// cut short) leaves no safe place to go on: the records before it are read, and the rest of the
/// file is one malformed record that says where the damage starts. Columns come from the first
/// object in the file, as for NDJSON.
package final class JSONArrayRecordReader: FileRecordReader {
    package let path: String
    package let columns: [String]

    private let elements: JSONArrayElementSource
    private var decoder: JSONRecordDecoder
    private let maximumRecordBytes: Int

    /// - Parameters:
    ///   - startOffset: resume point, a previous record's `endOffset` (just after an element).
    ///   - startNumber: records before `startOffset`; the next record is numbered one more.
    ///   - endOffset: bytes from this offset on are not read (the file size when the run started).
    ///   - maximumRecordBytes: longer elements are reported as malformed without being kept.
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
        let probe = try JSONArrayElementSource(path: path, startOffset: nil, startNumber: 0, endOffset: endOffset,
                                               maximumElementBytes: self.maximumRecordBytes)
        var columns: [String] = []
        while let element = try probe.nextElement() {
            guard element.oversizedPrefix == nil, element.damage == nil else { continue }
            if case .object(let entries)? = try? JSONParser.parse(element.bytes) {
                columns = entries.map(\.key)
                break
            }
        }
        // Fields a later record may hold although the first one does not (any spelling counts).
        for group in columnGroups where !group.contains(where: columns.contains) { columns.append(group[0]) }
        self.columns = columns
        self.decoder = JSONRecordDecoder(columns: columns)
        self.elements = try JSONArrayElementSource(path: path, startOffset: startOffset, startNumber: startNumber,
                                                   endOffset: endOffset, maximumElementBytes: self.maximumRecordBytes)
    }

    package func appendRecord(to batch: inout RowBatch) throws -> Bool {
        guard let element = try elements.nextElement() else { return false }
        if let damage = element.damage {
            batch.appendRejected(number: element.number, reason: damage.reason,
                                 row: damage.raw.withUnsafeBytes { RawText.make($0) }, endOffset: element.endOffset)
            return true
        }
        decoder.decode(element.bytes, oversizedPrefix: element.oversizedPrefix, number: element.number,
                       place: "record \(element.number)", startOffset: element.startOffset,
                       endOffset: element.endOffset, maximumRecordBytes: maximumRecordBytes, into: &batch)
        return true
    }
}
