import Foundation

/// What a file looked like when a run started, so a later run can tell whether a byte offset into
/// it still points just past the same row.
///
/// The stat fields are cheap and catch every write: the kernel sets the change time (`ctime`) on
/// every write, truncation, rename or `touch`, and no program can set it back; a replacement by
/// rename is another inode; an append changes the size. The hashes cover what the timestamps
/// could miss on a filesystem whose clock ticks coarsely (a same-size rewrite within one tick):
/// the first 64 KiB, and the 64 KiB just before the resume point (`FileResume.precedingHash`),
/// which are the bytes that decide whether the offset is still a row boundary.
///
/// Every field but `device`, `inode` and `head` is optional only so that resume points stored by
/// earlier versions still decode; such a point is never resumed.
package struct FileFingerprint: Sendable, Equatable, Codable {
    package var device: UInt64
    package var inode: UInt64
    package var size: Int64?
    /// Modification and change times in nanoseconds since the epoch.
    package var modifiedNanos: Int64?
    package var changedNanos: Int64?
    /// Hash of the first bytes of the file (up to 64 KiB).
    package var head: String
}

/// Whether an interrupted pass over a file can go on where it stopped.
package enum ResumeVerdict: Sendable, Equatable {
    case resume
    /// The pass starts again from the first row; the text says why, for the run's notes.
    case restart(String)
}

enum FileIdentity {
    /// How many bytes the head and preceding hashes cover.
    static let hashedBytes: Int64 = 65_536

    /// The fingerprint of the file `info` describes (`path` is read for the head hash).
    static func fingerprint(path: String, info: stat) -> FileFingerprint {
        let size = Int64(info.st_size)
        return FileFingerprint(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: size,
                               modifiedNanos: nanos(modification: info), changedNanos: nanos(change: info),
                               head: hash(path: path, from: 0, count: min(size, hashedBytes)) ?? "")
    }

    /// Hash of the up to 64 KiB that end at `offset`.
    static func precedingHash(path: String, offset: Int64) -> String? {
        let start = max(0, offset - hashedBytes)
        return hash(path: path, from: start, count: offset - start)
    }

    /// Hash of `count` bytes from `start`; nil when they cannot all be read.
    static func hash(path: String, from start: Int64, count: Int64) -> String? {
        guard count > 0 else { return RowHash.murmur3([]).description }
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(start))
            guard let data = try handle.read(upToCount: Int(count)), data.count == Int(count) else { return nil }
            return RowHash.murmur3([UInt8](data)).description
        } catch {
            return nil
        }
    }

    /// Compares a stored resume point with the file as it is now, cheapest checks first.
    /// - Parameter wholeFile: the preceding hash covers the whole file, not the bytes before the
    ///   offset: a gzipped file's offsets count uncompressed bytes, so any change restarts the pass.
    static func startsWithGzipMagic(path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return GzipInflater.isGzip(descriptor: descriptor)
    }

    static func verify(_ stored: FileResume, current: FileFingerprint, path: String, wholeFile: Bool = false) -> ResumeVerdict {
        let old = stored.fingerprint
        guard let oldSize = old.size, old.modifiedNanos != nil, old.changedNanos != nil, let storedPreceding = stored.precedingHash else {
            return .restart("the interrupted run was made by an earlier version, which kept too little to tell whether the file changed")
        }
        let changed = "the file changed since the interrupted run"
        if old.device != current.device || old.inode != current.inode {
            return .restart("\(changed): it was replaced by another file (inode \(current.inode), was \(old.inode))")
        }
        if let size = current.size, size != oldSize {
            return .restart("\(changed): its size went from \(Format.count(Int(oldSize))) to \(Format.count(Int(size))) bytes")
        }
        if old.modifiedNanos != current.modifiedNanos || old.changedNanos != current.changedNanos {
            return .restart("\(changed): it was written to (its modification or change time differs)")
        }
        if old.head != current.head {
            return .restart("\(changed): its first 64 KiB differ")
        }
        if wholeFile {
            guard precedingHash(path: path, offset: oldSize) == storedPreceding else {
                return .restart("\(changed): its bytes differ")
            }
            return .resume
        }
        guard stored.offset <= oldSize, precedingHash(path: path, offset: stored.offset) == storedPreceding else {
            return .restart("\(changed): the bytes before byte \(stored.offset), where it stopped, differ")
        }
        return .resume
    }

    private static func nanos(_ time: timespec) -> Int64 {
        Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
    }

    private static func nanos(modification info: stat) -> Int64 {
        #if canImport(Darwin)
        nanos(info.st_mtimespec)
        #else
        nanos(info.st_mtim)
        #endif
    }

    private static func nanos(change info: stat) -> Int64 {
        #if canImport(Darwin)
        nanos(info.st_ctimespec)
        #else
        nanos(info.st_ctim)
        #endif
    }
}
