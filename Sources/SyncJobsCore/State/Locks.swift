import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run per job at a time, across processes: a run holds a lock row naming its process (pid,
/// start time, host); a lock whose process has died is taken over.
extension StateStore {
    /// Takes the job's lock, or throws `JobBusyError` naming the run that holds it. A lock whose
    /// process has died is taken over, and its run is marked interrupted.
    package func acquireLock(job: String, runID: Int64?) throws {
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

    package func attachRun(_ runID: Int64, toLockOf job: String) throws {
        try withDatabase {
            try run("UPDATE locks SET run_id = ?2 WHERE job = ?1 AND pid = ?3", [.string(job), .int(runID), .int(Int64(getpid()))])
        }
    }

    package func releaseLock(job: String) throws {
        try withDatabase {
            try run("DELETE FROM locks WHERE job = ?1 AND pid = ?2 AND process_start = ?3",
                    [.string(job), .int(Int64(getpid())), .string(ProcessIdentity.ownStart)])
        }
    }

    /// The run holding a job's lock, if its process is alive.
    package func activeRun(job: String) throws -> JobBusyError? {
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
