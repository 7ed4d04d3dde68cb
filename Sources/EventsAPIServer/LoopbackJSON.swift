/// A strict JSON (RFC 8259) reader for the loopback servers' checks: it keeps the order of object
/// members, duplicate names included, and where each value sits in the input, so a server can
/// record a client's output exactly as it was sent and refuse what a lenient parser would let by.
struct LoopbackJSON {
    enum Kind {
        case object([(name: String, value: LoopbackJSON)])
        case array([LoopbackJSON])
        case string(String)
        /// The number as written.
        case number(String)
        case bool(Bool)
        case null
    }

    var kind: Kind
    /// Where the value's text sits in the input, in bytes.
    var range: Range<Int>

    /// "a string", "an object" …: for messages.
    var typeName: String {
        switch kind {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }

    struct SyntaxError: Error, CustomStringConvertible {
        var message: String
        var offset: Int
        var description: String { "\(message) at byte \(offset)" }
    }

    /// Parses `bytes`, which must hold exactly one JSON value (whitespace around it allowed).
    static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> LoopbackJSON {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.position == bytes.count else { throw reader.error("unexpected text after the JSON value") }
        return value
    }

    /// The text of `value` in `bytes`, as it was written.
    static func text(of value: LoopbackJSON, in bytes: [UInt8]) -> String {
        String(decoding: bytes[value.range], as: UTF8.self)
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0
        static let maxDepth = 64

        func error(_ message: String) -> SyntaxError { SyntaxError(message: message, offset: position) }

        var current: UInt8? { position < bytes.count ? bytes[position] : nil }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { position += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
            guard current == byte else { throw error("expected \(what)") }
            position += 1
        }

        mutating func value(depth: Int) throws(SyntaxError) -> LoopbackJSON {
            guard depth < Self.maxDepth else { throw error("values nested deeper than \(Self.maxDepth)") }
            let start = position
            let kind: Kind
            switch current {
            case UInt8(ascii: "{")?: kind = try object(depth: depth)
            case UInt8(ascii: "[")?: kind = try array(depth: depth)
            case UInt8(ascii: "\"")?: kind = .string(try string())
            case UInt8(ascii: "t")?: try literal("true"); kind = .bool(true)
            case UInt8(ascii: "f")?: try literal("false"); kind = .bool(false)
            case UInt8(ascii: "n")?: try literal("null"); kind = .null
            case let byte? where byte == UInt8(ascii: "-") || (0x30...0x39).contains(byte): kind = .number(try number())
            case nil: throw error("unexpected end of input")
            default: throw error("unexpected character")
            }
            return LoopbackJSON(kind: kind, range: start..<position)
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            let expected = Array(word.utf8)
            guard position + expected.count <= bytes.count, Array(bytes[position..<position + expected.count]) == expected else {
                throw error("unexpected character")
            }
            position += expected.count
        }

        mutating func object(depth: Int) throws(SyntaxError) -> Kind {
            position += 1
            var members: [(name: String, value: LoopbackJSON)] = []
            skipWhitespace()
            if current == UInt8(ascii: "}") { position += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw error("expected a member name") }
                let name = try string()
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':'")
                skipWhitespace()
                members.append((name, try value(depth: depth + 1)))
                skipWhitespace()
                if current == UInt8(ascii: "}") { position += 1; return .object(members) }
                try expect(UInt8(ascii: ","), "',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> Kind {
            position += 1
            var elements: [LoopbackJSON] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
                try expect(UInt8(ascii: ","), "',' or ']'")
            }
        }

        mutating func digits() -> Int {
            let start = position
            while let byte = current, (0x30...0x39).contains(byte) { position += 1 }
            return position - start
        }

        mutating func number() throws(SyntaxError) -> String {
            let start = position
            if current == UInt8(ascii: "-") { position += 1 }
            if current == UInt8(ascii: "0") {
                position += 1
            } else if digits() == 0 {
                throw error("expected a digit")
            }
            if current == UInt8(ascii: ".") {
                position += 1
                guard digits() > 0 else { throw error("expected a digit") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard digits() > 0 else { throw error("expected a digit") }
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        /// A string's content, from its opening quote to past its closing one.
        mutating func string() throws(SyntaxError) -> String {
            position += 1
            var run = position
            var decoded: [UInt8] = []
            while true {
                guard let byte = current else { throw error("unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    decoded.append(contentsOf: bytes[run..<position])
                    position += 1
                    guard let text = String(validating: decoded, as: UTF8.self) else {
                        throw SyntaxError(message: "a string is not valid UTF-8", offset: run)
                    }
                    return text
                case UInt8(ascii: "\\"):
                    decoded.append(contentsOf: bytes[run..<position])
                    position += 1
                    try escape(into: &decoded)
                    run = position
                case 0..<0x20:
                    throw error("control character in a string")
                default:
                    position += 1
                }
            }
        }

        mutating func escape(into decoded: inout [UInt8]) throws(SyntaxError) {
            guard let byte = current else { throw error("unterminated string") }
            position += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard current == UInt8(ascii: "\\"), position + 1 < bytes.count, bytes[position + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate")
                    }
                    position += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("unpaired surrogate")
                }
                // Not a surrogate here, so always a scalar.
                decoded.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
            default:
                throw error("invalid escape")
            }
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            var result: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = current else { throw error("unterminated string") }
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                default: throw error("invalid \\u escape")
                }
                result = result << 4 | digit
                position += 1
            }
            return result
        }
    }
}
