import Foundation
import Testing
@testable import SyncJobsCore

/// A rejected SQLite row is named by its place in the read's order, with the values that find it;
/// a file row keeps its place in the file.
@Suite struct RejectedRowPositionBinaryTests {
    static func usersJob(mode: String, key: String) -> String {
        """
        name: users-\(mode)
        type: user
        source: { sqlite: ../data/users.db, table: users }
        \(key)
        mapping:
          - { column: email, to: user_identities.email }
          - { ignore: id }
          - { ignore: updated_at }
        sync: \(mode == "full" ? "{ mode: full }" : "{ mode: incremental, iterator: updated_at, iterator_type: timestamp }")
        destination: { path: ../out/users.ndjson, environment: production }
        """
    }

    @Test func sqliteRejectedRowsSayTheOrderTheIteratorValueAndTheKey() async throws {
        let project = try Project(copyExamples: false)
        try FileManager.default.createDirectory(atPath: project.root + "/data", withIntermediateDirectories: true)
        let db = try SQLiteDatabase(path: project.root + "/data/users.db", mode: .readWriteCreate)
        try db.execute("""
            CREATE TABLE users (id INTEGER, email TEXT, updated_at TEXT);
            INSERT INTO users VALUES (10, 'a@example.com', '2026-01-01T00:00:00Z'), (3, NULL, '2026-01-02T00:00:00Z'),
                                     (7, 'b@example.com', NULL);
            """)
        db.close()
        try project.write("jobs/users-incremental.yaml", Self.usersJob(mode: "incremental", key: "key: [id]"))
        try project.write("jobs/users-full.yaml", Self.usersJob(mode: "full", key: ""))
        try project.write("data/users.csv", "id,email\n1,\n2,c@example.com\n")
        try project.write("jobs/users-csv.yaml", """
            name: users-csv
            type: user
            source: { file: ../data/users.csv }
            mapping:
              - { column: email, to: user_identities.email }
              - { ignore: id }
            destination: { path: ../out/users-csv.ndjson, environment: production }
            """)

        // Rows come in updated_at order: the row with a null iterator first (id 7), then id 10, then id 3.
        let incremental = try await project.jobs("run", "users-incremental")
        #expect(incremental.status == 0, "\(incremental.stderr)")
        #expect(incremental.stderr == """
              rejected row 1 (in updated_at order; updated_at = null, key id = 7): iterator column 'updated_at' is null
              rejected row 3 (in updated_at order; updated_at = '2026-01-02T00:00:00Z', key id = 3): every identity is null or empty (column 'email'); a batch must identify its user

            """)
        let stored = project.stateRows("SELECT job, row_number, reason, row FROM rejected_rows ORDER BY id")
        #expect(stored == [
            [.string("users-incremental"), .int(1), .string("iterator column 'updated_at' is null"),
             .string(#"{"id":7,"email":"b@example.com","updated_at":null}"#)],
            [.string("users-incremental"), .int(3), .string("every identity is null or empty (column 'email'); a batch must identify its user"),
             .string(#"{"id":3,"email":null,"updated_at":"2026-01-02T00:00:00Z"}"#)],
        ])
        let status = try await project.jobs("status", "users-incremental")
        #expect(status.stdout.split(separator: "\n").filter { $0.hasPrefix("    run #") } == [
            "    run #1 row 1 (in updated_at order; updated_at = null, key id = 7): iterator column 'updated_at' is null",
            "    run #1 row 3 (in updated_at order; updated_at = '2026-01-02T00:00:00Z', key id = 3): every identity is null or empty (column 'email'); a batch must identify its user",
        ])

        // A full sync reads in the table's order and has no iterator; without `key:` only the order is said.
        let full = try await project.jobs("run", "users-full")
        #expect(full.stderr == """
              rejected row 2 (in read order): every identity is null or empty (column 'email'); a batch must identify its user

            """)

        // File rows keep their place in the file.
        let csv = try await project.jobs("run", "users-csv")
        #expect(csv.stderr == """
              rejected row 1: every identity is null or empty (column 'email'); a batch must identify its user

            """)
    }
}
