/// A value ready to be written into a batch field.
///
/// The common cases point into the row batch's bytes or carry a number, so mapping a row makes no
/// `String` and no `Value`; anything unusual (an explicit `type:`, a list, text past a limit that
/// must be counted in characters, a value that is rejected) goes through `ValueConversion` on a
/// `Value`, the one place the rules are written down. Both paths give the same bytes.
enum FieldValue {
    /// Valid UTF-8 in the batch's bytes, written as a JSON string.
    case text(Range<Int>)
    /// An integer written as a JSON string (an identity or attribute sent as text).
    case integerText(Int64)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    /// A JSON number literal in the batch's bytes, written as it is.
    case literal(Range<Int>)
    /// One of an enumeration's values, already written as JSON.
    case canonical([UInt8])
    /// What the general conversion produced.
    case value(Value)

    /// The text, when the field is text (event types and names are checked by the builder).
    func text(in batch: RowBatch) -> String? {
        switch self {
        case .text(let range): return String(decoding: batch.bytes[range], as: UTF8.self)
        case .canonical(let json): return String(decoding: json.dropFirst().dropLast(), as: UTF8.self)
        case .value(.string(let s)): return s
        default: return nil
        }
    }

    var isEmptyText: Bool {
        switch self {
        case .text(let range): return range.isEmpty
        case .value(.string(let s)): return s.isEmpty
        default: return false
        }
    }

    var millis: Int64? {
        switch self {
        case .int(let ms), .value(.int(let ms)): return ms
        default: return nil
        }
    }
}

/// How a slot reads a cell without the general conversion, worked out once per slot.
struct FastSlot: Sendable {
    enum Path: Sendable {
        /// Always the general conversion (explicit `type:`, a constant, a rare kind).
        case general
        case identity
        /// Text up to `limit` bytes (a limit in characters is counted only past it in bytes).
        case text(limit: Int)
        case userAttribute
        case timestamp
        case integer
        case number
        case boolean
        case uuid
        /// Allowed values as written (UTF-8) and as JSON strings.
        case enumeration(names: [[UInt8]], json: [[UInt8]])
    }

    var path: Path
    var column: Int

    init(_ slot: MappingPlan.Slot) {
        guard case .column(let index) = slot.input, slot.type == nil else {
            path = .general
            column = -1
            return
        }
        column = index
        switch slot.kind {
        case .identity: path = .identity
        case .text(let maxLength): path = .text(limit: maxLength ?? Int.max)
        case .eventAttribute: path = .text(limit: ValueConversion.attributeValueMax)
        case .userAttribute: path = .userAttribute
        case .timestampMillis: path = .timestamp
        case .integer: path = .integer
        case .number: path = .number
        case .boolean: path = .boolean
        case .uuid: path = .uuid
        case .enumeration(let allowed):
            path = .enumeration(names: allowed.map { Array($0.utf8) }, json: allowed.map { name in
                var w = JSONWriter(reservingCapacity: name.utf8.count + 2)
                w.string(name)
                return w.bytes
            })
        }
    }

    enum Outcome {
        case field(FieldValue)
        case absent
        /// Needs the general conversion.
        case general
    }

    /// The field for `cell` when it is a common case; `.general` otherwise.
    @inline(__always)
    func convert(_ cell: RowBatch.Cell, in batch: RowBatch) -> Outcome {
        if cell.kind == .null { return .absent }
        switch path {
        case .general:
            return .general
        case .identity:
            switch cell.kind {
            case .text: return cell.length == 0 ? .absent : .field(.text(cell.textRange))
            case .int: return .field(.integerText(cell.intValue))
            default: return .general
            }
        case .text(let limit):
            switch cell.kind {
            case .text: return Int(cell.length) <= limit ? .field(.text(cell.textRange)) : .general
            case .int: return limit >= 20 ? .field(.integerText(cell.intValue)) : .general
            default: return .general
            }
        case .userAttribute:
            switch cell.kind {
            case .text: return Int(cell.length) <= ValueConversion.attributeValueMax ? .field(.text(cell.textRange)) : .general
            case .int: return .field(.int(cell.intValue))
            case .double: return .field(.double(cell.doubleValue))
            case .bool: return .field(.bool(cell.boolValue))
            case .number: return .field(.literal(cell.textRange))
            default: return .general
            }
        case .timestamp:
            switch cell.kind {
            case .text:
                let millis = batch.bytes.withUnsafeBytes { Timestamp.parseMillis(UnsafeRawBufferPointer(rebasing: $0[cell.textRange])) }
                return millis.map { .field(.int($0)) } ?? .general
            case .int:
                let n = cell.intValue
                return .field(.int(n.magnitude < UInt64(ValueConversion.secondsThreshold) ? n * 1000 : n))
            default: return .general
            }
        case .integer:
            return cell.kind == .int ? .field(.int(cell.intValue)) : .general
        case .number:
            switch cell.kind {
            case .int: return .field(.int(cell.intValue))
            case .double: return cell.doubleValue.isFinite ? .field(.double(cell.doubleValue)) : .general
            default: return .general
            }
        case .boolean:
            return cell.kind == .bool ? .field(.bool(cell.boolValue)) : .general
        case .uuid:
            guard cell.kind == .text else { return .general }
            if cell.length == 0 { return .absent }
            let valid = batch.bytes.withUnsafeBytes { ValueConversion.isUUID(UnsafeRawBufferPointer(rebasing: $0[cell.textRange])) }
            return valid ? .field(.text(cell.textRange)) : .general
        case .enumeration(let names, let json):
            guard cell.kind == .text else { return .general }
            return batch.bytes.withUnsafeBytes { all in
                let text = UnsafeRawBufferPointer(rebasing: all[cell.textRange])
                for (k, name) in names.enumerated() where name.count == text.count {
                    if name.elementsEqual(text) { return .field(.canonical(json[k])) }
                }
                // Without regard to case: ASCII here; other text takes the general path.
                for (k, name) in names.enumerated() where name.count == text.count {
                    var equal = true
                    for (a, b) in zip(name, text) where a != b {
                        guard a < 0x80, b < 0x80, ASCII.lower(a) == ASCII.lower(b) else { equal = false; break }
                    }
                    if equal { return .field(.canonical(json[k])) }
                }
                return .general
            }
        }
    }
}

enum ASCII {
    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
}

extension JSONWriter {
    /// Writes a field as the general path would write the `Value` it stands for.
    @inline(__always)
    mutating func field(_ field: FieldValue, _ batch: RowBatch) {
        switch field {
        case .text(let range):
            batch.bytes.withUnsafeBufferPointer { string(utf8: UnsafeBufferPointer(rebasing: $0[range])) }
        case .integerText(let i):
            raw(UInt8(ascii: "\""))
            int(i)
            raw(UInt8(ascii: "\""))
        case .int(let i): int(i)
        case .double(let d): double(d)
        case .bool(let b): b ? raw("true") : raw("false")
        case .literal(let range): batch.bytes.withUnsafeBufferPointer { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: $0[range])) }
        case .canonical(let json): raw(json)
        case .value(let v): value(v)
        }
    }

    /// Writes a cell as `value(_:)` writes the `Value` it stands for.
    mutating func cell(_ cell: RowBatch.Cell, _ batch: RowBatch) {
        switch cell.kind {
        case .null: raw("null")
        case .bool: cell.boolValue ? raw("true") : raw("false")
        case .int: int(cell.intValue)
        case .double: double(cell.doubleValue)
        case .text: field(.text(cell.textRange), batch)
        case .number: field(.literal(cell.textRange), batch)
        case .value: value(batch.value(cell))
        }
    }
}
