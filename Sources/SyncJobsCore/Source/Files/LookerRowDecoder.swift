/// Puts the rows of a Looker result's `data` into row batches: each row is an object of field
/// name to cell, and a column's cell is the `value` of its cell object.
///
/// The row is parsed straight into the batch (see `JSONRecordDecoder`); the other members of a
/// cell (`rendered`, `links`, …) are checked and dropped. A row is rejected as `JSONParser`
/// would judge it, first for broken JSON anywhere in it, then for its first cell in file order
/// that is not a readable Looker cell, then for a missing field.
struct LookerRowDecoder {
    let names: JSONColumnNames
    var columns: [String] { names.columns }
    /// Per column, the serial of the last row that had its key (see `JSONRecordDecoder`).
    private var keySeenIn: [Int]
    private var serial = 0
    private var otherKeys = SeenKeys()
    private var cellKeys = SeenKeys()

    init(columns: [String]) {
        names = JSONColumnNames(columns)
        keySeenIn = Array(repeating: 0, count: columns.count)
    }

    /// Appends one row of `data`: a row, or a rejected row that says where and why.
    mutating func decode(_ element: JSONArrayElementSource.Element, maximumRecordBytes: Int, into batch: inout RowBatch) {
        let number = element.number
        func malformed(_ reason: String) {
            let raw = element.oversizedPrefix.map { prefix in prefix.withUnsafeBytes { RawText.make($0) } } ?? RawText.make(element.bytes)
            batch.appendRejected(number: number, reason: reason, row: raw, endOffset: element.endOffset)
        }
        func invalid(_ error: JSONParseError) -> String {
            "row \(number) is not valid JSON: \(error.problem) at byte \(element.startOffset + Int64(error.offset))"
        }
        if let damage = element.damage {
            batch.appendRejected(number: number, reason: damage.reason, row: damage.raw.withUnsafeBytes { RawText.make($0) },
                                 endOffset: element.endOffset)
            return
        }
        if element.oversizedPrefix != nil {
            return malformed("row \(number) is longer than the \(maximumRecordBytes.byteSizeText) limit for one row")
        }
        var parser = JSONByteParser(element.bytes)
        parser.skipWhitespace()
        guard parser.index < parser.count, parser.bytes[parser.index] == UInt8(ascii: "{") else {
            do {
                let value = try JSONParser.parse(element.bytes)
                malformed("row \(number) is \(value.kindPhrase), not an object of cells")
            } catch {
                malformed(invalid(error))
            }
            return
        }
        let mark = batch.mark
        batch.startRowOfNulls(number: number, endOffset: element.endOffset)
        do {
            let problem = try readRow(&parser, number: number, into: &batch)
            try parser.expectEnd()
            if let problem {
                batch.rollBack(to: mark)
                malformed(problem)
            } else if let missing = keySeenIn.firstIndex(where: { $0 != serial }) {
                batch.rollBack(to: mark)
                malformed("row \(number) has no cell for field '\(columns[missing])'")
            }
        } catch {
            batch.rollBack(to: mark)
            malformed(invalid(error))
        }
    }

    /// Reads the row object at the parser's `{` into the row just started. Returns the first
    /// problem with a cell, reading on after it only to find broken JSON.
    private mutating func readRow(_ p: inout JSONByteParser, number: Int, into batch: inout RowBatch) throws(JSONParseError) -> String? {
        serial += 1
        otherKeys.reset()
        var problem: String?
        var guess = 0
        p.index += 1
        p.skipWhitespace()
        if p.index < p.count && p.bytes[p.index] == UInt8(ascii: "}") {
            p.index += 1
            return nil
        }
        while true {
            let key = try p.scanKey()
            let column = names.index(of: key.token, in: p, guess: guess)
            // An escaped key's text is gone after the next scan; keep it now for messages.
            var escapedName: String?
            if case .unescaped = key.token { escapedName = p.string(key.token) }
            if let column {
                if keySeenIn[column] == serial { throw p.duplicateKeyError(key) }
                keySeenIn[column] = serial
                guess = column + 1
            } else {
                let text = p.string(key.token)
                if !otherKeys.insert(text) { throw p.duplicateKeyError(key) }
                if problem == nil { problem = "row \(number) has a cell for '\(text)', which is not among the result's fields" }
            }
            try p.expectColon(after: key)
            if let column, problem == nil {
                if let cellProblem = try readCell(&p, column: column, into: &batch) {
                    problem = "row \(number): the cell of '\(escapedName ?? p.string(key.token))' \(cellProblem)"
                }
            } else {
                _ = try p.skipValue(depth: 1)
            }
            if try p.endOfMembers() { return problem }
        }
    }

    /// Reads a cell object's `value` into the column; otherwise says what is wrong with the cell.
    /// Anything but a `value` is reported rather than read as null, so no value is dropped silently.
    private mutating func readCell(_ p: inout JSONByteParser, column: Int, into batch: inout RowBatch) throws(JSONParseError) -> String? {
        guard p.index < p.count, p.bytes[p.index] == UInt8(ascii: "{") else {
            let cell = try p.parseValue(depth: 1)
            return "is \(cell.kindPhrase), not a Looker cell like {\"value\": …}"
        }
        // The cell object, as `parseObject(depth: 2)` reads it.
        cellKeys.reset()
        var found = false
        var allObjects = true
        p.index += 1
        p.skipWhitespace()
        if p.index < p.count && p.bytes[p.index] == UInt8(ascii: "}") {
            p.index += 1
            return "has no 'value'"
        }
        while true {
            let key = try p.scanKey()
            let name = p.string(key.token)
            if !cellKeys.insert(name) { throw p.duplicateKeyError(key) }
            try p.expectColon(after: key)
            if name == "value" {
                let cell = try p.cell(depth: 2, into: &batch)
                batch.setCell(cell, column: column)
                found = true
            } else if !(try p.skipValue(depth: 2)) {
                allObjects = false
            }
            if try p.endOfMembers() { break }
        }
        if found { return nil }
        if allObjects {
            let keys = cellKeys.keys.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            return "holds one cell per pivot value (\(keys)); pivoted results are not supported, remove the pivot in Looker"
        }
        return "has no 'value'"
    }
}
