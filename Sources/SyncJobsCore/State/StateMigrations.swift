import Foundation

/// The state database's schema, built by migrations applied in order; the connection records how
/// many ran (SQLite's `PRAGMA user_version`, a table on PostgreSQL). A new migration is appended
/// at the end; existing ones never change.
extension StateStore {
    /// Migration `i` brings the schema to version `i + 1`, written for SQLite; PostgreSQL runs the
    /// same migrations with its own column types (`postgresSchema`).
    static let migrations: [String] = [
        """
        CREATE TABLE checkpoints (
            job TEXT PRIMARY KEY,
            iterator TEXT NOT NULL,
            iterator_type TEXT NOT NULL,
            lower_value,
            boundary_count INTEGER NOT NULL DEFAULT 0,
            boundary_hashes TEXT,
            resume TEXT,
            resume_max,
            resume_boundary_count INTEGER NOT NULL DEFAULT 0,
            resume_boundary_hashes TEXT,
            run_id INTEGER,
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job TEXT NOT NULL,
            trigger TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            status TEXT NOT NULL,
            rows_read INTEGER NOT NULL DEFAULT 0,
            rows_sent INTEGER NOT NULL DEFAULT 0,
            rows_rejected INTEGER NOT NULL DEFAULT 0,
            rows_skipped INTEGER NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 0,
            window_lower TEXT,
            window_upper TEXT,
            checkpoint TEXT,
            error TEXT,
            pid INTEGER
        );
        CREATE INDEX runs_by_job ON runs(job, id);
        CREATE TABLE rejected_rows (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job TEXT NOT NULL,
            run_id INTEGER NOT NULL,
            row_number INTEGER NOT NULL,
            reason TEXT NOT NULL,
            row TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE INDEX rejected_rows_by_job ON rejected_rows(job, id);
        CREATE TABLE locks (
            job TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            process_start TEXT NOT NULL,
            host TEXT NOT NULL,
            run_id INTEGER,
            acquired_at INTEGER NOT NULL
        );
        """,
        // 2: the scheduler: fire times on runs, pause state and the last fire per job, backfill windows.
        """
        ALTER TABLE runs ADD COLUMN fire_time INTEGER;
        ALTER TABLE runs ADD COLUMN fire_count INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE schedules (
            job TEXT PRIMARY KEY,
            paused INTEGER NOT NULL DEFAULT 0,
            last_fire_time INTEGER,
            updated_at INTEGER NOT NULL
        );
        CREATE TABLE backfill_windows (
            job TEXT NOT NULL,
            lower_value TEXT NOT NULL,
            upper_value TEXT NOT NULL,
            run_id INTEGER NOT NULL,
            rows_sent INTEGER NOT NULL,
            completed_at INTEGER NOT NULL,
            PRIMARY KEY (job, lower_value, upper_value)
        );
        """,
        // 3: delivery figures per run, and the rows a destination refused or that were left
        // undelivered, kept for `jobs retry`.
        """
        ALTER TABLE runs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN throttled_waits INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN throttled_ms INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN rows_undelivered INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE failed_rows (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job TEXT NOT NULL,
            run_id INTEGER NOT NULL,
            row_number INTEGER NOT NULL,
            kind TEXT NOT NULL,
            reason TEXT NOT NULL,
            batch TEXT NOT NULL,
            event_time INTEGER,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 1,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX failed_rows_by_status ON failed_rows(job, status, id);
        """,
        // 4: one record per rejected row (seen again: counted, with the last run that saw it) and
        // per failed delivery (by source_request_id); backfills with their own ids.
        """
        ALTER TABLE rejected_rows ADD COLUMN row_key TEXT;
        ALTER TABLE rejected_rows ADD COLUMN times_seen INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE rejected_rows ADD COLUMN last_run_id INTEGER;
        ALTER TABLE rejected_rows ADD COLUMN request_id TEXT;
        ALTER TABLE rejected_rows ADD COLUMN resolved_at INTEGER;
        UPDATE rejected_rows SET last_run_id = run_id;
        CREATE UNIQUE INDEX rejected_rows_by_key ON rejected_rows(job, row_key);
        ALTER TABLE failed_rows ADD COLUMN request_id TEXT;
        UPDATE failed_rows SET request_id = substr(batch, -34, 32)
            WHERE batch LIKE '%"source_request_id":"________________________________"}';
        DELETE FROM failed_rows WHERE request_id IS NOT NULL AND id NOT IN
            (SELECT max(id) FROM failed_rows WHERE request_id IS NOT NULL GROUP BY job, request_id);
        CREATE UNIQUE INDEX failed_rows_by_request ON failed_rows(job, request_id);
        CREATE TABLE backfills (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job TEXT NOT NULL,
            lower_value TEXT NOT NULL,
            upper_value TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            completed_at INTEGER
        );
        CREATE INDEX backfills_by_range ON backfills(job, lower_value, upper_value, id);
        """,
        // 5: HTTP requests per run (retries and split halves included), beside the packed requests.
        """
        ALTER TABLE runs ADD COLUMN http_requests INTEGER NOT NULL DEFAULT 0;
        """,
        // 6: batches a destination that is not idempotent (FME) has accepted since the job's last
        // successful run, so a rerun after a crash sends none twice (appended in delivery order:
        // an index by batch id would cost a random B-tree write per batch); and the events a
        // destination skips, by reason, per run.
        """
        CREATE TABLE delivered_batches (
            job TEXT NOT NULL,
            destination TEXT NOT NULL,
            batch_id TEXT NOT NULL,
            delivered_at INTEGER NOT NULL
        );
        CREATE INDEX delivered_batches_by_time ON delivered_batches(job, destination, delivered_at);
        ALTER TABLE runs ADD COLUMN events_skipped TEXT;
        """,
        // 7: the host of the process that ran each run (beside its pid), for states that several
        // daemons share.
        """
        ALTER TABLE runs ADD COLUMN host TEXT;
        """,
    ]

