/// Streams mParticle batches from a file (`format: mparticle`): NDJSON with one record per line
/// (our own file output has one request array per line), or one JSON array of records. Each
/// record is an Events API batch or list of them, a raw-JSON output batch, or a Firehose
/// `EventProcessingRequest`; `MParticleBatchShapes` turns it into Events API batches, and each
/// batch is a row with one column, `batch`.
///
/// Rows are numbered by record (every batch of line 3 is row 3). Only a record's last batch
/// carries its end offset: a pass interrupted inside a record resumes at the record's start, so
/// no batch is skipped (the destination knows what it already has: mParticle by
/// `source_request_id`, FME by its delivery ledger).
package final class MParticleRecordReader: FileRecordReader {
    package static let column = "batch"
    package let columns = [MParticleRecordReader.column]
    package let path: String

    private enum Records {
        case lines(LineSource)
        case array(JSONArrayElementSource)
    }

    private let records: Records
    private var number: Int
    /// Batches of the record being read that are still to hand out, last first.
    private var pending: [Value] = []
    private var pendingNumber = 0
    private var pendingEnd: Int64?
    /// What normalizing the record left out, noted on its first batch's row.
    private var pendingNotes: [String] = []

    package init(path: String, startOffset: Int64? = nil, startNumber: Int = 0, endOffset: Int64? = nil,
                 maximumRecordBytes: Int = FileRecordLimits.defaultMaximumRecordBytes) throws {
        self.path = path
        number = startNumber
        // One JSON value per line, unless the first line is not one (a pretty-printed array).
        let probe = try LineSource(path: path, startOffset: 0, endOffset: endOffset, maximumLineBytes: maximumRecordBytes)
        var perLine = true
        while let line = try probe.nextLine() {
            guard line.oversizedPrefix == nil, !line.bytes.isJSONWhitespace else { continue }
            perLine = (try? JSONParser.parse(line.bytes)) != nil
            break
        }
        if perLine {
            records = .lines(try LineSource(path: path, startOffset: startOffset ?? 0, endOffset: endOffset, maximumLineBytes: maximumRecordBytes))
        } else {
            records = .array(try JSONArrayElementSource(path: path, startOffset: startOffset, startNumber: startNumber,
                                                        endOffset: endOffset, maximumElementBytes: maximumRecordBytes))
        }
    }

    package func appendRecord(to batch: inout RowBatch) throws -> Bool {
        while pending.isEmpty {
            switch try nextRecord(into: &batch) {
            case .end: return false
            case .rejected: return true
            case .batches, .nothing: continue
            }
        }
        let value = pending.removeLast()
        batch.startRow(number: pendingNumber, endOffset: pending.isEmpty ? pendingEnd : nil)
        // As JSON text, not a `Value`: the batches read ahead hold bytes rather than parsed
        // trees (measured on the 1M-batch FME replay: peak 101 → 84 MiB, the same rows/s).
        var writer = JSONWriter(reservingCapacity: 512)
        writer.value(value)
        writer.bytes.withUnsafeBytes { batch.append(text: $0) }
        batch.finishRow()
        batch.setNotes(pendingNotes)
        pendingNotes = []
        return true
    }

    private enum Step { case end, rejected, batches, nothing }

    /// Reads the next record into `pending`, or appends it as a rejected row.
    private func nextRecord(into batch: inout RowBatch) throws -> Step {
        let bytes: UnsafeRawBufferPointer
        let end: Int64
        let oversized: [UInt8]?
        switch records {
        case .lines(let lines):
            var line: LineSource.Line?
            repeat {
                line = try lines.nextLine()
            } while line.map { $0.oversizedPrefix == nil && $0.bytes.isJSONWhitespace } == true
            guard let line else { return .end }
            number += 1
            (bytes, end, oversized) = (line.bytes, line.endOffset, line.oversizedPrefix)
        case .array(let elements):
            guard let element = try elements.nextElement() else { return .end }
            number = element.number
            if let damage = element.damage {
                batch.appendRejected(number: number, reason: damage.reason, row: damage.raw.withUnsafeBytes { RawText.make($0) },
                                     endOffset: element.endOffset)
                return .rejected
            }
            (bytes, end, oversized) = (element.bytes, element.endOffset, element.oversizedPrefix)
        }
        if let oversized {
            batch.appendRejected(number: number, reason: "the record is longer than \(FileRecordLimits.defaultMaximumRecordBytes.byteSizeText)",
                                 row: oversized.withUnsafeBytes { RawText.make($0) }, endOffset: end)
            return .rejected
        }
        do {
            let value = try JSONParser.parse(bytes)
            let record = try MParticleBatchShapes.normalize(value)
            if record.batches.isEmpty {
                // An empty list (or a Firehose health check): nothing to send, and nothing wrong.
                return .nothing
            }
            pending = record.batches.reversed()
            pendingNumber = number
            pendingEnd = end
            pendingNotes = record.notes
            return .batches
        } catch {
            batch.appendRejected(number: number, reason: "\(error)", row: RawText.make(bytes), endOffset: end)
            return .rejected
        }
    }
}
