import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run per job at a time, across processes: a run holds a lock row naming its process (pid,
/// start time, host); a lock whose process has died is taken over.
extension StateStore {
    /// Takes the job's lock, or throws `JobBusyError` naming the run that holds it. A lock whose
    /// process has died is taken over, and its run is marked interrupted.
    ///
    /// On SQLite, a lock row whose process is not alive on this host is stale. On PostgreSQL the
    /// lock is a session advisory lock as well (the row only says who holds it): it dies with the
    /// holder's connection, so a daemon killed on another machine frees its jobs at once.
    package func acquireLock(job: String, runID: Int64?) throws {
        try withDatabase {
            guard try database.tryLockJob(job) else {
                throw try holder(of: job) ?? JobBusyError(job: job, runID: nil, pid: 0, host: "another daemon", since: Self.now())
            }
            do {
                try transaction {
                    if let row = try rows("SELECT pid, process_start, host, run_id, acquired_at FROM locks WHERE job = ?1", [.string(job)]).first {
                        let holder = row[3].isNull ? nil : Self.int(row[3])
                        if database.dialect == .sqlite, isAlive(lockRow: row) {
                            throw busyError(job: job, lockRow: row)
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
            } catch {
                try? database.unlockJob(job)
                throw error
            }
        }
    }

    /// The lock row's process is alive: on this host, checked by pid and start time; a row from
    /// another host is taken as alive (SQLite state is not shared across machines).
    private func isAlive(lockRow row: [Value]) -> Bool {
        let host = Self.text(row[2]) ?? ""
        return host != ProcessIdentity.host || ProcessIdentity.isAlive(pid: Int32(Self.int(row[0])), start: Self.text(row[1]) ?? "")
    }

    private func busyError(job: String, lockRow row: [Value]) -> JobBusyError {
        JobBusyError(job: job, runID: row[3].isNull ? nil : Self.int(row[3]), pid: Int32(Self.int(row[0])),
                     host: Self.text(row[2]) ?? "", since: Self.int(row[4]))
    }

    private func holder(of job: String) throws -> JobBusyError? {
        try rows("SELECT pid, process_start, host, run_id, acquired_at FROM locks WHERE job = ?1", [.string(job)]).first
            .map { busyError(job: job, lockRow: $0) }
    }

    package func attachRun(_ runID: Int64, toLockOf job: String) throws {
        try withDatabase {
            try run("UPDATE locks SET run_id = ?2 WHERE job = ?1 AND pid = ?3", [.string(job), .int(runID), .int(Int64(getpid()))])
        }
    }

    package func releaseLock(job: String) throws {
        try withDatabase {
            defer { try? database.unlockJob(job) }
            try run("DELETE FROM locks WHERE job = ?1 AND pid = ?2 AND process_start = ?3 AND host = ?4",
                    [.string(job), .int(Int64(getpid())), .string(ProcessIdentity.ownStart), .string(ProcessIdentity.host)])
        }
    }

    /// The run holding a job's lock, if its process is alive (on PostgreSQL: if its session
    /// still holds the advisory lock).
    package func activeRun(job: String) throws -> JobBusyError? {
        try withDatabase {
            guard let row = try rows("SELECT pid, process_start, host, run_id, acquired_at FROM locks WHERE job = ?1", [.string(job)]).first
            else { return nil }
            if let held = try database.isJobLockHeld(job) { return held ? busyError(job: job, lockRow: row) : nil }
            return isAlive(lockRow: row) ? busyError(job: job, lockRow: row) : nil
        }
    }
}

/// Another process (or task) is running the job.
package struct JobBusyError: Error, CustomStringConvertible {
    package var job: String
    package var runID: Int64?
    package var pid: Int32
    package var host: String
    package var since: Int64

    package var description: String {
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
