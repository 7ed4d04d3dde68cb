import Foundation
import Logging
import NIOCore
import PostgresNIO

/// A PostgreSQL table or query as a source (README "PostgreSQL source").
///
/// One connection per run, in one `REPEATABLE READ READ ONLY` transaction begun when the source
/// opens: the columns, the high watermark, the boundary counts and the rows all come from the
/// same snapshot, so rows committed while the run reads wait for the next run. The columns and
/// their types are known before any row is read: a describing query returns the query's row shape
/// with one row of nulls and reads none of the user's rows.
///
/// Incremental reads wrap the user's SQL as the SQLite source does (`SQLiteSource.readStatement`):
/// the normalized iterator is computed in SQL (`PostgresColumn.iteratorExpression`), filtered
/// with bound parameters and ordered by, so the engine's ties, checkpoints, lookback, catch-up
/// windows and backfills work unchanged. The generated SQL keeps to what Redshift accepts too.
///
/// The opening calls are synchronous (the source seam asks for columns and counts before a run
/// starts); they wait on the driver's event loop, never on an event loop thread. The rows stream
/// asynchronously with the driver's backpressure (`PostgresRowStream`).
final class PostgresSource: OpenedSource {
    static let sourceAlias = "\"__syncjobs_source\""
    static let logger = Logger(label: "syncjobs.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    let endpoint: PostgresEndpoint
    let connection: PostgresConnection
    let baseSQL: String
    let columns: [String]
    let sourceColumns: [PostgresColumn]
    let description: String
    /// The job's time zone: `timestamp` (without time zone) values are read in it.
    let timeZone: String
    private var closed = false
    var acceptsExtraKeys: Bool { false }
    var deliversInIteratorOrder: Bool { true }
    var fingerprint: FileFingerprint? { nil }

    init(spec: PostgresSourceSpec, job: JobDefinition, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let endpoint = try spec.endpoint(environment: environment)
        self.endpoint = endpoint
        timeZone = job.schedule.timezone ?? "UTC"
        do {
            connection = try endpoint.connectWaiting(logger: Self.logger, environment: environment)
        } catch let error as PostgresConnectError {
            throw SourceError(error.message, jobKey: error.kind == .missingDatabase ? "source.postgres" : nil,
                              unreachable: error.kind == .unreachable || error.kind == .notConfigured)
        }
        var selectionKey = "source.query"
        switch spec.selection {
        case .table(let table):
            selectionKey = "source.table"
            baseSQL = "SELECT * FROM \(PostgresSQL.qualifiedName(table))"
            description = "table '\(table)' in \(endpoint)"
        case .query(let query):
            // The same trimming as SQLite's: trailing semicolons and comments would break the wrapper.
            baseSQL = SQLiteQueryText.wrappable(query)
            description = "the query on \(endpoint)"
        }
        do {
            _ = try Self.run(connection, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", description: "\(endpoint)")
            sourceColumns = try Self.describe(connection, baseSQL: baseSQL, spec: spec, description: description,
                                              endpoint: endpoint, selectionKey: selectionKey)
        } catch {
            _ = try? connection.close().wait()
            throw error
        }
        columns = sourceColumns.map(\.name)
        do {
            try checkColumns(selectionKey: selectionKey, job: job)
        } catch {
            _ = try? connection.close().wait()
            throw error
        }
    }

    /// The query's columns and types, from one row of nulls: `WHERE 1 = 0` reads none of its
    /// rows, and the LEFT JOIN still returns a row whose cells carry the column types.
    private static func describe(_ connection: PostgresConnection, baseSQL: String, spec: PostgresSourceSpec, description: String,
                                 endpoint: PostgresEndpoint, selectionKey: String) throws -> [PostgresColumn] {
        let sql = "SELECT \(sourceAlias).* FROM (SELECT 1 AS \"one\") AS \"__syncjobs_one\" LEFT JOIN (SELECT * FROM (\(baseSQL)) AS \"__syncjobs_inner\" WHERE 1 = 0) AS \(sourceAlias) ON 1 = 1"
        let result: PostgresQueryResult
        do {
            // The user's SQL alone first (PREPARE parses and plans it, reading nothing), so an
            // error quotes their query, not the wrapper.
            _ = try connection.query(PostgresQuery(unsafeSQL: "PREPARE \"__syncjobs_check\" AS \(baseSQL)"), logger: logger).wait()
            _ = try connection.query(PostgresQuery(unsafeSQL: "DEALLOCATE \"__syncjobs_check\""), logger: logger).wait()
            result = try connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).wait()
        } catch {
            let state = (error as? PSQLError)?.serverInfo?[.sqlState] ?? ""
            let message = Self.message(of: error)
            if case .table(let table) = spec.selection, state == "42P01" || state == "3F000" {
                throw SourceError("table '\(table)' does not exist in \(endpoint); \(tableHint(table, endpoint: endpoint))", jobKey: "source.table")
            }
            // Class 42 is the query's own fault (syntax, a missing table, column or function).
            let blamesJob = state.hasPrefix("42") && state != "42501"
            throw SourceError("the query on \(endpoint) does not compile: \(message); run it in psql to check it", jobKey: blamesJob ? selectionKey : nil)
        }
        guard let row = result.rows.first else { return [] }
        var columns: [PostgresColumn] = []
        for cell in row {
            let oid = UInt32(cell.dataType.rawValue)
            guard let family = PostgresColumn.family(of: oid) else {
                if oid == 17 {
                    throw SourceError("column '\(cell.columnName)' of \(description) is bytea (binary data), which a batch cannot carry; leave it out of the query, or select it as text, e.g. encode(\(cell.columnName), 'base64')",
                                      jobKey: selectionKey)
                }
                let typeName = (try? typeName(connection, oid)) ?? "OID \(oid)"
                throw SourceError("column '\(cell.columnName)' of \(description) has the type \(typeName), which syncjobs cannot read; cast it in the query, e.g. CAST(\(cell.columnName) AS TEXT)",
                                  jobKey: selectionKey)
            }
            columns.append(PostgresColumn(name: cell.columnName, typeOID: oid, family: family))
        }
        return columns
    }

    private static func typeName(_ connection: PostgresConnection, _ oid: UInt32) throws -> String {
        let result = try connection.query(PostgresQuery(unsafeSQL: "SELECT format_type(CAST(\(oid) AS OID), NULL)"), logger: logger).wait()
        return try result.rows.first?.decode(String.self) ?? "OID \(oid)"
    }

    /// "did you mean 'public.users'?", from a fresh connection (the transaction has failed).
    private static func tableHint(_ table: String, endpoint: PostgresEndpoint) -> String {
        guard let connection = try? endpoint.connectWaiting(logger: logger) else { return "check 'source.table'" }
        defer { _ = try? connection.close().wait() }
        let sql = "SELECT CASE WHEN table_schema = 'public' THEN table_name ELSE table_schema || '.' || table_name END FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        guard let result = try? connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).wait() else { return "check 'source.table'" }
        let names = result.rows.compactMap { try? $0.decode(String.self) }
        if let suggestion = Spelling.suggestion(for: table, among: names) { return "did you mean '\(suggestion)'?" }
        if names.isEmpty { return "the database has no tables" }
        return names.count <= 20 ? "the tables are \(Format.names(names))" : "check 'source.table'"
    }

    /// Two columns of one name, and an iterator whose type cannot be compared as asked.
    private func checkColumns(selectionKey: String, job: JobDefinition) throws {
        var seen: Set<String> = []
        for column in columns where !seen.insert(column).inserted {
            throw SourceError("\(description) returns two columns named '\(column)'; give one of them another name with AS", jobKey: selectionKey)
        }
        guard job.sync.mode == .incremental, let name = job.sync.iterator, let type = job.sync.iteratorType,
              let column = sourceColumns.first(where: { $0.name == name }) else { return }
        if column.iteratorExpression(type, source: Self.sourceAlias, timeZone: timeZone) == nil {
            let typeName = (try? Self.typeName(connection, column.typeOID)) ?? "OID \(column.typeOID)"
            throw SourceError("iterator column '\(name)' of \(description) is \(typeName); 'iterator_type: \(type.rawValue)' reads \(PostgresColumn.families(for: type)); cast it in the query or choose another iterator_type",
                              jobKey: "sync.iterator")
        }
    }

    // MARK: Statements

    private var projections: String {
        sourceColumns.map { $0.projection(source: Self.sourceAlias, timeZone: timeZone) }.joined(separator: ", ")
    }

    private func iteratorExpression(_ window: ReadWindow) -> String {
        // Checked when the source opened; a column the job does not have fails in the mapping.
        sourceColumns.first { $0.name == window.column }?.iteratorExpression(window.type, source: Self.sourceAlias, timeZone: timeZone) ?? "NULL"
    }

    /// The user's rows (as selected) with the normalized iterator as a last column.
    private func windowSQL(_ window: ReadWindow) -> WindowSQL {
        WindowSQL(dialect: .postgres) { [baseSQL, projections] columns in
            "SELECT \(columns ?? projections), \(self.iteratorExpression(window)) AS \(WindowSQL.iteratorAlias) FROM (\(baseSQL)) AS \(Self.sourceAlias)"
        }
    }

    /// The statement and its parameters for a read of `window` (see `WindowSQL`).
    func readStatement(_ window: ReadWindow?) -> (sql: String, parameters: [IteratorValue]) {
        guard let window else { return ("SELECT \(projections) FROM (\(baseSQL)) AS \(Self.sourceAlias)", []) }
        return windowSQL(window).read(window)
    }

    func highWatermark(_ window: ReadWindow) throws -> IteratorValue? {
        let (sql, parameters) = windowSQL(window).highWatermark(window)
        let result = try query(sql, parameters)
        guard let cell = result.rows.first?.first else { return nil }
        return Self.iteratorValue(cell)
    }

    func readDescription(_ window: ReadWindow?) -> String {
        guard let window else { return readStatement(nil).sql }
        let sql = windowSQL(window)
        return sql.description(sql.read(window))
    }

    func countRows(_ window: ReadWindow?) throws -> Int {
        guard let window else { return try count("SELECT count(*) FROM (\(readStatement(nil).sql)) AS \"__syncjobs_count\"", []) }
        let (sql, parameters) = windowSQL(window).count(window)
        return try count(sql, parameters)
    }

    func countRows(at value: IteratorValue, window: ReadWindow) throws -> Int {
        let (sql, parameters) = windowSQL(window).count(at: value)
        return try count(sql, parameters)
    }

    private func count(_ sql: String, _ parameters: [IteratorValue]) throws -> Int {
        let result = try query(sql, parameters)
        return Int(try result.rows.first?.decode(Int64.self) ?? 0)
    }

    private func query(_ sql: String, _ parameters: [IteratorValue]) throws -> PostgresQueryResult {
        do {
            return try connection.query(PostgresQuery(unsafeSQL: sql, binds: Self.bindings(parameters)), logger: Self.logger).wait()
        } catch {
            throw SourceError("cannot read \(description): \(Self.message(of: error))")
        }
    }

    static func bindings(_ parameters: [IteratorValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .int(let i): bindings.append(i)
            case .double(let d): bindings.append(d)
            case .string(let s): bindings.append(s)
            }
        }
        return bindings
    }

