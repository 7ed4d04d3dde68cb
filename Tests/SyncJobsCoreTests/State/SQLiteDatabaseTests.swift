import CSQLite
import Foundation
import Testing
@testable import SyncJobsCore

@Suite struct SQLiteDatabaseTests {
    // MARK: - Opening

    @Test(arguments: [SQLiteDatabase.OpenMode.readOnly, .readWrite])
    func openingAMissingFileNamesThePath(mode: SQLiteDatabase.OpenMode) throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/missing.db"
            let error = try #require(throws: SQLiteError.self) {
                try SQLiteDatabase(path: path, mode: mode)
            }
            #expect(error.isCantOpen)
            #expect(error.operation == .opening)
            #expect(error.message.contains("'\(path)'"))
            #expect(error.message.contains("no database file"))
            #expect(error.description.hasPrefix("SQLite error 14: no database file at '\(path)'"))
            #expect(!FileManager.default.fileExists(atPath: path), "opening must not create the file")
        }
    }

    @Test func creatingInAMissingDirectoryNamesTheDirectory() throws {
        try withTemporaryDirectory { directory in
            let error = try #require(throws: SQLiteError.self) {
                try SQLiteDatabase(path: directory + "/no/such/dir/state.db", mode: .readWriteCreate)
            }
            #expect(error.isCantOpen)
            #expect(error.message.contains("directory '\(directory)/no/such/dir' does not exist"))
        }
    }

    @Test func openModes() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.db"
            do {
                let created = try SQLiteDatabase(path: path, mode: .readWriteCreate)
                try created.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            }
            #expect(FileManager.default.fileExists(atPath: path))

            let writable = try SQLiteDatabase(path: path, mode: .readWrite)
            try writable.execute("INSERT INTO t VALUES (2)")
            writable.close()

            let readOnly = try SQLiteDatabase(path: path, mode: .readOnly)
            #expect(try rows(readOnly, "SELECT x FROM t ORDER BY x") == [[.int(1)], [.int(2)]])
            let error = try #require(throws: SQLiteError.self) {
                try readOnly.execute("INSERT INTO t VALUES (3)")
            }
            #expect(error.isReadOnly)
            #expect(error.description.contains("INSERT INTO t VALUES (3)"))
        }
    }

    // MARK: - Values

    @Test func bindsAndReadsBackEveryValueKind() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        // Columns without a declared type keep each value's storage class as bound.
        try database.execute("CREATE TABLE cells(position INTEGER PRIMARY KEY, content)")
        let object: Value = .object([.init("name", .string("Zoë \"Z\"")), .init("tags", .array([.int(1), .null, .bool(true)]))])
        let values: [Value] = [
            .null, .bool(true), .bool(false), .int(42), .int(.min), .int(.max), .double(-2.5), .double(0.1),
            .string(""), .string("héllo\nwörld ✓"), .string("nul\u{0}inside"), .array([]), .array([.int(1), .string("a")]), object,
        ]
        let insert = try database.prepare("INSERT INTO cells(position, content) VALUES (?1, ?2)")
        for (position, value) in values.enumerated() {
            try insert.bind([.int(Int64(position)), value])
            #expect(try insert.step() == false)
            #expect(database.changes == 1)
            #expect(database.lastInsertRowID == Int64(position))
        }

        let read = try rows(database, "SELECT content, typeof(content) FROM cells ORDER BY position")
        let expected: [[Value]] = [
            [.null, .string("null")],
            [.int(1), .string("integer")],
            [.int(0), .string("integer")],
            [.int(42), .string("integer")],
            [.int(.min), .string("integer")],
            [.int(.max), .string("integer")],
            [.double(-2.5), .string("real")],
            [.double(0.1), .string("real")],
            [.string(""), .string("text")],
            [.string("héllo\nwörld ✓"), .string("text")],
            [.string("nul\u{0}inside"), .string("text")],
            [.string("[]"), .string("text")],
            [.string(#"[1,"a"]"#), .string("text")],
            [.string(#"{"name":"Zoë \"Z\"","tags":[1,null,true]}"#), .string("text")],
        ]
        #expect(read == expected)
        // The JSON text is real JSON to SQLite.
        #expect(try rows(database, "SELECT json_extract(content, '$.tags[2]') FROM cells WHERE position = 13") == [[.int(1)]])
    }

    @Test func statementAccessors() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let statement = try database.prepare("SELECT 7 AS seven, 'x' AS letter, NULL AS absent, 2.5 AS half WHERE ?1")
        #expect(statement.sql == "SELECT 7 AS seven, 'x' AS letter, NULL AS absent, 2.5 AS half WHERE ?1")
        #expect(statement.columnCount == 4)
        #expect(statement.columnNames == ["seven", "letter", "absent", "half"])
        #expect(statement.parameterCount == 1)
        try statement.bind(.bool(true), at: 1)
        #expect(try statement.step())
        #expect(statement.int64(at: 0) == 7)
        #expect(statement.text(at: 0) == "7")
        #expect(statement.text(at: 1) == "x")
        #expect(statement.text(at: 2) == nil)
        #expect(try statement.value(at: 3) == .double(2.5))
        #expect(throws: SQLiteError.self) { try statement.value(at: 4) }
        #expect(throws: SQLiteError.self) { try statement.value(at: -1) }
        #expect(try statement.step() == false)

        // Reset keeps the bindings; rebinding through bind(_:) resets by itself.
        try statement.reset()
        #expect(try statement.step())
        try statement.bind([.bool(false)])
        #expect(try statement.step() == false)
    }

    @Test func bindingTheWrongNumberOfValuesIsAnError() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let statement = try database.prepare("SELECT ?1 + ?2")
        let error = try #require(throws: SQLiteError.self) { try statement.bind([.int(1)]) }
        #expect(error.kind == .parameterCountMismatch)
        #expect(error.message == "the statement has 2 parameter(s) but 1 value(s) were given")
        let outOfRange = try #require(throws: SQLiteError.self) { try statement.bind(.int(1), at: 3) }
        #expect(outOfRange.resultCode == SQLITE_RANGE)
        #expect(outOfRange.kind == .sqlite)
    }

    @Test func blobColumnErrorNamesTheColumn() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        try database.execute("CREATE TABLE users(id INTEGER, avatar BLOB); INSERT INTO users VALUES (1, x'89504E47');")
        let statement = try database.prepare("SELECT id, avatar FROM users")
        #expect(try statement.step())
        #expect(try statement.value(at: 0) == .int(1))
        let error = try #require(throws: SQLiteError.self) { try statement.row() }
        #expect(error.isBlobColumn)
        #expect(error.kind == .blobColumn(column: "avatar"))
        #expect(error.message == "column 'avatar' holds a BLOB; syncjobs sends JSON values only — select it as hex(avatar) or leave it out of the query")
        #expect(error.sql == "SELECT id, avatar FROM users")
        #expect(try rows(database, "SELECT hex(avatar) FROM users") == [[.string("89504E47")]])
    }

    // MARK: - SQL errors

    @Test(arguments: ["", "   ", "\n\t", "-- nothing here", "/* nor here */ ;", ";"])
    func blankSQLIsAnError(sql: String) throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let error = try #require(throws: SQLiteError.self) { try database.prepare(sql) }
        #expect(error.kind == .emptySQL)
        #expect(error.message.contains("no SQL statement"))
    }

    @Test func moreThanOneStatementIsAnError() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let error = try #require(throws: SQLiteError.self) {
            try database.prepare("CREATE TABLE a(x); DROP TABLE b")
        }
        #expect(error.kind == .multipleStatements)
        #expect(error.message.contains("only one statement"))
        #expect(error.message.contains("DROP TABLE b"))
        // Nothing ran.
        #expect(try rows(database, "SELECT count(*) FROM sqlite_schema") == [[.int(0)]])

        // A trailing semicolon, whitespace or comment is not a second statement.
        for sql in ["SELECT 1;", "SELECT 1 ; \n", "SELECT 1; -- done", "SELECT 1; /* done */ ;;", "SELECT 1 /* unterminated"] {
            let statement = try database.prepare(sql)
            #expect(try statement.step())
            #expect(try statement.value(at: 0) == .int(1))
        }
        #expect(throws: SQLiteError.self) { try database.prepare("SELECT 1; x") }
    }

    @Test func nulInSQLIsAnError() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let error = try #require(throws: SQLiteError.self) { try database.prepare("SELECT 1\u{0}; DROP TABLE t") }
        #expect(error.kind == .nulCharacterInSQL)
        #expect(throws: SQLiteError.self) { try database.execute("SELECT 1\u{0}") }
    }

    @Test func syntaxErrorCarriesSQLitesMessageAndTheSQL() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let error = try #require(throws: SQLiteError.self) { try database.prepare("SELEKT id FROM users") }
        #expect(error.resultCode == SQLITE_ERROR)
        #expect(error.message == #"near "SELEKT": syntax error"#)
        #expect(error.sql == "SELEKT id FROM users")
        #expect(error.description == #"SQLite error 1: near "SELEKT": syntax error (while preparing: SELEKT id FROM users)"#)
        #expect(error.localizedDescription == error.description)

        let missing = try #require(throws: SQLiteError.self) { try database.prepare("SELECT *\n  FROM users") }
        #expect(missing.description == "SQLite error 1: no such table: users (while preparing: SELECT * FROM users)")
    }

    @Test func longSQLIsAbbreviatedInTheDescriptionOnly() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let sql = "SELECT " + Array(repeating: "nope", count: 100).joined(separator: " + ")
        let error = try #require(throws: SQLiteError.self) { try database.prepare(sql) }
        #expect(error.sql == sql)
        #expect(error.description.hasSuffix("…)"))
        #expect(error.description.count < 300)
    }

    @Test func constraintErrorsHaveExtendedCodes() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        try database.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
        let insert = try database.prepare("INSERT INTO t(name) VALUES (?)")
        try insert.bind([.string("secret-value")])
        try insert.step()
        try insert.bind([.string("secret-value")])
        let error = try #require(throws: SQLiteError.self) { try insert.step() }
        #expect(error.isConstraint)
        #expect(error.extendedCode == 2067)  // SQLITE_CONSTRAINT_UNIQUE
        #expect(error.description == "SQLite error 19 (extended 2067): UNIQUE constraint failed: t.name (while stepping: INSERT INTO t(name) VALUES (?))")
        #expect(!error.description.contains("secret-value"), "bound values stay out of messages")
    }

    // MARK: - Scripts and transactions

    @Test func executeRunsEveryStatementAndReportsTheFailingOne() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        try database.execute("""
            CREATE TABLE t(x); -- a comment
            INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);
            SELECT * FROM t;
            """)
        #expect(try rows(database, "SELECT count(*) FROM t") == [[.int(2)]])
        try database.execute("")
        try database.execute("  -- only a comment")
        try database.execute("; ;INSERT INTO t VALUES (0);;")
        try database.execute("DELETE FROM t WHERE x = 0")

        let error = try #require(throws: SQLiteError.self) {
            try database.execute("INSERT INTO t VALUES (3); INSERT INTO missing VALUES (4); INSERT INTO t VALUES (5);")
        }
        #expect(error.message == "no such table: missing")
        #expect(error.sql?.hasPrefix("INSERT INTO missing VALUES (4);") == true)
        #expect(try rows(database, "SELECT x FROM t ORDER BY x") == [[.int(1)], [.int(2)], [.int(3)]])
    }

    @Test func transactionCommitsAndReturnsTheBodysResult() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        try database.execute("CREATE TABLE t(x)")
        let rowID = try database.transaction(.immediate) {
            try database.execute("INSERT INTO t VALUES ('kept')")
            return database.lastInsertRowID
        }
        #expect(rowID == 1)
        #expect(try rows(database, "SELECT x FROM t") == [[.string("kept")]])
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        struct Abort: Error, Equatable {}
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        try database.execute("CREATE TABLE t(x)")
        #expect(throws: Abort()) {
            try database.transaction {
                try database.execute("INSERT INTO t VALUES (1)")
                throw Abort()
            }
        }
        #expect(try rows(database, "SELECT count(*) FROM t") == [[.int(0)]])

        // An SQLite error inside rolls back too, and the connection is usable afterwards.
        let error = try #require(throws: SQLiteError.self) {
            try database.transaction {
                try database.execute("INSERT INTO t VALUES (2)")
                try database.execute("INSERT INTO missing VALUES (3)")
            }
        }
        #expect(error.message == "no such table: missing")
        #expect(try rows(database, "SELECT count(*) FROM t") == [[.int(0)]])
        try database.transaction { try database.execute("INSERT INTO t VALUES (4)") }
        #expect(try rows(database, "SELECT x FROM t") == [[.int(4)]])
    }

    @Test func transactionsDoNotNest() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let error = try #require(throws: SQLiteError.self) {
            try database.transaction { try database.transaction {} }
        }
        #expect(error.message.contains("cannot start a transaction within a transaction"))
        // The outer transaction was rolled back, so a new one can start.
        try database.transaction {}
    }

    // MARK: - Concurrency between connections

    @Test func busyTimeoutThenBusyErrorOnAWALDatabase() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/wal.db"
            let writer = try SQLiteDatabase(path: path, mode: .readWriteCreate, busyTimeoutMilliseconds: 100)
            #expect(try rows(writer, "PRAGMA journal_mode=WAL") == [[.string("wal")]])
            try writer.execute("CREATE TABLE t(x)")
            let other = try SQLiteDatabase(path: path, mode: .readWrite, busyTimeoutMilliseconds: 100)

            try writer.execute("BEGIN IMMEDIATE")
            try writer.execute("INSERT INTO t VALUES (1)")

            let clock = ContinuousClock()
            let start = clock.now
            let error = try #require(throws: SQLiteError.self) {
                try other.transaction(.immediate) { try other.execute("INSERT INTO t VALUES (2)") }
            }
            let waited = clock.now - start
            #expect(error.isBusy)
            #expect(error.extendedCode == SQLITE_BUSY)
            #expect(error.message == "database is locked")
            #expect(error.sql == "BEGIN IMMEDIATE")
            #expect(waited >= .milliseconds(90), "the busy timeout should have been waited out")
            #expect(waited < .seconds(5))

            // WAL lets the other connection read the last committed state meanwhile.
            #expect(try rows(other, "SELECT count(*) FROM t") == [[.int(0)]])
            try writer.execute("COMMIT")
            try other.transaction(.immediate) { try other.execute("INSERT INTO t VALUES (2)") }
            #expect(try rows(writer, "SELECT x FROM t ORDER BY x") == [[.int(1)], [.int(2)]])
        }
    }

    // MARK: - Lifecycle

    @Test func closeIsIdempotentAndLaterUseIsAnError() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let statement = try database.prepare("SELECT 1")
        database.close()
        database.close()
        #expect(!database.isOpen)
        #expect(database.changes == 0)
        let error = try #require(throws: SQLiteError.self) { try database.execute("SELECT 1") }
        #expect(error.kind == .closed)
        #expect(error.resultCode == SQLITE_MISUSE)
        // The statement was not finalized behind its owner's back, but reports the closed database.
        let stepError = try #require(throws: SQLiteError.self) { try statement.step() }
        #expect(stepError.kind == .closed)
        #expect(statement.sql == "SELECT 1")
    }

    @Test func aStatementKeepsItsDatabaseAlive() throws {
        var statement: SQLiteStatement?
        do {
            let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
            statement = try database.prepare("SELECT 'still here'")
        }
        let survivor = try #require(statement)
        #expect(try survivor.step())
        #expect(try survivor.value(at: 0) == .string("still here"))
    }

    @Test func interruptStopsARunningStatement() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let statement = try database.prepare(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT i FROM n")
        #expect(try statement.step())
        database.interrupt()
        let error = try #require(throws: SQLiteError.self) {
            while try statement.step() {}
        }
        #expect(error.isInterrupted)
        #expect(error.message == "interrupted")
        // The interruption ends with the statement; the connection keeps working.
        try? statement.reset()
        #expect(try rows(database, "SELECT 2") == [[.int(2)]])
    }
}
