import PostgresNIO

/// postgres-nio's errors describe themselves generically (so that no query or value leaks); say
/// what the server said, or what the connection hit, without either.
enum PostgresErrorText {
    static func describe(_ error: any Error) -> String {
        guard let psql = error as? PSQLError else { return "\(error)" }
        if let info = psql.serverInfo, let message = info[.message] {
            let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return message + state
        }
        if let underlying = psql.underlying { return "\(psql.code): \(underlying)" }
        return "\(psql.code)"
    }
}
