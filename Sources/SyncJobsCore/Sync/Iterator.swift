/// How the incremental iterator column is read and compared.
package enum IteratorType: String, Sendable, CaseIterable {
    case timestamp, date
    case unixMs = "unix_ms"
    case unixS = "unix_s"
    case integer, number, string

    /// Time iterators compare as integer milliseconds since the epoch.
    package var isTime: Bool {
        switch self {
        case .timestamp, .date, .unixMs, .unixS: return true
        case .integer, .number, .string: return false
        }
    }

    /// What a valid value looks like, for rejection messages.
    var expectation: String {
        switch self {
        case .timestamp: return "an ISO 8601 timestamp like 2026-01-01T00:00:00Z"
        case .date: return "a date like 2026-01-01"
        case .unixMs: return "an integer count of milliseconds since 1970"
        case .unixS: return "a count of seconds since 1970"
        case .integer: return "an integer"
        case .number: return "a number"
        case .string: return "text"
        }
    }

    /// Reads a cell as an iterator value; nil when it is null or does not parse as this type.
    package func normalize(_ value: Value) -> IteratorValue? {
        switch self {
        case .timestamp, .date:
            guard case .string(let text) = value, let ms = Timestamp.parseMillis(text) else { return nil }
            return .int(ms)
        case .unixMs, .integer:
            return IteratorType.integerValue(value).map(IteratorValue.int)
        case .unixS:
            switch value {
            case .int(let s): return s.multipliedReportingOverflow(by: 1000).overflow ? nil : .int(s * 1000)
            case .double(let d) where d.isFinite && abs(d) < 9e12: return .int(Int64((d * 1000).rounded()))
            case .string(let text):
                if let s = Int64(text) { return IteratorType.unixS.normalize(.int(s)) }
                if let d = Double(text), text.contains(".") { return IteratorType.unixS.normalize(.double(d)) }
                return nil
            default: return nil
            }
        case .number:
            switch value {
            case .int(let i): return .double(Double(i))
            case .double(let d) where d.isFinite: return .double(d)
            // Compared as a double: two literals that share one are ties, which the boundary
            // rows keep apart.
            case .number(let literal): return Double(literal).map(IteratorValue.double)
            case .string(let text):
                guard let d = Double(text), d.isFinite, text.first.map({ $0 == "-" || $0 == "." || $0.isNumber }) == true else { return nil }
                return .double(d)
            default: return nil
            }
        case .string:
            switch value {
            case .string(let s): return .string(s)
            case .int, .double, .number: return value.scalarText.map(IteratorValue.string)
            default: return nil
            }
        }
    }

    /// Why a cell cannot be read as this type, for its rejected-row record: with the range of an
    /// integer too large, and a hint when a time iterator holds unix seconds or milliseconds.
    func rejection(column: String, cell: Value) -> String {
        if cell.isNull { return "iterator column '\(column)' is null" }
        let holds = "iterator column '\(column)' holds \(ValueConversion.quoted(cell))"
        switch self {
        case .integer, .unixMs, .unixS:
            if ValueConversion.isIntegerBeyondRange(cell) {
                return "\(holds), which is beyond the range of a 64-bit integer (\(Int64.min) to \(Int64.max))"
            }
        case .timestamp, .date:
            if let hint = Self.unixTimeHint(cell) { return "\(holds), which is not \(expectation); \(hint)" }
        case .number, .string:
            break
        }
        return "\(holds), which is not \(expectation)"
    }

    /// "it looks like unix seconds (2026-01-01T00:00:00Z): set 'iterator_type: unix_s'" for a
    /// number of seconds or milliseconds between 1973 and 2286.
    static func unixTimeHint(_ cell: Value) -> String? {
        let number: Double
        switch cell {
        case .int(let i): number = Double(i)
        case .double(let d): number = d
        case .string(let text):
            let t = text.trimmingCharacters(in: .whitespaces)
            guard let first = t.utf8.first, first &- 48 < 10, JSONNumber.isJSONNumber(Substring(t).utf8),
                  let d = Double(t) else { return nil }
            number = d
        default: return nil
        }
        if number >= 1e8 && number < 1e10 {
            return "it looks like unix seconds (\(Timestamp.format(millis: Int64((number * 1000).rounded())))): set 'iterator_type: unix_s'"
        }
        if number >= 1e11 && number < 1e13 {
            return "it looks like unix milliseconds (\(Timestamp.format(millis: Int64(number.rounded())))): set 'iterator_type: unix_ms'"
        }
        return nil
    }

    private static func integerValue(_ value: Value) -> Int64? {
        switch value {
        case .int(let i): return i
        case .double(let d) where d.isFinite && d == d.rounded() && abs(d) < 9.2e18: return Int64(d)
        case .string(let text): return Int64(text)
        default: return nil
        }
    }

    /// Parses `sync.from` or a checkpoint written by a person.
    package func parseBound(_ text: String) -> IteratorValue? {
        switch self {
        case .timestamp, .date, .unixMs, .unixS:
            if let ms = Timestamp.parseMillis(text) { return .int(ms) }
            if let n = Int64(text) { return self == .unixS ? .int(n * 1000) : .int(n) }
            return nil
        default:
            return normalize(.string(text))
        }
    }

    /// Parses `lookback`: a duration (`90s`, `15m`, `1h`, `2d`) for time iterators, a plain
    /// number otherwise. Returned in the iterator's units.
    package func parseLookback(_ text: String) -> IteratorValue? {
        if isTime {
            let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
            for (suffix, scale) in units where text.hasSuffix(suffix) {
                guard let n = Int64(text.dropLast(suffix.count)), n >= 0 else { return nil }
                return .int(n * scale)
            }
            return nil
        }
        switch self {
        case .integer: return Int64(text).flatMap { $0 >= 0 ? .int($0) : nil }
        case .number: return Double(text).flatMap { $0 >= 0 && $0.isFinite ? .double($0) : nil }
        default: return nil
        }
    }

    /// Shows a normalized value the way the user wrote it.
    package func display(_ value: IteratorValue) -> String {
        switch (self, value) {
        case (.date, .int(let ms)) where ms % 86_400_000 == 0:
            return String(Timestamp.format(millis: ms).prefix(10))
        case (_, .int(let ms)) where isTime:
            return Timestamp.format(millis: ms)
        default:
            return value.description
        }
    }
}