    /// The computed iterator: BIGINT, DOUBLE PRECISION or TEXT; nil for NULL.
    static func iteratorValue(_ cell: PostgresCell) -> IteratorValue? {
        guard let bytes = cell.bytes else { return nil }
        switch cell.dataType {
        case .int8: return bytes.getInteger(at: bytes.readerIndex, as: Int64.self).map(IteratorValue.int)
        case .float8: return bytes.getInteger(at: bytes.readerIndex, as: UInt64.self).map { .double(Double(bitPattern: $0)) }
        default: return .string(String(buffer: bytes))
        }
    }

    private static func run(_ connection: PostgresConnection, _ sql: String, description: String) throws -> PostgresQueryResult {
        do {
            return try connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).wait()
        } catch {
            throw SourceError("cannot read from \(description): \(message(of: error))")
        }
    }

    /// The server's message; the driver's own description hides it.
    static func message(of error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            return PostgresEndpoint.reason(error.underlying ?? error)
        }
        return "\(error)"
    }

    func rows(_ window: ReadWindow?, resume: FileResume?, limit: Int?) throws -> any RowStream {
        let (sql, parameters) = readStatement(window)
        // Read inline, not a few batches ahead in a task of its own: measured on 2 cores, reading
        // ahead gained nothing (the cores are busy with the driver, the server and the mapping)
        // and held 4 MiB more.
        return PostgresRowStream(connection: connection, query: PostgresQuery(unsafeSQL: sql, binds: Self.bindings(parameters)),
                                 columns: sourceColumns, window: window, description: description, limit: limit)
    }

    /// Ends the read: the transaction only read, so closing the connection ends it (and stops a
    /// result that was not read to its end without draining it).
    func close() {
        guard !closed else { return }
        closed = true
        _ = try? connection.close().wait()
    }
}
