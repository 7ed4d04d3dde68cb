/// One cell of a source row, in the JSON value space every source maps into.
///
/// SQLite storage classes, CSV text and JSON values all become a `Value`, so the mapping engine
/// has one input type whatever the source. Objects keep their key order so that output is
/// deterministic.
package enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    /// A JSON number that neither `int` nor `double` holds exactly (an integer beyond Int64, a
    /// decimal with more digits than a double keeps), kept as its literal so that it is written
    /// with the source's own digits. Ordinary numbers never take this form (see `JSONNumber`).
    case number(String)
    case string(String)
    case array([Value])
    case object([ObjectEntry])

    package struct ObjectEntry: Sendable, Hashable {
        package var key: String
        package var value: Value
        package init(_ key: String, _ value: Value) {
            self.key = key
            self.value = value
        }
    }

    package var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The value as text, for conversions that accept any scalar as a string.
    package var scalarText: String? {
        switch self {
        case .null, .array, .object: return nil
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return JSONWriter.formatDouble(d)
        case .number(let literal): return literal
        case .string(let s): return s
        }
    }

    /// A short name of the value's kind, for error messages.
    package var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double, .number: return "number"
        case .string: return "string"
        case .array: return "list"
        case .object: return "object"
        }
    }

    /// The kind with its article ("an object", "a list", "null"), for messages.
    package var kindPhrase: String {
        switch self {
        case .null: return "null"
        case .int: return "an integer"
        case .object: return "an object"
        default: return "a \(kindName)"
        }
    }

    /// Looks up a key of an object value.
    package subscript(key: String) -> Value? {
        guard case .object(let entries) = self else { return nil }
        return entries.first(where: { $0.key == key })?.value
    }
}
