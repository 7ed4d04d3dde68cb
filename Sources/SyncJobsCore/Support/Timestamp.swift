/// Timestamps as the incremental iterator and value conversion see them: text in SQLite's
/// date-and-time formats, turned into milliseconds since the Unix epoch (UTC).
///
/// The iterator compares cursors in Swift (`parseMillis`) and filters rows in SQL
/// (`Timestamp.sqlMillisExpression`, with the SQLite source), so the two must agree on every input: the same text must give the same
/// milliseconds on both sides, and text one side rejects the other must reject too. Both therefore
/// follow SQLite's own `julianday()` parser (checked against SQLite 3.40.1), narrowed in the same
/// few places:
///
/// Accepted (`␠` is one space; whitespace means space, tab, LF, VT, FF or CR, as in SQLite):
///
///     YYYY-MM-DD
///     YYYY-MM-DD␠HH:MM            (or T or t instead of the space)
///     YYYY-MM-DD␠HH:MM:SS
///     YYYY-MM-DD␠HH:MM:SS.F       (1 to 9 fraction digits)
///
/// A form with a time may be followed by a zone `Z`, `z`, `±HH:MM` or `±HHMM` (zone hours 00–14,
/// minutes 00–59), optionally preceded by whitespace; any form may end in whitespace. Without a
/// zone the time is UTC. `t` and `±HHMM` (what Python's `%z` writes) are beyond SQLite's grammar:
/// the SQL side rewrites them to `T` and `±HH:MM` before `julianday()` reads the text. Fields: year 0000–9999, month 01–12, a day that exists in that month,
/// hour 00–23, minute and second 00–59, and the result no later than 9999-12-31T23:59:59.999Z.
/// Fractions round half up to whole milliseconds with SQLite's double arithmetic
/// (`.0005` → 1 ms, `23:59:59.9999` → next day 00:00:00.000).
///
/// Rejected although `julianday()` accepts them:
/// - text that isn't a calendar timestamp: `now`, numbers (Julian day numbers such as `2459000.5`),
///   a bare time `12:00` (SQLite assumes 2000-01-01), negative years `-0001-01-01`;
/// - hour 24 (`24:00` to `24:59:59`; SQLite rolls it into the next day);
/// - days the month doesn't have (`2026-02-30`, `2023-02-29`, `2026-04-31`; SQLite rolls them into
///   the next month, so `2026-02-30` would be 2026-03-02);
/// - a date and time joined other than by exactly one space or `T` (SQLite also takes no separator,
///   several spaces, tabs or `T`s, and a dangling `T` after a date);
/// - more than 9 fraction digits (nanoseconds, the finest any clock writes): SQLite takes any
///   number, but past ~308 digits its double arithmetic turns NaN and converts that to an integer,
///   which C leaves undefined (on x86-64 the result is NULL);
/// - text containing a NUL character (SQLite would parse only the part before it).
///
/// Rejected by both, as in SQLite: leading whitespace, `+HH` zones, a zone after a date without a
/// time, `,` as the decimal mark, single-digit fields, month 13, day 32, minute or second 60, zone
/// hours above 14.
package enum Timestamp {
    /// The latest instant SQLite's date functions represent: 9999-12-31T23:59:59.999Z.
    static let maximumMillis: Int64 = 253_402_300_799_999
    /// The most fraction digits either side accepts; see the type's documentation.
    static let maximumFractionDigits = 9

    private static let millisPerDay: Int64 = 86_400_000

    /// Milliseconds since 1970-01-01T00:00:00Z for a timestamp in one of the accepted forms,
    /// or nil for anything else.
    package static func parseMillis(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parseMillis(UnsafeRawBufferPointer($0)) }
    }

    /// The same for UTF-8 bytes (text cells of a row batch, read without making a `String`).
    static func parseMillis(_ utf8: UnsafeRawBufferPointer) -> Int64? {
        var scanner = TimestampScanner(utf8)
        guard !scanner.containsNUL,
              let year = scanner.digits(4), scanner.take("-"),
              let month = scanner.digits(2), scanner.take("-"),
              let day = scanner.digits(2),
              (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month)
        else { return nil }

        var millis = daysFromCivil(year: year, month: month, day: day) * millisPerDay
        if !scanner.restIsWhitespace {
            guard scanner.take(" ") || scanner.take("T") || scanner.take("t"),
                  let timeOfDay = parseTimeAndZone(&scanner)
            else { return nil }
            millis += timeOfDay
        }
        guard millis <= maximumMillis else { return nil }
        return millis
    }

    /// Parses `HH:MM[:SS[.F]]`, an optional zone and trailing whitespace, the way SQLite's
    /// `parseHhMmSs` and `parseTimezone` do. Returns the milliseconds to add to midnight UTC of the
    /// date (negative or past a day when the zone moves the instant to another day).
    private static func parseTimeAndZone(_ scanner: inout TimestampScanner) -> Int64? {
        guard let hour = scanner.digits(2), hour <= 23, scanner.take(":"),
              let minute = scanner.digits(2), minute <= 59
        else { return nil }

        var seconds = 0.0
        if scanner.take(":") {
            guard let wholeSeconds = scanner.digits(2), wholeSeconds <= 59 else { return nil }
            seconds = Double(wholeSeconds)
            // SQLite consumes the '.' only when a digit follows; otherwise the '.' is left over
            // and the text is rejected below.
            if scanner.peek(0) == UInt8(ascii: "."), scanner.peek(1).map(TimestampScanner.isDigit) == true {
                scanner.skip()
                let start = scanner.position
                var fraction: Int64 = 0
                while let byte = scanner.peek(0), TimestampScanner.isDigit(byte) {
                    guard scanner.position - start < maximumFractionDigits else { return nil }
                    fraction = fraction * 10 + Int64(byte - UInt8(ascii: "0"))
                    scanner.skip()
                }
                var scale = 1.0
                for _ in start..<scanner.position { scale *= 10 }
                // The same double operations as SQLite: seconds + fraction/10ⁿ, then ×1000 + 0.5
                // truncated. Both are exact up to the division, so the rounding matches bit for bit.
                seconds += Double(fraction) / scale
            }
        }

        scanner.skipWhitespace()
        var zoneMinutes: Int64 = 0
        if scanner.take("Z") || scanner.take("z") {
            // UTC.
        } else if let sign = scanner.takeSign() {
            guard let zoneHour = scanner.digits(2), zoneHour <= 14 else { return nil }
            _ = scanner.take(":")
            guard let zoneMinute = scanner.digits(2), zoneMinute <= 59 else { return nil }
            zoneMinutes = sign * (zoneHour * 60 + zoneMinute)
        }
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { return nil }

        return hour * 3_600_000 + minute * 60_000 + Int64(seconds * 1000 + 0.5) - zoneMinutes * 60_000
    }

    /// ISO 8601 in UTC: `2026-11-15T19:00:00Z`, or `2026-11-15T19:00:00.123Z` when there are
    /// milliseconds. Years outside 0000–9999 (which `parseMillis` never produces) print as
    /// `-0001` or `+10000`, ISO 8601's expanded form.
    package static func format(millis: Int64) -> String {
        let (days, millisOfDay) = floorDivision(millis, millisPerDay)
        let (year, month, day) = civilFromDays(days)
        let hour = millisOfDay / 3_600_000
        let minute = millisOfDay / 60_000 % 60
        let second = millisOfDay / 1000 % 60
        let milli = millisOfDay % 1000

        let yearText: String
        if year < 0 {
            yearText = "-" + padded(-year, 4)
        } else if year > 9999 {
            yearText = "+" + String(year)
        } else {
            yearText = padded(year, 4)
        }
        var text = "\(yearText)-\(padded(month, 2))-\(padded(day, 2))T\(padded(hour, 2)):\(padded(minute, 2)):\(padded(second, 2))"
        if milli != 0 { text += "." + padded(milli, 3) }
        return text + "Z"
    }

    // MARK: - Calendar arithmetic (proleptic Gregorian, as SQLite uses; the scheduler uses it too)

    static func isLeapYear(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to the given date (Howard Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let marchBasedYear = month <= 2 ? year - 1 : year
        let era = floorDivision(marchBasedYear, 400).quotient
        let yearOfEra = marchBasedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = floorDivision(shifted, 146_097).quotient
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let marchBasedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * marchBasedMonth + 2) / 5 + 1
        let month = marchBasedMonth < 10 ? marchBasedMonth + 3 : marchBasedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    /// Division rounding toward negative infinity, so that times before 1970 get a non-negative
    /// time of day.
    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        var quotient = value / divisor
        var remainder = value % divisor
        if remainder < 0 {
            quotient -= 1
            remainder += divisor
        }
        return (quotient, remainder)
    }

    private static func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A cursor over the UTF-8 bytes of a timestamp; every accepted character is ASCII.
