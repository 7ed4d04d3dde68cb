/// The SQLite source's dialect for iterators: SQL that computes, inside SQLite, the same
/// normalized iterator value the engine computes in Swift (`IteratorType.normalize`,
/// `Timestamp.parseMillis`), so the window's predicate and ordering run in the database.
extension IteratorType {
    /// A SQLite expression giving the same normalized value for a column, or NULL where
    /// `normalize` would reject the cell. The runner filters and orders on it, so the iterator
    /// predicate runs inside SQLite.
    package func sqlExpression(_ column: String) -> String {
        let x = column
        let integer = "CASE typeof(\(x)) WHEN 'integer' THEN \(x) WHEN 'real' THEN (CASE WHEN \(x) = CAST(\(x) AS INTEGER) THEN CAST(\(x) AS INTEGER) END) WHEN 'text' THEN (CASE WHEN CAST(CAST(\(x) AS INTEGER) AS TEXT) = \(x) THEN CAST(\(x) AS INTEGER) END) END"
        switch self {
        case .timestamp, .date:
            return Timestamp.sqlMillisExpression(x)
        case .unixMs, .integer:
            return integer
        case .unixS:
            return "CASE typeof(\(x)) WHEN 'real' THEN CAST(round(\(x) * 1000) AS INTEGER) ELSE (\(integer)) * 1000 END"
        case .number:
            return "CASE typeof(\(x)) WHEN 'integer' THEN CAST(\(x) AS REAL) WHEN 'real' THEN \(x) WHEN 'text' THEN (CASE WHEN CAST(CAST(\(x) AS REAL) AS TEXT) = \(x) OR CAST(CAST(\(x) AS INTEGER) AS TEXT) = \(x) THEN CAST(\(x) AS REAL) END) END"
        case .string:
            return "CASE typeof(\(x)) WHEN 'text' THEN \(x) WHEN 'integer' THEN CAST(\(x) AS TEXT) WHEN 'real' THEN CAST(\(x) AS TEXT) END"
        }
    }
}

extension Timestamp {
    /// A SQLite expression giving the same integer milliseconds as `parseMillis` for a TEXT value
    /// it accepts, and NULL for everything else (other storage classes, `now`, numbers, …).
    ///
    /// `operand` is SQL that is evaluated several times, so it should be a quoted column name such
    /// as `"updated_at"` or a numbered parameter such as `?1` — not a bare `?`.
    ///
    /// `julianday()` does the parsing and the arithmetic; the other conditions cut its grammar down
    /// to the forms `parseMillis` accepts (see the type's documentation):
    /// - a 4-digit year first rules out `now`, numbers, bare times, negative years and leading
    ///   whitespace;
    /// - after the date either exactly one space, `T` or `t` and the hour's first digit, or
    ///   whitespace only;
    /// - the hour, which then always sits at characters 12–13, is not 24;
    /// - no run of 10 digits after a `.` (in text `julianday` accepts, `.` only starts a fraction);
    /// - the day exists in its month (`julianday` itself checks only 01–31 and rolls the rest into
    ///   the next month). Compared as two-digit text; the leap-year rule is spelled out because
    ///   SQLite's `date()` misprints some days before the year 400 (`date(julianday('0300-03-01'))`
    ///   is `0300-02-29`), so a round trip through a Julian day number can't check it;
    /// - no NUL character, at which `julianday` would stop reading.
    /// `julianday` then reads the text with a `t` separator made `T` and a `±HHMM` zone at its end
    /// (before trailing whitespace) made `±HH:MM`, the two forms its own grammar lacks.
    /// The result is exact: `julianday` computes integer milliseconds and divides by 86 400 000, and
    /// the double it returns is precise to about 0.0001 ms for years 0000–9999, so rounding the
    /// product recovers the integer.
    package static func sqlMillisExpression(_ operand: String) -> String {
        let x = operand
        let whitespace = "char(32, 9, 10, 11, 12, 13)"
        let upperT = "(CASE WHEN substr(\(x), 11, 1) = 't' THEN substr(\(x), 1, 10) || 'T' || substr(\(x), 12) ELSE \(x) END)"
        let trimmed = "rtrim(\(upperT), \(whitespace))"
        let readable = "(CASE WHEN \(trimmed) GLOB '*[+-][0-9][0-9][0-9][0-9]'"
            + " THEN substr(\(trimmed), 1, length(\(trimmed)) - 2) || ':' || substr(\(trimmed), -2) ELSE \(upperT) END)"
        return "(CASE WHEN typeof(\(x)) = 'text'"
            + " AND \(x) GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'"
            + " AND (\(x) GLOB '??????????[ Tt][0-9]*' OR trim(substr(\(x), 11), \(whitespace)) = '')"
            + " AND substr(\(x), 12, 2) <> '24'"
            + " AND \(x) NOT GLOB '*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*'"
            + " AND substr(\(x), 9, 2) <= CASE substr(\(x), 6, 2)"
            + " WHEN '02' THEN CASE WHEN CAST(substr(\(x), 1, 4) AS INTEGER) % 4 = 0"
            + " AND (CAST(substr(\(x), 1, 4) AS INTEGER) % 100 <> 0 OR CAST(substr(\(x), 1, 4) AS INTEGER) % 400 = 0)"
            + " THEN '29' ELSE '28' END"
            + " WHEN '04' THEN '30' WHEN '06' THEN '30' WHEN '09' THEN '30' WHEN '11' THEN '30' ELSE '31' END"
            + " AND instr(\(x), char(0)) = 0"
            + " THEN CAST(round((julianday(\(readable)) - 2440587.5) * 86400000.0) AS INTEGER) END)"
    }
}
