import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one SQLite database holding checkpoints, run history, rejected rows and job locks.
///
/// WAL mode with a busy timeout lets several `jobs` processes share it; every write is a short
/// transaction, and locks are taken with `BEGIN IMMEDIATE`.
public final class StateStore: @unchecked Sendable {
    // @unchecked: the connection is only touched while holding `lock`.
    private let lock = NSLock()
    let database: SQLiteDatabase
    public let path: String

    /// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
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
    ]

    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        do {
            database = try SQLiteDatabase(path: path, mode: .readWriteCreate)
            // Only what needs a write lock takes one: read-only commands (status, history, plan)
            // must open the database while another process holds a write transaction.
            if try scalarText("PRAGMA journal_mode") != "wal" { try database.execute("PRAGMA journal_mode=WAL") }
            try database.execute("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            if try currentVersion() != Self.migrations.count { try migrate() }
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError("cannot open the state database '\(Paths.display(path))': \(error)")
        }
    }

    private func currentVersion() throws -> Int { Int(try scalarInt("PRAGMA user_version") ?? 0) }

    private func migrate() throws {
        try database.transaction(.immediate) {
            let version = try currentVersion()
            if version > Self.migrations.count {
                throw StateError("the state database '\(Paths.display(path))' has schema version \(version), newer than this syncjobs understands (\(Self.migrations.count)); upgrade syncjobs or point --state elsewhere")
            }
            for index in version..<Self.migrations.count {
                try database.execute(Self.migrations[index])
                try database.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }

    func scalarText(_ sql: String, _ parameters: [Value] = []) throws -> String? {
        let statement = try database.prepare(sql)
        try statement.bind(parameters)
        guard try statement.step(), case .string(let value) = try statement.value(at: 0) else { return nil }
        return value
    }

    func scalarInt(_ sql: String, _ parameters: [Value] = []) throws -> Int64? {
        let statement = try database.prepare(sql)
        try statement.bind(parameters)
        guard try statement.step(), case .int(let value) = try statement.value(at: 0) else { return nil }
        return value
    }

    func run(_ sql: String, _ parameters: [Value]) throws {
        let statement = try database.prepare(sql)
        try statement.bind(parameters)
        while try statement.step() {}
    }

    func withDatabase<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try body()
        } catch let error as StateError {
            throw error
        } catch let error as JobBusyError {
            throw error
        } catch {
            throw StateError("state database '\(Paths.display(path))': \(error)")
        }
    }

    /// Milliseconds since the epoch, the unit of every instant the state keeps.
    public static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: Checkpoints

    public func checkpoint(job: String) throws -> Checkpoint? {
        try withDatabase {
            let statement = try database.prepare("""
                SELECT iterator, iterator_type, lower_value, boundary_count, boundary_hashes, resume, resume_max,
                       resume_boundary_count, resume_boundary_hashes FROM checkpoints WHERE job = ?1
                """)
            try statement.bind([.string(job)])
            guard try statement.step() else { return nil }
            let row = try statement.row()
            guard case .string(let iterator) = row[0], case .string(let typeName) = row[1],
                  let type = IteratorType(rawValue: typeName) else { return nil }
            var checkpoint = Checkpoint(iterator: iterator, iteratorType: type)
            checkpoint.lower = IteratorValue(storage: row[2])
            checkpoint.boundary = Boundary.decode(count: Int(Self.int(row[3])), text: Self.text(row[4]))
            if let resumeText = Self.text(row[5]), let data = resumeText.data(using: .utf8) {
                checkpoint.resume = try? JSONDecoder().decode(FileResume.self, from: data)
                checkpoint.resumeMax = IteratorValue(storage: row[6])
                checkpoint.resumeBoundary = Boundary.decode(count: Int(Self.int(row[7])), text: Self.text(row[8]))
            }
            return checkpoint
        }
    }

    static func int(_ value: Value) -> Int64 {
        if case .int(let i) = value { return i }
        return 0
    }

    static func text(_ value: Value) -> String? {
        if case .string(let s) = value { return s }
        return nil
    }

    public func storeCheckpoint(job: String, _ checkpoint: Checkpoint, runID: Int64?) throws {
        try withDatabase {
            var resumeText: Value = .null
            if let resume = checkpoint.resume, let data = try? JSONEncoder().encode(resume) {
                resumeText = .string(String(decoding: data, as: UTF8.self))
            }
            try run("""
                INSERT INTO checkpoints (job, iterator, iterator_type, lower_value, boundary_count, boundary_hashes, resume,
                    resume_max, resume_boundary_count, resume_boundary_hashes, run_id, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                ON CONFLICT(job) DO UPDATE SET iterator = excluded.iterator, iterator_type = excluded.iterator_type,
                    lower_value = excluded.lower_value, boundary_count = excluded.boundary_count,
                    boundary_hashes = excluded.boundary_hashes, resume = excluded.resume, resume_max = excluded.resume_max,
                    resume_boundary_count = excluded.resume_boundary_count,
                    resume_boundary_hashes = excluded.resume_boundary_hashes, run_id = excluded.run_id,
                    updated_at = excluded.updated_at
                """, [
                    .string(job), .string(checkpoint.iterator), .string(checkpoint.iteratorType.rawValue),
                    checkpoint.lower?.sqlValue ?? .null, .int(Int64(checkpoint.boundary.count)),
                    checkpoint.boundary.encoded.map(Value.string) ?? .null, resumeText,
                    checkpoint.resumeMax?.sqlValue ?? .null, .int(Int64(checkpoint.resumeBoundary.count)),
                    checkpoint.resumeBoundary.encoded.map(Value.string) ?? .null,
                    runID.map(Value.int) ?? .null, .int(Self.now()),
                ])
        }
    }

    /// Forgets a job's checkpoint; returns whether there was one.
    @discardableResult
    public func resetCheckpoint(job: String) throws -> Bool {
        try withDatabase {
            try run("DELETE FROM checkpoints WHERE job = ?1", [.string(job)])
            return database.changes > 0
        }
    }

    // MARK: Runs

    public func beginRun(job: String, trigger: String, startedAt: Int64, fireTime: Int64? = nil, fireCount: Int = 0) throws -> Int64 {
        try withDatabase {
            try run("INSERT INTO runs (job, trigger, started_at, status, pid, fire_time, fire_count) VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6)",
                    [.string(job), .string(trigger), .int(startedAt), .int(Int64(getpid())), fireTime.map(Value.int) ?? .null,
                     .int(Int64(fireCount))])
            return database.lastInsertRowID
        }
    }

    public func updateRun(_ id: Int64, counts: RunCounts, window: (String?, String?), checkpoint: String?) throws {
        try withDatabase {
            try run("""
                UPDATE runs SET rows_read = ?2, rows_sent = ?3, rows_rejected = ?4, requests = ?5, window_lower = ?6,
                    window_upper = ?7, checkpoint = ?8, rows_skipped = ?9, retries = ?10, throttled_waits = ?11,
                    throttled_ms = ?12, rows_undelivered = ?13, http_requests = ?14 WHERE id = ?1
                """, [.int(id), .int(Int64(counts.rowsRead)), .int(Int64(counts.rowsSent)), .int(Int64(counts.rowsRejected)),
                      .int(Int64(counts.requests)), window.0.map(Value.string) ?? .null, window.1.map(Value.string) ?? .null,
                      checkpoint.map(Value.string) ?? .null, .int(Int64(counts.rowsSkipped)), .int(Int64(counts.retries)),
                      .int(Int64(counts.throttledWaits)), .int(counts.throttledMillis), .int(Int64(counts.rowsUndelivered)),
                      .int(Int64(counts.httpRequests))])
        }
    }

    public func finishRun(_ id: Int64, status: RunStatus, endedAt: Int64, error: String?) throws {
        try withDatabase {
            try run("UPDATE runs SET status = ?2, ended_at = ?3, error = ?4 WHERE id = ?1",
                    [.int(id), .string(status.rawValue), .int(endedAt), error.map(Value.string) ?? .null])
        }
    }

    public func runs(job: String, limit: Int) throws -> [RunRecord] {
        try withDatabase {
            let statement = try database.prepare("""
                SELECT id, job, trigger, started_at, ended_at, status, rows_read, rows_sent, rows_rejected, requests,
                       window_lower, window_upper, checkpoint, error, rows_skipped, fire_time, fire_count, retries,
                       throttled_waits, throttled_ms, rows_undelivered, http_requests FROM runs WHERE job = ?1
                ORDER BY id DESC LIMIT ?2
                """)
            try statement.bind([.string(job), .int(Int64(limit))])
            var records: [RunRecord] = []
            while try statement.step() {
                let r = try statement.row()
                records.append(RunRecord(
                    id: Self.int(r[0]), job: Self.text(r[1]) ?? job, trigger: Self.text(r[2]) ?? "",
                    startedAt: Self.int(r[3]), endedAt: r[4].isNull ? nil : Self.int(r[4]),
                    status: RunStatus(rawValue: Self.text(r[5]) ?? "") ?? .failed,
                    counts: RunCounts(rowsRead: Int(Self.int(r[6])), rowsSent: Int(Self.int(r[7])),
                                      rowsRejected: Int(Self.int(r[8])), requests: Int(Self.int(r[9])),
                                      rowsSkipped: Int(Self.int(r[14])), retries: Int(Self.int(r[17])),
                                      throttledWaits: Int(Self.int(r[18])), throttledMillis: Self.int(r[19]),
                                      rowsUndelivered: Int(Self.int(r[20])), httpRequests: Int(Self.int(r[21]))),
                    windowLower: Self.text(r[10]), windowUpper: Self.text(r[11]), checkpoint: Self.text(r[12]),
                    error: Self.text(r[13]), fireTime: r[15].isNull ? nil : Self.int(r[15]), fireCount: Int(Self.int(r[16]))))
            }
            return records
        }
    }

    // MARK: Schedules

    /// Whether the job is paused, and the latest fire time a run has covered.
    public func scheduleState(job: String) throws -> ScheduleState {
        try withDatabase {
            let statement = try database.prepare("SELECT paused, last_fire_time FROM schedules WHERE job = ?1")
            try statement.bind([.string(job)])
            guard try statement.step() else { return ScheduleState() }
            let r = try statement.row()
            return ScheduleState(paused: Self.int(r[0]) != 0, lastFireTime: r[1].isNull ? nil : Self.int(r[1]))
        }
    }

    public func setPaused(job: String, _ paused: Bool, now: Int64) throws {
        try withDatabase {
            // Resuming skips the fire times that passed while paused: the next run is the next fire.
            try run("""
                INSERT INTO schedules (job, paused, last_fire_time, updated_at) VALUES (?1, ?2, CASE WHEN ?2 = 0 THEN ?3 END, ?3)
                ON CONFLICT(job) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at,
                    last_fire_time = CASE WHEN excluded.paused = 0 THEN max(coalesce(last_fire_time, 0), excluded.updated_at) ELSE last_fire_time END
                """, [.string(job), .int(paused ? 1 : 0), .int(now)])
        }
    }

    /// Records that a run covering `fireTime` has finished. The stored time never moves back.
    public func recordFire(job: String, fireTime: Int64, now: Int64) throws {
        try withDatabase {
            try run("""
                INSERT INTO schedules (job, paused, last_fire_time, updated_at) VALUES (?1, 0, ?2, ?3)
                ON CONFLICT(job) DO UPDATE SET last_fire_time = max(coalesce(last_fire_time, excluded.last_fire_time), excluded.last_fire_time),
                    updated_at = excluded.updated_at
                """, [.string(job), .int(fireTime), .int(now)])
        }
    }

    // MARK: Locks

    /// Takes the job's lock, or throws `JobBusyError` naming the run that holds it. A lock whose
    /// process has died is taken over, and its run is marked interrupted.
    public func acquireLock(job: String, runID: Int64?) throws {
        try withDatabase {
            try database.transaction(.immediate) {
                let statement = try database.prepare("SELECT pid, process_start, host, run_id, acquired_at FROM locks WHERE job = ?1")
                try statement.bind([.string(job)])
                if try statement.step() {
                    let r = try statement.row()
                    let pid = Int32(Self.int(r[0]))
                    let start = Self.text(r[1]) ?? ""
                    let host = Self.text(r[2]) ?? ""
                    let holder = r[3].isNull ? nil : Self.int(r[3])
                    if host != ProcessIdentity.host || ProcessIdentity.isAlive(pid: pid, start: start) {
                        throw JobBusyError(job: job, runID: holder, pid: pid, host: host, since: Self.int(r[4]))
                    }
                    if let holder {
                        try run("UPDATE runs SET status = 'interrupted', ended_at = ?2, error = 'the process running it stopped before the run finished' WHERE id = ?1 AND status = 'running'",
                                [.int(holder), .int(Self.now())])
                    }
                    try run("DELETE FROM locks WHERE job = ?1", [.string(job)])
                }
                try run("INSERT INTO locks (job, pid, process_start, host, run_id, acquired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        [.string(job), .int(Int64(getpid())), .string(ProcessIdentity.ownStart), .string(ProcessIdentity.host),
                         runID.map(Value.int) ?? .null, .int(Self.now())])
            }
        }
    }

    public func attachRun(_ runID: Int64, toLockOf job: String) throws {
        try withDatabase {
            try run("UPDATE locks SET run_id = ?2 WHERE job = ?1 AND pid = ?3", [.string(job), .int(runID), .int(Int64(getpid()))])
        }
    }

    public func releaseLock(job: String) throws {
        try withDatabase {
            try run("DELETE FROM locks WHERE job = ?1 AND pid = ?2 AND process_start = ?3",
                    [.string(job), .int(Int64(getpid())), .string(ProcessIdentity.ownStart)])
        }
    }

    /// The run holding a job's lock, if its process is alive.
    public func activeRun(job: String) throws -> JobBusyError? {
        try withDatabase {
            let statement = try database.prepare("SELECT pid, process_start, host, run_id, acquired_at FROM locks WHERE job = ?1")
            try statement.bind([.string(job)])
            guard try statement.step() else { return nil }
            let r = try statement.row()
            let pid = Int32(Self.int(r[0]))
            guard Self.text(r[2]) != ProcessIdentity.host || ProcessIdentity.isAlive(pid: pid, start: Self.text(r[1]) ?? "") else { return nil }
            return JobBusyError(job: job, runID: r[3].isNull ? nil : Self.int(r[3]), pid: pid, host: Self.text(r[2]) ?? "",
                                since: Self.int(r[4]))
        }
    }
}

