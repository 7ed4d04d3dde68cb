/// Many rows read from a source at once, as the engine's row representation.
///
/// Every cell is a small typed value; text is a slice of one byte buffer shared by the whole
/// batch. The buffers are kept between batches (`removeAll` keeps their capacity), so reading a
/// row allocates nothing and the mapping writes JSON straight from the source's bytes: no
/// `String` per cell, no array per row. Text in the buffer is always valid UTF-8 (sources repair
/// what is not, as `String(decoding:)` would), so it can be copied into JSON as it is.
package struct RowBatch: Sendable {
    /// One cell. Sixteen bytes: a kind, and an integer, a double's bits, or where text lies.
    package struct Cell: Sendable, Equatable {
        package enum Kind: UInt8, Sendable {
            case null, bool, int, double
            /// UTF-8 text in the batch's bytes.
            case text
            /// A JSON number literal (in the bytes) that neither Int64 nor a double holds exactly.
            case number
            /// A list or object (JSON sources), kept as a `Value` beside the cells.
            case value
        }

        package var kind: Kind
        /// Length of text or a literal in bytes.
        var length: UInt32
        /// The integer, the double's bit pattern, the offset of text, or the index of a value.
        var payload: UInt64

        package static let null = Cell(kind: .null, length: 0, payload: 0)
        static func bool(_ b: Bool) -> Cell { Cell(kind: .bool, length: 0, payload: b ? 1 : 0) }
        static func int(_ i: Int64) -> Cell { Cell(kind: .int, length: 0, payload: UInt64(bitPattern: i)) }
        static func double(_ d: Double) -> Cell { Cell(kind: .double, length: 0, payload: d.bitPattern) }

        var boolValue: Bool { payload != 0 }
        var intValue: Int64 { Int64(bitPattern: payload) }
        var doubleValue: Double { Double(bitPattern: payload) }
        var textRange: Range<Int> { Int(payload)..<(Int(payload) + Int(length)) }
    }

    /// What the engine needs about a row besides its cells.
    package struct Row: Sendable {
        /// 1-based position in the source (file record number, or position in the query result).
        package var number: Int
        /// Byte offset just past the row, for resuming an interrupted pass over a file.
        package var endOffset: Int64?
        /// The normalized iterator value, in incremental runs.
        package var iterator: IteratorValue?
        /// Set when the row cannot be read or placed (malformed record, bad iterator): the reason,
        /// and the row as text for the rejected-row record. Its cells are then all null.
        package var rejection: (reason: String, row: String)?
        /// Index into `extras` of JSON keys outside the columns (NDJSON and JSON sources only).
        var extrasIndex: Int32 = -1
        /// Index into `notes` of what the source left out of this row, for the run's notes.
        var notesIndex: Int32 = -1
    }

    package let columnCount: Int
    /// How many rows a reader puts in one batch at most.
    package let capacity: Int
    package private(set) var rows: [Row] = []
    package private(set) var cells: [Cell] = []
    package private(set) var bytes: [UInt8] = []
    /// Lists and objects of JSON sources, referred to by `.value` cells.
    package private(set) var values: [Value] = []
    /// JSON keys outside the columns, per row that has any.
    package private(set) var extras: [[Value.ObjectEntry]] = []
    /// What a source left out of a row it read (`format: mparticle`: an identity it cannot
    /// carry), per row that has any: counted and shown with the run, never dropped unsaid.
    package private(set) var notes: [[String]] = []

    package init(columnCount: Int, capacity: Int = 1024) {
        self.columnCount = columnCount
        self.capacity = capacity
        rows.reserveCapacity(capacity)
        cells.reserveCapacity(capacity * columnCount)
        bytes.reserveCapacity(capacity * columnCount * 16)
    }

    package var count: Int { rows.count }
    package var isEmpty: Bool { rows.isEmpty }
    package var isFull: Bool { rows.count >= capacity }

    /// Empties the batch, keeping its buffers for the next one.
    package mutating func removeAll() {
        rows.removeAll(keepingCapacity: true)
        cells.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
        if !values.isEmpty { values.removeAll(keepingCapacity: true) }
        if !extras.isEmpty { extras.removeAll(keepingCapacity: true) }
        if !notes.isEmpty { notes.removeAll(keepingCapacity: true) }
    }

    // MARK: Writing a row (sources)

    /// Starts a row; its cells follow with `append`, exactly `columnCount` of them, then
    /// `finishRow`.
    @inline(__always)
    package mutating func startRow(number: Int, endOffset: Int64? = nil) {
        rows.append(Row(number: number, endOffset: endOffset))
    }

    @inline(__always) package mutating func append(_ cell: Cell) { cells.append(cell) }
    @inline(__always) package mutating func appendNull() { cells.append(.null) }
    @inline(__always) package mutating func append(int i: Int64) { cells.append(.int(i)) }
    @inline(__always) package mutating func append(double d: Double) { cells.append(.double(d)) }
    @inline(__always) package mutating func append(bool b: Bool) { cells.append(.bool(b)) }

    /// Appends text, repairing invalid UTF-8 the way `String(decoding:as:)` does.
    @inline(__always)
    package mutating func append(text: UnsafeRawBufferPointer) {
        if UTF8Check.isValid(text) {
            let start = bytes.count
            bytes.append(contentsOf: text)
            cells.append(Cell(kind: .text, length: UInt32(text.count), payload: UInt64(start)))
        } else {
            append(text: String(decoding: text, as: UTF8.self))
        }
    }

    package mutating func append(text: String) {
        var text = text
        text.withUTF8 { utf8 in
            let start = bytes.count
            bytes.append(contentsOf: utf8)
            cells.append(Cell(kind: .text, length: UInt32(utf8.count), payload: UInt64(start)))
        }
    }

    /// Appends a cell for any value: scalars become cells, lists and objects are kept aside.
    package mutating func append(_ value: Value) {
        switch value {
        case .null: appendNull()
        case .bool(let b): append(bool: b)
        case .int(let i): append(int: i)
        case .double(let d): append(double: d)
        case .string(let s): append(text: s)
        case .number(let literal):
            var literal = literal
            literal.withUTF8 { utf8 in
                let start = bytes.count
                bytes.append(contentsOf: utf8)
                cells.append(Cell(kind: .number, length: UInt32(utf8.count), payload: UInt64(start)))
            }
        case .array, .object:
            cells.append(Cell(kind: .value, length: 0, payload: UInt64(values.count)))
            values.append(value)
        }
    }

    /// Sets what the engine needs about the row just written.
    @inline(__always)
    package mutating func finishRow(iterator: IteratorValue? = nil) {
        rows[rows.count - 1].iterator = iterator
    }

    /// Records JSON keys outside the columns for the row just written.
    package mutating func setExtras(_ entries: [Value.ObjectEntry]) {
        guard !entries.isEmpty else { return }
        rows[rows.count - 1].extrasIndex = Int32(extras.count)
        extras.append(entries)
    }

    /// Records what the source left out of the row just written.
    package mutating func setNotes(_ texts: [String]) {
        guard !texts.isEmpty else { return }
        rows[rows.count - 1].notesIndex = Int32(notes.count)
        notes.append(texts)
    }

    package func notes(ofRow row: Int) -> [String] {
        let index = rows[row].notesIndex
        return index < 0 ? [] : notes[Int(index)]
    }

    /// Adds a row that cannot be read or placed, with its reason; its cells are null.
    package mutating func appendRejected(number: Int, reason: String, row: String, endOffset: Int64? = nil) {
        var info = Row(number: number, endOffset: endOffset)
        info.rejection = (reason, row)
        rows.append(info)
        for _ in 0..<columnCount { cells.append(.null) }
    }

    /// Turns the row just written into a rejected one (a bad iterator found after its cells).
    package mutating func rejectLastRow(reason: String, row: String) {
        rows[rows.count - 1].rejection = (reason, row)
    }

    /// Drops the row just written (outside the window).
    package mutating func dropLastRow() {
        rows.removeLast()
        cells.removeLast(columnCount)
    }

    // MARK: Writing cells out of order, and taking a row back (file sources)

    /// How full the batch is, to take back what was written after it with `rollBack(to:)`.
    struct Mark {
        fileprivate var rows, cells, bytes, values, extras: Int
    }

    var mark: Mark {
        Mark(rows: rows.count, cells: cells.count, bytes: bytes.count, values: values.count, extras: extras.count)
    }

    /// Removes everything written since `mark`: a row found to be outside the read window, or
    /// one that turned out malformed half-way. Its text goes too, so a pass that drops most rows
    /// does not grow the byte buffer.
    mutating func rollBack(to mark: Mark) {
        if rows.count > mark.rows { rows.removeLast(rows.count - mark.rows) }
        if cells.count > mark.cells { cells.removeLast(cells.count - mark.cells) }
        if bytes.count > mark.bytes { bytes.removeLast(bytes.count - mark.bytes) }
        if values.count > mark.values { values.removeLast(values.count - mark.values) }
        if extras.count > mark.extras { extras.removeLast(extras.count - mark.extras) }
    }

    /// Starts a row whose cells are all null, to be set by column with `setCell` (JSON records,
    /// whose keys come in any order).
    mutating func startRowOfNulls(number: Int, endOffset: Int64?) {
        rows.append(Row(number: number, endOffset: endOffset))
        cells.append(contentsOf: repeatElement(Cell.null, count: columnCount))
    }

    /// Sets a cell of the row being written.
    @inline(__always)
    mutating func setCell(_ cell: Cell, column: Int) {
        cells[cells.count - columnCount + column] = cell
    }

    /// Stores text that the caller has checked is valid UTF-8, and returns its cell.
    @inline(__always)
    mutating func storeText(validUTF8 text: UnsafeRawBufferPointer) -> Cell {
        let start = bytes.count
        // As typed bytes, which `append` copies with one memcpy.
        bytes.append(contentsOf: text.assumingMemoryBound(to: UInt8.self))
        return Cell(kind: .text, length: UInt32(text.count), payload: UInt64(start))
    }

    /// Stores a JSON number literal (ASCII by its syntax), and returns its cell.
    mutating func storeNumber(literal: UnsafeRawBufferPointer) -> Cell {
        let start = bytes.count
        bytes.append(contentsOf: literal)
        return Cell(kind: .number, length: UInt32(literal.count), payload: UInt64(start))
    }

    /// Keeps a list or object beside the cells, and returns its cell.
    mutating func storeValue(_ value: Value) -> Cell {
        values.append(value)
        return Cell(kind: .value, length: 0, payload: UInt64(values.count - 1))
    }

    /// The bytes of a text or number cell.
    func withBytes<R>(of cell: Cell, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[cell.textRange])) }
    }

    // MARK: Reading a row (the engine)

    @inline(__always) package func cell(_ row: Int, _ column: Int) -> Cell { cells[row * columnCount + column] }

    /// The cell as a `Value`, for the rare paths that need one (conversions with `type:`,
    /// rejected-row records, previews).
    package func value(_ cell: Cell) -> Value {
        switch cell.kind {
        case .null: return .null
        case .bool: return .bool(cell.boolValue)
        case .int: return .int(cell.intValue)
        case .double: return .double(cell.doubleValue)
        case .text: return .string(String(decoding: bytes[cell.textRange], as: UTF8.self))
        case .number: return .number(String(decoding: bytes[cell.textRange], as: UTF8.self))
        case .value: return values[Int(cell.payload)]
        }
    }

    /// Null, or text with no characters.
    func isNullOrEmpty(_ cell: Cell) -> Bool {
        cell.kind == .null || (cell.kind == .text && cell.length == 0)
    }

    package func values(ofRow row: Int) -> [Value] {
        (0..<columnCount).map { value(cell(row, $0)) }
    }

    package func extras(ofRow row: Int) -> [Value.ObjectEntry] {
        let index = rows[row].extrasIndex
        return index < 0 ? [] : extras[Int(index)]
    }

    /// The row as a JSON object of column to value, for rejected-row records and previews.
    package func object(ofRow row: Int, columns: [String]) -> Value {
        var entries = zip(columns, values(ofRow: row)).map { Value.ObjectEntry($0, $1) }
        entries.append(contentsOf: extras(ofRow: row))
        return .object(entries)
    }
}

