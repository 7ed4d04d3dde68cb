/// Reads a file's records into batches, keeping those in the read window.
///
/// Files have no order, so every record is read and its iterator cell checked in the batch: a
/// row outside the window is taken back out (its text too, so a pass that keeps nothing does
/// not grow the batch), and one whose iterator cannot be read becomes a rejected row.
final class FileRowReader: BlockingRowReader {
    let records: any FileRecordReader
    let columns: [String]
    let window: ReadWindow?
    /// Rows still to hand on (`--limit`), or nil for all.
    var remaining: Int?
    private var finished = false

    init(records: any FileRecordReader, columns: [String], window: ReadWindow?, limit: Int? = nil) {
        self.records = records
        self.columns = columns
        self.window = window
        remaining = limit
    }

    func read(into batch: inout RowBatch) throws -> Bool {
        batch.removeAll()
        while !batch.isFull, !finished {
            if let remaining, remaining <= 0 { break }
            let mark = batch.mark
            guard try records.appendRecord(to: &batch) else {
                finished = true
                break
            }
            if let window, batch.rows[batch.count - 1].rejection == nil {
                let row = batch.count - 1
                let cell = window.columnIndex < batch.columnCount ? batch.cell(row, window.columnIndex) : .null
                guard let value = window.type.normalize(cell, in: batch) else {
                    if !window.includeUnreadable {
                        batch.rollBack(to: mark)
                        continue
                    }
                    let reason = window.type.rejection(column: window.column, cell: batch.value(cell))
                    let text = JSONWriter.compact(batch.object(ofRow: row, columns: columns))
                    let info = batch.rows[row]
                    batch.rollBack(to: mark)
                    batch.appendRejected(number: info.number, reason: reason, row: text, endOffset: info.endOffset)
                    remaining? -= 1
                    continue
                }
                if let lower = window.lower, value < lower { batch.rollBack(to: mark); continue }
                if let ceiling = window.ceiling, ceiling < value { batch.rollBack(to: mark); continue }
                if let upper = window.upper, window.upperExclusive ? !(value < upper) : upper < value {
                    batch.rollBack(to: mark)
                    continue
                }
                batch.finishRow(iterator: value)
            }
            remaining? -= 1
        }
        return !batch.isEmpty
    }
}

extension IteratorType {
    /// `normalize` for a cell of a batch. Timestamps and dates are read from the text's bytes;
    /// other types, which are rarely text, read the cell as a `Value`.
    func normalize(_ cell: RowBatch.Cell, in batch: RowBatch) -> IteratorValue? {
        switch (self, cell.kind) {
        case (_, .null):
            return nil
        case (.timestamp, .text), (.date, .text):
            return batch.withBytes(of: cell) { Timestamp.parseMillis($0) }.map(IteratorValue.int)
        case (.timestamp, _), (.date, _):
            return nil
        default:
            return normalize(batch.value(cell))
        }
    }
}