public struct ScheduleState: Sendable, Equatable {
    public var paused = false
    public var lastFireTime: Int64?
    public init(paused: Bool = false, lastFireTime: Int64? = nil) {
        self.paused = paused
        self.lastFireTime = lastFireTime
    }
}

public enum RunStatus: String, Sendable {
    case running, succeeded, failed, interrupted
}

public struct RunCounts: Sendable, Equatable {
    public var rowsRead = 0
    public var rowsSent = 0
    public var rowsRejected = 0
    /// Packed requests: the units of at most 100 batches and 256 KB the run delivered.
    public var requests = 0
    /// Every HTTP request those took: retries and the halves of split requests included.
    public var httpRequests = 0
    /// Rows read again at the checkpoint's value that an earlier run already delivered.
    public var rowsSkipped = 0
    /// Repeated attempts, and rows of requests that failed for good.
    public var retries = 0
    /// How many times a request was held back by throttling or pacing before going out, and the
    /// run's wall time during which any request was held back (counted once for requests that
    /// waited together).
    public var throttledWaits = 0
    public var throttledMillis: Int64 = 0
    public var rowsUndelivered = 0

    public init(rowsRead: Int = 0, rowsSent: Int = 0, rowsRejected: Int = 0, requests: Int = 0, rowsSkipped: Int = 0,
                retries: Int = 0, throttledWaits: Int = 0, throttledMillis: Int64 = 0, rowsUndelivered: Int = 0,
                httpRequests: Int = 0) {
        self.rowsRead = rowsRead
        self.rowsSent = rowsSent
        self.rowsRejected = rowsRejected
        self.requests = requests
        self.rowsSkipped = rowsSkipped
        self.retries = retries
        self.throttledWaits = throttledWaits
        self.throttledMillis = throttledMillis
        self.rowsUndelivered = rowsUndelivered
        self.httpRequests = httpRequests
    }
}

