import Testing
@testable import SyncJobsCore

/// Inputs and the milliseconds `Timestamp.parseMillis` must give (nil: rejected). Accepted values
/// were checked against `julianday()` of SQLite 3.40.1; the comments on rejected ones say whether
/// SQLite rejects them too or the rejection is deliberate.
private let cases: [(input: String, millis: Int64?)] = [
    // The plain forms.
    ("2026-01-01", 1_767_225_600_000),
    ("2026-01-01 12:00", 1_767_268_800_000),
    ("2026-01-01T12:00", 1_767_268_800_000),
    ("2026-01-01 12:00:00", 1_767_268_800_000),
    ("2026-01-01T12:00:00", 1_767_268_800_000),
    ("2026-11-15T19:00:00Z", 1_794_769_200_000),
    ("1970-01-01", 0),
    ("1970-01-01T00:00:00.000Z", 0),
    // Fractions: 1 to 9 digits, rounded half up to milliseconds.
    ("2026-01-01 12:00:00.5", 1_767_268_800_500),
    ("2026-01-01 12:00:00.123", 1_767_268_800_123),
    ("2026-01-01T12:00:00.123456", 1_767_268_800_123),
    ("2026-01-01T12:00:00.123456789", 1_767_268_800_123),
    ("2026-01-01 12:00:00.0005", 1_767_268_800_001),
    ("2026-01-01 12:00:00.0015", 1_767_268_800_002),
    ("2026-01-01 12:00:00.9995", 1_767_268_801_000),
    ("2026-01-01T12:00:00.9999999", 1_767_268_801_000),
    ("2026-01-01 23:59:59.9999", 1_767_312_000_000),  // rounds into the next day
    ("2026-01-01T12:00:00.1234567891", nil),  // 10 digits: SQLite accepts, deliberately rejected
    ("2026-01-01 12:00:00.", nil),
    ("2026-01-01 12:00.5", nil),
    ("2026-01-01 12:00:00,5", nil),
    // Zones.
    ("2026-01-01 12:00Z", 1_767_268_800_000),
    ("2026-01-01 12:00z", 1_767_268_800_000),
    ("2026-01-01T12:00:00+02:00", 1_767_261_600_000),
    ("2026-01-01T12:00:00-05:30", 1_767_288_600_000),
    ("2026-01-01T12:00:00-00:00", 1_767_268_800_000),
    ("2026-01-01 12:00 +02:00", 1_767_261_600_000),  // whitespace before the zone, as SQLite
    ("2026-01-01 12:00 Z", 1_767_268_800_000),
    ("2026-01-01 12:00:00.5Z", 1_767_268_800_500),
    ("2026-01-01 12:00+14:59", 1_767_214_860_000),
    ("2026-01-01 12:00-14:00", 1_767_319_200_000),
    ("2026-03-29T01:30:00+01:00", 1_774_744_200_000),
    ("2026-01-01 12:00+15:00", nil),
    ("2026-01-01 12:00+02:60", nil),
    // ±HHMM, as Python's %z writes it; SQLite lacks it, so the SQL side adds the colon.
    ("2026-01-01 12:00+0200", 1_767_261_600_000),
    ("2026-01-01T12:00:00-0530", 1_767_288_600_000),
    ("2026-01-01T12:00:00.5+0000", 1_767_268_800_500),
    ("2026-01-01 12:00 +0200", 1_767_261_600_000),
    ("2026-01-01 12:00+0200 ", 1_767_261_600_000),
    ("2026-01-01 12:00+1459", 1_767_214_860_000),
    ("2026-01-01 12:00+1500", nil),
    ("2026-01-01 12:00+0260", nil),
    ("2026-01-01 12:00+020", nil),
    ("2026-01-01 12:00+02000", nil),
    ("2026-01-01 12:00+02 00", nil),
    ("2026-01-01 12:00+0200Z", nil),
    ("2026-01-01+0200", nil),
    ("2026-01-01 12:00+02", nil),
    ("2026-01-01 12:00 UTC", nil),
    ("2026-01-01Z", nil),  // a zone needs a time, in SQLite too
    ("2026-01-01+02:00", nil),
    // Calendar.
    ("2024-02-29", 1_709_164_800_000),
    ("2000-02-29", 951_782_400_000),
    ("0000-02-29", -62_162_121_600_000),
    ("2023-02-29", nil),  // SQLite: 2023-03-01; deliberately rejected
    ("1900-02-29", nil),
    ("2026-02-30", nil),  // SQLite: 2026-03-02; deliberately rejected
    ("2026-04-31", nil),
    ("2026-13-01", nil),
    ("2026-00-01", nil),
    ("2026-01-00", nil),
    ("2026-01-32", nil),
    ("2026-1-01", nil),
    ("2026-01-01 1:00", nil),
    ("2026-01-01 24:00", nil),  // SQLite: next day 00:00; deliberately rejected
    ("2026-01-01 24:59:59", nil),
    ("2026-01-01 25:00", nil),
    ("2026-01-01 12:60", nil),
    ("2026-01-01 12:00:60", nil),
    // Before 1970 and the ends of the range.
    ("1969-12-31 23:59:59.999", -1),
    ("1969-07-20T20:17:40Z", -14_182_940_000),
    ("1900-02-28 23:59:59.5", -2_203_891_200_500),
    ("1600-03-01", -11_670_912_000_000),
    ("0000-01-01", -62_167_219_200_000),
    ("0000-01-01 00:00+01:00", -62_167_222_800_000),
    ("9999-12-31 23:59:59.999", 253_402_300_799_999),
    ("9999-12-31 23:59:59.999-01:00", nil),  // past 9999, in SQLite too
    ("10000-01-01", nil),
    ("-0001-01-01", nil),  // SQLite accepts negative years; deliberately rejected
    ("+2026-01-01", nil),
    // Whitespace and separators.
    ("2026-01-01 ", 1_767_225_600_000),  // trailing whitespace, as SQLite
    ("2026-01-01\t", 1_767_225_600_000),
    ("2026-01-01 12:00 ", 1_767_268_800_000),
    ("2026-01-01 12:00Z\n", 1_767_268_800_000),
    ("2026-01-01T12:00:00+02:00\r\n", 1_767_261_600_000),
    (" 2026-01-01", nil),  // leading whitespace: SQLite rejects it too
    ("2026-01-01T", nil),  // SQLite accepts a dangling T; deliberately rejected
    ("2026-01-01TT12:00", nil),  // SQLite accepts; deliberately rejected
    ("2026-01-01  12:00", nil),  // SQLite accepts; deliberately rejected
    ("2026-01-01T 12:00", nil),
    ("2026-01-0112:00", nil),  // SQLite accepts; deliberately rejected
    ("2026-01-01\t12:00", nil),  // SQLite accepts; deliberately rejected
    ("2026-01-01t12:00", 1_767_268_800_000),  // lowercase t; SQLite lacks it, the SQL side makes it T
    ("2026-01-01t12:00:00z", 1_767_268_800_000),
    ("2026-01-01t12:00:00.250+0100", 1_767_265_200_250),
    ("2026-01-01t", nil),
    ("2026-01-01tt12:00", nil),
    ("2026-01-01 t12:00", nil),
    ("2026-01-01 12:00\u{0}", nil),  // SQLite would stop at the NUL
    ("2026-01-01\u{0}", nil),
    // Not timestamps at all.
    ("now", nil),
    ("NOW", nil),
    ("2459000.5", nil),  // a Julian day number
    ("1767225600", nil),
    ("12:00", nil),  // SQLite: 2000-01-01 12:00
    ("12:00:00", nil),
    ("", nil),
    (" ", nil),
    ("garbage", nil),
    ("2026-01-01 +1 day", nil),
    ("2026-01-01 start of month", nil),
    ("２０２６-01-01", nil),  // fullwidth digits
]

