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

    static func readAll(_ reader: some FileRecordReader) throws -> [FileRecordResult] {
        var results: [FileRecordResult] = []
        while let result = try reader.next() { results.append(result) }
        return results
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
