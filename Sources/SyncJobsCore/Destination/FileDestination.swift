import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Appends each request as one NDJSON line: the JSON array of batches exactly as it would be
/// POSTed. The default destination, so every job works offline and can be inspected.
package final class FileDestination: Destination, @unchecked Sendable {
    // @unchecked: the descriptor is written only under `lock`.
    private let lock = NSLock()
    private var fd: Int32
    package let path: String

    package var maxInFlight: Int { 1 }

    package init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw DestinationError("cannot create the folder '\(directory)' for the output file: \(error.localizedDescription)")
            }
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw DestinationError("cannot open '\(path)' for appending: \(String(cString: strerror(errno))); check the folder exists and is writable")
        }
    }

    deinit {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    package func send(_ request: PackedRequest) async throws -> DeliveryResult {
        try lock.withLock {
            // The body and its newline in one call (writev), without copying the body per request.
            try request.body.withUnsafeBytes { body in try writeLine(body) }
        }
        return .accepted
    }

    private func writeLine(_ body: UnsafeRawBufferPointer) throws {
        var newline = UInt8(ascii: "\n")
        var done = 0
        let total = body.count + 1
        while done < total {
            let written: Int = withUnsafeMutablePointer(to: &newline) { newlinePointer in
                if done < body.count {
                    var parts = [
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: body.baseAddress!.advanced(by: done)), iov_len: body.count - done),
                        iovec(iov_base: UnsafeMutableRawPointer(newlinePointer), iov_len: 1),
                    ]
                    return writev(fd, &parts, 2)
                }
                return Glibc.write(fd, newlinePointer, 1)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw DestinationError("cannot write to '\(path)': \(String(cString: strerror(errno)))")
            }
            done += written
        }
    }

    package func makeDurable() async throws {
        try lock.withLock {
            if fsync(fd) != 0 {
                throw DestinationError("cannot flush '\(path)' to disk: \(String(cString: strerror(errno)))")
            }
        }
    }

    package func close() async throws {
        try await makeDurable()
    }
}

package struct DestinationError: Error, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
