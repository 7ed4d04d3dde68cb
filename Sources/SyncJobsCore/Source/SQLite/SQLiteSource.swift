/// Rows from a SQLite table or query, through the C API with prepared statements.
///
/// Incremental reads wrap the user's query: the iterator is normalized by an SQL expression, the
/// window is bound as parameters, and rows come ordered by it. The high watermark and the rows
/// come from one read transaction, one snapshot: rows committed during the run wait for the next
/// one. How long that transaction lasts depends on the journal mode:
/// - WAL: to the end of the run. Writers commit beside a WAL reader, so nobody waits.
/// - Rollback journal (`delete`, `truncate`, `persist`): a reader blocks writers, so the run copies
///   the rows it will read, in read order, into SQLite's temporary storage (on disk) and ends the
///   transaction before the first row goes out. Writers wait for that copy, never for the
///   destination. No index can serve the normalized iterator, so re-reading the database in pages
///   would cost a full scan per page; SQLite's sort already takes a full copy, so this one costs
///   little more and keeps the one-snapshot guarantee.
final class SQLiteSource: OpenedSource {
    static let sourceAlias = "\"__syncjobs_source\""
    /// How long opening waits for another connection's lock (SQLite's busy handler backs off
    /// between tries) before the run fails as locked.
    static let defaultLockWait: Duration = .seconds(10)

    let database: SQLiteDatabase
    let path: String
    let baseSQL: String
    let columns: [String]
    let description: String
    /// WAL databases are read in place; others from a copy (see above).
    let readsInPlace: Bool
    private var inTransaction = false
    private var copies = 0
    var acceptsExtraKeys: Bool { false }
    var deliversInIteratorOrder: Bool { true }
    var fingerprint: FileFingerprint? { nil }

    init(path: String, selection: SQLiteSelection, lockWait: Duration = SQLiteSource.defaultLockWait) throws {
        self.path = path
        let shown = Paths.display(path)
        guard Paths.fileExists(path) else {
            throw SourceError("the SQLite database '\(shown)' does not exist; check 'source.sqlite' (paths are relative to the job file)",
                              jobKey: "source.sqlite")
        }
        do {
            database = try SQLiteDatabase(path: path, mode: .readOnly, busyTimeoutMilliseconds: Self.milliseconds(lockWait))
            try database.execute("PRAGMA temp_store = FILE")
        } catch {
            throw SourceError("cannot open the SQLite database '\(shown)': \(error)")
        }
        let tables: [String]
        do {
            try database.execute("BEGIN")
            inTransaction = true
            // The first read of the file: a file that is not a database, or a writer's lock held
            // longer than `lockWait`, fails here.
            tables = try Self.tableNames(database)
            readsInPlace = try Self.journalMode(database) == "wal"
        } catch {
            database.close()
            throw Self.accessError(error, shown: shown, lockWait: lockWait)
        }
        // Where a diagnostic about the selection points in the job file.
        var selectionKey = "source.query"
        switch selection {
        case .table(let table):
            selectionKey = "source.table"
            if !tables.contains(table) {
                let names = tables
                let hint = Spelling.suggestion(for: table, among: names).map { "did you mean '\($0)'?" }
                    ?? (names.isEmpty ? "the database has no tables" : "the tables are \(Format.names(names))")
                // Only a database that lists its tables without the one named blames the job.
                throw SourceError("table '\(table)' does not exist in '\(shown)'; \(hint)", jobKey: "source.table")
            }
            baseSQL = "SELECT * FROM \(Self.quote(table))"
            description = "table '\(table)' in \(shown)"
        case .query(let query):
            baseSQL = SQLiteQueryText.wrappable(query)
            description = "the query on \(shown)"
        }
        do {
            // The user's query alone first, so a syntax error quotes their SQL, not our wrapper.
            _ = try database.prepare(baseSQL)
            let statement = try database.prepare("SELECT * FROM (\(baseSQL)) LIMIT 0")
            columns = statement.columnNames
        } catch {
            database.close()
            // A locked, damaged or non-database file fails here too; only an SQL error blames the job.
            let blamesJob = (error as? SQLiteError).map { $0.kind != .sqlite || $0.extendedCode & 0xFF == 1 /* SQLITE_ERROR */ } ?? false
            throw SourceError("the query on '\(shown)' does not compile: \(Self.message(of: error)); run it in the sqlite3 shell to check it",
                              jobKey: blamesJob ? selectionKey : nil)
        }
        var seen: Set<String> = []
        for column in columns where !seen.insert(column).inserted {
            database.close()
            throw SourceError("\(description) returns two columns named '\(column)'; give one of them another name with AS", jobKey: selectionKey)
        }
    }

