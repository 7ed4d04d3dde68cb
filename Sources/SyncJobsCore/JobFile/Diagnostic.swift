/// A position in a job file, 1-based like a compiler's.
package struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    package var file: String
    package var line: Int
    package var column: Int

    package init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    package var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in a job file, printed like a compiler diagnostic:
/// `jobs/shop.yaml:12:5: unknown key 'iteratr'; did you mean 'iterator'?`
package struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    package enum Severity: String, Sendable { case error, warning }

    package var severity: Severity
    package var location: SourceLocation
    /// What is wrong.
    package var message: String
    /// How to fix it.
    package var fix: String?

    package init(_ severity: Severity = .error, at location: SourceLocation, _ message: String, fix: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.fix = fix
    }

    package var description: String {
        let prefix = severity == .warning ? "warning: " : ""
        if let fix { return "\(location): \(prefix)\(message); \(fix)" }
        return "\(location): \(prefix)\(message)"
    }
}

/// Thrown when a job file does not validate; carries every problem found, not just the first.
package struct JobFileError: Error, CustomStringConvertible {
    package var diagnostics: [Diagnostic]

    package init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }

    package var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    package var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Suggests the closest known word for a misspelt one ("did you mean").
enum Spelling {
    static func suggestion(for word: String, among candidates: some Sequence<String>) -> String? {
        let lower = word.lowercased()
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(lower, candidate.lowercased())
            let limit = max(1, min(3, candidate.count / 3))
            guard distance <= limit else { continue }
            if best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        return best?.0
    }

    /// Optimal string alignment distance: edits, with a swap of neighbours counting as one
    /// ("tabel" is one edit from "table").
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }

    /// "did you mean 'x'?" or a list of what is allowed.
    static func hint(for word: String, among candidates: [String], noun: String = "one of") -> String {
        if let match = suggestion(for: word, among: candidates) { return "did you mean '\(match)'?" }
        return "use \(noun) \(candidates.map { "'\($0)'" }.joined(separator: ", "))"
    }
}
