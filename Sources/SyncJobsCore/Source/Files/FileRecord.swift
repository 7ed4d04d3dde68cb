/// A streaming reader of a file's records, straight into row batches.
///
/// Cells go into the batch from the reader's own buffer: no `String` or `Value` per cell, except
/// JSON lists and objects (kept as `Value`s beside the cells) and JSON keys outside the columns.
/// Rows are numbered from 1 in the file (a CSV header is not counted, malformed records are) and
/// carry the byte offset just after the record, where a later run can resume.
package protocol FileRecordReader: AnyObject {
    /// Column names, fixed before the first record is read.
    var columns: [String] { get }
    /// Appends the next record to `batch`: a row of cells aligned with `columns` (the batch has
    /// at least as many columns; any more stay null), or, for a malformed record, a rejected row whose
    /// `row` text is the offending text cut to at most 1000 bytes. False at the end of the file
    /// (or at the reader's `endOffset`). Throws only for problems that make the rest of the file
    /// unreadable (I/O errors, a file still being written); a bad record is a rejected row and
    /// reading goes on after it.
    func appendRecord(to batch: inout RowBatch) throws -> Bool
}

/// A fatal problem with a file source; the message says what to fix.
package struct FileSourceError: Error, CustomStringConvertible, Sendable, Equatable {
    package let path: String
    package let message: String

    package init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    package var description: String { "\(path): \(message)" }
}

/// Limits shared by the file readers.
package enum FileRecordLimits {
    /// A record longer than this is reported as malformed and skipped without being held in
    /// memory, so a stray quote or a missing newline cannot make a reader load a whole file.
    package static let defaultMaximumRecordBytes = 16 << 20
    /// The text of a malformed record's rejected row is cut to this many bytes.
    package static let rawTextLimit = 1000
}

enum RawText {
    /// Decodes at most `FileRecordLimits.rawTextLimit` bytes for a malformed record, cutting
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

    /// Keeps the first bytes of a record that is too long to hold, for its rejected row's text.
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
