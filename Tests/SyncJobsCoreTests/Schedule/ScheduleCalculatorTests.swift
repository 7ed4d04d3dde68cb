import Testing
@testable import SyncJobsCore

@Suite struct ScheduleCalculatorTests {
    static func ms(_ iso: String) -> Int64 { Timestamp.parseMillis(iso)! }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var kind: ScheduleSpec.Kind = .interval
        var frequency: ScheduleSpec.Frequency?
        var start: String?
        var end: String?
        var timezone: String?
        var after: String
        var expected: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "daily keeps 09:00 Berlin across spring forward", frequency: .daily, start: "2026-03-27T09:00:00+01:00",
             timezone: "Europe/Berlin", after: "2026-03-27T00:00:00Z",
             expected: ["2026-03-27T08:00:00Z", "2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"]),
        Case(name: "a nonexistent 02:30 runs at the end of the gap", frequency: .daily, start: "2026-03-28T02:30:00+01:00",
             timezone: "Europe/Berlin", after: "2026-03-28T00:00:00Z",
             expected: ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
        Case(name: "an ambiguous 02:30 runs at its first occurrence", frequency: .daily, start: "2026-10-24T02:30:00+02:00",
             timezone: "Europe/Berlin", after: "2026-10-24T00:00:00Z",
             expected: ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        Case(name: "hourly counts absolute hours across spring forward", frequency: .hourly, start: "2026-03-29T00:00:00+01:00",
             timezone: "Europe/Berlin", after: "2026-03-28T22:00:00Z",
             expected: ["2026-03-28T23:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"]),
        Case(name: "hourly counts absolute hours across fall back", frequency: .hourly, start: "2026-10-25T01:00:00+02:00",
             timezone: "Europe/Berlin", after: "2026-10-24T22:00:00Z",
             expected: ["2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"]),
        Case(name: "monthly from the 31st clamps without drifting", frequency: .monthly, start: "2026-01-31T10:00:00Z",
             after: "2026-01-01T00:00:00Z",
             expected: ["2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z", "2026-04-30T10:00:00Z", "2026-05-31T10:00:00Z"]),
        Case(name: "monthly from Jan 31 in a leap year", frequency: .monthly, start: "2024-01-31T00:00:00Z",
             after: "2024-01-31T00:00:00Z", expected: ["2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"]),
        Case(name: "monthly from the 29th outside leap years", frequency: .monthly, start: "2023-01-29T12:00:00Z",
             after: "2023-01-29T12:00:00Z", expected: ["2023-02-28T12:00:00Z", "2023-03-29T12:00:00Z"]),
        Case(name: "monthly across New York's DST keeps 09:00 local", frequency: .monthly, start: "2026-02-15T09:00:00-05:00",
             timezone: "America/New_York", after: "2026-02-01T00:00:00Z",
             expected: ["2026-02-15T14:00:00Z", "2026-03-15T13:00:00Z", "2026-04-15T13:00:00Z"]),
        Case(name: "monthly across years", frequency: .monthly, start: "2026-11-30T00:00:00Z",
             after: "2026-12-01T00:00:00Z", expected: ["2026-12-30T00:00:00Z", "2027-01-30T00:00:00Z", "2027-02-28T00:00:00Z"]),
        Case(name: "weekly keeps 09:00 New York across spring forward", frequency: .weekly, start: "2026-03-01T09:00:00-05:00",
             timezone: "America/New_York", after: "2026-02-28T00:00:00Z",
             expected: ["2026-03-01T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-15T13:00:00Z"]),
        Case(name: "New York's ambiguous 01:30 runs at the first one", frequency: .daily, start: "2026-10-31T01:30:00-04:00",
             timezone: "America/New_York", after: "2026-10-31T00:00:00Z",
             expected: ["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
        Case(name: "New York's missing 02:30 runs at 03:00", frequency: .daily, start: "2026-03-07T02:30:00-05:00",
             timezone: "America/New_York", after: "2026-03-07T00:00:00Z",
             expected: ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]),
        Case(name: "Sydney's DST end in April", frequency: .daily, start: "2026-04-04T02:30:00+11:00",
             timezone: "Australia/Sydney", after: "2026-04-03T00:00:00Z",
             expected: ["2026-04-03T15:30:00Z", "2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"]),
        Case(name: "Sydney's DST start in October", frequency: .daily, start: "2026-10-03T02:30:00+10:00",
             timezone: "Australia/Sydney", after: "2026-10-02T00:00:00Z",
             expected: ["2026-10-02T16:30:00Z", "2026-10-03T16:00:00Z", "2026-10-04T15:30:00Z"]),
        Case(name: "daily through Feb 29", frequency: .daily, start: "2024-02-28T06:00:00Z", after: "2024-02-27T00:00:00Z",
             expected: ["2024-02-28T06:00:00Z", "2024-02-29T06:00:00Z", "2024-03-01T06:00:00Z"]),
        Case(name: "an end time stops the schedule", frequency: .daily, start: "2026-01-01T00:00:00Z", end: "2026-01-03T00:00:00Z",
             after: "2025-12-31T00:00:00Z", expected: ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]),
        Case(name: "a start in the past gives the next fires after now", frequency: .hourly, start: "2020-01-01T00:15:00Z",
             after: "2026-11-22T10:20:00Z", expected: ["2026-11-22T11:15:00Z", "2026-11-22T12:15:00Z"]),
        Case(name: "a fire time equal to 'after' is not after it", frequency: .daily, start: "2026-01-01T19:00:00Z",
             after: "2026-01-05T19:00:00Z", expected: ["2026-01-06T19:00:00Z", "2026-01-07T19:00:00Z"]),
        Case(name: "a start in the future fires first at start", frequency: .weekly, start: "2030-06-01T00:00:00Z",
             after: "2026-11-22T00:00:00Z", expected: ["2030-06-01T00:00:00Z", "2030-06-08T00:00:00Z"]),
        Case(name: "once fires at start", kind: .once, start: "2026-12-01T00:00:00Z", after: "2026-11-22T00:00:00Z",
             expected: ["2026-12-01T00:00:00Z"]),
        Case(name: "once in the past has nothing left", kind: .once, start: "2026-01-01T00:00:00Z", after: "2026-11-22T00:00:00Z",
             expected: []),
        Case(name: "on_demand never fires", kind: .onDemand, after: "2026-11-22T00:00:00Z", expected: []),
        Case(name: "a start with an offset in a UTC schedule", frequency: .daily, start: "2026-01-01T01:00:00+02:00",
             after: "2025-12-31T00:00:00Z", expected: ["2025-12-31T23:00:00Z", "2026-01-01T23:00:00Z"]),
        Case(name: "milliseconds in start are kept", frequency: .hourly, start: "2026-01-01T00:00:00.250Z",
             after: "2026-01-01T00:00:00Z", expected: ["2026-01-01T00:00:00.250Z", "2026-01-01T01:00:00.250Z"]),
    ]

    @Test(arguments: cases)
    func fireTimes(_ c: Case) {
        let spec = ScheduleSpec(kind: c.kind, frequency: c.frequency, start: c.start.map(Self.ms), end: c.end.map(Self.ms),
                                timezone: c.timezone)
        // Bounded schedules (once, on_demand, an end) are asked for more than they have.
        let bounded = c.kind != .interval || c.end != nil
        let times = ScheduleCalculator(spec).fireTimes(after: Self.ms(c.after), count: c.expected.count + (bounded ? 3 : 0))
        #expect(times.map { Timestamp.format(millis: $0) } == c.expected)
    }

    @Test func aMonthOfHourlyRunsAcrossADSTChange() {
        let spec = ScheduleSpec(kind: .interval, frequency: .hourly, start: Self.ms("2026-03-01T00:00:00+01:00"),
                                end: Self.ms("2026-04-01T00:00:00+02:00"), timezone: "Europe/Berlin")
        let times = ScheduleCalculator(spec).fireTimes(after: Self.ms("2026-02-28T00:00:00Z"), count: 10_000)
        // March 2026 in Berlin has 743 hours (one is skipped by DST); both ends fire.
        #expect(times.count == 744)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 3_600_000 })
        #expect(ScheduleCalculator(spec).fires(after: nil, through: Self.ms("2026-04-05T00:00:00Z")).count == 744)
    }

    @Test func monthlyFromThe31stForTenYearsNeverDrifts() {
        let spec = ScheduleSpec(kind: .interval, frequency: .monthly, start: Self.ms("2026-01-31T08:00:00Z"))
        let times = ScheduleCalculator(spec).fireTimes(after: Self.ms("2026-01-01T00:00:00Z"), count: 120)
        let days = times.map { Int(Timestamp.format(millis: $0).dropFirst(8).prefix(2))! }
        for (n, day) in days.enumerated() {
            let month = n % 12 + 1
            let year = 2026 + n / 12
            #expect(day == min(31, ScheduleCalculator.daysInMonth(year: year, month: month)))
        }
        #expect(Timestamp.format(millis: times[25]) == "2028-02-29T08:00:00Z")
    }

    @Test func coalescedFiresAreCountedInARange() {
        let spec = ScheduleSpec(kind: .interval, frequency: .daily, start: Self.ms("2026-11-01T06:00:00Z"))
        let calculator = ScheduleCalculator(spec)
        let (count, latest) = calculator.fires(after: Self.ms("2026-11-10T06:00:00Z"), through: Self.ms("2026-11-13T07:00:00Z"))
        #expect(count == 3)
        #expect(latest == Self.ms("2026-11-13T06:00:00Z"))
        #expect(calculator.fires(after: nil, through: Self.ms("2026-11-01T05:59:59Z")).count == 0)
    }
}
