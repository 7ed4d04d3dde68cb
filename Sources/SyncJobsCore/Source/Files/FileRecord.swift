/// One data record read from a file source.
public struct FileRecord: Sendable, Equatable {
    /// 1-based data record number; a CSV header is not counted, malformed records are.
    public var number: Int
    /// The record's values, aligned with the reader's `columns`.
    public var values: [Value]
    /// JSON keys that are not among the columns, in file order; always empty for CSV.
    public var extras: [Value.ObjectEntry]
    /// Byte offset just after this record, where a later run can resume.
    public var endOffset: Int64

    public init(number: Int, values: [Value], extras: [Value.ObjectEntry] = [], endOffset: Int64) {
        self.number = number
        self.values = values
        self.extras = extras
        self.endOffset = endOffset
    }
}

/// What a reader yields for one record: a usable record, or a malformed one that the caller
/// records as a rejected row before asking for the next.
public enum FileRecordResult: Sendable, Equatable {
    case record(FileRecord)
    /// `raw` is the offending text, cut to at most 1000 bytes.
    case malformed(number: Int, endOffset: Int64, reason: String, raw: String)
}

/// A streaming reader of records from a file.
///
/// `next()` throws only for problems that make the rest of the file unreadable (I/O errors, a
/// broken JSON array); a bad record comes back as `.malformed` and reading goes on after it.
public protocol FileRecordReader: AnyObject {
    /// Column names, fixed before the first record is read.
    var columns: [String] { get }
    /// The next record, or nil at the end of the file (or at the reader's `endOffset`).
    func next() throws -> FileRecordResult?
}

/// A fatal problem with a file source; the message says what to fix.
public struct FileSourceError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Limits shared by the file readers.
public enum FileRecordLimits {
    /// A record longer than this is reported as malformed and skipped without being held in
    /// memory, so a stray quote or a missing newline cannot make a reader load a whole file.
    public static let defaultMaximumRecordBytes = 16 << 20
    /// `raw` text in `.malformed` results is cut to this many bytes.
    public static let rawTextLimit = 1000
}

enum RawText {
    /// Decodes at most `FileRecordLimits.rawTextLimit` bytes for a `.malformed` result, cutting
    /// at a character boundary and dropping the record terminator.
    static func make(_ bytes: UnsafeRawBufferPointer) -> String {
        var length = bytes.count
        while length > 0, bytes[length - 1] == 0x0A || bytes[length - 1] == 0x0D { length -= 1 }
        if length > FileRecordLimits.rawTextLimit {
            length = FileRecordLimits.rawTextLimit
            // Step back over UTF-8 continuation bytes so no character is cut in half.
            while length > 0, bytes[length] & 0xC0 == 0x80 { length -= 1 }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<length]), as: UTF8.self)
    }

    /// Keeps the first bytes of a record that is too long to hold, for its `raw` text.
    static func prefix(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        // One character's worth more than the limit, so `make` can cut at a boundary.
        Array(bytes.prefix(FileRecordLimits.rawTextLimit + 4))
    }
}

extension Int {
    /// "16 MiB" style text for limits in messages.
    var byteSizeText: String {
        if self >= 1 << 20 && self % (1 << 20) == 0 { return "\(self >> 20) MiB" }
        if self >= 1 << 10 && self % (1 << 10) == 0 { return "\(self >> 10) KiB" }
        return "\(self) bytes"
    }
}