public struct RunRecord: Sendable {
    public var id: Int64
    public var job: String
    public var trigger: String
    public var startedAt: Int64
    public var endedAt: Int64?
    public var status: RunStatus
    public var counts: RunCounts
    public var windowLower: String?
    public var windowUpper: String?
    public var checkpoint: String?
    public var error: String?
    /// The latest schedule fire time the run covered, and how many fire times it covered.
    public var fireTime: Int64?
    public var fireCount: Int = 0
}

public struct StateError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Another process (or task) is running the job.
public struct JobBusyError: Error, CustomStringConvertible {
    public var job: String
    public var runID: Int64?
    public var pid: Int32
    public var host: String
    public var since: Int64

    public var description: String {
        let run = runID.map { "run #\($0)" } ?? "a run"
        return "job '\(job)' is already running: \(run), process \(pid) on \(host), started \(Timestamp.format(millis: since)); wait for it to finish or stop that process"
    }
}

/// Tells a live process from a dead one, including a recycled pid (by its start time).
enum ProcessIdentity {
    static let host: String = ProcessInfo.processInfo.hostName
    static let ownStart: String = startTime(of: getpid()) ?? "unknown"

    static func startTime(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Field 22 of /proc/PID/stat is the start time; fields here start at field 3.
        return fields.count > 19 ? String(fields[19]) : nil
    }

    static func isAlive(pid: Int32, start: String) -> Bool {
        guard pid > 0 else { return false }
        if kill(pid, 0) != 0 && errno == ESRCH { return false }
        if let current = startTime(of: pid), start != "unknown" { return current == start }
        return true
    }
}
