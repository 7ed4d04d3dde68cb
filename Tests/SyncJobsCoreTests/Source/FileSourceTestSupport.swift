import Foundation
@testable import SyncJobsCore

/// Temp files and helpers for the file-source reader tests.
enum FileSourceFixtures {
    /// Writes `contents` to `name` in a fresh temp directory and runs `body` with its path.
    static func withFile<T>(_ contents: String, name: String = "data", _ body: (String) throws -> T) throws -> T {
        try withFile(Array(contents.utf8), name: name, body)
    }

    static func withFile<T>(_ bytes: [UInt8], name: String = "data", _ body: (String) throws -> T) throws -> T {
        try withTemporaryDirectory { directory in
            let path = directory + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return try body(path)
        }
    }

    /// Every record of the reader, read into batches of a few rows (so rows share a batch's
    /// buffers as they do in a run) and turned back into values for assertions.
    static func readAll(_ reader: some FileRecordReader, batchRows: Int = 7) throws -> [FileRecordResult] {
        var results: [FileRecordResult] = []
        var batch = RowBatch(columnCount: reader.columns.count, capacity: batchRows)
        while try reader.appendRecord(to: &batch) {
            if batch.count == batchRows {
                results += FileRecordResult.rows(of: batch)
                batch.removeAll()
            }
        }
        return results + FileRecordResult.rows(of: batch)
    }

    static func records(_ results: [FileRecordResult]) -> [FileRecord] {
        results.compactMap { if case .record(let record) = $0 { return record } else { return nil } }
    }

    /// Values of every result, with malformed ones as nil, for compact assertions.
    static func valueRows(_ results: [FileRecordResult]) -> [[Value]?] {
        results.map { if case .record(let record) = $0 { return record.values } else { return nil } }
    }

    static func endOffset(_ result: FileRecordResult) -> Int64 {
        switch result {
        case .record(let record): return record.endOffset
        case .malformed(_, let endOffset, _, _): return endOffset
        }
    }

    static func number(_ result: FileRecordResult) -> Int {
        switch result {
        case .record(let record): return record.number
        case .malformed(let number, _, _, _): return number
        }
    }

    static func fileSize(_ path: String) throws -> Int64 {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.int64Value ?? -1
    }
}

/// One record as a reader put it into a batch, for exact assertions: a row's values, extras and
/// resume offset, or a rejected (malformed) record with its reason and text.
struct FileRecord: Equatable {
    var number: Int
    var values: [Value]
    var extras: [Value.ObjectEntry] = []
    var endOffset: Int64
}

enum FileRecordResult: Equatable {
    case record(FileRecord)
    case malformed(number: Int, endOffset: Int64, reason: String, raw: String)

    static func rows(of batch: RowBatch) -> [FileRecordResult] {
        batch.rows.indices.map { index in
            let row = batch.rows[index]
            let endOffset = row.endOffset ?? -1
            if let rejection = row.rejection {
                return .malformed(number: row.number, endOffset: endOffset, reason: rejection.reason, raw: rejection.row)
            }
            return .record(FileRecord(number: row.number, values: batch.values(ofRow: index),
                                      extras: batch.extras(ofRow: index), endOffset: endOffset))
        }
    }
}

extension FileRecordReader {
    /// The next record alone, as `readAll` gives it; nil at the end.
    func next() throws -> FileRecordResult? {
        var batch = RowBatch(columnCount: columns.count, capacity: 1)
        guard try appendRecord(to: &batch) else { return nil }
        return FileRecordResult.rows(of: batch).first
    }
}
