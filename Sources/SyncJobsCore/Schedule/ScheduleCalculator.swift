import Foundation

/// When a job's schedule fires: a pure function of the schedule, with no clock of its own.
///
/// Rules (README "Schedules"):
/// - `interval` fires at `start`, then one `frequency` after another, never after `end`.
/// - `hourly` counts absolute hours. `daily`, `weekly` and `monthly` keep `start`'s wall-clock time
///   in `timezone` (default UTC) across DST changes: a wall time that does not exist that day runs
///   at the next valid instant (the end of the gap), an ambiguous one at its first occurrence.
/// - `monthly` keeps `start`'s day of the month, clamped to short months, always counted from
///   `start` so it never drifts (Jan 31 → Feb 28 → Mar 31).
/// - `once` fires at `start` only; `on_demand` never fires.
package struct ScheduleCalculator: Sendable {
    package let spec: ScheduleSpec
    let timeZone: TimeZone
    /// `start`'s wall-clock fields in the schedule's zone.
    let wall: WallTime?

    struct WallTime: Equatable {
        var year: Int, month: Int, day: Int
        var secondOfDay: Int64
        var milliseconds: Int64
    }

    package init(_ spec: ScheduleSpec) {
        self.spec = spec
        timeZone = spec.timezone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
        wall = spec.start.map { ScheduleCalculator.wallTime(of: $0, in: TimeZone(identifier: spec.timezone ?? "UTC") ?? TimeZone(identifier: "UTC")!) }
    }

    /// The k-th fire time (k = 0 is `start`), ignoring `end`; nil when the schedule has no k-th.
    package func occurrence(_ k: Int) -> Int64? {
        guard let start = spec.start else { return nil }
        switch spec.kind {
        case .onDemand: return nil
        case .once: return k == 0 ? start : nil
        case .interval:
            guard let frequency = spec.frequency, let wall else { return nil }
            switch frequency {
            case .hourly:
                return start + Int64(k) * 3_600_000
            case .daily, .weekly:
                let days = frequency == .daily ? k : 7 * k
                let (y, m, d) = Self.civil(fromDays: Self.days(year: wall.year, month: wall.month, day: wall.day) + Int64(days))
                return instant(year: y, month: m, day: d, wall)
            case .monthly:
                let months = wall.year * 12 + (wall.month - 1) + k
                let year = months / 12, month = months % 12 + 1
                let day = min(wall.day, Self.daysInMonth(year: year, month: month))
                return instant(year: year, month: month, day: day, wall)
            }
        }
    }

    /// The first `count` fire times strictly after `after`, within `end`.
    package func fireTimes(after: Int64, count: Int) -> [Int64] {
        var result: [Int64] = []
        var k = firstIndex(after: after)
        while result.count < count, let time = occurrence(k) {
            if let end = spec.end, time > end { break }
            if time > after { result.append(time) }
            k += 1
        }
        return result
    }

    /// Fire times in `(after, through]`: how many and the latest. `after` nil means from `start`.
    package func fires(after: Int64?, through: Int64) -> (count: Int, latest: Int64?) {
        var k = after.map { firstIndex(after: $0) } ?? 0
        var count = 0
        var latest: Int64?
        while let time = occurrence(k), time <= through {
            if let end = spec.end, time > end { break }
            if after.map({ time > $0 }) ?? true {
                count += 1
                latest = time
            }
            k += 1
        }
        return (count, latest)
    }

    /// An index at or before the first occurrence after `after`, found without walking from start.
    func firstIndex(after: Int64) -> Int {
        guard let start = spec.start, after >= start, spec.kind == .interval, let frequency = spec.frequency else { return 0 }
        let elapsed = after - start
        let longest: Int64
        switch frequency {
        case .hourly: longest = 3_600_000
        case .daily: longest = 25 * 3_600_000
        case .weekly: longest = 7 * 24 * 3_600_000 + 3_600_000
        case .monthly: longest = 31 * 24 * 3_600_000 + 3_600_000
        }
        return max(0, Int(elapsed / longest) - 1)
    }

    // MARK: Wall time ↔ instant

    /// Resolves a wall-clock time in the zone: the unique instant, the first of two when the clock
    /// was turned back, or the end of the gap when it was turned forward.
    func instant(year: Int, month: Int, day: Int, _ wall: WallTime) -> Int64 {
        let naiveSeconds = Self.days(year: year, month: month, day: day) * 86_400 + wall.secondOfDay
        let before = offset(at: naiveSeconds - 86_400)
        let after = offset(at: naiveSeconds + 86_400)
        var candidates: [Int64] = []
        for o in Set([before, after]) {
            let instant = naiveSeconds - o
            if offset(at: instant) == o { candidates.append(instant) }
        }
        if let first = candidates.min() { return first * 1000 + wall.milliseconds }
        // In a gap: the transition instant is the first one whose offset is the later offset.
        var low = naiveSeconds - before - 86_400, high = naiveSeconds - after + 86_400
        while high - low > 1 {
            let mid = low + (high - low) / 2
            if offset(at: mid) == after { high = mid } else { low = mid }
        }
        return high * 1000
    }

    private func offset(at seconds: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
    }

    static func wallTime(of millis: Int64, in zone: TimeZone) -> WallTime {
        let seconds = Int64((Double(millis) / 1000).rounded(.down))
        let local = seconds + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        let days = Int64((Double(local) / 86_400).rounded(.down))
        let (y, m, d) = civil(fromDays: days)
        return WallTime(year: y, month: m, day: d, secondOfDay: local - days * 86_400, milliseconds: millis - seconds * 1000)
    }

    // Calendar arithmetic shared with `Timestamp` (proleptic Gregorian, days since 1970-01-01).
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        Timestamp.daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
    }

    static func civil(fromDays days: Int64) -> (Int, Int, Int) {
        let (y, m, d) = Timestamp.civilFromDays(days)
        return (Int(y), Int(m), Int(d))
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        Int(Timestamp.daysInMonth(year: Int64(year), month: Int64(month)))
    }
}
