import Foundation

/// Converts source values into what a batch field takes, or says why it cannot.
///
/// Every rule here is one a user can read in README ("Values and types"): nothing is coerced
/// silently into something else, and a value that does not fit is a rejected row with a reason.
enum ValueConversion {
    /// Why a value does not fit, in words for a rejected-row record.
    struct Reason: Error, CustomStringConvertible {
        var text: String
        init(_ text: String) { self.text = text }
        var description: String { text }
    }

    /// mParticle's documented limits (README "Limits").
    static let attributeNameMax = 256
    static let attributeValueMax = 4096
    static let attributeListMax = 1000
    static let attributeListEntryMax = 512
    static let userAttributesMax = 100
    static let batchBytesMax = 128 * 1024

    /// Integers below this magnitude are seconds, at or above it milliseconds (1e11 s is the
    /// year 5138; 1e11 ms is March 1973).
    static let secondsThreshold: Int64 = 100_000_000_000

    /// Applies an explicit `type:` conversion.
    static func apply(_ type: ValueType, to value: Value) -> Result<Value, Reason> {
        if value.isNull { return .success(.null) }
        switch type {
        case .string:
            guard let text = value.scalarText else { return .failure(Reason("\(value.kindPhrase) cannot be converted to text")) }
            return .success(.string(text))
        case .integer:
            return integerResult(value).map(Value.int)
        case .number:
            guard let d = number(value) else { return .failure(Reason("\(quoted(value)) is not a number")) }
            if let exact = exactNumber(value, d) { return .success(exact) }
            return .success(d == d.rounded() && abs(d) < 9e15 ? .int(Int64(d)) : .double(d))
        case .boolean:
            guard let b = boolean(value) else { return .failure(Reason("\(quoted(value)) is not true or false")) }
            return .success(.bool(b))
        case .timestampMs:
            guard let ms = timestampMillis(value) else {
                return .failure(Reason("\(quoted(value)) is not a timestamp (ISO 8601 like 2026-01-01T00:00:00Z, a date, or unix seconds or milliseconds)"))
            }
            return .success(.int(ms))
        case .list:
            switch value {
            case .array: return .success(value)
            case .string(let text):
                let trimmed = text.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("[") {
                    guard let parsed = try? JSONParser.parse(trimmed), case .array = parsed else {
                        return .failure(Reason("\(quoted(value)) starts with '[' but is not a JSON list"))
                    }
                    return .success(parsed)
                }
                if trimmed.isEmpty { return .success(.array([])) }
                return .success(.array(text.split(separator: ",", omittingEmptySubsequences: false)
                    .map { .string($0.trimmingCharacters(in: .whitespaces)) }))
            case .object: return .failure(Reason("an object cannot be converted to a list"))
            default: return .success(.array([value]))
            }
        }
    }

