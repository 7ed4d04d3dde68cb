/// The token readers of `JSONByteParser`: strings (with escapes and UTF-8 checks) and numbers.
/// File sources call them directly to put records into row batches without building `Value`s.
extension JSONByteParser {
    /// Where a scanned string's UTF-8 (already validated) is.
    enum StringToken {
        /// The bytes between the quotes, which hold no escape.
        case direct(Range<Int>, isASCII: Bool)
        /// Decoded into `scratch`.
        case unescaped
    }

    /// Parses a string token starting at its opening quote.
    mutating func parseString() throws(JSONParseError) -> String {
        // Scanned first: `string(try scanString())` would read `scratch` as it was before.
        let token = try scanString()
        return string(token)
    }

    /// The scanned string; valid until the next scan.
    func string(_ token: StringToken) -> String {
        switch token {
        case .direct(let range, _): return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        case .unescaped: return scratch.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// The string token's bytes, valid until the next scan.
    @inline(__always)
    func withBytes<R>(of token: StringToken, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch token {
        case .direct(let range, _): return body(UnsafeRawBufferPointer(rebasing: bytes[range]))
        case .unescaped: return scratch.withUnsafeBytes(body)
        }
    }

    /// Scans a string token starting at its opening quote, checking it as `parseString` does.
    mutating func scanString() throws(JSONParseError) -> StringToken {
        let openingQuote = index
        index += 1
        let contentStart = index
        /// Every byte seen, OR-ed: below 0x80 the text is ASCII and needs no UTF-8 check.
        var highBits: UInt8 = 0
        // Fast path: no escapes, so the bytes between the quotes are the string.
        scan: while true {
            // Eight bytes at a time while none is a quote, a backslash, a control character or
            // past ASCII (the usual SWAR tests: a byte minus 1 or 0x20 borrows into its top bit).
            while index + 8 <= count {
                let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                let quotes = word ^ 0x2222_2222_2222_2222
                let backslashes = word ^ 0x5C5C_5C5C_5C5C_5C5C
                let special = ((quotes &- 0x0101_0101_0101_0101) & ~quotes)
                    | ((backslashes &- 0x0101_0101_0101_0101) & ~backslashes)
                    | ((word &- 0x2020_2020_2020_2020) & ~word)
                    | word
                if special & 0x8080_8080_8080_8080 != 0 { break }
                index += 8
            }
            guard index < count else { break scan }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let content = UnsafeRawBufferPointer(rebasing: bytes[contentStart..<index])
                guard highBits < 0x80 || UTF8Validation.isValid(content) else {
                    throw error("invalid UTF-8 in string", at: contentStart)
                }
                index += 1
                return .direct(contentStart..<(index - 1), isASCII: highBits < 0x80)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("unescaped control character in string") }
            highBits |= byte
            index += 1
        }
        guard index < count else {
            throw error("unterminated string", at: openingQuote)
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[contentStart..<index]))
        while index < count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard scratch.withUnsafeBytes({ UTF8Validation.isValid($0) }) else {
                    throw error("invalid UTF-8 in string", at: contentStart)
                }
                return .unescaped
            case UInt8(ascii: "\\"):
                try appendEscape()
            case 0..<0x20:
                throw error("unescaped control character in string")
            default:
                scratch.append(byte)
                index += 1
            }
        }
        throw error("unterminated string", at: openingQuote)
    }

    /// Decodes the escape sequence at `index` (which is on the backslash) into `scratch`.
    mutating func appendEscape() throws(JSONParseError) {
        let escapeStart = index
        guard index + 1 < count else { throw error("unterminated escape sequence") }
        let kind = bytes[index + 1]
        index += 2
        switch kind {
        case UInt8(ascii: "\""): scratch.append(0x22)
        case UInt8(ascii: "\\"): scratch.append(0x5C)
        case UInt8(ascii: "/"): scratch.append(0x2F)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try readHexQuad(escapeStart: escapeStart)
            var scalarValue = UInt32(unit)
            if (0xD800...0xDBFF).contains(unit) {
                // A high surrogate must be followed by an escaped low surrogate.
                guard index + 1 < count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw error("lone high surrogate \\u\(hex(unit)) in string", at: escapeStart)
                }
                let lowStart = index
                index += 2
                let low = try readHexQuad(escapeStart: lowStart)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw error("high surrogate \\u\(hex(unit)) is not followed by a low surrogate", at: escapeStart)
                }
                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(unit) {
                throw error("lone low surrogate \\u\(hex(unit)) in string", at: escapeStart)
            }
            guard let scalar = Unicode.Scalar(scalarValue) else {
                throw error("invalid unicode escape", at: escapeStart)
            }
            UTF8.encode(scalar) { scratch.append($0) }
        default:
            throw error("invalid escape sequence '\\\(Character(Unicode.Scalar(kind)))' in string", at: escapeStart)
        }
    }

    private func hex(_ unit: UInt16) -> String {
        let digits = String(unit, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    /// Reads the four hex digits after `\u`; `index` is on the first digit.
    mutating func readHexQuad(escapeStart: Int) throws(JSONParseError) -> UInt16 {
        guard index + 4 <= count else { throw error("incomplete \\u escape", at: escapeStart) }
        var unit: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid hex digit in \\u escape", at: escapeStart)
            }
            unit = unit << 4 | UInt16(digit)
            index += 1
        }
        return unit
    }

    /// A scanned number: an integer that fits Int64, or a literal to be read further.
    enum NumberToken {
        case int(Int64)
        /// `significant` counts digits from the first non-zero one on, fraction included.
        case literal(Range<Int>, isInteger: Bool, significant: Int)
    }

    mutating func parseNumber() throws(JSONParseError) -> Value {
        switch try scanNumber() {
        case .int(let i): return .int(i)
        case .literal(let range, let isInteger, let significant):
            return try literalValue(range, isInteger: isInteger, significant: significant)
        }
    }

    /// The value of a number literal that is not an Int64: `.number` for an integer beyond Int64
    /// (a double would keep only its first 17 digits), else what `JSONNumber.value` says.
    func literalValue(_ range: Range<Int>, isInteger: Bool, significant: Int) throws(JSONParseError) -> Value {
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        if isInteger { return .number(text) }
        guard let value = JSONNumber.value(text, significantDigits: significant) else {
            let shown = text.utf8.count > 40 ? text.prefix(40) + "…" : Substring(text)
            throw error("number \(shown) is out of range", at: range.lowerBound)
        }
        return value
    }

    /// Scans a number token, checking its syntax as `parseNumber` does.
    mutating func scanNumber() throws(JSONParseError) -> NumberToken {
        let start = index
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < count, isDigit(bytes[index]) else { throw error("expected a digit in number") }
        // Accumulate negatively so that Int64.min fits.
        var accumulator: Int64 = 0
        var fitsInt64 = true
        /// Digits from the first non-zero one on, integer and fraction parts together.
        var significant = 0
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < count, isDigit(bytes[index]) { throw error("leading zeros are not allowed in numbers", at: start) }
        } else {
            while index < count, isDigit(bytes[index]) {
                if fitsInt64 {
                    let digit = Int64(bytes[index] - UInt8(ascii: "0"))
                    let (times10, overflow1) = accumulator.multipliedReportingOverflow(by: 10)
                    let (next, overflow2) = times10.subtractingReportingOverflow(digit)
                    if overflow1 || overflow2 { fitsInt64 = false } else { accumulator = next }
                }
                significant += 1
                index += 1
            }
        }
        var isInteger = true
        if index < count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < count, isDigit(bytes[index]) else { throw error("expected a digit after the decimal point") }
            while index < count, isDigit(bytes[index]) {
                if significant > 0 || bytes[index] != UInt8(ascii: "0") { significant += 1 }
                index += 1
            }
        }
        if index < count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < count, isDigit(bytes[index]) else { throw error("expected a digit in the exponent") }
            while index < count, isDigit(bytes[index]) { index += 1 }
        }
        if isInteger && fitsInt64 {
            if negative { return .int(accumulator) }
            if accumulator != .min { return .int(-accumulator) }
        }
        return .literal(start..<index, isInteger: isInteger, significant: significant)
    }

    @inline(__always) func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }
}