    static func migrations(for dialect: StateDialect) -> [String] {
        switch dialect {
        case .sqlite: return migrations
        case .postgres: return postgresMigrations
        }
    }

    static let postgresMigrations: [String] = migrations.map(postgresSchema)

    /// A migration in PostgreSQL's types: SQLite's INTEGER is 64-bit, PostgreSQL's is not; a
    /// rowid alias becomes an identity column; the two columns SQLite leaves untyped (an
    /// iterator value of any kind) hold it as tagged text (`StoredIteratorValue`). The data
    /// steps of old migrations run on empty tables there: a PostgreSQL state starts at the
    /// current schema.
    static func postgresSchema(_ sqlite: String) -> String {
        var sql = sqlite.replacingOccurrences(of: "INTEGER PRIMARY KEY AUTOINCREMENT", with: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        sql = sql.replacingOccurrences(of: "INTEGER", with: "BIGINT")
        let untyped: Set<Substring> = ["lower_value,", "resume_max,"]
        return sql.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            untyped.contains(line.drop(while: \.isWhitespace)) ? line.dropLast() + " TEXT," : line
        }.joined(separator: "\n")
    }

    /// Applies the migrations this database has not had, in one write transaction; refuses a
    /// database from a newer syncjobs.
    func migrate() throws {
        let migrations = Self.migrations(for: database.dialect)
        try database.writeTransaction {
            let version = try database.schemaVersion()
            if version > migrations.count {
                throw StateError("the state database '\(database.displayName)' has schema version \(version), newer than this syncjobs understands (\(migrations.count)); upgrade syncjobs or point --state elsewhere")
            }
            for index in version..<migrations.count {
                try database.executeScript(migrations[index])
                try database.setSchemaVersion(index + 1)
            }
        }
    }
}
