import Logging
import NIOCore
import PostgresNIO

/// Streams a query's rows into batches. The driver's row sequence is backpressured: it reads from
/// the socket only as fast as batches are taken, so a result of any size runs in bounded memory.
/// Async all the way (no reader thread); the cost of `await` is paid per row by the driver's
/// buffer, which hands out rows it already holds without suspending.
final class PostgresRowStream: RowStream {
    static let batchRows = 2048

    let connection: PostgresConnection
    let query: PostgresQuery
    let readings: [PostgresColumn.Reading]
    let columns: [String]
    let window: ReadWindow?
    let description: String
    private var rows: PostgresRowSequence.AsyncIterator?
    private var started = false
    private var finished = false
    private var number = 0
    /// Rows still to read (`--limit`), or nil for all.
    private var remaining: Int?

    init(connection: PostgresConnection, query: PostgresQuery, columns: [PostgresColumn], window: ReadWindow?,
         description: String, limit: Int?) {
        self.connection = connection
        self.query = query
        self.readings = columns.map(\.reading)
        self.columns = columns.map(\.name)
        self.window = window
        self.description = description
        remaining = limit
    }

    func next(into batch: inout RowBatch) async throws -> Bool {
        if batch.capacity != Self.batchRows || batch.columnCount != columns.count {
            batch = RowBatch(columnCount: columns.count, capacity: Self.batchRows)
        } else {
            batch.removeAll()
        }
        if !started {
            started = true
            do {
                rows = try await connection.query(query, logger: PostgresSource.logger).makeAsyncIterator()
            } catch {
                finished = true
                throw SourceError("cannot read \(description): \(PostgresSource.message(of: error))")
            }
        }
        while !batch.isFull, !finished {
            if let remaining, remaining <= 0 {
                finished = true
                break
            }
            let row: PostgresRow?
            do {
                row = try await rows?.next()
            } catch {
                finished = true
                throw SourceError("reading \(description) failed after row \(number): \(PostgresSource.message(of: error))")
            }
            guard let row else {
                finished = true
                break
            }
            number += 1
            remaining? -= 1
            append(row, to: &batch)
        }
        return !batch.isEmpty
    }

    private func append(_ row: PostgresRow, to batch: inout RowBatch) {
        batch.startRow(number: number)
        var rejection: String?
        var iteratorCell: PostgresCell?
        var index = 0
        let count = readings.count
        for cell in row {
            defer { index += 1 }
            guard index < count else {
                iteratorCell = cell
                continue
            }
            guard let bytes = cell.bytes else {
                batch.appendNull()
                continue
            }
            if let reason = PostgresCells.append(readings[index], bytes, column: columns[index], to: &batch) {
                batch.appendNull()
                rejection = rejection ?? reason
            }
        }
        let last = batch.count - 1
        if let rejection {
            batch.rejectLastRow(reason: rejection, row: JSONWriter.compact(batch.object(ofRow: last, columns: columns)))
            return
        }
        guard let window else { return }
        guard let iterator = iteratorCell.flatMap(PostgresSource.iteratorValue) else {
            let reason = window.type.rejection(column: window.column, cell: batch.value(batch.cell(last, window.columnIndex)))
            batch.rejectLastRow(reason: reason, row: JSONWriter.compact(batch.object(ofRow: last, columns: columns)))
            return
        }
        batch.finishRow(iterator: iterator)
    }

    func close() async {
        finished = true
        rows = nil
    }
}