    /// What is wrong when the file cannot be read at all, said so: not a database, or locked.
    static func accessError(_ error: Error, shown: String, lockWait: Duration) -> SourceError {
        guard let error = error as? SQLiteError else { return SourceError("cannot read the SQLite database '\(shown)': \(error)") }
        if error.isNotADatabase {
            return SourceError("'\(shown)' is not a SQLite database (\(error.message)); point 'source.sqlite' at a SQLite database file, or read CSV, TSV, NDJSON and JSON files with 'source.file'")
        }
        if error.isBusy {
            return SourceError("the SQLite database '\(shown)' is locked by another connection (still locked after \(Format.duration(millis: Int64(milliseconds(lockWait))))); retry later, once the writer has committed")
        }
        return SourceError("cannot read the SQLite database '\(shown)': \(error.message)")
    }

    static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    static func journalMode(_ database: SQLiteDatabase) throws -> String {
        let statement = try database.prepare("PRAGMA journal_mode")
        guard try statement.step() else { return "" }
        return statement.text(at: 0)?.lowercased() ?? ""
    }

    static func message(of error: Error) -> String {
        if let error = error as? SQLiteError { return error.message }
        return "\(error)"
    }

    static func tableNames(_ database: SQLiteDatabase) throws -> [String] {
        let statement = try database.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name")
        var names: [String] = []
        while try statement.step() {
            if case .string(let name) = try statement.value(at: 0) { names.append(name) }
        }
        return names
    }

    static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private func iteratorExpression(_ window: ReadWindow) -> String {
        window.type.sqlExpression("\(Self.sourceAlias).\(Self.quote(window.column))")
    }

    /// The user's rows with the normalized iterator as a last column. `LIMIT -1` keeps SQLite from
    /// flattening this subquery into the outer one, which would evaluate the iterator expression
    /// once for the filter, once for the sort and once for the result (measured: twice as slow).
    private func windowSQL(_ window: ReadWindow) -> WindowSQL {
        WindowSQL(dialect: .sqlite) { [baseSQL] columns in
            "SELECT \(columns ?? "*"), \(self.iteratorExpression(window)) AS \(WindowSQL.iteratorAlias) FROM (\(baseSQL)) AS \(Self.sourceAlias) LIMIT -1"
        }
    }

    /// The statement and its parameters for a read of `window`.
    func readStatement(_ window: ReadWindow?) -> (sql: String, parameters: [Value]) {
        guard let window else { return ("SELECT * FROM (\(baseSQL))", []) }
        let (sql, parameters) = windowSQL(window).read(window)
        return (sql, parameters.map(\.sqlValue))
    }

    func highWatermark(_ window: ReadWindow) throws -> IteratorValue? {
        let (sql, parameters) = windowSQL(window).highWatermark(window)
        let statement = try prepare(sql)
        try statement.bind(parameters.map(\.sqlValue))
        guard try statement.step() else { return nil }
        return IteratorValue(storage: try statement.value(at: 0))
    }

    func readDescription(_ window: ReadWindow?) -> String {
        guard let window else { return readStatement(nil).sql }
        let sql = windowSQL(window)
        return sql.description(sql.read(window))
    }

    func countRows(_ window: ReadWindow?) throws -> Int {
        guard let window else { return try count(("SELECT count(*) FROM (\(baseSQL))", [])) }
        return try count(windowSQL(window).count(window))
    }

    func countRows(at value: IteratorValue, window: ReadWindow) throws -> Int {
        try count(windowSQL(window).count(at: value))
    }

