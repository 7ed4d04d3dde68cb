/// A parsed, structurally valid job file. Checks that need the source (do the columns exist?)
/// happen when the mapping is compiled against the source's columns.
package struct JobDefinition: Sendable {
    package enum Kind: String, Sendable, CaseIterable { case user, event }

    package var name: String
    /// Absolute path of the job file; relative paths inside it resolve against its folder.
    package var filePath: String
    package var kind: Kind
    package var source: SourceSpec
    package var mapping: [MappingEntry]
    package var sync: SyncSpec
    package var schedule: ScheduleSpec
    package var destination: DestinationSpec
    /// `key:`: the columns that identify one delivery of a row; its `source_request_id` is derived
    /// from them (with the iterator value in incremental jobs). Nil: derived from the batch content.
    package var key: [String]?
    /// Where keys were written, for diagnostics found after parsing.
    package var locations: [String: SourceLocation]
    /// `mapping: looker`: the mapping is derived from the LookML tags of a Looker result when the
    /// source is opened, and `mapping` is empty until then.
    package var lookerTagMapping: LookerTagMapping? = nil
    /// `mapping: fme_impressions`: the mapping is derived from the impression fields the source has.
    package var fmeImpressions: FMEImpressionsSpec? = nil

    package func location(_ key: String) -> SourceLocation {
        locations[key] ?? SourceLocation(file: Paths.display(filePath), line: 1, column: 1)
    }
}

package enum FileFormat: String, Sendable, CaseIterable {
    case csv, tsv, ndjson, json
    /// A Looker `json_detail` query result: fields with their LookML tags, then rows of cells.
    case looker
    /// mParticle batches (Events API, raw-JSON output, Firehose), sent on as they are.
    case mparticle
}

package enum SourceSpec: Sendable {
    case sqlite(path: String, selection: SQLiteSelection)
    case file(path: String, format: FileFormat)
    case postgres(PostgresSourceSpec)

    /// SQLite and PostgreSQL: rows come from a query, in its order, not from a file.
    package var isDatabase: Bool {
        switch self {
        case .sqlite, .postgres: return true
        case .file: return false
        }
    }

    /// The database or file read; for PostgreSQL the connection as shown in messages.
    package var path: String {
        switch self {
        case .sqlite(let path, _), .file(let path, _): return path
        case .postgres(let spec):
            switch spec.connection {
            case .endpoint(let endpoint): return endpoint.description
            case .urlVariable(let name): return "${\(name)}"
            }
        }
    }
}

package enum SQLiteSelection: Sendable, Hashable {
    case table(String)
    case query(String)
}

/// One entry of the `mapping:` list.
package struct MappingEntry: Sendable {
    package enum Input: Sendable, Hashable {
        case column(String)
        case staticValue(Value)
        case ignore(String)
        /// `$unmapped`: every column that no other entry maps or ignores.
        case unmapped
    }

    package var input: Input
    /// The dot path in the batch (`user_attributes.plan`); nil for `ignore`.
    package var target: String?
    package var type: ValueType?
    package var location: SourceLocation
    package var targetLocation: SourceLocation
}

/// How `mapping: looker` derives a mapping (README "Looker query results").
package struct LookerTagMapping: Sendable {
    /// `identity_names:`: the Events API's keys (`customer_id`, `other_id_2`), or the spellings
    /// the Looker action sends (`customerid`, `other2`).
    package enum IdentityNames: String, Sendable, CaseIterable { case canonical, looker }

    package var identityNames: IdentityNames

    package init(identityNames: IdentityNames = .canonical) { self.identityNames = identityNames }
}

/// Conversions a mapping entry may ask for with `type:`.
package enum ValueType: String, Sendable, CaseIterable {
    case string, integer, number, boolean
    case timestampMs = "timestamp_ms"
    case list
}

