import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

extension PostgresEndpoint {
    /// How long connecting may take before the host counts as unreachable.
    package static let connectTimeout: TimeAmount = .seconds(10)

    private static let connectionIDs = Atomic<Int>(0)

    /// Opens a connection and logs in. Throws `PostgresConnectError` naming host, port and
    /// database, and what to fix: an unreachable host, refused credentials, a missing database.
    package func connect(logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> PostgresConnection {
        let configuration = try makeConfiguration(environment: environment)
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: Self.nextID(), logger: logger)
        } catch {
            throw explain(error)
        }
    }

    /// `connect`, for synchronous callers (opening a source, `jobs validate`). It blocks the
    /// calling thread, never an event loop: the connection runs on the driver's own event loops.
    package func connectWaiting(logger: Logger, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresConnection {
        let configuration = try makeConfiguration(environment: environment)
        do {
            return try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(), configuration: configuration,
                                                  id: Self.nextID(), logger: logger).wait()
        } catch {
            throw explain(error)
        }
    }

    private static func nextID() -> Int { connectionIDs.add(1, ordering: .relaxed).newValue }

    private func makeConfiguration(environment: [String: String]) throws -> PostgresConnection.Configuration {
        let password = try resolvedPassword(environment: environment)
        let tlsSetting: PostgresConnection.Configuration.TLS
        do {
            switch tls {
            case .disable:
                tlsSetting = .disable
            case .prefer, .require:
                var settings = TLSConfiguration.makeClientConfiguration()
                settings.certificateVerification = .none
                let context = try NIOSSLContext(configuration: settings)
                tlsSetting = tls == .prefer ? .prefer(context) : .require(context)
            case .verifyFull:
                tlsSetting = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        } catch {
            throw PostgresConnectError("cannot set up TLS for \(serverPhrase): \(error)", kind: .unreachable)
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: tlsSetting)
        configuration.options.connectTimeout = Self.connectTimeout
        if tls == .verifyFull { configuration.options.tlsServerName = host }
        return configuration
    }

    /// The driver's error as a message that says what to fix.
    package func explain(_ error: any Error) -> PostgresConnectError {
        if let error = error as? PostgresConnectError { return error }
        let at = "\(host.contains(":") ? "[\(host)]" : host):\(port)"
        guard let error = error as? PSQLError else {
            return PostgresConnectError("cannot connect to \(serverPhrase): \(error)", kind: .unreachable)
        }
        switch error.code {
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            let message = error.serverInfo?[.message] ?? "refused"
            switch state {
            case "28P01", "28000":
                return PostgresConnectError("PostgreSQL at \(at) refused the login of user '\(user)' to database '\(database)': \(message); check the user and the password (\(passwordSource))", kind: .credentials)
            case "3D000":
                return PostgresConnectError("database '\(database)' does not exist on PostgreSQL at \(at); create it, or fix the database name in the connection", kind: .missingDatabase)
            case "53300":
                return PostgresConnectError("PostgreSQL at \(at) (database '\(database)') has no connection free: \(message); retry later, or raise max_connections", kind: .unreachable)
            default:
                return PostgresConnectError("PostgreSQL at \(at) (database '\(database)') refused the connection: \(message) (SQLSTATE \(state))", kind: .refused)
            }
        case .sslUnsupported:
            return PostgresConnectError("PostgreSQL at \(at) (database '\(database)') does not offer TLS, and sslmode=\(tls.rawValue) requires it; enable ssl on the server, or set sslmode=prefer or disable on a trusted network", kind: .unreachable)
        case .authMechanismRequiresPassword:
            return PostgresConnectError("PostgreSQL at \(at) asks user '\(user)' for a password to database '\(database)', and none is given; set it (\(passwordSource))", kind: .credentials)
        case .unsupportedAuthMechanism, .saslError:
            return PostgresConnectError("PostgreSQL at \(at) (database '\(database)') asks for a login method syncjobs cannot use (\(error.code)); allow scram-sha-256, md5 or password for user '\(user)' in pg_hba.conf", kind: .credentials)
        default:
            let reason = Self.reason(error.underlying ?? error)
            return PostgresConnectError("cannot connect to PostgreSQL at \(at) (database '\(database)'): \(reason); check the host and port, and that the server is running and accepts TCP connections from this machine", kind: .unreachable)
        }
    }

    /// Where the password was looked for, for the refused-login message.
    private var passwordSource: String {
        switch password {
        case .fromEnvironmentDefault: return "no password is set in the connection; PGPASSWORD is used when set"
        case .inline: return "the password is the one in the connection URL"
        case .reference(let reference): return "the password is read from \(reference)"
        }
    }

    /// What the socket layer said, in words.
    static func reason(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            if let failure = error.connectionErrors.first { return reason(failure.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "the host name does not resolve" }
            return "no address to connect to"
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ETIMEDOUT: return "the connection timed out"
            case EHOSTUNREACH, ENETUNREACH: return "the host is unreachable"
            default: return String(cString: strerror(error.errnoCode))
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return "no answer within \(connectTimeout.nanoseconds / 1_000_000_000) s"
        }
        if let error = error as? PSQLError, error.code == .serverClosedConnection {
            return "the server closed the connection"
        }
        return "\(error)"
    }
}

/// A connection that could not be opened, said so that the user knows what to fix.
package struct PostgresConnectError: Error, CustomStringConvertible {
    /// `notConfigured`: the password's variable or file is missing, so no login was tried.
    package enum Kind: Sendable { case unreachable, notConfigured, credentials, missingDatabase, refused }
    package var message: String
    package var kind: Kind
    package init(_ message: String, kind: Kind) {
        self.message = message
        self.kind = kind
    }
    package var description: String { message }
}
