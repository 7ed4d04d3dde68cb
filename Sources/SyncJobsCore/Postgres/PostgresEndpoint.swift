import Foundation

/// Where a PostgreSQL server is, and how to log in: shared by the PostgreSQL source and the
/// PostgreSQL state store.
///
/// The package API, small on purpose:
/// - `PostgresEndpoint.parse(url:passwords:)` reads `postgres://user@host:5432/db?sslmode=require`
///   (also `postgresql://`). A password in the URL must be a `${VAR}` reference
///   (`postgres://user:${PGPASS}@host/db`) unless the URL itself came from a secret place (an
///   environment variable): pass `passwords: .inlineAllowed` then.
/// - `PostgresEndpoint(host:port:database:user:password:tls:)` is the job file's map form.
/// - `endpoint.connect(logger:environment:) async throws -> PostgresConnection` opens a
///   connection; `connectWaiting(logger:environment:)` does the same for synchronous callers.
///   Failures are `PostgresConnectError`s whose message names host, port and database and says
///   what to fix, never the password.
/// - `PostgresEndpoint.fromCommandLine(_:environment:)` is for `--state postgres://…` and
///   `JOBS_STATE`: the password from a `${VAR}` in the URL or from `PGPASSWORD`.
///
/// With no password given, `PGPASSWORD` is used when it is set, as libpq does.
package struct PostgresEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// libpq's `sslmode`, the three that matter here plus `verify-full`. `require` and `prefer`
    /// encrypt without checking the server's certificate, as libpq does; `verify-full` checks it
    /// against the system's trusted roots and the host name.
    package enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyFull = "verify-full"
    }

    /// Where the password comes from. An inline one is never printed.
    package enum Password: Sendable, Equatable {
        /// None given: `PGPASSWORD` when it is set, else no password.
        case fromEnvironmentDefault
        case reference(SecretReference)
        case inline(String)
    }

    /// Whether a password written in a URL is accepted.
    package enum InlinePasswords: Sendable {
        /// The URL is written where people read it (a job file, a command line): refused.
        case refused
        /// The URL came from an environment variable, where secrets belong.
        case inlineAllowed
    }

    package var host: String
    package var port: Int
    package var database: String
    package var user: String
    package var password: Password
    package var tls: TLSMode

    package static let defaultPort = 5432

    package init(host: String, port: Int = PostgresEndpoint.defaultPort, database: String, user: String,
                 password: Password = .fromEnvironmentDefault, tls: TLSMode = .prefer) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.tls = tls
    }

    /// `postgres://user@host:5432/db`: what messages and `jobs plan` show. Never the password.
    package var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)"
    }

    /// "PostgreSQL at host:port, database 'db'", for messages.
    package var serverPhrase: String {
        "PostgreSQL at \(host.contains(":") ? "[\(host)]" : host):\(port), database '\(database)'"
    }

    /// Reads a connection URL. Errors quote the URL with any password left out.
    package static func parse(url text: String, passwords: InlinePasswords = .refused) throws(PostgresEndpointError) -> PostgresEndpoint {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let fix = "write it as postgres://user@host:5432/database?sslmode=require, with the password as ${VAR} or in PGPASSWORD"
        var rest = Substring(trimmed)
        if rest.hasPrefix("postgres://") { rest = rest.dropFirst("postgres://".count) }
        else if rest.hasPrefix("postgresql://") { rest = rest.dropFirst("postgresql://".count) }
        else { throw PostgresEndpointError("'\(redacted(trimmed))' is not a PostgreSQL URL; \(fix)") }

        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring = ""
        // The user part may hold '/' inside a `${…}`; the path starts at the first '/' after '@'.
        let authorityStart = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        if let slash = rest[authorityStart...].firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var user: String?
        var password = Password.fromEnvironmentDefault
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = percentDecoded(userInfo[..<colon])
                let secret = String(userInfo[userInfo.index(after: colon)...])
                if let name = variableName(secret) {
                    password = .reference(.environment(name))
                } else if passwords == .inlineAllowed, let decoded = percentDecoded(Substring(secret)) {
                    password = .inline(decoded)
                } else {
                    throw PostgresEndpointError("the PostgreSQL URL '\(redacted(trimmed))' has a password written in it; secrets must not be written where they are read: write the password as ${VAR} (postgres://user:${PGPASSWORD}@host/db) or leave it out and set PGPASSWORD")
                }
            } else {
                user = percentDecoded(userInfo)
            }
        }
        var host = String(rest)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw PostgresEndpointError("the host in '\(redacted(trimmed))' opens '[' without closing it; \(fix)") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let n = Int(after.dropFirst()), (1...65535).contains(n) else { throw PostgresEndpointError("the port in '\(redacted(trimmed))' is not a number from 1 to 65535; \(fix)") }
                port = n
            } else if !after.isEmpty { throw PostgresEndpointError("'\(redacted(trimmed))' has text after the host; \(fix)") }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let n = Int(host[host.index(after: colon)...]), (1...65535).contains(n) else {
                throw PostgresEndpointError("the port in '\(redacted(trimmed))' is not a number from 1 to 65535; \(fix)")
            }
            port = n
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw PostgresEndpointError("the PostgreSQL URL '\(redacted(trimmed))' names no host; \(fix)") }
        guard let user, !user.isEmpty else {
            throw PostgresEndpointError("the PostgreSQL URL '\(redacted(trimmed))' names no user; \(fix)")
        }
        guard let database = percentDecoded(path), !database.isEmpty else {
            throw PostgresEndpointError("the PostgreSQL URL '\(redacted(trimmed))' names no database; \(fix)")
        }
        var tls = TLSMode.prefer
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0])
            let value = parts.count > 1 ? String(parts[1]) : ""
            switch key {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw PostgresEndpointError("sslmode '\(value)' in '\(redacted(trimmed))' is not one of disable, prefer, require, verify-full")
                }
                tls = mode
            default:
                throw PostgresEndpointError("the PostgreSQL URL '\(redacted(trimmed))' has the parameter '\(key)', which syncjobs does not read; only sslmode is supported")
            }
        }
        return PostgresEndpoint(host: host, port: port, database: database, user: user, password: password, tls: tls)
    }

    /// `--state postgres://…` or `JOBS_STATE`: a URL on a command line (password refused inline,
    /// `${VAR}` read from `environment`), or one in the environment (inline password accepted).
    package static func fromCommandLine(_ text: String, fromEnvironment: Bool = false) throws(PostgresEndpointError) -> PostgresEndpoint {
        try parse(url: text, passwords: fromEnvironment ? .inlineAllowed : .refused)
    }

    /// Whether `text` looks like a PostgreSQL URL (for telling `--state` paths from URLs).
    package static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// `${NAME}` → NAME, when NAME is a valid environment variable name.
    package static func variableName(_ text: String) -> String? {
        guard text.hasPrefix("${"), text.hasSuffix("}") else { return nil }
        let name = String(text.dropFirst(2).dropLast())
        guard let first = name.first, !first.isNumber,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return nil }
        return name
    }

    /// The URL with anything between `user:` and `@` replaced, for messages about a bad URL.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let afterScheme = url[scheme.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "?" }) ?? afterScheme.endIndex
        guard let at = afterScheme[..<authorityEnd].lastIndex(of: "@"),
              let colon = afterScheme[..<at].firstIndex(of: ":") else { return url }
        let secret = String(afterScheme[afterScheme.index(after: colon)..<at])
        if variableName(secret) != nil { return url }
        return String(url[..<afterScheme.index(after: colon)]) + "…" + String(url[at...])
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        String(text).removingPercentEncoding
    }

    /// The password to log in with, read now; nil for none.
    package func resolvedPassword(environment: [String: String]) throws(PostgresConnectError) -> String? {
        switch password {
        case .fromEnvironmentDefault:
            return environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        case .inline(let value):
            return value
        case .reference(.environment(let name)):
            guard let value = environment[name], !value.isEmpty else {
                throw PostgresConnectError("the password for \(serverPhrase) is read from the environment variable \(name), which is not set; export it before running the job", kind: .notConfigured)
            }
            return value
        case .reference(.file(let path)):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw PostgresConnectError("the password for \(serverPhrase) is read from the file \(Paths.display(path)), which cannot be read; check it exists and is readable", kind: .notConfigured)
            }
            let value = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first
                .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard !value.isEmpty else {
                throw PostgresConnectError("the password for \(serverPhrase) is read from the file \(Paths.display(path)), which is empty", kind: .notConfigured)
            }
            return value
        }
    }
}

/// A connection URL or map that cannot be read; the message never holds the password.
package struct PostgresEndpointError: Error, CustomStringConvertible, Equatable {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
