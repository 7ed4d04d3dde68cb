/// How a row is named in messages about it.
///
/// A file row's number is its place in the file, which the user can go and look at. A SQLite row's
/// number is its place in the run's read (iterator order, or the query's order in a full sync),
/// which they cannot (PostgreSQL rows likewise), so the label says which order and gives the values that find the row: the
/// iterator value and the `key:` columns.
enum RowPosition {
    /// `row 42`, or for SQLite `row 42 (in updated_at order; updated_at = '2026-10-06T06:57:00Z', key id = 10)`.
    /// `row` is the row as stored with a rejected row (an object of column to value); values it
    /// does not hold (a refused batch is stored as the batch) are left out.
    static func label(_ number: Int, job: JobDefinition, row: Value?) -> String {
        guard job.source.isDatabase else { return "row \(number)" }
        let iterator = job.sync.mode == .incremental ? job.sync.iterator : nil
        var found: [String] = []
        if let iterator, let value = row?[iterator] {
            found.append("\(iterator) = \(ValueConversion.quoted(value))")
        }
        let key = (job.key ?? []).compactMap { column in row?[column].map { "\(column) = \(ValueConversion.quoted($0))" } }
        if !key.isEmpty { found.append("key " + key.joined(separator: ", ")) }
        let order = iterator.map { "in \($0) order" } ?? "in read order"
        return "row \(number) (\(([order] + (found.isEmpty ? [] : [found.joined(separator: ", ")])).joined(separator: "; ")))"
    }

    /// The label for a stored rejected row, whose `row` is JSON text.
    static func label(_ rejected: RejectedRow, job: JobDefinition) -> String {
        guard job.source.isDatabase else { return "row \(rejected.rowNumber)" }
        return label(rejected.rowNumber, job: job, row: try? JSONParser.parse(rejected.row))
    }
}
