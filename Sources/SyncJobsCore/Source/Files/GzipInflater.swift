import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Inflates a gzipped file as it is read, for `FileChunkReader`: the record readers see the
/// uncompressed bytes, and offsets (for resuming) count those. Split's impressions webhook posts
/// gzipped JSON, and exports are often kept that way.
final class GzipInflater {
    static let inputChunkSize = 256 * 1024

    private let descriptor: Int32
    private let path: String
    /// Compressed bytes from this file offset on are not read (the size taken when the run started).
    private let endOffset: Int64?
    private var stream = z_stream()
    private let input: UnsafeMutablePointer<UInt8>
    private var compressedOffset: Int64 = 0
    private var finished = false

    /// Whether the file starts with gzip's magic bytes.
    static func isGzip(descriptor: Int32) -> Bool {
        var magic: (UInt8, UInt8) = (0, 0)
        let count = withUnsafeMutableBytes(of: &magic) { pread(descriptor, $0.baseAddress, 2, 0) }
        return count == 2 && magic.0 == 0x1F && magic.1 == 0x8B
    }

    init(descriptor: Int32, path: String, endOffset: Int64?) throws(FileSourceError) {
        self.descriptor = descriptor
        self.path = path
        self.endOffset = endOffset
        input = .allocate(capacity: Self.inputChunkSize)
        guard czlib_inflate_init_gzip(&stream) == Z_OK else {
            input.deallocate()
            throw FileSourceError(path: path, message: "cannot start reading the gzip data")
        }
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    /// Starts over at the first byte, for a seek backwards.
    func restart() {
        inflateReset(&stream)
        stream.avail_in = 0
        compressedOffset = 0
        finished = false
    }

    /// Fills up to `count` bytes at `into` with uncompressed data; 0 at the end of the data.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws(FileSourceError) -> Int {
        guard count > 0, !finished else { return 0 }
        stream.next_out = buffer.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = UInt32(min(count, Int(UInt32.max)))
        while stream.avail_out > 0 {
            if stream.avail_in == 0 {
                let filled = try fillInput()
                if filled == 0 {
                    // Compressed data that ends without gzip's trailer has been cut short.
                    if stream.avail_out == UInt32(min(count, Int(UInt32.max))) {
                        throw FileSourceError(path: path, message: "the gzip data ends early (the file is cut short at byte \(compressedOffset))")
                    }
                    break
                }
            }
            let status = inflate(&stream, Z_NO_FLUSH)
            if status == Z_STREAM_END {
                // A file may hold several gzip members one after another (`cat a.gz b.gz`).
                if stream.avail_in == 0, try fillInput() == 0 {
                    finished = true
                    break
                }
                inflateReset(&stream)
                continue
            }
            guard status == Z_OK || status == Z_BUF_ERROR else {
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw FileSourceError(path: path, message: "the gzip data is damaged near byte \(compressedOffset): \(reason)")
            }
        }
        return count - Int(stream.avail_out)
    }

    /// Skips `count` uncompressed bytes (resuming at an offset).
    func skip(_ count: Int64) throws(FileSourceError) {
        var remaining = count
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 1)
        defer { scratch.deallocate() }
        while remaining > 0 {
            let read = try self.read(into: scratch, count: Int(min(remaining, 1 << 16)))
            if read == 0 { break }
            remaining -= Int64(read)
        }
    }

    private func fillInput() throws(FileSourceError) -> Int {
        var wanted = Self.inputChunkSize
        if let endOffset { wanted = Int(max(0, min(Int64(wanted), endOffset - compressedOffset))) }
        guard wanted > 0 else { return 0 }
        while true {
            let count = pread(descriptor, input, wanted, off_t(compressedOffset))
            if count >= 0 {
                compressedOffset += Int64(count)
                stream.next_in = input
                stream.avail_in = UInt32(count)
                return count
            }
            if errno == EINTR { continue }
            throw FileSourceError(path: path, message: "read failed at byte \(compressedOffset): \(FileChunkReader.describe(errno: errno))")
        }
    }
}