/// UTF-8 validation for text copied into batches.
enum UTF8Check {
    @inline(__always)
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // ASCII, the common case, eight bytes at a time.
        var i = 0
        let count = bytes.count
        while i + 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
        while i < count, bytes[i] < 0x80 { i += 1 }
        if i == count { return true }
        return validateMultibyte(bytes, from: i)
    }

    /// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past U+10FFFF.
    static func validateMultibyte(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Bool {
        var i = start
        let count = bytes.count
        @inline(__always) func continuation(_ k: Int) -> Bool { k < count && bytes[k] & 0xC0 == 0x80 }
        while i < count {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            if b < 0xC2 { return false }
            if b < 0xE0 {
                guard continuation(i + 1) else { return false }
                i += 2
            } else if b < 0xF0 {
                guard i + 2 < count, continuation(i + 1), continuation(i + 2) else { return false }
                let b1 = bytes[i + 1]
                if b == 0xE0 && b1 < 0xA0 { return false }
                if b == 0xED && b1 >= 0xA0 { return false }
                i += 3
            } else if b < 0xF5 {
                guard i + 3 < count, continuation(i + 1), continuation(i + 2), continuation(i + 3) else { return false }
                let b1 = bytes[i + 1]
                if b == 0xF0 && b1 < 0x90 { return false }
                if b == 0xF4 && b1 >= 0x90 { return false }
                i += 4
            } else {
                return false
            }
        }
        return true
    }
}