@Suite struct TimestampTests {
    @Test(arguments: cases)
    func parsesExactMillis(input: String, millis: Int64?) {
        #expect(Timestamp.parseMillis(input) == millis, "input: \(input.debugDescription)")
    }

    @Test func theTableIsLargeAndMixed() {
        #expect(cases.count >= 40)
        #expect(cases.filter { $0.millis == nil }.count >= 20)
        #expect(cases.filter { $0.millis != nil }.count >= 20)
    }

    /// The SQL expression must agree with `parseMillis` on every input: the same milliseconds,
    /// and NULL exactly where `parseMillis` gives nil.
    @Test func sqlExpressionAgreesOnTheTable() throws {
        let evaluator = try SQLEvaluator()
        for (input, expected) in cases {
            #expect(try evaluator.millis(of: .string(input)) == expected, "input: \(input.debugDescription)")
        }
    }

    @Test func sqlExpressionIsNullForOtherStorageClasses() throws {
        let evaluator = try SQLEvaluator()
        #expect(try evaluator.millis(of: .null) == nil)
        #expect(try evaluator.millis(of: .int(2026)) == nil)
        #expect(try evaluator.millis(of: .int(1_767_225_600)) == nil)
        #expect(try evaluator.millis(of: .double(2_459_000.5)) == nil)
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        let blob = try database.prepare("SELECT \(Timestamp.sqlMillisExpression("CAST('2026-01-01' AS BLOB)"))")
        #expect(try blob.step())
        #expect(try blob.value(at: 0) == .null)
    }

