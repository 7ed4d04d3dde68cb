/// Exact decimal reasoning about number literals, so that no number is silently changed on its
/// way from a source to a batch.
///
/// A JSON number becomes `.int` when it is an integer that fits Int64, `.double` when a double
/// writes it back with the same value (its shortest form is the literal's number: `0.1`, `1.50`,
/// `2.5e-3`), and `.number(literal)` otherwise: an integer beyond Int64, a decimal with more
/// digits than a double keeps (`0.1000000000000000055511151231257827`), or one too small for a
/// double (`1e-400`). A literal with at most 15 significant digits whose double is normal always
/// round-trips (IEEE 754's 15-digit guarantee), so ordinary numbers take the fast path and only
/// long literals are compared digit by digit.
enum JSONNumber {
    /// A finite decimal as sign, significant digits (no leading or trailing zeros) and exponent:
    /// the value is `digits × 10^exponent`; zero has no digits.
    struct Decimal: Equatable {
        var negative: Bool
        var digits: [UInt8]
        var exponent: Int

        /// Reads a number literal in JSON syntax, or as Swift prints doubles (`1e+19`, `5e-324`);
        /// a leading `+` is allowed. Nil for anything else.
        init?(_ text: Substring.UTF8View) {
            var index = text.startIndex
            func peek() -> UInt8? { index < text.endIndex ? text[index] : nil }
            var negative = false
            if peek() == UInt8(ascii: "-") { negative = true; index = text.index(after: index) }
            else if peek() == UInt8(ascii: "+") { index = text.index(after: index) }
            var digits: [UInt8] = []
            var exponent = 0
            var sawDigit = false
            while let byte = peek(), byte &- 48 < 10 {
                sawDigit = true
                if !(digits.isEmpty && byte == 48) { digits.append(byte - 48) }
                index = text.index(after: index)
            }
            if peek() == UInt8(ascii: ".") {
                index = text.index(after: index)
                while let byte = peek(), byte &- 48 < 10 {
                    sawDigit = true
                    if !(digits.isEmpty && byte == 48) { digits.append(byte - 48) }
                    exponent -= 1
                    index = text.index(after: index)
                }
            }
            guard sawDigit else { return nil }
            if let byte = peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                index = text.index(after: index)
                var sign = 1
                if peek() == UInt8(ascii: "-") { sign = -1; index = text.index(after: index) }
                else if peek() == UInt8(ascii: "+") { index = text.index(after: index) }
                var value = 0
                var sawExponentDigit = false
                while let byte = peek(), byte &- 48 < 10 {
                    sawExponentDigit = true
                    // Past a million the number is out of any range anyway; stop growing.
                    if value < 1_000_000 { value = value * 10 + Int(byte - 48) }
                    index = text.index(after: index)
                }
                guard sawExponentDigit else { return nil }
                exponent += sign * value
            }
            guard index == text.endIndex else { return nil }
            // Zeros before the first significant digit were skipped (fraction ones still lowered
            // the exponent); trailing zeros move into the exponent.
            while let last = digits.last, last == 0 { digits.removeLast(); exponent += 1 }
            if digits.isEmpty { negative = false; exponent = 0 }
            self.negative = negative
            self.digits = digits
            self.exponent = exponent
        }

        init?(_ text: String) { self.init(Substring(text).utf8) }

        /// The value as an Int64 when it is an integer in range.
        var exactInteger: Int64? {
            if digits.isEmpty { return 0 }
            guard exponent >= 0, digits.count + exponent <= 19 else { return nil }
            // Accumulate negatively so that Int64.min fits.
            var accumulator: Int64 = 0
            for digit in digits + [UInt8](repeating: 0, count: exponent) {
                let (times10, overflow1) = accumulator.multipliedReportingOverflow(by: 10)
                let (next, overflow2) = times10.subtractingReportingOverflow(Int64(digit))
                if overflow1 || overflow2 { return nil }
                accumulator = next
            }
            if negative { return accumulator }
            return accumulator == .min ? nil : -accumulator
        }

        var isInteger: Bool { digits.isEmpty || exponent >= 0 }
    }

    /// Whether `double` holds the number `literal` writes: its shortest form has the same value.
    static func isExact(_ double: Double, literal: Substring.UTF8View) -> Bool {
        guard double.isFinite, let written = Decimal(literal), let held = Decimal("\(double)") else { return false }
        return written == held
    }

    /// The value for a number literal found in a source: `.int`, `.double` or `.number` as the
    /// type's documentation says; nil when it is not a number or lies beyond a double's range.
    /// `significantDigits` may be given by a caller that counted them while scanning.
    static func value(_ literal: String, significantDigits: Int? = nil) -> Value? {
        guard let double = Double(literal), double.isFinite else { return nil }
        return holdsExactly(double, literal: Substring(literal).utf8, significantDigits: significantDigits)
            ? .double(double) : .number(literal)
    }

    /// `isExact`, answered without printing the double for literals of up to 15 digits.
    static func holdsExactly(_ double: Double, literal: Substring.UTF8View, significantDigits: Int? = nil) -> Bool {
        let significant = significantDigits ?? countSignificantDigits(literal)
        if significant <= 15 && (double.isNormal || (double == 0 && significant == 0)) { return true }
        return isExact(double, literal: literal)
    }

    static func countSignificantDigits(_ text: Substring.UTF8View) -> Int {
        var count = 0
        for byte in text {
            if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") { break }
            if byte &- 48 < 10, count > 0 || byte != 48 { count += 1 }
        }
        return count
    }

    /// `text` as a JSON number literal when it is a number written as people do (`+5`, `.5`,
    /// `5.`, surrounding spaces); nil when it is not a number.
    static func literal(_ text: String) -> String? {
        var t = Substring(text.trimmingCharacters(in: .whitespaces))
        var sign = ""
        if t.first == "+" { t = t.dropFirst() } else if t.first == "-" { sign = "-"; t = t.dropFirst() }
        if t.first == "." { t = "0" + t }
        if let dot = t.firstIndex(of: "."), t.index(after: dot) == t.endIndex || !t[t.index(after: dot)].isNumber {
            t.remove(at: dot)
        }
        while t.count > 1, t.first == "0", let second = t.dropFirst().first, second.isNumber { t = t.dropFirst() }
        let candidate = sign + t
        return JSONNumber.isJSONNumber(Substring(candidate).utf8) ? candidate : nil
    }

    /// RFC 8259's number grammar.
    static func isJSONNumber(_ text: Substring.UTF8View) -> Bool {
        var index = text.startIndex
        func peek() -> UInt8? { index < text.endIndex ? text[index] : nil }
        func advance() { index = text.index(after: index) }
        func digits() -> Int {
            var n = 0
            while let byte = peek(), byte &- 48 < 10 { n += 1; advance() }
            return n
        }
        if peek() == UInt8(ascii: "-") { advance() }
        if peek() == UInt8(ascii: "0") { advance() } else if digits() == 0 { return false }
        if peek() == UInt8(ascii: ".") { advance(); if digits() == 0 { return false } }
        if let byte = peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            advance()
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { advance() }
            if digits() == 0 { return false }
        }
        return index == text.endIndex
    }
}
