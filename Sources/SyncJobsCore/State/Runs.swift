import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Run history: one record per run, begun when it starts, kept current while it runs, and
/// finished with its status.
extension StateStore {
    package func beginRun(job: String, trigger: String, startedAt: Int64, fireTime: Int64? = nil, fireCount: Int = 0) throws -> Int64 {
        try withDatabase {
            let inserted = try rows("""
                INSERT INTO runs (job, trigger, started_at, status, pid, host, fire_time, fire_count)
                VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7) RETURNING id
                """, [.string(job), .string(trigger), .int(startedAt), .int(Int64(getpid())), .string(ProcessIdentity.host),
                      fireTime.map(Value.int) ?? .null, .int(Int64(fireCount))])
            return Self.int(inserted.first?.first ?? .null)
        }
    }

    package func updateRun(_ id: Int64, counts: RunCounts, window: (String?, String?), checkpoint: String?) throws {
        try withDatabase {
            try run("""
                UPDATE runs SET rows_read = ?2, rows_sent = ?3, rows_rejected = ?4, requests = ?5, window_lower = ?6,
                    window_upper = ?7, checkpoint = ?8, rows_skipped = ?9, retries = ?10, throttled_waits = ?11,
                    throttled_ms = ?12, rows_undelivered = ?13, http_requests = ?14, events_skipped = ?15 WHERE id = ?1
                """, [.int(id), .int(Int64(counts.rowsRead)), .int(Int64(counts.rowsSent)), .int(Int64(counts.rowsRejected)),
                      .int(Int64(counts.requests)), window.0.map(Value.string) ?? .null, window.1.map(Value.string) ?? .null,
                      checkpoint.map(Value.string) ?? .null, .int(Int64(counts.rowsSkipped)), .int(Int64(counts.retries)),
                      .int(Int64(counts.throttledWaits)), .int(counts.throttledMillis), .int(Int64(counts.rowsUndelivered)),
                      .int(Int64(counts.httpRequests)), counts.eventsSkippedJSON.map(Value.string) ?? .null])
        }
    }

    package func finishRun(_ id: Int64, status: RunStatus, endedAt: Int64, error: String?) throws {
        try withDatabase {
            try run("UPDATE runs SET status = ?2, ended_at = ?3, error = ?4 WHERE id = ?1",
                    [.int(id), .string(status.rawValue), .int(endedAt), error.map(Value.string) ?? .null])
        }
    }

    package func runs(job: String, limit: Int) throws -> [RunRecord] {
        try withDatabase {
            var records: [RunRecord] = []
            for r in try rows("""
                SELECT id, job, trigger, started_at, ended_at, status, rows_read, rows_sent, rows_rejected, requests,
                       window_lower, window_upper, checkpoint, error, rows_skipped, fire_time, fire_count, retries,
                       throttled_waits, throttled_ms, rows_undelivered, http_requests, events_skipped, pid, host FROM runs
                WHERE job = ?1 ORDER BY id DESC LIMIT ?2
                """, [.string(job), .int(Int64(limit))]) {
                var counts = RunCounts(rowsRead: Int(Self.int(r[6])), rowsSent: Int(Self.int(r[7])),
                                       rowsRejected: Int(Self.int(r[8])), requests: Int(Self.int(r[9])),
                                       rowsSkipped: Int(Self.int(r[14])), retries: Int(Self.int(r[17])),
                                       throttledWaits: Int(Self.int(r[18])), throttledMillis: Self.int(r[19]),
                                       rowsUndelivered: Int(Self.int(r[20])), httpRequests: Int(Self.int(r[21])))
                counts.eventsSkipped = RunCounts.eventsSkipped(fromJSON: Self.text(r[22]))
                records.append(RunRecord(
                    id: Self.int(r[0]), job: Self.text(r[1]) ?? job, trigger: Self.text(r[2]) ?? "",
                    startedAt: Self.int(r[3]), endedAt: r[4].isNull ? nil : Self.int(r[4]),
                    status: RunStatus(rawValue: Self.text(r[5]) ?? "") ?? .failed,
                    counts: counts,
                    windowLower: Self.text(r[10]), windowUpper: Self.text(r[11]), checkpoint: Self.text(r[12]),
                    error: Self.text(r[13]), fireTime: r[15].isNull ? nil : Self.int(r[15]), fireCount: Int(Self.int(r[16])),
                    pid: r[23].isNull ? nil : Int32(Self.int(r[23])), host: Self.text(r[24])))
            }
            return records
        }
    }
}

package enum RunStatus: String, Sendable {
    case running, succeeded, failed, interrupted
}

package struct RunCounts: Sendable, Equatable {
    package var rowsRead = 0
    package var rowsSent = 0
    package var rowsRejected = 0
    /// Packed requests: the units of at most 100 batches and 256 KB the run delivered.
    package var requests = 0
    /// Every HTTP request those took: retries and the halves of split requests included.
    package var httpRequests = 0
    /// Rows read again at the checkpoint's value that an earlier run already delivered.
    package var rowsSkipped = 0
    /// Repeated attempts, and rows of requests that failed for good.
    package var retries = 0
    /// How many times a request was held back by throttling or pacing before going out, and the
    /// run's wall time during which any request was held back (counted once for requests that
    /// waited together).
    package var throttledWaits = 0
    package var throttledMillis: Int64 = 0
    package var rowsUndelivered = 0
    /// Events the destination skipped, by reason (see `DeliveryResult.eventsSkipped`).
    package var eventsSkipped: [String: Int] = [:]

    package var eventsSkippedTotal: Int { eventsSkipped.values.reduce(0, +) }

    /// As stored in the run record: a JSON object of reason to count, reasons in order; nil when none.
    var eventsSkippedJSON: String? {
        guard !eventsSkipped.isEmpty else { return nil }
        return JSONWriter.compact(.object(eventsSkipped.sorted { $0.key < $1.key }.map { Value.ObjectEntry($0.key, .int(Int64($0.value))) }))
    }

    static func eventsSkipped(fromJSON text: String?) -> [String: Int] {
        guard let text, case .object(let entries)? = try? JSONParser.parse(text) else { return [:] }
        var counts: [String: Int] = [:]
        for entry in entries { if case .int(let n) = entry.value { counts[entry.key] = Int(n) } }
        return counts
    }

    package init(rowsRead: Int = 0, rowsSent: Int = 0, rowsRejected: Int = 0, requests: Int = 0, rowsSkipped: Int = 0,
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

package struct RunRecord: Sendable {
    package var id: Int64
    package var job: String
    package var trigger: String
    package var startedAt: Int64
    package var endedAt: Int64?
    package var status: RunStatus
    package var counts: RunCounts
    package var windowLower: String?
    package var windowUpper: String?
    package var checkpoint: String?
    package var error: String?
    /// The latest schedule fire time the run covered, and how many fire times it covered.
    package var fireTime: Int64?
    package var fireCount: Int = 0
    /// The process that ran it, and its host: which daemon (or `jobs` command) ran what. Runs
    /// recorded before the host was kept have none.
    package var pid: Int32? = nil
    package var host: String? = nil

    /// Which process ran it, for history and status: " on HOST (pid N)", empty when unknown.
    package var processText: String {
        guard let host, let pid else { return "" }
        return " on \(host) (pid \(pid))"
    }
}