/// A normalized iterator value: milliseconds for time types, else the value itself.
package enum IteratorValue: Sendable, Hashable, Comparable, CustomStringConvertible {
    case int(Int64)
    case double(Double)
    case string(String)

    package static func < (lhs: IteratorValue, rhs: IteratorValue) -> Bool {
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): return a < b
        case (.double(let a), .double(let b)): return a < b
        case (.int(let a), .double(let b)): return Double(a) < b
        case (.double(let a), .int(let b)): return a < Double(b)
        case (.string(let a), .string(let b)): return Array(a.utf8).lexicographicallyPrecedes(b.utf8)
        case (.string, _): return false
        case (_, .string): return true
        }
    }

    package var description: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return JSONWriter.formatDouble(d)
        case .string(let s): return s
        }
    }

    package var sqlValue: Value {
        switch self {
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        }
    }

    /// The value `amount` lower, for lookback windows.
    package func minus(_ amount: IteratorValue) -> IteratorValue {
        switch (self, amount) {
        case (.int(let a), .int(let b)): return .int(a.subtractingReportingOverflow(b).overflow ? Int64.min : a - b)
        case (.double(let a), .double(let b)): return .double(a - b)
        case (.double(let a), .int(let b)): return .double(a - Double(b))
        case (.int(let a), .double(let b)): return .double(Double(a) - b)
        default: return self
        }
    }

    init?(storage: Value) {
        switch storage {
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        default: return nil
        }
    }
}
