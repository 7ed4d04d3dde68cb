import Foundation
import Testing
@testable import SyncJobsCore

/// README, "Incremental runs and checkpoints", rule 3: an interrupted pass over a file resumes at
/// a byte offset only when the file is unchanged; any change starts the pass again.
@Suite struct FileResumeTests {
    static let job = """
        name: j
        type: user
        source: { file: ../data/users.csv }
        mapping:
          - { column: id, to: user_identities.customer_id }
          - { column: email, to: user_identities.email }
          - { column: name, to: user_attributes.name }
          - { ignore: updated_at }
        sync: { mode: incremental, iterator: updated_at, iterator_type: timestamp }
        destination: { path: ../out/j.ndjson }
        """

    static func row(_ id: Int, name: String? = nil) -> String {
        "\(id),u\(id)@x.com,\(name ?? "User \(id)"),\(IncrementalRunTests.ts(id % 600))\n"
    }

    static func users(_ ids: ClosedRange<Int>) -> [String] { ids.map { row($0) } }

    static func csv(_ rows: [String]) -> String { "id,email,name,updated_at\n" + rows.joined() }

    /// Writes over the file's bytes without creating a new file (`> file` in a shell).
    static func rewriteInPlace(_ path: String, _ text: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    static func inode(_ path: String) -> UInt64 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
    }

    static func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    /// Sets the file's modification time back to what `reference` has, so only the change time
    /// (which no program can set) and the content tell that it was written.
    static func copyModificationTime(from reference: stat, to path: String) {
        var times = [reference.st_atim, reference.st_mtim]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    /// The output lines a fresh job (no state) writes for `csv`: what a restarted pass must send.
    static func freshOutput(_ csv: String) async throws -> [String] {
        let t = try TestWorkspace()
        try t.write("data/users.csv", csv)
        let result = try await t.run(try t.job("j", job))
        #expect(result.succeeded)
        return lines(t)
    }

    static func lines(_ t: TestWorkspace) -> [String] {
        t.read("out/j.ndjson").split(separator: "\n").map(String.init)
    }

    /// Runs `--limit 3000` over 5,000 users, changes the file, runs again; returns that second
    /// run and the output lines it added.
    static func interruptThenRun(change: (String) throws -> Void) async throws -> (RunResult, [String], TestWorkspace) {
        let t = try TestWorkspace()
        let path = try t.write("data/users.csv", csv(users(1...5000)))
        let job = try t.job("j", job)
        let first = try await t.run(job, RunOptions(limit: 3000))
        #expect(first.succeeded)
        #expect(try t.state().checkpoint(job: "j")?.resume?.rowNumber == 3000)
        let before = lines(t).count
        try change(path)
        let second = try await t.run(job)
        #expect(second.succeeded)
        #expect(try t.state().checkpoint(job: "j")?.resume == nil)
        return (second, Array(lines(t)[before...]), t)
    }

    @Test func anUnchangedFileResumesAfterTheLastAcknowledgedRow() async throws {
        let (run, sent, _) = try await Self.interruptThenRun { _ in }
        #expect(run.notes == ["resuming the interrupted pass over the file at row 3001"])
        let all = try await Self.freshOutput(Self.csv(Self.users(1...5000)))
        // 100 batches a request: the first 30 requests went out in the interrupted run.
        #expect(sent == Array(all[30...]))
    }

    /// The issue's repro: `> users.csv` with one longer row after row 2,000 keeps the first 64 KiB,
    /// and resuming at the old offset started in the middle of a row.
    @Test func aRewriteInPlaceWithTheSameHeadStartsThePassAgain() async throws {
        var rows = Self.users(1...5000)
        rows.insert(Self.row(999, name: "A much longer name for the inserted user"), at: 2000)
        let rewritten = Self.csv(rows)
        var sizes: (Int, Int) = (0, 0)
        let (run, sent, _) = try await Self.interruptThenRun { path in
            let inode = Self.inode(path)
            sizes.0 = Self.size(path)
            try Self.rewriteInPlace(path, rewritten)
            sizes.1 = Self.size(path)
            #expect(Self.inode(path) == inode)
        }
        #expect(run.notes == ["the file changed since the interrupted run: its size went from \(Format.count(sizes.0)) to \(Format.count(sizes.1)) bytes, so the pass starts again from its first row"])
        #expect(sent == (try await Self.freshOutput(rewritten)))
        #expect(run.counts.rowsRejected == 0)
        #expect(!sent.joined().contains(#"{"customer_id":"999","email":"u2999@x.com"}"#))
    }

    /// One changed byte before the resume point, beyond the first 64 KiB, and the modification
    /// time set back: the change time tells.
    @Test func aSameSizeRewriteStartsThePassAgain() async throws {
        var rows = Self.users(1...5000)
        rows[2499] = rows[2499].replacingOccurrences(of: "u2500@", with: "v2500@")
        let rewritten = Self.csv(rows)
        let (run, sent, _) = try await Self.interruptThenRun { path in
            var original = stat()
            _ = stat(path, &original)
            try Self.rewriteInPlace(path, rewritten)
            Self.copyModificationTime(from: original, to: path)
            #expect(Self.size(path) == Int(original.st_size))
        }
        #expect(run.notes == ["the file changed since the interrupted run: it was written to (its modification or change time differs), so the pass starts again from its first row"])
        #expect(sent == (try await Self.freshOutput(rewritten)))
        #expect(sent.contains { $0.contains(#""email":"v2500@x.com""#) })
    }

    @Test func aTruncatedFileStartsThePassAgain() async throws {
        let truncated = Self.csv(Self.users(1...4000))
        var sizes: (Int, Int) = (0, 0)
        let (run, sent, _) = try await Self.interruptThenRun { path in
            sizes.0 = Self.size(path)
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.truncate(atOffset: UInt64(truncated.utf8.count))
            try handle.close()
            sizes.1 = Self.size(path)
        }
        #expect(run.notes == ["the file changed since the interrupted run: its size went from \(Format.count(sizes.0)) to \(Format.count(sizes.1)) bytes, so the pass starts again from its first row"])
        #expect(sent == (try await Self.freshOutput(truncated)))
    }

    /// Appending is a change too: the pass that was interrupted read another file than this one.
    @Test func anAppendStartsThePassAgain() async throws {
        let appended = Self.csv(Self.users(1...5100))
        var sizes: (Int, Int) = (0, 0)
        let (run, sent, _) = try await Self.interruptThenRun { path in
            sizes.0 = Self.size(path)
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(Self.users(5001...5100).joined().utf8))
            try handle.close()
            sizes.1 = Self.size(path)
        }
        #expect(run.notes == ["the file changed since the interrupted run: its size went from \(Format.count(sizes.0)) to \(Format.count(sizes.1)) bytes, so the pass starts again from its first row"])
        #expect(sent == (try await Self.freshOutput(appended)))
    }

