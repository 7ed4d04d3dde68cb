import Foundation
import Testing
@testable import SyncJobsCore
import SyncJobsTestSupport

/// The PostgreSQL source against a real server: every type with nulls, the failures that stop a
/// run before any row is read, and the statements it sends.
// Serialized: opening a PostgreSQL source waits on the driver from the calling thread (the source
// seam is synchronous there), and many such tests at once would hold the cooperative pool's few
// threads from the rest of the suite's timed tests.
@Suite(.serialized, .enabled(if: TestPostgres.shouldRun, TestPostgres.skipNote))
struct PostgresSourceTests {
    /// "line:column: message", the part of a diagnostic that does not name the temporary folder.
    func located(_ diagnostic: Diagnostic) -> String {
        "\(diagnostic.location.line):\(diagnostic.location.column): \(diagnostic.message)"
    }

    static func job(_ t: TestWorkspace, _ db: TestPostgres, source: String, mapping: String = "  - { column: id, to: user_identities.customer_id }\n  - { column: $unmapped, to: user_attributes.* }",
                    extra: String = "") throws -> JobDefinition {
        try t.job("warehouse", """
            name: warehouse
            type: user
            source:
              postgres: \(db.url)
            \(source)
            mapping:
            \(mapping)
            \(extra)destination: { path: ../out/warehouse.ndjson, environment: production }
            """)
    }

    @Test func everyTypeBecomesItsJSONKindAndNullsStayNull() async throws {
        try await TestPostgres.withDatabase { db in
            try await db.execute("""
                CREATE TABLE everything (id integer, i2 smallint, i4 integer, i8 bigint, n numeric, n_long numeric, f4 real, f8 double precision,
                  b boolean, tx text, vc varchar(10), ch char(3), u uuid, tz timestamptz, ts timestamp, d date, j json, jb jsonb,
                  ai integer[], at text[])
                """, """
                INSERT INTO everything VALUES
                  (1, -32768, 2147483647, 9223372036854775807, 12.50, 12345678901234567890.123456789, 0.1, 1.5,
                   true, 'héllo "q"', 'v', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2026-01-02 03:04:05.123456+00',
                   '2026-01-02 03:04:05', '2026-01-02', '{"a": [1, 2.5, "x"], "b": null}', '{"k": 1}', '{1,2,NULL}', '{"a","b c"}'),
                  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
                """)
            let t = try TestWorkspace()
            let job = try Self.job(t, db, source: "  table: everything",
                                   mapping: "  - { column: id, to: user_identities.customer_id }\n  - { ignore: j }\n  - { ignore: jb }\n  - { column: $unmapped, to: user_attributes.* }",
                                   extra: "schedule: { type: on_demand, timezone: America/New_York }\n")
            // The cells as the source reads them: `timestamp` in the job's time zone, numeric with its digits.
            let source = try SourceOpener.open(job)
            defer { source.close() }
            let stream = try source.rows(nil, resume: nil, limit: nil)
            var batch = RowBatch(columnCount: source.columns.count, capacity: 0)
            #expect(try await stream.next(into: &batch))
            await stream.close()
            #expect((0..<batch.count).map { JSONWriter.compact(batch.object(ofRow: $0, columns: source.columns)) } == [
                #"{"id":1,"i2":-32768,"i4":2147483647,"i8":9223372036854775807,"n":12.5,"n_long":12345678901234567890.123456789,"f4":0.1,"f8":1.5,"b":true,"tx":"héllo \"q\"","vc":"v","ch":"ab ","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","tz":"2026-01-02T03:04:05.123456Z","ts":"2026-01-02T08:04:05Z","d":"2026-01-02","j":{"a":[1,2.5,"x"],"b":null},"jb":{"k":1},"ai":[1,2,null],"at":["a","b c"]}"#,
                #"{"id":2,"i2":null,"i4":null,"i8":null,"n":null,"n_long":null,"f4":null,"f8":null,"b":null,"tx":null,"vc":null,"ch":null,"u":null,"tz":null,"ts":null,"d":null,"j":null,"jb":null,"ai":null,"at":null}"#,
            ])

