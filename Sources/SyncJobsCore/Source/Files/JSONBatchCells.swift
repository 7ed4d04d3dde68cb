extension JSONByteParser {
    /// Reads the value at `index` into a cell of `batch`, accepting and numbering exactly as
    /// `parseValue` does: strings and number literals go into the batch's bytes, and only lists
    /// and objects are built as `Value`s (kept beside the cells).
    mutating func cell(depth: Int, into batch: inout RowBatch) throws(JSONParseError) -> RowBatch.Cell {
        guard index < count else { throw error("unexpected end of input, expected a JSON value") }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            let token = try scanString()
            return withBytes(of: token) { batch.storeText(validUTF8: $0) }
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            switch try scanNumber() {
            case .int(let i):
                return .int(i)
            case .literal(let range, let isInteger, let significant):
                if !isInteger, case .double(let d) = try literalValue(range, isInteger: false, significant: significant) {
                    return .double(d)
                }
                return batch.storeNumber(literal: UnsafeRawBufferPointer(rebasing: bytes[range]))
            }
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let value = try parseValue(depth: depth)
            return batch.storeValue(value)
        default:
            throw error("unexpected \(describeByte(at: index)), expected a JSON value")
        }
    }

    /// Checks the value at `index` as `parseValue` would, building nothing for strings, numbers
    /// and literals (lists and objects are parsed, and dropped); true when it is an object.
    mutating func skipValue(depth: Int) throws(JSONParseError) -> Bool {
        guard index < count else { throw error("unexpected end of input, expected a JSON value") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            _ = try parseValue(depth: depth)
            return true
        case UInt8(ascii: "["):
            _ = try parseValue(depth: depth)
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            // A decimal beyond a double's range is an error, as in `parseValue`.
            if case .literal(let range, let isInteger, let significant) = try scanNumber(), !isInteger {
                _ = try literalValue(range, isInteger: false, significant: significant)
            }
        default:
            throw error("unexpected \(describeByte(at: index)), expected a JSON value")
        }
        return false
    }
}