    /// The same bytes and modification time in a new file renamed over the old one.
    @Test func aReplacementByRenameStartsThePassAgain() async throws {
        let same = Self.csv(Self.users(1...5000))
        var inodes: (UInt64, UInt64) = (0, 0)
        let (run, sent, _) = try await Self.interruptThenRun { path in
            var original = stat()
            _ = stat(path, &original)
            inodes.0 = UInt64(original.st_ino)
            try same.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
            Self.copyModificationTime(from: original, to: path + ".tmp")
            #expect(rename(path + ".tmp", path) == 0)
            inodes.1 = Self.inode(path)
        }
        #expect(inodes.0 != inodes.1)
        #expect(run.notes == ["the file changed since the interrupted run: it was replaced by another file (inode \(inodes.1), was \(inodes.0)), so the pass starts again from its first row"])
        #expect(sent == (try await Self.freshOutput(same)))
    }

    /// What the timestamps cannot see on a coarse clock, the hash of the bytes before the resume
    /// point does: a stored point whose preceding bytes differ is not resumed.
    @Test func bytesBeforeTheResumePointThatDifferStartThePassAgain() throws {
        let t = try TestWorkspace()
        let path = try t.write("data/users.csv", Self.csv(Self.users(1...5000)))
        let source = try FileSource(path: path, format: .csv)
        let offset = Int64(Self.csv(Self.users(1...3000)).utf8.count)
        let point = source.sealResume(FileResume(fingerprint: try #require(source.fingerprint), offset: offset, rowNumber: 3000))
        #expect(source.verifyResume(point) == .resume)
        var tampered = point
        tampered.precedingHash = FileIdentity.precedingHash(path: path, offset: offset - 1)
        #expect(source.verifyResume(tampered) == .restart("the file changed since the interrupted run: the bytes before byte \(offset), where it stopped, differ"))
        var headChanged = point
        headChanged.fingerprint.head = "0"
        #expect(source.verifyResume(headChanged) == .restart("the file changed since the interrupted run: its first 64 KiB differ"))
    }

    /// A resume point stored by an earlier version (device, inode and head only) decodes, and is
    /// not trusted: the pass starts again.
    @Test func aResumePointFromAnEarlierVersionStartsThePassAgain() async throws {
        let t = try TestWorkspace()
        let path = try t.write("data/users.csv", Self.csv(Self.users(1...5000)))
        let job = try t.job("j", Self.job)
        _ = try await t.run(job, RunOptions(limit: 3000))
        let source = try FileSource(path: path, format: .csv)
        let fingerprint = try #require(source.fingerprint)
        let old = #"{"fingerprint":{"device":\#(fingerprint.device),"inode":\#(fingerprint.inode),"head":"\#(fingerprint.head)"},"offset":\#(Self.csv(Self.users(1...3000)).utf8.count),"rowNumber":3000}"#
        try t.execute(".jobs/state.db", "UPDATE checkpoints SET resume = '\(old)' WHERE job = 'j'")
        let stored = try #require(try t.state().checkpoint(job: "j")?.resume)
        #expect(stored.fingerprint.size == nil)
        #expect(stored.rowNumber == 3000)

        let before = Self.lines(t).count
        let run = try await t.run(job)
        #expect(run.notes == ["the interrupted run was made by an earlier version, which kept too little to tell whether the file changed, so the pass starts again from its first row"])
        #expect(Array(Self.lines(t)[before...]) == (try await Self.freshOutput(Self.csv(Self.users(1...5000)))))
    }
}