            // And through the engine to batches: nulls are left out, and a user attribute list holds strings.
            let destination = RecordingDestination()
            let run = try await t.run(job, destination: destination)
            #expect(run.succeeded, "\(run.errorMessage ?? "")")
            #expect(run.rejectedSamples.map(\.reason) == [])
            #expect(destination.batches.map { JSONWriter.compact($0["user_attributes"] ?? .null) } == [
                #"{"i2":-32768,"i4":2147483647,"i8":9223372036854775807,"n":12.5,"n_long":12345678901234567890.123456789,"f4":0.1,"f8":1.5,"b":true,"tx":"héllo \"q\"","vc":"v","ch":"ab ","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","tz":"2026-01-02T03:04:05.123456Z","ts":"2026-01-02T08:04:05Z","d":"2026-01-02","ai":["1","2"],"at":["a","b c"]}"#,
                "null",
            ])
        }
    }

    @Test func byteaAndUnsupportedTypesNameTheColumnBeforeAnyRowIsRead() async throws {
        try await TestPostgres.withDatabase { db in
            try await db.execute("CREATE TABLE files (id integer, avatar bytea, span interval)", "INSERT INTO files VALUES (1, '\\x00ff', '1 day')")
            let t = try TestWorkspace()
            let bytea = try Self.job(t, db, source: "  query: SELECT id, avatar FROM files")
            #expect(throws: JobFileError.self) { try SourceOpener.open(bytea) }
            let error = try #require(JobValidation.validate(path: bytea.filePath).first)
            #expect(located(error) == "5:10: column 'avatar' of the query on \(db.endpoint) is bytea (binary data), which a batch cannot carry; leave it out of the query, or select it as text, e.g. encode(avatar, 'base64')")
            let interval = try Self.job(t, db, source: "  query: SELECT id, span FROM files")
            #expect(JobValidation.validate(path: interval.filePath).map(located) == [
                "5:10: column 'span' of the query on \(db.endpoint) has the type interval, which syncjobs cannot read; cast it in the query, e.g. CAST(span AS TEXT)",
            ])
        }
    }

    @Test func aBadQueryAMissingTableAndAMissingColumnFailBeforeAnyRowIsRead() async throws {
        try await TestPostgres.withDatabase { db in
            try await db.execute("CREATE TABLE users (id integer, email text)")
            let t = try TestWorkspace()
            let syntax = try Self.job(t, db, source: "  query: SELEC id FROM users")
            #expect(JobValidation.validate(path: syntax.filePath).map(located) == [
                "5:10: the query on \(db.endpoint) does not compile: syntax error at or near \"SELEC\"; run it in psql to check it",
            ])
            let column = try Self.job(t, db, source: "  query: SELECT id, plan FROM users")
            #expect(JobValidation.validate(path: column.filePath).map(located) == [
                "5:10: the query on \(db.endpoint) does not compile: column \"plan\" does not exist; run it in psql to check it",
            ])
            let table = try Self.job(t, db, source: "  table: user")
            #expect(JobValidation.validate(path: table.filePath).map(located) == [
                "5:10: table 'user' does not exist in \(db.endpoint); did you mean 'users'?",
            ])
        }
    }

    @Test func refusedCredentialsAndAnUnreachableHostFailTheRunNamingHostAndDatabase() async throws {
        try await TestPostgres.withDatabase { db in
            try await db.execute("CREATE TABLE users (id integer)")
            let t = try TestWorkspace()
            let job = try t.job("warehouse", """
                type: user
                source:
                  postgres:
                    host: 127.0.0.1
                    port: \(db.endpoint.port)
                    database: \(db.endpoint.database)
                    user: syncjobs_password
                    password: ${SYNCJOBS_TEST_WRONG_PASSWORD}
                    tls: disable
                  table: users
                mapping:
                  - { column: id, to: user_identities.customer_id }
                destination: { path: ../out/warehouse.ndjson, environment: production }
                """)
            setenv("SYNCJOBS_TEST_WRONG_PASSWORD", "not-the-password", 1)
            let run = try await t.run(job, destination: RecordingDestination())
            #expect(run.errorMessage == "PostgreSQL at 127.0.0.1:\(db.endpoint.port) refused the login of user 'syncjobs_password' to database '\(db.endpoint.database)': password authentication failed for user \"syncjobs_password\"; check the user and the password (the password is read from ${SYNCJOBS_TEST_WRONG_PASSWORD})")
            #expect(run.counts.rowsRead == 0)

            let port = try closedLoopbackPort()
            let unreachable = try t.job("warehouse", """
                type: user
                source:
                  postgres: postgres://syncjobs@127.0.0.1:\(port)/warehouse?sslmode=disable
                  table: users
                mapping:
                  - { column: id, to: user_identities.customer_id }
                destination: { path: ../out/warehouse.ndjson, environment: production }
                """)
            let failed = try await t.run(unreachable, destination: RecordingDestination())
            #expect(failed.errorMessage == "cannot connect to PostgreSQL at 127.0.0.1:\(port) (database 'warehouse'): connection refused; check the host and port, and that the server is running and accepts TCP connections from this machine")
        }
    }

    @Test func theIteratorsTypeMustBeOneItCanCompare() async throws {
        try await TestPostgres.withDatabase { db in
            try await db.execute("CREATE TABLE events (id integer, ts text)")
            let t = try TestWorkspace()
            let job = try Self.job(t, db, source: "  table: events", extra: "sync: { mode: incremental, iterator: ts, iterator_type: timestamp }\n")
            #expect(JobValidation.validate(path: job.filePath).map(located) == [
                "9:38: iterator column 'ts' of table 'events' in \(db.endpoint) is text; 'iterator_type: timestamp' reads timestamptz, timestamp and date columns; cast it in the query or choose another iterator_type",
            ])
        }
    }
}
