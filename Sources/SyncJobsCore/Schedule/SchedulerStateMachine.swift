/// Decides which jobs to start, given the time. Pure: the daemon feeds it the clock, job files
/// and run completions; tests feed it instants directly.
///
/// Rules (README "The daemon"):
/// - A job never runs twice at once. Fire times that pass while it runs, or while the daemon is
///   down, coalesce into one run, which records how many fire times it covers.
/// - A fire time is covered only once a run that started after it has finished (succeeded, or
///   failed with its failure in history). A run that could not start, or was interrupted, leaves
///   its fire times due; the job is tried again after a backoff (15 s, doubling up to 5 min).
/// - A paused job is skipped; fire times that pass while it is paused are dropped (resuming sets
///   its last fire to the resume time).
/// - At most `capacity` runs start at once; due jobs wait their turn, oldest fire first.
package struct SchedulerStateMachine: Sendable {
    package struct Job: Sendable {
        package var name: String
        package var calculator: ScheduleCalculator
        /// The latest fire time a run has covered (persisted by the daemon).
        package var lastFire: Int64?
        package var paused: Bool
        package var running = false
        /// The latest fire time the run in progress covers once it finishes.
        package var runningFire: Int64?
        /// Runs in a row that could not start or were interrupted, and when to try again.
        package var failedStarts = 0
        package var retryAt: Int64?
        /// When the daemon first saw the job: a `once` job without `start` fires then.
        package var firstSeen: Int64
    }

    package enum Action: Equatable, Sendable {
        case start(job: String, fireTime: Int64, fireCount: Int)
    }

    package private(set) var jobs: [String: Job] = [:]

    package init() {}

    /// Adds a job or replaces its schedule, keeping whether it is running and when to retry it.
    package mutating func update(name: String, schedule: ScheduleSpec, lastFire: Int64?, paused: Bool, now: Int64) {
        var job = Job(name: name, calculator: ScheduleCalculator(schedule), lastFire: lastFire, paused: paused,
                      firstSeen: jobs[name]?.firstSeen ?? now)
        if let known = jobs[name] {
            job.running = known.running
            job.runningFire = known.runningFire
            job.failedStarts = known.failedStarts
            job.retryAt = known.retryAt
            if let knownFire = known.lastFire, knownFire > (lastFire ?? Int64.min) { job.lastFire = knownFire }
        }
        jobs[name] = job
    }

    package mutating func remove(name: String) { jobs[name] = nil }

    /// The run ended, succeeded or failed: the fire times it was started for are covered.
    package mutating func finished(name: String) {
        guard var job = jobs[name] else { return }
        job.running = false
        if let fire = job.runningFire { job.lastFire = max(job.lastFire ?? fire, fire) }
        job.runningFire = nil
        job.failedStarts = 0
        job.retryAt = nil
        jobs[name] = job
    }

    /// The run could not start, or was interrupted: its fire times stay due, and the job is tried
    /// again after a backoff. Returns which attempt in a row this was and when the next one is.
    @discardableResult
    package mutating func notCovered(name: String, now: Int64) -> (attempt: Int, retryAt: Int64)? {
        guard var job = jobs[name] else { return nil }
        job.running = false
        job.runningFire = nil
        job.failedStarts += 1
        let retryAt = now + Self.retryDelay(afterFailedStarts: job.failedStarts)
        job.retryAt = retryAt
        jobs[name] = job
        return (job.failedStarts, retryAt)
    }

    /// A run asked for outside the schedule (the API) starts unless one is running; it covers no
    /// fire time, and fire times that pass meanwhile wait for it to end.
    package mutating func startManual(name: String) -> Bool {
        guard let job = jobs[name], !job.running else { return false }
        jobs[name]?.running = true
        jobs[name]?.runningFire = nil
        return true
    }

    /// A run started by `startManual` ended: the schedule is as it was.
    package mutating func manualEnded(name: String) {
        jobs[name]?.running = false
    }

    /// A changed job file is tried at once, without waiting out the backoff.
    package mutating func retryNow(name: String) {
        jobs[name]?.failedStarts = 0
        jobs[name]?.retryAt = nil
    }

    /// 15 s after the first failed start, doubling up to 5 minutes: soon enough for a manual run
    /// that held the lock, rare enough that a broken setup logs a line every few minutes.
    static func retryDelay(afterFailedStarts count: Int) -> Int64 {
        min(300_000, 15_000 << Int64(min(max(count - 1, 0), 10)))
    }

    /// Fire times waiting for a run: how many, the latest, and the oldest.
    func pending(_ job: Job, now: Int64) -> (count: Int, latest: Int64, oldest: Int64)? {
        let spec = job.calculator.spec
        switch spec.kind {
        case .onDemand:
            return nil
        case .once:
            guard job.lastFire == nil else { return nil }
            let at = spec.start ?? job.firstSeen
            return at <= now ? (1, at, at) : nil
        case .interval:
            let (count, latest) = job.calculator.fires(after: job.lastFire, through: now)
            guard count > 0, let latest else { return nil }
            let oldest = job.calculator.fireTimes(after: job.lastFire ?? Int64.min, count: 1).first ?? latest
            return (count, latest, oldest)
        }
    }

    /// Starts what is due at `now`, at most `capacity` runs, and marks them running.
    package mutating func due(now: Int64, capacity: Int) -> [Action] {
        guard capacity > 0 else { return [] }
        var candidates: [(name: String, count: Int, latest: Int64, oldest: Int64)] = []
        for job in jobs.values where !job.running && !job.paused && (job.retryAt ?? Int64.min) <= now {
            if let p = pending(job, now: now) { candidates.append((job.name, p.count, p.latest, p.oldest)) }
        }
        candidates.sort { ($0.oldest, $0.name) < ($1.oldest, $1.name) }
        var actions: [Action] = []
        for candidate in candidates.prefix(capacity) {
            jobs[candidate.name]?.running = true
            jobs[candidate.name]?.runningFire = candidate.latest
            actions.append(.start(job: candidate.name, fireTime: candidate.latest, fireCount: candidate.count))
        }
        return actions
    }

    /// When something next becomes due, for jobs that are neither running nor paused; `now` when
    /// something is due already. A job waiting to be tried again wakes at its retry time.
    package func nextWake(now: Int64) -> Int64? {
        var earliest: Int64?
        for job in jobs.values where !job.running && !job.paused {
            guard var next = nextFire(job, now: now) else { continue }
            if let retryAt = job.retryAt { next = max(next, retryAt) }
            earliest = min(earliest ?? next, next)
        }
        return earliest
    }

    /// The job's next fire time at or after `now` that no run has covered yet.
    package func nextFire(name: String, now: Int64) -> Int64? {
        jobs[name].flatMap { nextFire($0, now: now) }
    }

    func nextFire(_ job: Job, now: Int64) -> Int64? {
        if pending(job, now: now) != nil { return now }
        let spec = job.calculator.spec
        switch spec.kind {
        case .onDemand: return nil
        case .once: return job.lastFire == nil ? (spec.start ?? job.firstSeen) : nil
        case .interval: return job.calculator.fireTimes(after: max(now, job.lastFire ?? Int64.min), count: 1).first
        }
    }
}
