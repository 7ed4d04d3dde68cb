#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file in 1 MiB chunks into a sliding window, for the streaming record readers.
///
/// Readers look at the unconsumed bytes through `bytes`/`available`, call `consume` once a
/// record is done, and `readMore` when a record runs past the window; the window only grows
/// when one record is bigger than what is free, so memory stays at about the largest record
/// plus one chunk whatever the file size. Readers keep positions relative to the first
/// unconsumed byte: those stay valid across `readMore`, which may move the bytes themselves.
final class FileChunkReader {
    static let chunkSize = 1 << 20

    let path: String
    /// Bytes at or after this file offset are never read (the size taken when the run started).
    let endOffset: Int64?
    private let descriptor: Int32
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var windowStart = 0
    private var windowEnd = 0
    /// File offset of the first unconsumed byte.
    private(set) var offset: Int64
    /// File offset of the next byte to read.
    private var readOffset: Int64
    private(set) var reachedEnd = false
    /// True once reading stopped at `endOffset` while the file holds more bytes: a record that
    /// runs up to the limit without its terminator is then one still being written, not the last.
    private(set) var stoppedInsideFile = false
    /// Set for a gzipped file: offsets then count uncompressed bytes.
    private let inflater: GzipInflater?
    /// Uncompressed bytes to skip before the next read (a gzipped file cannot seek).
    private var pendingSkip: Int64 = 0

    init(path: String, startOffset: Int64 = 0, endOffset: Int64? = nil) throws(FileSourceError) {
        self.path = path
        self.endOffset = endOffset
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            let message = code == ENOENT ? "the file does not exist" : "cannot open the file: \(Self.describe(errno: code))"
            throw FileSourceError(path: path, message: message)
        }
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
            close(descriptor)
            throw FileSourceError(path: path, message: "is a directory, not a file")
        }
        self.descriptor = descriptor
        do {
            inflater = GzipInflater.isGzip(descriptor: descriptor) ? try GzipInflater(descriptor: descriptor, path: path, endOffset: endOffset) : nil
        } catch {
            close(descriptor)
            throw error
        }
        capacity = 2 * Self.chunkSize
        guard let storage = malloc(capacity) else {
            close(descriptor)
            throw FileSourceError(path: path, message: "cannot allocate a \(capacity.byteSizeText) read buffer")
        }
        self.storage = storage
        offset = max(0, startOffset)
        readOffset = offset
        pendingSkip = inflater == nil ? 0 : offset
    }

    deinit {
        close(descriptor)
        free(storage)
    }

    /// Number of unconsumed bytes in the window.
    var available: Int { windowEnd - windowStart }

    /// The unconsumed bytes; valid until the next `readMore`, `consume` or `seek`.
    var bytes: UnsafePointer<UInt8> {
        UnsafePointer(storage.advanced(by: windowStart).assumingMemoryBound(to: UInt8.self))
    }

    func buffer(from start: Int, to end: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.advanced(by: windowStart + start), count: end - start)
    }

    /// File offset of the unconsumed byte at `index`.
    func fileOffset(at index: Int) -> Int64 { offset + Int64(index) }

    func consume(_ count: Int) {
        windowStart += count
        offset += Int64(count)
    }

    /// Drops the window and continues reading at `newOffset`.
    func seek(to newOffset: Int64) {
        windowStart = 0
        windowEnd = 0
        offset = max(0, newOffset)
        readOffset = offset
        reachedEnd = false
        stoppedInsideFile = false
        if let inflater {
            inflater.restart()
            pendingSkip = offset
        }
    }

    /// Appends the next chunk to the window; false at end of file or at `endOffset`.
    func readMore() throws(FileSourceError) -> Bool {
        if reachedEnd { return false }
        if let inflater {
            if pendingSkip > 0 {
                try inflater.skip(pendingSkip)
                pendingSkip = 0
            }
            makeRoom(for: Self.chunkSize)
            let count = try inflater.read(into: storage.advanced(by: windowEnd), count: Self.chunkSize)
            guard count > 0 else {
                reachedEnd = true
                return false
            }
            windowEnd += count
            readOffset += Int64(count)
            return true
        }
        var wanted = Self.chunkSize
        if let endOffset {
            let remaining = endOffset - readOffset
            if remaining <= 0 {
                reachedEnd = true
                stoppedInsideFile = fileHasBytes(at: endOffset)
                return false
            }
            wanted = Int(min(Int64(wanted), remaining))
        }
        makeRoom(for: wanted)
        while true {
            let count = pread(descriptor, storage.advanced(by: windowEnd), wanted, off_t(readOffset))
            if count > 0 {
                windowEnd += count
                readOffset += Int64(count)
                return true
            }
            if count == 0 {
                reachedEnd = true
                return false
            }
            let code = errno
            if code == EINTR { continue }
            throw FileSourceError(path: path, message: "read failed at byte \(readOffset): \(Self.describe(errno: code))")
        }
    }

    private func fileHasBytes(at position: Int64) -> Bool {
        var byte: UInt8 = 0
        while true {
            let count = pread(descriptor, &byte, 1, off_t(position))
            if count < 0 && errno == EINTR { continue }
            return count > 0
        }
    }

    /// Moves the unconsumed bytes to the front, growing the buffer only if one record needs it.
    private func makeRoom(for wanted: Int) {
        let unconsumed = available
        if windowStart > 0 {
            if unconsumed > 0 { memmove(storage, storage.advanced(by: windowStart), unconsumed) }
            windowStart = 0
            windowEnd = unconsumed
        }
        if capacity - windowEnd < wanted {
            let newCapacity = max(capacity * 2, windowEnd + wanted)
            // realloc can move large blocks without copying (mremap), so growing does not
            // briefly hold the old and the new buffer.
            guard let grown = realloc(storage, newCapacity) else {
                fatalError("out of memory growing the read buffer of \(path) to \(newCapacity) bytes")
            }
            storage = grown
            capacity = newCapacity
        }
    }

    /// Makes sure at least `count` bytes are unconsumed unless the file ends first.
    func ensureAvailable(_ count: Int) throws(FileSourceError) {
        while available < count, try readMore() {}
    }

    static func describe(errno code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    /// Skips a UTF-8 byte order mark at the very start of the file.
    func skipByteOrderMark() throws(FileSourceError) {
        guard offset == 0 else { return }
        try ensureAvailable(3)
        if available >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { consume(3) }
    }
}
