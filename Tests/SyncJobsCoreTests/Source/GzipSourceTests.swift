import Foundation
import Testing
@testable import SyncJobsCore

/// Gzipped source files are read as what they hold, streamed, with the same rows, offsets and
/// resume as the plain file.
@Suite struct GzipSourceTests {
    func gzip(_ path: String, _ text: String, members: Int = 1) throws {
        // Several members, as `cat a.gz b.gz` makes: a reader must go on past the first.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let size = (lines.count + members - 1) / members
        try? FileManager.default.removeItem(atPath: path)
        for start in stride(from: 0, to: lines.count, by: max(size, 1)) {
            let part = lines[start..<min(start + size, lines.count)].joined(separator: "\n") + (start + size < lines.count ? "\n" : "")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "gzip -c >> '\(path)'"]
            let pipe = Pipe()
            process.standardInput = pipe
            try process.run()
            pipe.fileHandleForWriting.write(Data(part.utf8))
            try pipe.fileHandleForWriting.close()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
    }

    static let users = (1...3000).map { #"{"id":"u\#($0)","email":"u\#($0)@x.io","updated_at":\#(1_767_225_600_000 + $0 * 1000)}"# }
        .joined(separator: "\n") + "\n"

    func job(_ t: TestWorkspace, file: String, sync: String = "sync: { mode: full }") throws -> JobDefinition {
        try t.job("j", """
            type: user
            source: { file: ../data/\(file) }
            mapping:
              - { column: id, to: user_identities.customer_id }
              - { column: email, to: user_identities.email }
              - { ignore: updated_at }
            \(sync)
            destination: { path: ../out/j.ndjson, environment: production }
            """)
    }

    @Test(arguments: [1, 3])
    func aGzippedNDJSONFileSendsWhatThePlainFileSends(members: Int) async throws {
        let plain = try TestWorkspace()
        try plain.write("data/users.ndjson", Self.users)
        let plainRun = try await plain.run(try job(plain, file: "users.ndjson"))
        let zipped = try TestWorkspace()
        try gzip(zipped.path("data/users.ndjson.gz"), Self.users, members: members)
        let zippedRun = try await zipped.run(try job(zipped, file: "users.ndjson.gz"))
        #expect(zippedRun.succeeded, "\(zippedRun.errorMessage ?? "")")
        #expect(zippedRun.counts.rowsSent == 3000)
        #expect(plainRun.counts.rowsSent == 3000)
        #expect(zipped.read("out/j.ndjson") == plain.read("out/j.ndjson"))
    }

    @Test(arguments: [false, true])
    func anInterruptedPassResumesWhereItStopped(gzipped: Bool) async throws {
        let t = try TestWorkspace()
        let array = "[" + Self.users.split(separator: "\n").joined(separator: ",\n") + "]\n"
        if gzipped { try gzip(t.path("data/users.json.gz"), array) } else { try t.write("data/users.json", array) }
        let j = try job(t, file: gzipped ? "users.json.gz" : "users.json", sync: "sync: { mode: incremental, iterator: updated_at, iterator_type: unix_ms }")
        var options = RunOptions()
        options.limit = 1200
        let first = try await t.run(j, options)
        #expect(first.counts.rowsSent == 1200)
        let second = try await t.run(j)
        #expect(second.succeeded, "\(second.errorMessage ?? "")")
        let ids = try t.requests("out/j.ndjson").flatMap { $0 }.compactMap { $0["user_identities"]?["customer_id"]?.scalarText }
        #expect(Set(ids).count == 3000)
        #expect(ids.count == 3000, "no row sent twice after the resume")
    }

    @Test func aCutShortGzipFileSaysSo() async throws {
        let t = try TestWorkspace()
        let path = t.path("data/users.ndjson.gz")
        try gzip(path, Self.users)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        let run = try await t.run(try job(t, file: "users.ndjson.gz"))
        #expect(!run.succeeded)
        #expect(run.errorMessage?.contains("the gzip data ends early (the file is cut short at byte \(data.count / 2))") == true, "\(run.errorMessage ?? "")")
    }
}