    /// Converts a value for a field; `.success(nil)` means the field is left out (null or empty).
    static func convert(_ value: Value, to kind: FieldKind) -> Result<Value?, Reason> {
        if value.isNull { return .success(nil) }
        switch kind {
        case .identity:
            guard let text = value.scalarText else { return .failure(Reason("an identity must be a single value, not \(value.kindPhrase)")) }
            return .success(text.isEmpty ? nil : .string(text))
        case .text(let maxLength):
            guard let text = value.scalarText else { return .failure(Reason("expected text, got \(value.kindPhrase)")) }
            if let maxLength, text.utf8.count > maxLength, text.count > maxLength {
                return .failure(Reason("is \(text.count) characters long; the limit is \(maxLength)"))
            }
            return .success(.string(text))
        case .integer:
            return integerResult(value).map(Value.int)
        case .number:
            guard let d = number(value) else { return .failure(Reason("\(quoted(value)) is not a number")) }
            if case .int = value { return .success(value) }
            if let exact = exactNumber(value, d) { return .success(exact) }
            return .success(d == d.rounded() && abs(d) < 9e15 && !isFractionText(value) ? .int(Int64(d)) : .double(d))
        case .boolean:
            guard let b = boolean(value) else { return .failure(Reason("\(quoted(value)) is not true or false")) }
            return .success(.bool(b))
        case .timestampMillis:
            guard let ms = timestampMillis(value) else {
                return .failure(Reason("\(quoted(value)) is not a timestamp (ISO 8601 like 2026-01-01T00:00:00Z, a date, or unix seconds or milliseconds)"))
            }
            return .success(.int(ms))
        case .uuid:
            guard case .string(let text) = value else { return .failure(Reason("\(quoted(value)) is not a UUID")) }
            if text.isEmpty { return .success(nil) }
            guard isUUID(text) else { return .failure(Reason("'\(text)' is not a UUID like 01234567-89ab-cdef-0123-456789abcdef")) }
            return .success(value)
        case .enumeration(let allowed):
            guard let text = value.scalarText else { return .failure(Reason("expected one of \(allowed.joined(separator: ", "))")) }
            if allowed.contains(text) { return .success(.string(text)) }
            if let match = allowed.first(where: { $0.equalsIgnoringCase(text) }) { return .success(.string(match)) }
            return .failure(Reason("'\(text)' is not one of \(allowed.joined(separator: ", "))"))
        case .userAttribute:
            switch value {
            case .string(let text):
                if text.utf8.count > attributeValueMax, text.count > attributeValueMax {
                    return .failure(Reason("is \(text.count) characters long; user attribute values are limited to \(attributeValueMax)"))
                }
                return .success(value)
            case .int, .double, .number, .bool:
                return .success(value)
            case .array(let items):
                if items.count > attributeListMax {
                    return .failure(Reason("is a list of \(items.count) entries; user attribute lists are limited to \(attributeListMax)"))
                }
                var out: [Value] = []
                out.reserveCapacity(items.count)
                for item in items {
                    guard let text = item.scalarText else {
                        if item.isNull { continue }
                        return .failure(Reason("holds \(item.kindPhrase) inside a list; list entries must be single values"))
                    }
                    if text.utf8.count > attributeListEntryMax, text.count > attributeListEntryMax {
                        return .failure(Reason("has a list entry \(text.count) characters long; list entries are limited to \(attributeListEntryMax)"))
                    }
                    out.append(.string(text))
                }
                return .success(.array(out))
            case .object:
                return .failure(Reason("is an object; user attributes take a single value or a list"))
            case .null:
                return .success(nil)
            }
        case .eventAttribute:
            guard let text = value.scalarText else {
                return .failure(Reason("is \(value.kindPhrase); event attributes take a single value"))
            }
            if text.utf8.count > attributeValueMax, text.count > attributeValueMax {
                return .failure(Reason("is \(text.count) characters long; event attribute values are limited to \(attributeValueMax)"))
            }
            return .success(.string(text))
        }
    }

    static func quoted(_ value: Value) -> String {
        switch value {
        case .string(let s): return "'\(s.count > 80 ? String(s.prefix(80)) + "…" : s)'"
        default: return JSONWriter.compact(value)
        }
    }

    private static func isFractionText(_ value: Value) -> Bool {
        if case .string(let s) = value { return s.contains(".") || s.contains("e") || s.contains("E") }
        if case .double = value { return true }
        return false
    }

