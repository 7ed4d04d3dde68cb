import NIOCore

/// Turns PostgreSQL's binary values into batch cells, without a `String` per cell where the value
/// is a number or a time.
enum PostgresCells {
    /// 2000-01-01T00:00:00Z, PostgreSQL's epoch, in microseconds and days since 1970.
    static let epochMicros: Int64 = 946_684_800_000_000
    static let epochDays: Int64 = 10_957

    /// Appends the cell for a non-null value; returns why the row cannot be sent when the value
    /// has no JSON form (NaN, infinity), or nil.
    @inline(__always)
    static func append(_ reading: PostgresColumn.Reading, _ buffer: ByteBuffer, column: String, to batch: inout RowBatch) -> String? {
        // One access to the bytes per cell; integers are read big-endian from them directly.
        buffer.withUnsafeReadableBytes { bytes in
            append(reading, bytes, column: column, to: &batch)
        }
    }

    @inline(__always)
    private static func integer<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as: T.Type) -> T {
        bytes.count >= MemoryLayout<T>.size ? T(bigEndian: bytes.loadUnaligned(as: T.self)) : 0
    }

    @inline(__always)
    private static func append(_ reading: PostgresColumn.Reading, _ bytes: UnsafeRawBufferPointer, column: String, to batch: inout RowBatch) -> String? {
        switch reading {
        case .bool:
            batch.append(bool: bytes.first.map { $0 != 0 } ?? false)
        case .int2:
            batch.append(int: Int64(integer(bytes, as: Int16.self)))
        case .int4:
            batch.append(int: Int64(integer(bytes, as: Int32.self)))
        case .oid:
            batch.append(int: Int64(integer(bytes, as: UInt32.self)))
        case .int8:
            batch.append(int: integer(bytes, as: Int64.self))
        case .float4:
            let float = Float(bitPattern: integer(bytes, as: UInt32.self))
            guard float.isFinite else { return notFinite(column, Double(float)) }
            // As the float's shortest digits (0.1, not 0.10000000149011612).
            batch.append(double: Double("\(float)") ?? Double(float))
        case .float8:
            let double = Double(bitPattern: integer(bytes, as: UInt64.self))
            guard double.isFinite else { return notFinite(column, double) }
            batch.append(double: double)
        case .text:
            batch.append(text: bytes)
        case .uuid:
            appendUUID(bytes, to: &batch)
        case .numericText:
            let literal = String(decoding: bytes, as: UTF8.self)
            if let integer = Int64(literal) {
                batch.append(int: integer)
            } else if let value = JSONNumber.value(literal) {
                batch.append(value)
            } else {
                return "column '\(column)' holds \(literal), which a JSON number cannot hold"
            }
        case .timestamptz:
            let micros = integer(bytes, as: Int64.self)
            if micros == .max || micros == .min {
                batch.append(text: micros == .max ? "infinity" : "-infinity")
            } else {
                appendTimestamp(micros: micros &+ epochMicros, to: &batch)
            }
        case .date:
            let days = integer(bytes, as: Int32.self)
            if days == .max || days == .min {
                batch.append(text: days == .max ? "infinity" : "-infinity")
            } else {
                appendDate(days: Int64(days) + epochDays, to: &batch)
            }
        case .jsonText:
            do {
                batch.append(try JSONParser.parse(bytes))
            } catch {
                return "column '\(column)' holds JSON that cannot be read: \(error)"
            }
        }
        return nil
    }

    private static func notFinite(_ column: String, _ value: Double) -> String {
        "column '\(column)' holds \(value.isNaN ? "NaN" : value < 0 ? "-Infinity" : "Infinity"), which a JSON number cannot hold"
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// `123e4567-e89b-12d3-a456-426614174000`.
    static func appendUUID(_ bytes: UnsafeRawBufferPointer, to batch: inout RowBatch) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { out in
            var o = 0
            for i in 0..<min(16, bytes.count) {
                if i == 4 || i == 6 || i == 8 || i == 10 { out[o] = UInt8(ascii: "-"); o += 1 }
                out[o] = hex[Int(bytes[i] >> 4)]
                out[o + 1] = hex[Int(bytes[i] & 0x0F)]
                o += 2
            }
            batch.append(text: UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(out)[0..<o]))
        }
    }

    /// ISO 8601 in UTC: `2026-11-15T19:00:00Z`, with `.123` or `.123456` when the value has them.
    static func appendTimestamp(micros: Int64, to batch: inout RowBatch) {
        let (seconds, fraction) = floorDivision(micros, 1_000_000)
        let (days, secondOfDay) = floorDivision(seconds, 86_400)
        let (year, month, day) = Timestamp.civilFromDays(days)
        guard (0...9999).contains(year) else {
            // Outside four-digit years, as `Timestamp.format` writes them (milliseconds).
            batch.append(text: Timestamp.format(millis: floorDivision(micros, 1000).quotient))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { out in
            var o = 0
            func put(_ value: Int64, _ width: Int) {
                var v = value
                for k in stride(from: width - 1, through: 0, by: -1) {
                    out[o + k] = UInt8(48 + v % 10)
                    v /= 10
                }
                o += width
            }
            func char(_ c: Character) { out[o] = c.asciiValue!; o += 1 }
            put(year, 4); char("-"); put(month, 2); char("-"); put(day, 2); char("T")
            put(secondOfDay / 3600, 2); char(":"); put(secondOfDay / 60 % 60, 2); char(":"); put(secondOfDay % 60, 2)
            if fraction != 0 {
                char(".")
                if fraction % 1000 == 0 { put(fraction / 1000, 3) } else { put(fraction, 6) }
            }
            char("Z")
            batch.append(text: UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(out)[0..<o]))
        }
    }

    /// `2026-11-15`.
    static func appendDate(days: Int64, to batch: inout RowBatch) {
        let (year, month, day) = Timestamp.civilFromDays(days)
        guard (0...9999).contains(year) else {
            batch.append(text: String(Timestamp.format(millis: days * 86_400_000).prefix { $0 != "T" }))
            return
        }
        var text = [UInt8](repeating: 0, count: 10)
        var v = year
        for k in stride(from: 3, through: 0, by: -1) { text[k] = UInt8(48 + v % 10); v /= 10 }
        text[4] = UInt8(ascii: "-")
        text[5] = UInt8(48 + month / 10); text[6] = UInt8(48 + month % 10)
        text[7] = UInt8(ascii: "-")
        text[8] = UInt8(48 + day / 10); text[9] = UInt8(48 + day % 10)
        text.withUnsafeBytes { batch.append(text: $0) }
    }

    static func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let q = value / divisor, r = value % divisor
        return r < 0 ? (q - 1, r + divisor) : (q, r)
    }
}
