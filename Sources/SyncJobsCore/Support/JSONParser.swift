/// A JSON syntax error, with the byte offset (0-based) where the parser gave up.
package struct JSONParseError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Byte offset (0-based) into the parsed input.
    package let offset: Int
    /// The problem and its position, e.g. "expected ',' or '}' after object member at byte 57".
    package let message: String
    /// The problem without its position, for callers that parse a slice of a larger file and
    /// want to name the position in the file instead.
    package let problem: String

    package init(offset: Int, problem: String) {
        self.offset = offset
        self.problem = problem
        self.message = "\(problem) at byte \(offset)"
    }

    package var description: String { message }
}

/// An RFC 8259 JSON parser producing `Value`s.
///
/// Hand-written rather than `JSONSerialization`/`JSONDecoder` because sources need `Int64` kept
/// apart from `Double`, object key order kept, and speed: it scans raw bytes and builds a
/// `String` only once per string token. A number written without fraction or exponent that fits
/// `Int64` becomes `.int` (so `-0` is `.int(0)`); any other number becomes `.double` when a double
/// holds it exactly and `.number` with its literal when not (see `JSONNumber`).
package enum JSONParser {
    /// Deeper nesting than this is rejected, so hostile input cannot exhaust the stack.
    package static let maximumDepth = 512

    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> Value {
        var parser = JSONByteParser(bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        try parser.expectEnd()
        return value
    }

    package static func parse(_ text: String) throws(JSONParseError) -> Value {
        var text = text
        let result = text.withUTF8 { utf8 in
            Result { () throws(JSONParseError) -> Value in try parse(UnsafeRawBufferPointer(utf8)) }
        }
        return try result.get()
    }
}

/// The parser's scanning state and how it builds values. File sources use its token readers
/// (`scanString`, `scanNumber`, in JSONTokens.swift) and member readers (`scanKey`,
/// `expectColon`, `endOfMembers`) to put records into row batches without building `Value`s, so
/// both paths accept, reject and number exactly alike.
struct JSONByteParser {
    let bytes: UnsafeRawBufferPointer
    let count: Int
    var index = 0
    /// Reused for strings that contain escapes, so unescaping does not allocate per string.
    var scratch: [UInt8] = []

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.count = bytes.count
    }

    func error(_ problem: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? index, problem: problem)
    }

    func describeByte(at offset: Int) -> String {
        guard offset < count else { return "end of input" }
        let byte = bytes[offset]
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    @inline(__always) mutating func skipWhitespace() {
        while index < count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> Value {
        guard index < count else { throw error("unexpected end of input, expected a JSON value") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected \(describeByte(at: index)), expected a JSON value")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = index
        let length = literal.utf8CodeUnitCount
        let matches = literal.withUTF8Buffer { expected in
            guard count - start >= length else { return false }
            for offset in 0..<length where bytes[start + offset] != expected[offset] { return false }
            return true
        }
        guard matches else { throw error("invalid literal, expected '\(literal)'", at: start) }
        index += length
    }

    /// Past a value: only whitespace may follow it.
    mutating func expectEnd() throws(JSONParseError) {
        skipWhitespace()
        if index < count {
            throw error("unexpected \(describeByte(at: index)) after the JSON value")
        }
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> Value {
        guard depth <= JSONParser.maximumDepth else {
            throw error("nesting deeper than \(JSONParser.maximumDepth) levels")
        }
        index += 1
        var entries: [Value.ObjectEntry] = []
        // Small objects check duplicates by a linear scan; a set takes over once that gets slow.
        var seenKeys: Set<String>? = nil
        skipWhitespace()
        if index < count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(entries)
        }
        // Records usually have several keys; starting at 8 skips the 1-2-4 regrowths.
        entries.reserveCapacity(8)
        while true {
            let scanned = try scanKey()
            let key = string(scanned.token)
            if entries.count < 16 {
                if entries.contains(where: { $0.key == key }) { throw duplicateKeyError(scanned) }
            } else {
                if seenKeys == nil { seenKeys = Set(entries.map(\.key)) }
                if seenKeys?.insert(key).inserted == false { throw duplicateKeyError(scanned) }
            }
            try expectColon(after: scanned)
            let value = try parseValue(depth: depth)
            entries.append(Value.ObjectEntry(key, value))
            if try endOfMembers() { return .object(entries) }
        }
    }

    /// An object key and the offset of its opening quote.
    struct Key {
        var token: StringToken
        var start: Int
    }

    /// Reads the key of an object member; `index` is where it should start.
    mutating func scanKey() throws(JSONParseError) -> Key {
        guard index < count else { throw error("unexpected end of input inside an object") }
        guard bytes[index] == UInt8(ascii: "\"") else {
            throw error("expected a string key in object, found \(describeByte(at: index))")
        }
        let start = index
        return Key(token: try scanString(), start: start)
    }

    /// Call before the next scan, while the key's bytes are still there.
    func duplicateKeyError(_ key: Key) -> JSONParseError {
        error("duplicate key \"\(string(key.token))\" in object", at: key.start)
    }

    /// Reads the `:` after a key and the whitespace around it.
    mutating func expectColon(after key: Key) throws(JSONParseError) {
        skipWhitespace()
        guard index < count, bytes[index] == UInt8(ascii: ":") else {
            throw error("expected ':' after object key \"\(string(key.token))\"")
        }
        index += 1
        skipWhitespace()
    }

    /// After a member's value: true past the object's closing `}`, false past a `,`.
    mutating func endOfMembers() throws(JSONParseError) -> Bool {
        skipWhitespace()
        guard index < count else { throw error("unexpected end of input inside an object") }
        switch bytes[index] {
        case UInt8(ascii: ","):
            index += 1
            skipWhitespace()
            return false
        case UInt8(ascii: "}"):
            index += 1
            return true
        default:
            throw error("expected ',' or '}' after object member")
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> Value {
        guard depth <= JSONParser.maximumDepth else {
            throw error("nesting deeper than \(JSONParser.maximumDepth) levels")
        }
        index += 1
        var items: [Value] = []
        skipWhitespace()
        if index < count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            items.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < count else { throw error("unexpected end of input inside an array") }
            switch bytes[index] {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                index += 1
                return .array(items)
            default:
                throw error("expected ',' or ']' after array element")
            }
        }
    }
}

extension String {
    /// Decodes UTF-8, returning nil for invalid input instead of repairing it, because a
    /// silently replaced character would corrupt data on its way to the warehouse.
    ///
    /// Not `String(validating:as:)`: on Linux that goes through an unspecialized generic path
    /// whose metadata look-ups took a third of the CSV reader's time.
    @inline(__always)
    init?(validatingUTF8Bytes bytes: UnsafeRawBufferPointer) {
        guard UTF8Validation.isValid(bytes) else { return nil }
        self.init(decoding: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
    }
}

enum UTF8Validation {
    /// Checks well-formed UTF-8 (Unicode Table 3-7: no overlongs, surrogates or values past
    /// U+10FFFF), skipping ASCII eight bytes at a time.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return true }
        var index = 0
        while index < count {
            while index + 8 <= count {
                let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if word & 0x8080_8080_8080_8080 != 0 { break }
                index += 8
            }
            guard index < count else { return true }
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondRange = 0xA0...0xBF
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondRange = 0x80...0x9F
            case 0xF0: length = 4; secondRange = 0x90...0xBF
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondRange = 0x80...0x8F
            default: return false
            }
            guard index + length <= count, secondRange.contains(bytes[index + 1]) else { return false }
            if length > 2 {
                guard bytes[index + 2] & 0xC0 == 0x80 else { return false }
                if length > 3 {
                    guard bytes[index + 3] & 0xC0 == 0x80 else { return false }
                }
            }
            index += length
        }
        return true
    }
}