    private func count(_ statement: (sql: String, parameters: [IteratorValue])) throws -> Int {
        let prepared = try prepare(statement.sql)
        try prepared.bind(statement.parameters.map(\.sqlValue))
        guard try prepared.step(), case .int(let n) = try prepared.value(at: 0) else { return 0 }
        return Int(n)
    }

    private func prepare(_ sql: String) throws -> SQLiteStatement {
        do {
            return try database.prepare(sql)
        } catch {
            throw SourceError("cannot read \(description): \(Self.message(of: error))")
        }
    }

    func rows(_ window: ReadWindow?, resume: FileResume?, limit: Int?) throws -> any RowStream {
        let (sql, parameters) = readStatement(window)
        let statement: SQLiteStatement
        if readsInPlace {
            statement = try prepare(sql)
            try statement.bind(parameters)
        } else {
            statement = try copyAndEndTransaction(sql, parameters)
        }
        let reader = SQLiteRowReader(statement: statement, columns: columns, window: window, description: description, limit: limit)
        return ThreadedRowStream(reader, columnCount: columns.count)
    }

    /// Copies the rows of `sql` into a temporary table within the run's read transaction (the
    /// snapshot the high watermark came from), then ends the transaction, so the database is free
    /// for writers while the run delivers. Returns the copy, in read order.
    private func copyAndEndTransaction(_ sql: String, _ parameters: [Value]) throws -> SQLiteStatement {
        copies += 1
        let table = "temp.\(Self.quote("__syncjobs_read_\(copies)"))"
        do {
            // Untyped columns: values keep their storage class exactly.
            let names = try database.prepare(sql).columnNames
            try database.execute("CREATE TABLE \(table) (\(names.map(Self.quote).joined(separator: ", ")))")
            let insert = try database.prepare("INSERT INTO \(table) \(sql)")
            try insert.bind(parameters)
            try insert.step()
            try endTransaction()
            return try database.prepare("SELECT * FROM \(table) ORDER BY rowid")
        } catch {
            throw SourceError("cannot read \(description): \(Self.message(of: error))")
        }
    }

    private func endTransaction() throws {
        guard inTransaction else { return }
        inTransaction = false
        try database.execute("COMMIT")
    }

    func close() {
        try? endTransaction()
        database.close()
    }
}

/// Steps a statement and copies each row's cells into batches.
final class SQLiteRowReader: BlockingRowReader {
    let statement: SQLiteStatement
    let columns: [String]
    let window: ReadWindow?
    let description: String
    var number = 0
    /// Rows still to read (`--limit`), or nil for all.
    var remaining: Int?

    init(statement: SQLiteStatement, columns: [String], window: ReadWindow?, description: String, limit: Int? = nil) {
        self.statement = statement
        self.columns = columns
        self.window = window
        self.description = description
        remaining = limit
    }

    /// Set once the statement is done: stepping it again would start it over.
    private var finished = false

    func read(into batch: inout RowBatch) throws -> Bool {
        batch.removeAll()
        while !batch.isFull, !finished {
            if let remaining, remaining <= 0 { break }
            do {
                guard try statement.step() else {
                    finished = true
                    break
                }
            } catch {
                throw SourceError("reading \(description) failed after row \(number): \(SQLiteSource.message(of: error))")
            }
            number += 1
            remaining? -= 1
            batch.startRow(number: number)
            if let blob = statement.appendCells(columns.count, to: &batch) {
                do {
                    _ = try statement.value(at: blob)
                } catch let error as SQLiteError {
                    throw SourceError("\(description), row \(number): \(error.message)")
                }
            }
            guard let window else { continue }
            // The normalized iterator is the statement's last column.
            guard let iterator = IteratorValue(storage: try statement.value(at: Int32(columns.count))) else {
                let row = batch.count - 1
                let reason = window.type.rejection(column: window.column, cell: batch.value(batch.cell(row, window.columnIndex)))
                batch.rejectLastRow(reason: reason, row: JSONWriter.compact(batch.object(ofRow: row, columns: columns)))
                continue
            }
            batch.finishRow(iterator: iterator)
        }
        return !batch.isEmpty
    }
}