private struct TimestampScanner {
    private let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    /// Reads `bytes`, which must outlive the scanner.
    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var containsNUL: Bool { bytes.contains(0) }
    var isAtEnd: Bool { position == bytes.count }

    /// True when only whitespace is left, which SQLite accepts after a date.
    var restIsWhitespace: Bool { bytes[position...].allSatisfy(Self.isWhitespace) }

    func peek(_ offset: Int) -> UInt8? {
        position + offset < bytes.count ? bytes[position + offset] : nil
    }

    mutating func skip() { position += 1 }

    mutating func take(_ character: Unicode.Scalar) -> Bool {
        guard peek(0) == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }

    /// +1 or -1 for a zone's sign.
    mutating func takeSign() -> Int64? {
        if take("+") { return 1 }
        if take("-") { return -1 }
        return nil
    }

    /// Exactly `count` ASCII digits as a number.
    mutating func digits(_ count: Int) -> Int64? {
        var value: Int64 = 0
        for offset in 0..<count {
            guard let byte = peek(offset), Self.isDigit(byte) else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        position += count
        return value
    }

    mutating func skipWhitespace() {
        while let byte = peek(0), Self.isWhitespace(byte) { position += 1 }
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// SQLite's `sqlite3Isspace`: space, tab, LF, VT, FF and CR.
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}
