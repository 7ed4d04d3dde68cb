import Foundation
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL state lives: `--state postgres://user@host:5432/db?sslmode=prefer` (or
/// `JOBS_STATE`). The password comes from `PGPASSWORD`, from a `${VAR}` reference in the URL, or
/// from the URL itself; it is never shown: messages name the user, host, port and database.
struct PostgresStateEndpoint {
    var host: String
    var port: Int
    var user: String
    var database: String
    var password: String?
    var tls: TLSMode

    enum TLSMode: String { case disable, prefer, require }

    /// Nil when `stateURL` is a file path.
    init?(stateURL: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard StateStore.isPostgres(stateURL) else { return nil }
        guard let url = URLComponents(string: stateURL), let host = url.host, !host.isEmpty else {
            throw StateError("the state URL '\(Self.redacted(stateURL))' is not a PostgreSQL URL; write it as postgres://user@host:5432/database")
        }
        self.host = host
        port = url.port ?? 5432
        user = url.user.flatMap { $0.removingPercentEncoding } ?? environment["PGUSER"] ?? "postgres"
        database = String(url.path.dropFirst()).removingPercentEncoding ?? ""
        if database.isEmpty {
            throw StateError("the state URL '\(Self.redacted(stateURL))' names no database; add it after the host: postgres://\(user)@\(host):\(port)/syncjobs")
        }
        if let given = url.password?.removingPercentEncoding, !given.isEmpty {
            if given.hasPrefix("${"), given.hasSuffix("}") {
                let name = String(given.dropFirst(2).dropLast())
                guard let value = environment[name], !value.isEmpty else {
                    throw StateError("the state URL's password refers to ${\(name)}, which is not set; export it before starting jobs")
                }
                password = value
            } else {
                password = given
            }
        } else {
            password = environment["PGPASSWORD"]
        }
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        guard let tls = TLSMode(rawValue: mode) else {
            throw StateError("the state URL's sslmode '\(mode)' is not one of disable, prefer, require")
        }
        self.tls = tls
    }

    /// What messages say of the state: never the password.
    var display: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// `url` with any password replaced by `***`.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "postgres://***"
    }

    var configuration: PostgresConnection.Configuration {
        let tlsConfiguration: PostgresConnection.Configuration.TLS
        switch tls {
        case .disable: tlsConfiguration = .disable
        case .prefer: tlsConfiguration = (try? .prefer(NIOSSLContext(configuration: .makeClientConfiguration()))) ?? .disable
        case .require: tlsConfiguration = (try? .require(NIOSSLContext(configuration: .makeClientConfiguration()))) ?? .disable
        }
        return PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database,
                                                tls: tlsConfiguration)
    }

    /// How to fix a failed connection, from its error.
    func hint(for error: any Error) -> String {
        let text = PostgresErrorText.describe(error)
        if let psql = error as? PSQLError, let state = psql.serverInfo?[.sqlState] {
            switch state {
            case "28P01", "28000": return "check the user '\(user)' and the password (PGPASSWORD or the URL's ${VAR})"
            case "3D000": return "create the database first (createdb -h \(host) -p \(port) -U \(user) \(database))"
            default: break
            }
        }
        if text.contains("refused") || text.contains("connect") {
            return "check that PostgreSQL is running and accepts connections at \(host):\(port)"
        }
        return "check the state URL (--state or JOBS_STATE)"
    }
}

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
