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
    /// One of an enumeration's values, already written as JSON (in the builder's `SlotBytes`).
    case canonical(UnsafeRawBufferPointer)
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

/// How a slot reads a cell without the general conversion, worked out once per slot. Trivially
/// copyable (its bytes live in the builder's `SlotBytes`), so the hot path retains nothing.
struct FastSlot: @unchecked Sendable {
    // @unchecked: the pointers point into a `SlotBytes` the builder keeps, immutable once made.

    /// One allowed value of an enumeration, as written and as a JSON string.
    struct Allowed {
        var name: UnsafeRawBufferPointer
        var json: UnsafeRawBufferPointer
    }

    enum Path: @unchecked Sendable {
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
        /// The allowed values, in the order the general path tries them.
        case enumeration(UnsafeBufferPointer<Allowed>)
    }

    var path: Path
    var column: Int

    init(_ slot: MappingPlan.Slot, bytes: SlotBytes) {
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
            path = .enumeration(bytes.allowed(allowed.map { name in
                var w = JSONWriter(reservingCapacity: name.utf8.count + 2)
                w.string(name)
                return Allowed(name: bytes.store(Array(name.utf8)), json: bytes.store(w.bytes))
            }))
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
        case .enumeration(let allowed):
            guard cell.kind == .text else { return .general }
            return batch.bytes.withUnsafeBytes { all in
                let text = UnsafeRawBufferPointer(rebasing: all[cell.textRange])
                for value in allowed where value.name.count == text.count {
                    if value.name.elementsEqual(text) { return .field(.canonical(value.json)) }
                }
                // Without regard to case: ASCII here; other text takes the general path.
                for value in allowed where value.name.count == text.count {
                    var equal = true
                    for (a, b) in zip(value.name, text) where a != b {
                        guard a < 0x80, b < 0x80, ASCII.lower(a) == ASCII.lower(b) else { equal = false; break }
                    }
                    if equal { return .field(.canonical(value.json)) }
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
        case .canonical(let json): bytes.append(contentsOf: json)
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

/// Bytes a builder's slots point into (key JSON, enumeration values), kept for the builder's
/// lifetime: slots hold plain pointers, so copying one on the hot path retains nothing.
final class SlotBytes: @unchecked Sendable {
    // @unchecked: written only while the builder is made, read-only after.
    private var blocks: [UnsafeMutableRawBufferPointer] = []
    private var lists: [UnsafeMutableBufferPointer<FastSlot.Allowed>] = []

    func store(_ bytes: [UInt8]) -> UnsafeRawBufferPointer {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        block.copyBytes(from: bytes)
        blocks.append(block)
        return UnsafeRawBufferPointer(rebasing: block[0..<bytes.count])
    }

    func allowed(_ values: [FastSlot.Allowed]) -> UnsafeBufferPointer<FastSlot.Allowed> {
        let list = UnsafeMutableBufferPointer<FastSlot.Allowed>.allocate(capacity: max(values.count, 1))
        _ = list.initialize(from: values)
        lists.append(list)
        return UnsafeBufferPointer(rebasing: list[0..<values.count])
    }

    deinit {
        for block in blocks { block.deallocate() }
        for list in lists { list.deallocate() }
    }
}
