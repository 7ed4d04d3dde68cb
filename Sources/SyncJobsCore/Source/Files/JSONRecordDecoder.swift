#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Puts JSON object records (NDJSON lines, elements of a JSON array) into row batches, lined up
/// with the columns taken from the file's first object.
///
/// The object is parsed straight into the row: strings (escapes decoded) and number literals go
/// into the batch's bytes, numbers and literals into typed cells, and only lists and objects
/// become `Value`s. Keys that are not columns go to the row's extras. What is accepted, what is
/// rejected with which message, and how numbers are read are exactly `JSONParser`'s, which reads
/// the record instead only when it is not an object, to say what it is.
struct JSONRecordDecoder {
    let names: JSONColumnNames
    var columns: [String] { names.columns }
    /// Per column, the serial of the last record that had its key: finds a repeated key without
    /// clearing anything per record.
    private var keySeenIn: [Int]
    private var serial = 0
    private var extraKeys = SeenKeys()

    init(columns: [String]) {
        names = JSONColumnNames(columns)
        keySeenIn = Array(repeating: 0, count: columns.count)
    }

    /// Appends one record: a row, or a rejected row that says where and why. `place` names the
    /// record in messages ("line 7", "record 7"); it is only made for those.
    mutating func decode(_ bytes: UnsafeRawBufferPointer, oversizedPrefix: [UInt8]?, number: Int,
                         place: @autoclosure () -> String, startOffset: Int64, endOffset: Int64,
                         maximumRecordBytes: Int, into batch: inout RowBatch) {
        func malformed(_ reason: String) {
            let raw = oversizedPrefix.map { prefix in prefix.withUnsafeBytes { RawText.make($0) } } ?? RawText.make(bytes)
            batch.appendRejected(number: number, reason: reason, row: raw, endOffset: endOffset)
        }
        func invalid(_ error: JSONParseError) -> String {
            "\(place()) is not valid JSON: \(error.problem) at byte \(startOffset + Int64(error.offset))"
        }
        if oversizedPrefix != nil {
            return malformed("\(place()) is longer than the \(maximumRecordBytes.byteSizeText) limit for one record")
        }
        var parser = JSONByteParser(bytes)
        parser.skipWhitespace()
        guard parser.index < parser.count, parser.bytes[parser.index] == UInt8(ascii: "{") else {
            // Not an object: parsed whole only to say what it is, or where it breaks.
            do {
                let value = try JSONParser.parse(bytes)
                malformed("\(place()) is \(value.kindPhrase), not a JSON object")
            } catch {
                malformed(invalid(error))
            }
            return
        }
        let mark = batch.mark
        batch.startRowOfNulls(number: number, endOffset: endOffset)
        do {
            let extras = try readObject(&parser, into: &batch)
            try parser.expectEnd()
            batch.setExtras(extras)
        } catch {
            batch.rollBack(to: mark)
            malformed(invalid(error))
        }
    }

    /// Reads the object at the parser's `{` into the row just started, as `JSONParser` reads a
    /// top-level object; returns the members that are not columns.
    private mutating func readObject(_ p: inout JSONByteParser, into batch: inout RowBatch) throws(JSONParseError) -> [Value.ObjectEntry] {
        serial += 1
        extraKeys.reset()
        var extras: [Value.ObjectEntry] = []
        // Records mostly repeat the first object's key order, so the column after the last one
        // found is tried first.
        var guess = 0
        p.index += 1
        p.skipWhitespace()
        if p.index < p.count && p.bytes[p.index] == UInt8(ascii: "}") {
            p.index += 1
            return extras
        }
        while true {
            let key = try p.scanKey()
            let column = names.index(of: key.token, in: p, guess: guess)
            var extraKey: String?
            if let column {
                if keySeenIn[column] == serial { throw p.duplicateKeyError(key) }
                keySeenIn[column] = serial
                guess = column + 1
            } else {
                let name = p.string(key.token)
                if !extraKeys.insert(name) { throw p.duplicateKeyError(key) }
                extraKey = name
            }
            try p.expectColon(after: key)
            if let column {
                let cell = try p.cell(depth: 1, into: &batch)
                batch.setCell(cell, column: column)
            } else if let extraKey {
                let value = try p.parseValue(depth: 1)
                extras.append(Value.ObjectEntry(extraKey, value))
            }
            if try p.endOfMembers() { return extras }
        }
    }
}

/// Finds the column a JSON key names. `String`s compare by canonical equivalence ("é" written as
/// one scalar or as two are one key), so bytes decide only when both sides are ASCII: even an
/// ASCII key can equal a non-ASCII name (U+212A KELVIN SIGN is "K").
struct JSONColumnNames {
    let columns: [String]
    private let indexByName: [String: Int]
    /// The names' UTF-8, one after another, and where each is.
    private let utf8: [UInt8]
    private let ranges: [Range<Int>]
    private let allASCII: Bool

    /// The first of equal names wins.
    init(_ columns: [String]) {
        self.columns = columns
        var indexByName: [String: Int] = [:]
        for (index, name) in columns.enumerated() where indexByName[name] == nil { indexByName[name] = index }
        self.indexByName = indexByName
        var utf8: [UInt8] = []
        var ranges: [Range<Int>] = []
        for name in columns {
            let start = utf8.count
            utf8.append(contentsOf: name.utf8)
            ranges.append(start..<utf8.count)
        }
        self.utf8 = utf8
        self.ranges = ranges
        allASCII = utf8.allSatisfy { $0 < 0x80 }
    }

    /// The column of a scanned key, trying `guess` first.
    @inline(__always)
    func index(of key: JSONByteParser.StringToken, in parser: JSONByteParser, guess: Int) -> Int? {
        switch key {
        case .direct(let range, let isASCII):
            return index(of: UnsafeRawBufferPointer(rebasing: parser.bytes[range]), isASCII: isASCII, guess: guess)
        case .unescaped:
            return parser.withBytes(of: key) { index(of: $0, isASCII: $0.allSatisfy { $0 < 0x80 }, guess: guess) }
        }
    }

    /// The column of `key` (valid UTF-8), trying `guess` first.
    func index(of key: UnsafeRawBufferPointer, isASCII: Bool, guess: Int) -> Int? {
        guard allASCII, isASCII else {
            return indexByName[String(decoding: key, as: UTF8.self)]
        }
        return utf8.withUnsafeBytes { names -> Int? in
            func matches(_ index: Int) -> Bool {
                let range = ranges[index]
                guard range.count == key.count else { return false }
                return key.count == 0 || memcmp(names.baseAddress! + range.lowerBound, key.baseAddress!, key.count) == 0
            }
            if guess < ranges.count, matches(guess) { return guess }
            for index in ranges.indices where index != guess && matches(index) { return index }
            return nil
        }
    }
}

/// The keys of one JSON object so far, to find a repeated one as `JSONParser` does (by `String`
/// equality, with a set once there are many); reused between objects.
struct SeenKeys {
    private(set) var keys: [String] = []
    private var set: Set<String>?

    mutating func reset() {
        if !keys.isEmpty { keys.removeAll(keepingCapacity: true) }
        set = nil
    }

    /// False when the key was already there.
    mutating func insert(_ key: String) -> Bool {
        if keys.count < 16 {
            if keys.contains(key) { return false }
        } else {
            if set == nil { set = Set(keys) }
            if set?.insert(key).inserted == false { return false }
        }
        keys.append(key)
        return true
    }
}

extension UnsafeRawBufferPointer {
    /// True when the bytes are only JSON whitespace.
    var isJSONWhitespace: Bool {
        allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    }
}
