import Foundation

/// Per-job schedule state the daemon keeps: whether the job is paused, and the latest fire time
/// a finished run covered.
extension StateStore {
    /// Whether the job is paused, and the latest fire time a run has covered.
    package func scheduleState(job: String) throws -> ScheduleState {
        try withDatabase {
            guard let r = try rows("SELECT paused, last_fire_time FROM schedules WHERE job = ?1", [.string(job)]).first
            else { return ScheduleState() }
            return ScheduleState(paused: Self.int(r[0]) != 0, lastFireTime: r[1].isNull ? nil : Self.int(r[1]))
        }
    }

    package func setPaused(job: String, _ paused: Bool, now: Int64) throws {
        try withDatabase {
            // Resuming skips the fire times that passed while paused: the next run is the next fire.
            try run("""
                INSERT INTO schedules (job, paused, last_fire_time, updated_at) VALUES (?1, ?2, CASE WHEN ?2 = 0 THEN ?3 END, ?3)
                ON CONFLICT(job) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at,
                    last_fire_time = CASE WHEN excluded.paused <> 0 THEN schedules.last_fire_time
                        WHEN coalesce(schedules.last_fire_time, 0) > excluded.updated_at THEN schedules.last_fire_time
                        ELSE excluded.updated_at END
                """, [.string(job), .int(paused ? 1 : 0), .int(now)])
        }
    }

    /// Records that a run covering `fireTime` has finished. The stored time never moves back.
    package func recordFire(job: String, fireTime: Int64, now: Int64) throws {
        try withDatabase {
            try run("""
                INSERT INTO schedules (job, paused, last_fire_time, updated_at) VALUES (?1, 0, ?2, ?3)
                ON CONFLICT(job) DO UPDATE SET last_fire_time = CASE WHEN coalesce(schedules.last_fire_time, excluded.last_fire_time) > excluded.last_fire_time
                    THEN schedules.last_fire_time ELSE excluded.last_fire_time END,
                    updated_at = excluded.updated_at
                """, [.string(job), .int(fireTime), .int(now)])
        }
    }
}

package struct ScheduleState: Sendable, Equatable {
    package var paused = false
    package var lastFireTime: Int64?
    package init(paused: Bool = false, lastFireTime: Int64? = nil) {
        self.paused = paused
        self.lastFireTime = lastFireTime
    }
}