package struct SyncSpec: Sendable {
    package enum Mode: String, Sendable, CaseIterable { case incremental, full }

    package var mode: Mode
    package var iterator: String?
    package var iteratorType: IteratorType?
    /// The sync start: rows whose iterator is below it are never read.
    package var from: IteratorValue?
    /// How far below the checkpoint each run starts again, in the iterator's own units
    /// (milliseconds for time iterators).
    package var lookback: IteratorValue?
    package var lookbackText: String?
    /// Catch-up and backfill window length in milliseconds; default: the schedule's frequency.
    package var backfillWindow: Int64?

    package static let full = SyncSpec(mode: .full)

    package init(mode: Mode, iterator: String? = nil, iteratorType: IteratorType? = nil, from: IteratorValue? = nil,
                lookback: IteratorValue? = nil, lookbackText: String? = nil, backfillWindow: Int64? = nil) {
        self.mode = mode
        self.iterator = iterator
        self.iteratorType = iteratorType
        self.from = from
        self.lookback = lookback
        self.lookbackText = lookbackText
        self.backfillWindow = backfillWindow
    }
}

package struct ScheduleSpec: Sendable {
    package enum Kind: String, Sendable, CaseIterable {
        case interval, once
        case onDemand = "on_demand"
    }
    package enum Frequency: String, Sendable, CaseIterable { case hourly, daily, weekly, monthly }

    package var kind: Kind
    package var frequency: Frequency?
    /// Milliseconds since the epoch.
    package var start: Int64?
    package var end: Int64?
    package var timezone: String?

    package static let onDemand = ScheduleSpec(kind: .onDemand)

    package init(kind: Kind, frequency: Frequency? = nil, start: Int64? = nil, end: Int64? = nil, timezone: String? = nil) {
        self.kind = kind
        self.frequency = frequency
        self.start = start
        self.end = end
        self.timezone = timezone
    }
}

package enum Environment: String, Sendable, CaseIterable { case development, production }

package struct DestinationSpec: Sendable {
    package enum Kind: Sendable {
        /// NDJSON: one line per request, the JSON array exactly as it would be POSTed.
        case file(path: String)
        /// The mParticle Events API.
        case mparticle(MParticleSpec)
        /// Harness FME (Split) events: each batch's events as FME events.
        case fme(FMESpec)
    }

    package var kind: Kind
    package var environment: Environment

    package var typeName: String {
        switch kind {
        case .file: return "file"
        case .mparticle: return "mparticle"
        case .fme: return "fme"
        }
    }
}

/// Where a secret comes from. The value itself is only read when a run opens the destination, and
/// is never printed.
package enum SecretReference: Sendable, Equatable, CustomStringConvertible {
    /// `${NAME}`: an environment variable.
    case environment(String)
    /// `{ file: path }`: the first line of a file (absolute path).
    case file(String)

    package var description: String {
        switch self {
        case .environment(let name): return "${\(name)}"
        case .file(let path): return "file \(Paths.display(path))"
        }
    }
}

/// `destination: { type: mparticle, ... }`.
package struct MParticleSpec: Sendable {
    package enum Pod: String, Sendable, CaseIterable { case us1, us2, eu1, au1 }
    package enum Historical: String, Sendable, CaseIterable { case auto, never }

    /// A pod, or nil when `url:` names the endpoint base instead.
    package var pod: Pod?
    /// The base URL ending in `/v2`, from the pod or `url:`.
    package var baseURL: String
    package var apiKey: SecretReference
    package var apiSecret: SecretReference
    package var maxInFlight: Int
    package var historical: Historical
    /// How long one request may be retried (429, 5xx, timeouts, dropped connections), in ms.
    package var retryForMillis: Int64
    /// How long one attempt may take before it counts as a timeout, in ms.
    package var timeoutMillis: Int64

    package static let defaultMaxInFlight = 8
    package static let defaultRetryForMillis: Int64 = 10 * 60_000
    package static let defaultTimeoutMillis: Int64 = 30_000

    package static func baseURL(for pod: Pod) -> String {
        switch pod {
        case .us1: return "https://s2s.us1.mparticle.com/v2"
        case .us2: return "https://s2s.us2.mparticle.com/v2"
        case .eu1: return "https://s2s.eu1.mparticle.com/v2"
        case .au1: return "https://s2s.au1.mparticle.com/v2"
        }
    }

    /// How errors name the endpoint: the pod, or the URL.
    package var endpointName: String { pod.map { "pod \($0.rawValue)" } ?? baseURL }
}