    @Test func sqlExpressionWorksOnAColumn() throws {
        let database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        try database.execute("""
            CREATE TABLE events(id INTEGER PRIMARY KEY, "updated at" ANY);
            INSERT INTO events("updated at") VALUES
                ('2026-01-01T12:00:00Z'), ('2026-02-30'), (12), (NULL), ('now'), ('2026-01-01 12:00:00.5+01:00');
            """)
        let query = try database.prepare(
            #"SELECT \#(Timestamp.sqlMillisExpression(#""updated at""#)) FROM events ORDER BY id"#)
        var results: [Value] = []
        while try query.step() { results.append(try query.value(at: 0)) }
        #expect(results == [.int(1_767_268_800_000), .null, .null, .null, .null, .int(1_767_265_200_500)])
    }

    /// The ends of February in every year 0000–9999, and the ends of every month in every 7th
    /// year: checks the calendar arithmetic and the "day exists" rule against SQLite's.
    @Test func sqlExpressionAgreesAcrossTheCalendar() throws {
        let evaluator = try SQLEvaluator()
        for year in 0...9999 {
            var dates = [(1, 1), (2, 28), (2, 29), (2, 30), (3, 1), (12, 31)]
            if year % 7 == 0 {
                dates += (1...12).flatMap { month in [29, 30, 31, 32].map { (month, $0) } }
            }
            for (month, day) in dates {
                let input = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
                let parsed = Timestamp.parseMillis(input)
                let expected = try evaluator.millis(of: .string(input))
                guard parsed == expected else {
                    Issue.record("\(input): parseMillis \(String(describing: parsed)), SQL \(String(describing: expected))")
                    return
                }
            }
        }
    }

    /// Fractions of 1 to 9 digits, many near a half millisecond, round like SQLite's double
    /// arithmetic.
    @Test func fractionsRoundLikeSQLite() throws {
        let evaluator = try SQLEvaluator()
        var random = SplitMix64(seed: 0xF4AC)
        for _ in 0..<20_000 {
            let digitCount = 1 + random.next(below: 9)
            var fraction = (0..<digitCount).map { _ in String(random.next(below: 10)) }.joined()
            if digitCount >= 4, random.next(below: 2) == 0 {
                // Force the digits after the milliseconds to 5, 50, 500…: exactly half.
                fraction = String(fraction.prefix(3)) + "5" + String(repeating: "0", count: digitCount - 4)
            }
            let input = "2026-06-30T23:59:\(pad(random.next(below: 60), 2)).\(fraction)Z"
            let parsed = Timestamp.parseMillis(input)
            #expect(parsed != nil)
            guard try evaluator.millis(of: .string(input)) == parsed else {
                Issue.record("\(input): parseMillis \(String(describing: parsed)) differs from SQLite")
                return
            }
        }
    }

    /// Mutations of valid timestamps — characters replaced, inserted, deleted — must get the same
    /// answer from both sides. Seeded, so a failure reproduces.
    @Test func sqlExpressionAgreesOnMutatedInputs() throws {
        let evaluator = try SQLEvaluator()
        let seeds = [
            "2026-01-01", "2026-01-01 12:00", "2026-01-01T12:00:00", "2026-01-01T12:00:00.123Z",
            "2024-02-29T23:59:59.999999-14:00", "1969-12-31 23:59:59+01:30", "0000-01-01T00:00Z",
            "9999-12-31 23:59:59.9995", "2026-12-31T24:00:00 +02:00 ", "2023-02-28 12:34:56.7 z",
            "2026-01-01t12:00:00+0200", "2026-06-30 23:59:59.999-0930 ", "2026-01-01T00:00+1400",
        ]
        let alphabet = Array("0123456789-:T .Zz+t\t\n,/\u{0}\u{B}é".unicodeScalars)
        var random = SplitMix64(seed: 0x5EED_2026)
        var accepted = 0
        for iteration in 0..<30_000 {
            var scalars = Array(seeds[iteration % seeds.count].unicodeScalars)
            for _ in 0...random.next(below: 3) {
                let position = random.next(below: scalars.count + 1)
                let replacement = alphabet[random.next(below: alphabet.count)]
                switch random.next(below: 4) {
                case 0 where position < scalars.count: scalars[position] = replacement
                case 1: scalars.insert(replacement, at: position)
                case 2 where position < scalars.count: scalars.remove(at: position)
                default:
                    // Swap in a digit, which mostly keeps the shape and moves a field's value.
                    if position < scalars.count, scalars[position].properties.numericType != nil {
                        scalars[position] = alphabet[random.next(below: 10)]
                    }
                }
            }
            var input = ""
            input.unicodeScalars.append(contentsOf: scalars)
            let parsed = Timestamp.parseMillis(input)
            if parsed != nil { accepted += 1 }
            let expected = try evaluator.millis(of: .string(input))
            guard parsed == expected else {
                Issue.record("\(input.debugDescription): parseMillis \(String(describing: parsed)), SQL \(String(describing: expected))")
                return
            }
        }
        // Both outcomes must be well represented for the comparison to mean something.
        #expect(accepted > 3000)
        #expect(accepted < 27000)
    }

    // MARK: - format

    @Test func formatsISO8601InUTC() {
        #expect(Timestamp.format(millis: 0) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.format(millis: 1_794_769_200_000) == "2026-11-15T19:00:00Z")
        #expect(Timestamp.format(millis: 1_794_769_200_123) == "2026-11-15T19:00:00.123Z")
        #expect(Timestamp.format(millis: 1_794_769_200_007) == "2026-11-15T19:00:00.007Z")
        #expect(Timestamp.format(millis: 951_782_400_000) == "2000-02-29T00:00:00Z")
        #expect(Timestamp.format(millis: -1) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.format(millis: -14_182_940_000) == "1969-07-20T20:17:40Z")
        #expect(Timestamp.format(millis: -62_167_219_200_000) == "0000-01-01T00:00:00Z")
        #expect(Timestamp.format(millis: 253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.format(millis: 253_402_300_800_000) == "+10000-01-01T00:00:00Z")
        #expect(Timestamp.format(millis: -62_167_219_200_001) == "-0001-12-31T23:59:59.999Z")
    }

    @Test func formatSurvivesTheExtremes() {
        #expect(!Timestamp.format(millis: .min).isEmpty)
        #expect(!Timestamp.format(millis: .max).isEmpty)
    }

    @Test func formatRoundTripsThroughParse() {
        for (_, millis) in cases {
            // Zones can move an accepted timestamp before 0000-01-01, which formats as year -0001.
            guard let millis, millis >= -62_167_219_200_000 else { continue }
            #expect(Timestamp.parseMillis(Timestamp.format(millis: millis)) == millis)
        }
        var random = SplitMix64(seed: 1970)
        let range = -62_167_219_200_000...Timestamp.maximumMillis
        for _ in 0..<20_000 {
            let millis = range.lowerBound + Int64(random.next(below: Int(range.upperBound - range.lowerBound + 1)))
            let text = Timestamp.format(millis: millis)
            guard Timestamp.parseMillis(text) == millis else {
                Issue.record("\(millis) formatted as \(text) parses as \(String(describing: Timestamp.parseMillis(text)))")
                return
            }
        }
    }

    @Test func formattedTextMeansTheSameToSQLite() throws {
        let evaluator = try SQLEvaluator()
        var random = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            let millis = Int64(random.next(below: 4_000_000_000_000)) - 1_000_000_000_000
            #expect(try evaluator.millis(of: .string(Timestamp.format(millis: millis))) == millis)
        }
    }
}

/// Evaluates `Timestamp.sqlMillisExpression` on one bound value.
private struct SQLEvaluator {
    let database: SQLiteDatabase
    let statement: SQLiteStatement

    init() throws {
        database = try SQLiteDatabase(path: ":memory:", mode: .readWriteCreate)
        statement = try database.prepare("SELECT \(Timestamp.sqlMillisExpression("?1"))")
    }

    func millis(of value: Value) throws -> Int64? {
        try statement.bind([value])
        guard try statement.step() else { throw EvaluationError.noRow }
        switch try statement.value(at: 0) {
        case .null: return nil
        case .int(let millis): return millis
        default: throw EvaluationError.notAnInteger
        }
    }

    enum EvaluationError: Error { case noRow, notAnInteger }
}

/// A small seeded generator, so that the randomized tests reproduce.
private struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: Int) -> Int {
        Int(next() % UInt64(bound))
    }
}

private func pad(_ value: Int, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
