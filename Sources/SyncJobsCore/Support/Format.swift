import Foundation

package enum Format {
    /// 1234567 → "1,234,567"
    package static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    package static func plural(_ n: Int, _ word: String, _ plural: String? = nil) -> String {
        "\(count(n)) \(n == 1 ? word : plural ?? word + "s")"
    }

    static func seconds(_ s: Double) -> String { String(format: "%.2f s", s) }

    /// Names in a message, quoted: at most `limit` of them, then how many more, so a source with
    /// 100,000 columns gives one readable line ("'c1', 'c2' … 'c10' and 99,990 more"), not a
    /// megabyte. A name longer than 100 characters is cut there and ends in "…".
    static func names(_ names: some Collection<String>, limit: Int = 10) -> String {
        let shown = names.prefix(limit).map { name in
            name.count > 100 ? "'\(name.prefix(100))…'" : "'\(name)'"
        }
        let more = names.count - shown.count
        return shown.joined(separator: ", ") + (more > 0 ? " and \(count(more)) more" : "")
    }

    /// 90_000 → "90 s", 3_600_000 → "1 h", 172_800_000 → "2 d"
    package static func duration(millis: Int64) -> String {
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("min", 60_000), ("s", 1000)] where millis % size == 0 {
            return "\(millis / size) \(unit)"
        }
        return "\(millis) ms"
    }
}
