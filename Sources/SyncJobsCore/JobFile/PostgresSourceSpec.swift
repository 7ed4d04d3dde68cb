import Yams

/// `source: { postgres: …, query: … | table: … }`.
package struct PostgresSourceSpec: Sendable {
    /// Where the server is: written in the job file, or a whole URL in an environment variable
    /// (`postgres: ${WAREHOUSE_URL}`), read when the source opens. Such a URL may hold the password,
    /// since it is not written where people read it.
    package enum Connection: Sendable, Equatable {
        case endpoint(PostgresEndpoint)
        case urlVariable(String)
    }

    package var connection: Connection
    package var selection: SQLiteSelection

    package init(connection: Connection, selection: SQLiteSelection) {
        self.connection = connection
        self.selection = selection
    }

    /// The endpoint, reading the URL variable now when there is one.
    package func endpoint(environment: [String: String]) throws -> PostgresEndpoint {
        switch connection {
        case .endpoint(let endpoint):
            return endpoint
        case .urlVariable(let name):
            guard let text = environment[name], !text.isEmpty else {
                throw SourceError("source.postgres reads the connection URL from the environment variable \(name), which is not set; export it (for example \(name)=postgres://user@host:5432/database) before running the job", unreachable: true)
            }
            do {
                return try PostgresEndpoint.parse(url: text, passwords: .inlineAllowed)
            } catch {
                throw SourceError("the environment variable \(name) (source.postgres) does not hold a PostgreSQL URL that can be read: \(error.message)")
            }
        }
    }
}

enum PostgresSourceParsing {
    static let mapKeys = ["host", "port", "database", "user", "password", "tls"]

    /// The `postgres:` value (a URL, `${VAR}` holding one, or a map) with `table:` or `query:`.
    static func parse(_ source: YAMLReader.Map, reader: YAMLReader, directory: String) -> SourceSpec? {
        let query = source.string("query")
        let table = source.string("table")
        let selection = JobFileParser.parseSelection(source, query: query, table: table, reader: reader, sourceName: "a PostgreSQL source")
        guard let node = source.value("postgres") else { return nil }
        var connection: PostgresSourceSpec.Connection?
        switch node {
        case .scalar(let scalar):
            let text = scalar.string.trimmingCharacters(in: .whitespaces)
            if let name = PostgresEndpoint.variableName(text) {
                connection = .urlVariable(name)
            } else if text.hasPrefix("${") {
                reader.error(node, "'source.postgres' names an environment variable that is not a valid name",
                             fix: "write 'postgres: ${WAREHOUSE_URL}' and export WAREHOUSE_URL=postgres://user@host:5432/database")
            } else {
                do {
                    connection = .endpoint(try PostgresEndpoint.parse(url: text))
                } catch {
                    reader.error(node, "'source.postgres': \(error.message)", fix: "or write the URL in an environment variable: 'postgres: ${WAREHOUSE_URL}'")
                }
            }
        case .mapping:
            connection = parseMap(YAMLReader.Map(reader: reader, node: node, path: "source.postgres"), reader: reader, directory: directory)
        default:
            reader.error(node, "'source.postgres' must be a URL, '${VAR}' or a map of host, port, database, user, password and tls, not a \(YAMLReader.kind(of: node))",
                         fix: "write 'postgres: ${WAREHOUSE_URL}' or 'postgres: { host: db.internal, database: warehouse, user: syncjobs, password: ${PGPASSWORD} }'")
        }
        guard let connection, let selection else { return nil }
        return .postgres(PostgresSourceSpec(connection: connection, selection: selection))
    }

    /// `{ host, port, database, user, password: ${PGPASSWORD}, tls: require|prefer|disable }`.
    static func parseMap(_ map: YAMLReader.Map, reader: YAMLReader, directory: String) -> PostgresSourceSpec.Connection? {
        defer { map.reportUnknownKeys(known: mapKeys) }
        let host = map.string("host", required: true, fix: "add 'host: db.internal'")
        let database = map.string("database", required: true, fix: "add 'database: warehouse'")
        let user = map.string("user", required: true, fix: "add 'user: syncjobs'")
        var port = PostgresEndpoint.defaultPort
        if let text = map.string("port") {
            if let n = Int(text), (1...65535).contains(n) {
                port = n
            } else {
                reader.error(map.value("port"), "'source.postgres.port' is '\(text)'; it must be a number from 1 to 65535", fix: "write e.g. 'port: 5432'")
            }
        }
        let tls = map.choice("tls", PostgresEndpoint.TLSMode.self) ?? .prefer
        var password = PostgresEndpoint.Password.fromEnvironmentDefault
        var passwordValid = true
        if map.has("password") {
            if let reference = JobFileParser.parseSecret(map, "password", reader: reader, directory: directory, example: "PGPASSWORD",
                                                         destination: "a PostgreSQL source", section: "source.postgres") {
                password = .reference(reference)
            } else {
                passwordValid = false
            }
        }
        guard let host, let database, let user, passwordValid else { return nil }
        return .endpoint(PostgresEndpoint(host: host, port: port, database: database, user: user, password: password, tls: tls))
    }
}
