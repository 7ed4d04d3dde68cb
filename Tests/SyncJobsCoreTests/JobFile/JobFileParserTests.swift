import Testing
@testable import SyncJobsCore

@Suite struct JobFileParserTests {
    func parse(_ yaml: String) throws -> (JobDefinition, [Diagnostic]) {
        try JobFileParser.parse(yaml, filePath: "/project/jobs/shop.yaml", displayPath: "jobs/shop.yaml")
    }

    func diagnostics(_ yaml: String) -> [String] {
        do {
            _ = try parse(yaml)
            return []
        } catch let error as JobFileError {
            return error.diagnostics.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    @Test func parsesEveryDocumentedKey() throws {
        let (job, warnings) = try parse("""
            name: shop-users
            type: user
            source:
              sqlite: ../examples/shop.db
              query: |
                SELECT customer_id, email FROM users
            mapping:
              - { column: customer_id, to: user_identities.customer_id }
              - { static: 3, to: user_attributes.tier, type: string }
              - { ignore: updated_at }
              - { column: $unmapped, to: user_attributes.* }
            sync:
              mode: incremental
              iterator: updated_at
              iterator_type: timestamp
              from: 2026-01-01T00:00:00Z
              lookback: 1h
            schedule:
              type: interval
              frequency: daily
              start: 2026-11-15T19:00:00Z
              timezone: Europe/Berlin
            destination:
              type: file
              path: ../out/shop-users.ndjson
              environment: production
            """)
        #expect(warnings.isEmpty)
        #expect(job.name == "shop-users")
        #expect(job.kind == .user)
        guard case .sqlite(let path, .query(let query)) = job.source else {
            Issue.record("expected a SQLite query source")
            return
        }
        #expect(path == "/project/examples/shop.db")
        #expect(query == "SELECT customer_id, email FROM users\n")
        #expect(job.mapping.map(\.input) == [.column("customer_id"), .staticValue(.int(3)), .ignore("updated_at"), .unmapped])
        #expect(job.mapping.map(\.target) == ["user_identities.customer_id", "user_attributes.tier", nil, "user_attributes.*"])
        #expect(job.mapping[1].type == .string)
        #expect(job.sync.mode == .incremental)
        #expect(job.sync.iterator == "updated_at")
        #expect(job.sync.iteratorType == .timestamp)
        #expect(job.sync.from == .int(1_767_225_600_000))
        #expect(job.sync.lookback == .int(3_600_000))
        #expect(job.schedule.kind == .interval)
        #expect(job.schedule.frequency == .daily)
        #expect(job.schedule.start == 1_794_769_200_000)
        #expect(job.schedule.timezone == "Europe/Berlin")
        guard case .file(let out) = job.destination.kind else {
            Issue.record("expected a file destination, got \(job.destination.kind)")
            return
        }
        #expect(out == "/project/out/shop-users.ndjson")
        #expect(job.destination.environment == .production)
    }

    @Test func defaultsNameDestinationAndFormat() throws {
        let (job, _) = try parse("""
            type: event
            source: { file: data/events.tsv }
            mapping: []
            """)
        #expect(job.name == "shop")
        guard case .file(let path, let format) = job.source else {
            Issue.record("expected a file source, got \(job.source)")
            return
        }
        #expect(path == "/project/jobs/data/events.tsv")
        #expect(format == .tsv)
        guard case .file(let out) = job.destination.kind else {
            Issue.record("expected a file destination, got \(job.destination.kind)")
            return
        }
        #expect(out == "/project/out/shop.ndjson")
        #expect(job.destination.environment == .development)
        #expect(job.sync.mode == .full)
        #expect(job.schedule.kind == .onDemand)
    }

    @Test func misspeltKeysSayWhereAndSuggest() {
        #expect(diagnostics("""
            type: user
            source:
              sqlite: shop.db
              tabel: users
            mapping: []
            sync:
              mode: incremental
              iteratr: updated_at
              iterator_type: timestamp
            """) == [
            "jobs/shop.yaml:3:3: a SQLite source needs 'table:' or 'query:'; add 'table: users' or 'query: SELECT …'",
            "jobs/shop.yaml:4:3: unknown key 'source.tabel'; did you mean 'table'?",
            "jobs/shop.yaml:7:3: an incremental sync needs 'iterator:'; name the column that grows with each change, e.g. 'iterator: updated_at'",
            "jobs/shop.yaml:8:3: unknown key 'sync.iteratr'; did you mean 'iterator'?",
        ])
    }

    @Test func wrongValuesListWhatIsAllowed() {
        #expect(diagnostics("""
            type: users
            source: { file: a.csv }
            mapping:
              - { colum: email, to: user_identities.email }
              - { column: email }
            sync: { mode: incremental, iterator: ts, iterator_type: timestamp, from: yesterday }
            schedule: { type: interval, frequency: dayly, start: 2026-11-15T19:00:00 }
            destination: { type: mparticl }
            """) == [
            "jobs/shop.yaml:1:7: 'type' is 'users', which is not allowed; did you mean 'user'?",
            "jobs/shop.yaml:4:5: a mapping entry needs one of 'column:', 'static:' or 'ignore:'; add 'column: <source column>' (or 'static: <value>', or 'ignore: <column>')",
            "jobs/shop.yaml:4:7: unknown key 'mapping.colum'; did you mean 'column'?",
            "jobs/shop.yaml:5:5: the mapping entry has no 'to:'; add 'to:' with a batch path such as 'user_attributes.plan'",
            "jobs/shop.yaml:6:74: 'sync.from' is 'yesterday', which is not an ISO 8601 timestamp like 2026-01-01T00:00:00Z; write it as an ISO 8601 timestamp like 2026-01-01T00:00:00Z",
            "jobs/shop.yaml:7:40: 'schedule.frequency' is 'dayly', which is not allowed; did you mean 'daily'?",
            "jobs/shop.yaml:7:54: 'schedule.start' is '2026-11-15T19:00:00', which is not an ISO 8601 time with an offset; write it like 2026-11-15T19:00:00Z or 2026-11-15T20:00:00+01:00",
            "jobs/shop.yaml:8:22: 'destination.type' is 'mparticl', which is not a destination; did you mean 'mparticle'?",
        ])
    }

    @Test func yamlSyntaxErrorsPointAtTheLine() {
        let lines = diagnostics("""
            type: user
            source:
              file: a.csv
             format: csv
            """)
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("jobs/shop.yaml:4:") == true)
        #expect(lines.first?.contains("YAML syntax error") == true)
    }

    @Test func fullSyncsRejectIteratorKeys() {
        #expect(diagnostics("""
            type: user
            source: { file: a.csv }
            mapping: []
            sync: { mode: full, iterator: updated_at }
            """) == ["jobs/shop.yaml:4:21: 'sync.iterator' applies to incremental syncs only; remove it, or set 'mode: incremental'"])
    }

    @Test func lookbackMustMatchTheIteratorType() {
        #expect(diagnostics("""
            type: user
            source: { file: a.csv }
            mapping: []
            sync: { mode: incremental, iterator: id, iterator_type: integer, lookback: 1h }
            """) == ["jobs/shop.yaml:4:76: 'sync.lookback' is '1h'; it must be a non-negative number; write it as a non-negative number"])
    }

    static let mparticleJob = """
        type: event
        source: { file: a.csv }
        mapping:
          - { column: email, to: user_identities.email }
          - { column: name, to: events.data.event_name }
        key: [email, name]
        destination:
        """

    @Test func parsesAnMParticleDestination() throws {
        let (job, _) = try parse(Self.mparticleJob + """

              type: mparticle
              pod: eu1
              api_key: ${MP_KEY}
              api_secret: { file: ../secrets/mp }
              environment: production
              max_in_flight: 4
              historical: never
              retry_for: 2m
              timeout: 5s
            """)
        guard case .mparticle(let spec) = job.destination.kind else {
            Issue.record("not an mparticle destination")
            return
        }
        #expect(spec.pod == .eu1)
        #expect(spec.baseURL == "https://s2s.eu1.mparticle.com/v2")
        #expect(spec.apiKey == .environment("MP_KEY"))
        #expect(spec.apiSecret == .file("/project/secrets/mp"))
        #expect(spec.maxInFlight == 4)
        #expect(spec.historical == .never)
        #expect(spec.retryForMillis == 120_000)
        #expect(spec.timeoutMillis == 5_000)
        #expect(job.destination.environment == .production)
        #expect(job.key == ["email", "name"])

        let (byURL, _) = try parse(Self.mparticleJob + " { type: mparticle, url: 'http://127.0.0.1:8080/v2/', api_key: '${K}', api_secret: '${S}' }")
        guard case .mparticle(let local) = byURL.destination.kind else {
            Issue.record("expected an mparticle destination, got \(byURL.destination.kind)")
            return
        }
        #expect(local.baseURL == "http://127.0.0.1:8080/v2")
        #expect(local.pod == nil)
        #expect(local.maxInFlight == 8)
        #expect(local.historical == .auto)
        #expect(local.retryForMillis == 600_000)
    }

    @Test func secretsMustNotBeInlineAndAreNeverEchoed() {
        let lines = diagnostics(Self.mparticleJob + """

              type: mparticle
              pod: us3
              url: http://localhost:1/v2   # reported once the pod is valid
              api_key: 1a2b3c4d5e
              api_secret: ${}
              max_in_flight: 0
              retry: 1m
            """)
        #expect(lines == [
            "jobs/shop.yaml:9:8: 'destination.pod' is 'us3', which is not allowed; did you mean 'us1'?",
            "jobs/shop.yaml:11:12: 'destination.api_key' is written inline; secrets must not be in job files; write 'api_key: ${MPARTICLE_API_KEY}' and set that environment variable, or 'api_key: { file: path/to/secret }'",
            "jobs/shop.yaml:12:15: 'destination.api_secret' names an environment variable that is not a valid name; write 'api_secret: ${MPARTICLE_API_SECRET}' and set that environment variable, or 'api_secret: { file: path/to/secret }'",
            "jobs/shop.yaml:13:18: 'destination.max_in_flight' is '0'; it must be a whole number from 1 to 64; write e.g. 'max_in_flight: 8'",
            "jobs/shop.yaml:14:3: unknown key 'destination.retry'; use one of the keys 'type', 'environment', 'pod', 'url', 'api_key', 'api_secret', 'max_in_flight', 'historical', 'retry_for', 'timeout'",
        ])
        #expect(!lines.joined().contains("1a2b3c4d5e"))
        #expect(diagnostics(Self.mparticleJob + " { type: mparticle }") == [
            "jobs/shop.yaml:7:14: an mparticle destination needs 'pod:' (or 'url:'); add 'pod:' with one of 'us1', 'us2', 'eu1', 'au1': the pod of your mParticle workspace",
            "jobs/shop.yaml:7:14: an mparticle destination needs 'api_key:'; write 'api_key: ${MPARTICLE_API_KEY}' and set that environment variable, or 'api_key: { file: path/to/secret }'",
            "jobs/shop.yaml:7:14: an mparticle destination needs 'api_secret:'; write 'api_secret: ${MPARTICLE_API_SECRET}' and set that environment variable, or 'api_secret: { file: path/to/secret }'",
        ])
    }

    // A scalar `key:` is the one-column list; plain text with a comma is refused, since it was
    // almost certainly meant as a list (README "Idempotency").
    @Test func aScalarKeyIsAOneColumnListAndACommaInItIsRefused() throws {
        let base = "type: user\nsource: { file: a.csv }\nmapping:\n  - { column: id, to: user_identities.customer_id }\n"
        #expect(try parse(base + "key: id\n").0.key == ["id"])
        #expect(try parse(base + "key: [id]\n").0.key == ["id"])
        #expect(try parse(base + "key: 'a,b'\n").0.key == ["a,b"])
        #expect(diagnostics(base + "key: id, updated_at\n") == [
            "jobs/shop.yaml:5:6: 'key' is the single value 'id, updated_at'; several columns must be written as a list; write 'key: [id, updated_at]', or quote the value if it is one column whose name has a comma",
        ])
        #expect(diagnostics(base + "key: { id: 1 }\n") == [
            "jobs/shop.yaml:5:6: 'key' must be a list of column names; write the columns that identify a row, e.g. 'key: [customer_id, event_id]'",
        ])
    }
}
