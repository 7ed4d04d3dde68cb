/// The SQL a database source wraps around the user's query to read one window: the iterator
/// predicate with bound parameters, the order (unreadable iterators first), the high watermark and
/// the counts at a value. One builder for SQLite and PostgreSQL, so that both read the same rows in
/// the same order; each source gives the user's rows with the normalized iterator as a last
/// column (`normalized`), in its own dialect.
///
/// Only what Redshift also accepts: a named derived table, `$N` parameters, `NULLS FIRST`.
struct WindowSQL {
    enum Dialect {
        /// `?N` parameters; SQLite sorts NULLs first already.
        case sqlite
        /// `$N` parameters; NULLs sort last unless told.
        case postgres
    }

    static let iteratorAlias = "\"__syncjobs_iterator\""
    /// What a count or a watermark selects of each row.
    static let noColumns = "1 AS \"one\""

    let dialect: Dialect
    /// The user's rows with the normalized iterator as `iteratorAlias`, selecting `columns`
    /// (nil: the source's own columns).
    let normalized: (_ columns: String?) -> String

    private var nullsFirst: String { dialect == .postgres ? " NULLS FIRST" : "" }

    func parameter(_ number: Int) -> String {
        dialect == .sqlite ? "?\(number)" : "$\(number)"
    }

    /// The rows of `window`, in iterator order.
    func read(_ window: ReadWindow) -> (sql: String, parameters: [IteratorValue]) {
        let iterator = Self.iteratorAlias
        var predicate: String
        var parameters: [IteratorValue] = []
        if let upper = window.upper {
            parameters.append(upper)
            var range = "\(iterator) \(window.upperExclusive ? "<" : "<=") \(parameter(parameters.count))"
            if let lower = window.lower {
                parameters.append(lower)
                range = "\(iterator) >= \(parameter(parameters.count)) AND " + range
            }
            predicate = window.includeUnreadable ? "\(iterator) IS NULL OR (\(range))" : range
        } else {
            predicate = window.includeUnreadable ? "\(iterator) IS NULL" : "1 = 0"
        }
        return ("SELECT * FROM (\(normalized(nil))) AS \"__syncjobs_rows\" WHERE \(predicate) ORDER BY \(iterator)\(nullsFirst)", parameters)
    }

    /// The largest readable iterator value from the window's lower bound up to its ceiling.
    func highWatermark(_ window: ReadWindow) -> (sql: String, parameters: [IteratorValue]) {
        let iterator = Self.iteratorAlias
        var conditions = ["\(iterator) IS NOT NULL"]
        var parameters: [IteratorValue] = []
        if let lower = window.lower {
            parameters.append(lower)
            conditions.append("\(iterator) >= \(parameter(parameters.count))")
        }
        if let ceiling = window.ceiling {
            parameters.append(ceiling)
            conditions.append("\(iterator) <= \(parameter(parameters.count))")
        }
        let sql = "SELECT max(\(iterator)) FROM (\(normalized(Self.noColumns))) AS \"__syncjobs_rows\" WHERE \(conditions.joined(separator: " AND "))"
        return (sql, parameters)
    }

    /// How many rows the read of `window` returns.
    func count(_ window: ReadWindow) -> (sql: String, parameters: [IteratorValue]) {
        let (sql, parameters) = read(window)
        return ("SELECT count(*) FROM (\(sql)) AS \"__syncjobs_count\"", parameters)
    }

    /// How many rows hold the iterator value `value` (the boundary's size).
    func count(at value: IteratorValue) -> (sql: String, parameters: [IteratorValue]) {
        ("SELECT count(*) FROM (\(normalized(Self.noColumns))) AS \"__syncjobs_rows\" WHERE \(Self.iteratorAlias) = \(parameter(1))", [value])
    }

    /// The statement as `jobs plan` shows it, with its parameters' values.
    func description(_ statement: (sql: String, parameters: [IteratorValue])) -> String {
        guard !statement.parameters.isEmpty else { return statement.sql }
        let bound = statement.parameters.enumerated().map { "\(parameter($0.offset + 1)) = \(JSONWriter.compact($0.element.sqlValue))" }
        return statement.sql + "\n-- with " + bound.joined(separator: ", ")
    }
}
