/// Writes JSON straight into a byte buffer.
///
/// Hand-written rather than `JSONEncoder`/`JSONSerialization` because batches must come out with
/// a fixed key order (tests compare exact bodies, and `source_request_id`s hash them) and because
/// this is the per-row hot path: the benchmark showed Foundation's encoders at a fraction of the
/// speed of appending bytes.
package struct JSONWriter: Sendable {
    package var bytes: [UInt8]

    package init(reservingCapacity capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    @inline(__always) package mutating func raw(_ byte: UInt8) { bytes.append(byte) }

    @inline(__always) package mutating func raw(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    package mutating func raw(_ other: [UInt8]) { bytes.append(contentsOf: other) }


    /// `digits` lowercase hex digits of `v` (its low ones), most significant first.
    package mutating func hex(_ v: UInt64, digits: Int = 16) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { buffer in
            var value = v
            for i in stride(from: digits - 1, through: 0, by: -1) {
                // "0"…"9" then "a"…"f", without a table lookup per digit.
                let nibble = UInt8(truncatingIfNeeded: value & 0xF)
                buffer[i] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
                value >>= 4
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[0..<digits]))
        }
    }

    /// A hash as a UUID (RFC 9562 version 8, "custom"): 8-4-4-4-12 lowercase hex.
    package mutating func uuid(_ hash: RowHash) {
        let high = (hash.high & ~0xF000) | 0x8000            // version 8
        let low = (hash.low & ~(0x3 << 62)) | (0x2 << 62)    // variant 10
        hex(high >> 32, digits: 8); raw(UInt8(ascii: "-"))
        hex(high >> 16, digits: 4); raw(UInt8(ascii: "-"))
        hex(high, digits: 4); raw(UInt8(ascii: "-"))
        hex(low >> 48, digits: 4); raw(UInt8(ascii: "-"))
        hex(low, digits: 12)
    }

    package mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string(utf8: $0) }
    }

    /// A JSON string of valid UTF-8 bytes: quotes, backslashes and control characters escaped,
    /// everything else copied as it is.
    package mutating func string(utf8: UnsafeBufferPointer<UInt8>) {
            bytes.append(UInt8(ascii: "\""))
            var start = 0
            for i in 0..<utf8.count {
                let c = utf8[i]
                if c >= 0x20 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") { continue }
                if start < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i])) }
                switch c {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0x08: bytes.append(contentsOf: [0x5C, UInt8(ascii: "b")])
                case 0x0C: bytes.append(contentsOf: [0x5C, UInt8(ascii: "f")])
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
                }
                start = i + 1
            }
            if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<utf8.count])) }
            bytes.append(UInt8(ascii: "\""))
    }

    package mutating func int(_ i: Int64) {
        if i >= 0 && i < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(i))
            return
        }
        // Digits into a stack buffer, last first: no String per number.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var magnitude = i.magnitude
            var start = 20
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if i < 0 { bytes.append(UInt8(ascii: "-")) }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<20]))
        }
    }

    package mutating func double(_ d: Double) {
        bytes.append(contentsOf: JSONWriter.formatDouble(d).utf8)
    }

    package mutating func value(_ v: Value) {
        switch v {
        case .null: raw("null")
        case .bool(let b): b ? raw("true") : raw("false")
        case .int(let i): int(i)
        case .double(let d): double(d)
        case .number(let literal): bytes.append(contentsOf: literal.utf8)
        case .string(let s): string(s)
        case .array(let items):
            raw(UInt8(ascii: "["))
            for (n, item) in items.enumerated() {
                if n > 0 { raw(UInt8(ascii: ",")) }
                value(item)
            }
            raw(UInt8(ascii: "]"))
        case .object(let entries):
            raw(UInt8(ascii: "{"))
            for (n, entry) in entries.enumerated() {
                if n > 0 { raw(UInt8(ascii: ",")) }
                string(entry.key)
                raw(UInt8(ascii: ":"))
                value(entry.value)
            }
            raw(UInt8(ascii: "}"))
        }
    }

    /// JSON has no NaN or infinity; callers reject those before writing. Integral doubles print
    /// without a fraction so that `2.0` and `2` compare equal downstream.
    package static func formatDouble(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return d.description
    }

    /// Serializes a value compactly.
    package static func compact(_ v: Value) -> String {
        var w = JSONWriter()
        w.value(v)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Serializes a value with two-space indentation, for people to read (`jobs plan`).
    package static func pretty(_ v: Value, indent: Int = 0) -> String {
        var out = ""
        prettyAppend(v, indent: indent, into: &out)
        return out
    }

    private static func prettyAppend(_ v: Value, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch v {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (n, item) in items.enumerated() {
                out += pad
                prettyAppend(item, indent: indent + 1, into: &out)
                out += n == items.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "]"
        case .object(let entries) where !entries.isEmpty:
            out += "{\n"
            for (n, entry) in entries.enumerated() {
                out += pad + compact(.string(entry.key)) + ": "
                prettyAppend(entry.value, indent: indent + 1, into: &out)
                out += n == entries.count - 1 ? "\n" : ",\n"
            }
            out += closePad + "}"
        default:
            out += compact(v)
        }
    }
}
