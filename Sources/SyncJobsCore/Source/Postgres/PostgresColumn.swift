/// A column of a PostgreSQL result: how it is selected, read into cells, and compared as an
/// iterator.
///
/// The generated SQL sticks to what Redshift also accepts (CAST, CASE, EXTRACT(EPOCH FROM …),
/// AT TIME ZONE, date subtraction), so the same job reads a Redshift cluster through its
/// PostgreSQL protocol. Two parts are PostgreSQL's own (see `iteratorExpression`): COLLATE "C" for
/// string iterators, and the comparison with 'infinity' that rejects infinite times.
struct PostgresColumn: Sendable {
    /// How the cells of a column arrive (the driver reads results in binary), and become cells.
    enum Reading: Sendable, Equatable {
        case bool, int2, int4, int8, oid, float4, float8
        /// UTF-8 text: text, varchar, char(n), name, "char", and what is selected as text.
        case text
        case uuid
        /// Selected as text, kept with its exact digits (`JSONNumber`).
        case numericText
        /// Microseconds since 2000-01-01 UTC; `timestamp` columns are selected AT TIME ZONE.
        case timestamptz
        /// Days since 2000-01-01.
        case date
        /// json, jsonb and arrays, selected as JSON text and parsed into objects and lists.
        case jsonText
    }

    /// The type's family, for the iterator rules.
    enum Family: Sendable, Equatable { case bool, integer, float, numeric, text, uuid, timestamptz, timestamp, date, json, array }

    var name: String
    var typeOID: UInt32
    var family: Family

    static let timestampOID: UInt32 = 1114

    /// The column's family, or why it cannot be read.
    static func family(of oid: UInt32) -> Family? {
        switch oid {
        case 16: return .bool
        case 20, 21, 23, 26: return .integer
        case 700, 701: return .float
        case 1700: return .numeric
        case 25, 1043, 1042, 19, 18: return .text
        case 2950: return .uuid
        case 1184: return .timestamptz
        case 1114: return .timestamp
        case 1082: return .date
        case 114, 3802: return .json
        // Arrays of the types above.
        case 1000, 1005, 1007, 1016, 1028, 1021, 1022, 1231, 1009, 1015, 1014, 1003, 1002, 2951, 1185, 1115, 1182, 199, 3807: return .array
        default: return nil
        }
    }

    /// How the selected value arrives.
    var reading: Reading {
        switch family {
        case .bool: return .bool
        case .integer:
            switch typeOID {
            case 21: return .int2
            case 23: return .int4
            case 26: return .oid
            default: return .int8
            }
        case .float: return typeOID == 700 ? .float4 : .float8
        case .numeric: return .numericText
        case .text: return .text
        case .uuid: return .uuid
        case .timestamptz, .timestamp: return .timestamptz
        case .date: return .date
        case .json, .array: return .jsonText
        }
    }

    /// The select-list entry that reads the column from `source` (an alias), keeping its name.
    func projection(source: String, timeZone: String) -> String {
        let x = "\(source).\(PostgresSQL.quote(name))"
        let expression: String
        switch family {
        case .timestamp: expression = "(\(x) AT TIME ZONE \(PostgresSQL.literal(timeZone)))"
        case .numeric, .json: expression = "CAST(\(x) AS TEXT)"
        case .array: expression = "CAST(array_to_json(\(x)) AS TEXT)"
        default: expression = x
        }
        return "\(expression) AS \(PostgresSQL.quote(name))"
    }

    /// A SQL expression giving the normalized iterator value (`IteratorType.normalize`) of the
    /// column: integer milliseconds for time iterators, a double for `number`, text compared
    /// byte by byte for `string`; NULL where the engine would reject the cell. Nil when the
    /// column's type cannot serve as this kind of iterator.
    ///
    /// `COLLATE "C"` makes text compare by its bytes, as the engine does; Redshift compares
    /// text by bytes anyway and takes no COLLATE clause, so it is the one part a Redshift run
    /// would drop.
    func iteratorExpression(_ type: IteratorType, source: String, timeZone: String) -> String? {
        let x = "\(source).\(PostgresSQL.quote(name))"
        let maxInt = "9223372036854775807"
        switch (type, family) {
        case (.timestamp, .timestamptz), (.date, .timestamptz):
            return "(CASE WHEN \(x) > '-infinity' AND \(x) < 'infinity' THEN CAST(floor(EXTRACT(EPOCH FROM \(x)) * 1000) AS BIGINT) END)"
        case (.timestamp, .timestamp), (.date, .timestamp):
            return "(CASE WHEN \(x) > '-infinity' AND \(x) < 'infinity' THEN CAST(floor(EXTRACT(EPOCH FROM (\(x) AT TIME ZONE \(PostgresSQL.literal(timeZone)))) * 1000) AS BIGINT) END)"
        case (.timestamp, .date), (.date, .date):
            return "(CASE WHEN \(x) > '-infinity' AND \(x) < 'infinity' THEN CAST(\(x) - DATE '1970-01-01' AS BIGINT) * 86400000 END)"
        case (.unixMs, .integer), (.integer, .integer):
            return "CAST(\(x) AS BIGINT)"
        case (.unixMs, .numeric), (.integer, .numeric), (.unixMs, .float), (.integer, .float):
            return "(CASE WHEN \(x) = floor(\(x)) AND \(x) >= -\(maxInt) AND \(x) <= \(maxInt) THEN CAST(\(x) AS BIGINT) END)"
        case (.unixS, .integer):
            return "(CASE WHEN abs(CAST(\(x) AS BIGINT)) <= 9223372036854775 THEN CAST(\(x) AS BIGINT) * 1000 END)"
        case (.unixS, .numeric), (.unixS, .float):
            return "(CASE WHEN abs(\(x)) < 9e12 THEN CAST(round(CAST(\(x) AS DOUBLE PRECISION) * 1000) AS BIGINT) END)"
        case (.number, .integer), (.number, .numeric), (.number, .float):
            // NaN and the infinities fall outside the range and read as NULL (rejected).
            return "(CASE WHEN CAST(\(x) AS DOUBLE PRECISION) BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308 THEN CAST(\(x) AS DOUBLE PRECISION) END)"
        case (.string, .text), (.string, .uuid), (.string, .integer):
            return "(CAST(\(x) AS TEXT) COLLATE \"C\")"
        default:
            return nil
        }
    }

    /// The column types an iterator type reads, for the message when the column is another.
    static func families(for type: IteratorType) -> String {
        switch type {
        case .timestamp, .date: return "timestamptz, timestamp and date columns"
        case .unixMs, .integer, .unixS: return "integer, numeric and floating-point columns"
        case .number: return "integer, numeric and floating-point columns"
        case .string: return "text, varchar, char, uuid and integer columns"
        }
    }
}

/// Quoting for generated PostgreSQL.
enum PostgresSQL {
    static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// `analytics.users` → `"analytics"."users"`: unquoted parts fold to lower case, as PostgreSQL
    /// folds them; a part in double quotes is kept as written.
    static func qualifiedName(_ table: String) -> String {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var iterator = Array(table).makeIterator()
        var pending: Character? = nil
        while let character = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { current.append("\""); continue }
                        pending = next
                    }
                    quoted = false
                } else {
                    current.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "." {
                parts.append(current)
                current = ""
            } else {
                current.append(contentsOf: character.lowercased())
            }
        }
        parts.append(current)
        return parts.map(quote).joined(separator: ".")
    }
}
