/// Lines JSON objects up with the columns taken from a file's first object.
struct JSONColumnAligner {
    let columns: [String]
    private let indexByName: [String: Int]

    init(columns: [String]) {
        self.columns = columns
        var indexByName: [String: Int] = [:]
        for (index, name) in columns.enumerated() { indexByName[name] = index }
        self.indexByName = indexByName
    }

    /// Values in column order (`.null` for a missing key) and the keys that are not columns.
    func align(_ entries: [Value.ObjectEntry]) -> (values: [Value], extras: [Value.ObjectEntry]) {
        var values = [Value](repeating: .null, count: columns.count)
        var extras: [Value.ObjectEntry] = []
        for (position, entry) in entries.enumerated() {
            // Most files repeat the first object's key order, so try the same position first.
            if position < columns.count, columns[position] == entry.key {
                values[position] = entry.value
            } else if let index = indexByName[entry.key] {
                values[index] = entry.value
            } else {
                extras.append(entry)
            }
        }
        return (values, extras)
    }

    /// The value as a noun phrase for "… is X, not an object" messages.
    static func describeKind(_ value: Value) -> String { value.kindPhrase }
}

extension UnsafeRawBufferPointer {
    /// True when the bytes are only JSON whitespace.
    var isJSONWhitespace: Bool {
        allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    }
}

extension JSONColumnAligner {
    /// Turns one JSON record's bytes into a record aligned to the columns, or a malformed result
    /// that says where and why. `place` names the record in messages ("line 7", "record 7").
    func decode(_ bytes: UnsafeRawBufferPointer, oversizedPrefix: [UInt8]?, number: Int, place: String,
                startOffset: Int64, endOffset: Int64, maximumRecordBytes: Int) -> FileRecordResult {
        func malformed(_ reason: String) -> FileRecordResult {
            let raw = oversizedPrefix.map { prefix in prefix.withUnsafeBytes { RawText.make($0) } } ?? RawText.make(bytes)
            return .malformed(number: number, endOffset: endOffset, reason: reason, raw: raw)
        }
        if oversizedPrefix != nil {
            return malformed("\(place) is longer than the \(maximumRecordBytes.byteSizeText) limit for one record")
        }
        let value: Value
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            return malformed("\(place) is not valid JSON: \(error.problem) at byte \(startOffset + Int64(error.offset))")
        }
        guard case .object(let entries) = value else {
            return malformed("\(place) is \(JSONColumnAligner.describeKind(value)), not a JSON object")
        }
        let (values, extras) = align(entries)
        return .record(FileRecord(number: number, values: values, extras: extras, endOffset: endOffset))
    }
}