    /// Text is read exactly (`1e3` is 1000, `1.0000000000000000001` is not an integer), never
    /// through a double that would round it.
    static func integer(_ value: Value) -> Int64? {
        switch value {
        case .int(let i): return i
        case .double(let d) where d.isFinite && d == d.rounded() && abs(d) < 9.2e18: return Int64(d)
        case .number(let literal): return JSONNumber.Decimal(literal)?.exactInteger
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespaces)
            if let i = Int64(t) { return i }
            return JSONNumber.Decimal(t)?.exactInteger
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// The integer, or why there is none: an integer too large for a 64-bit field is named so.
    static func integerResult(_ value: Value) -> Result<Int64, Reason> {
        if let i = integer(value) { return .success(i) }
        return .failure(Reason(integerFailure(value)))
    }

    static func integerFailure(_ value: Value) -> String {
        if isIntegerBeyondRange(value) {
            return "\(quoted(value)) is beyond the range of a 64-bit integer (\(Int64.min) to \(Int64.max))"
        }
        return "\(quoted(value)) is not an integer"
    }

    /// An integer that no 64-bit field can hold exactly (`18446744073709551615`, `1e20`).
    static func isIntegerBeyondRange(_ value: Value) -> Bool {
        let decimal: JSONNumber.Decimal?
        switch value {
        case .number(let literal): decimal = JSONNumber.Decimal(literal)
        case .string(let s): decimal = JSONNumber.Decimal(s.trimmingCharacters(in: .whitespaces))
        case .double(let d) where d.isFinite && d == d.rounded(): decimal = JSONNumber.Decimal("\(d)")
        default: decimal = nil
        }
        guard let decimal, decimal.isInteger else { return false }
        return decimal.exactInteger == nil
    }

    /// The value itself when a double would not hold it exactly: a `.number` literal, or number
    /// text with more digits than a double keeps (as a JSON literal); nil when `double` is exact.
    private static func exactNumber(_ value: Value, _ double: Double) -> Value? {
        switch value {
        case .number: return value
        case .string(let s):
            // Spaces are no digits, so the fast answer needs no trimmed copy.
            let significant = JSONNumber.countSignificantDigits(Substring(s).utf8)
            if significant <= 15 && (double.isNormal || (double == 0 && significant == 0)) { return nil }
            let t = s.trimmingCharacters(in: .whitespaces)
            guard !JSONNumber.holdsExactly(double, literal: Substring(t).utf8) else { return nil }
            return JSONNumber.literal(t).map(Value.number)
        default: return nil
        }
    }

    static func number(_ value: Value) -> Double? {
        switch value {
        case .int(let i): return Double(i)
        case .double(let d): return d.isFinite ? d : nil
        case .number(let literal): return Double(literal)
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespaces)
            guard let first = t.first, first.isNumber || first == "-" || first == "+" || first == ".",
                  let d = Double(t), d.isFinite else { return nil }
            return d
        default: return nil
        }
    }

    static func boolean(_ value: Value) -> Bool? {
        switch value {
        case .bool(let b): return b
        case .int(let i) where i == 0 || i == 1: return i == 1
        case .double(let d) where d == 0 || d == 1: return d == 1
        case .string(let s):
            switch s.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "t", "yes", "y", "1": return true
            case "false", "f", "no", "n", "0": return false
            default: return nil
            }
        default: return nil
        }
    }

    static func timestampMillis(_ value: Value) -> Int64? {
        switch value {
        case .int(let n):
            if n.magnitude < UInt64(secondsThreshold) { return n * 1000 }
            return n
        case .double(let d):
            guard d.isFinite, abs(d) < 9e15 else { return nil }
            if abs(d) < Double(secondsThreshold) { return Int64((d * 1000).rounded()) }
            return Int64(d.rounded())
        case .string(let s):
            if let ms = Timestamp.parseMillis(s) { return ms }
            let t = s.trimmingCharacters(in: .whitespaces)
            if let n = Int64(t) { return timestampMillis(.int(n)) }
            if t.first?.isNumber == true || t.first == "-", let d = Double(t) { return timestampMillis(.double(d)) }
            return nil
        default:
            return nil
        }
    }

    static func isUUID(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { isUUID(UnsafeRawBufferPointer($0)) }
    }

    static func isUUID(_ utf8: UnsafeRawBufferPointer) -> Bool {
        guard utf8.count == 36 else { return false }
        for (i, c) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)) {
                return false
            }
        }
        return true
    }
}

extension String {
    func equalsIgnoringCase(_ other: String) -> Bool { lowercased() == other.lowercased() }
}
