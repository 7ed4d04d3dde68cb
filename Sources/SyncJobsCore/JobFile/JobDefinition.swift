/// A parsed, structurally valid job file. Checks that need the source (do the columns exist?)
/// happen when the mapping is compiled against the source's columns.
public struct JobDefinition: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case user, event }

    public var name: String
    /// Absolute path of the job file; relative paths inside it resolve against its folder.
    public var filePath: String
    public var kind: Kind
    public var source: SourceSpec
    public var mapping: [MappingEntry]
    public var sync: SyncSpec
    public var schedule: ScheduleSpec
    public var destination: DestinationSpec
    /// `key:`: the columns that identify one delivery of a row; its `source_request_id` is derived
    /// from them (with the iterator value in incremental jobs). Nil: derived from the batch content.
    public var key: [String]?
    /// Where keys were written, for diagnostics found after parsing.
    public var locations: [String: SourceLocation]
    /// `mapping: looker`: the mapping is derived from the LookML tags of a Looker result when the
    /// source is opened, and `mapping` is empty until then.
    public var lookerTagMapping: LookerTagMapping? = nil

    public func location(_ key: String) -> SourceLocation {
        locations[key] ?? SourceLocation(file: Paths.display(filePath), line: 1, column: 1)
    }
}

public enum FileFormat: String, Sendable, CaseIterable {
    case csv, tsv, ndjson, json
    /// A Looker `json_detail` query result: fields with their LookML tags, then rows of cells.
    case looker
}

public enum SourceSpec: Sendable {
    case sqlite(path: String, selection: SQLiteSelection)
    case file(path: String, format: FileFormat)

    public var path: String {
        switch self {
        case .sqlite(let path, _), .file(let path, _): return path
        }
    }
}

public enum SQLiteSelection: Sendable, Hashable {
    case table(String)
    case query(String)
}

/// One entry of the `mapping:` list.
public struct MappingEntry: Sendable {
    public enum Input: Sendable, Hashable {
        case column(String)
        case staticValue(Value)
        case ignore(String)
        /// `$unmapped`: every column that no other entry maps or ignores.
        case unmapped
    }

    public var input: Input
    /// The dot path in the batch (`user_attributes.plan`); nil for `ignore`.
    public var target: String?
    public var type: ValueType?
    public var location: SourceLocation
    public var targetLocation: SourceLocation
}

/// How `mapping: looker` derives a mapping (README "Looker query results").
public struct LookerTagMapping: Sendable {
    /// `identity_names:`: the Events API's keys (`customer_id`, `other_id_2`), or the spellings
    /// the Looker action sends (`customerid`, `other2`).
    public enum IdentityNames: String, Sendable, CaseIterable { case canonical, looker }

    public var identityNames: IdentityNames

    public init(identityNames: IdentityNames = .canonical) { self.identityNames = identityNames }
}

/// Conversions a mapping entry may ask for with `type:`.
public enum ValueType: String, Sendable, CaseIterable {
    case string, integer, number, boolean
    case timestampMs = "timestamp_ms"
    case list
}

public struct SyncSpec: Sendable {
    public enum Mode: String, Sendable, CaseIterable { case incremental, full }

    public var mode: Mode
    public var iterator: String?
    public var iteratorType: IteratorType?
    /// The sync start: rows whose iterator is below it are never read.
    public var from: IteratorValue?
    /// How far below the checkpoint each run starts again, in the iterator's own units
    /// (milliseconds for time iterators).
    public var lookback: IteratorValue?
    public var lookbackText: String?
    /// Catch-up and backfill window length in milliseconds; default: the schedule's frequency.
    public var backfillWindow: Int64?

    public static let full = SyncSpec(mode: .full)

    public init(mode: Mode, iterator: String? = nil, iteratorType: IteratorType? = nil, from: IteratorValue? = nil,
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

public struct ScheduleSpec: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case interval, once
        case onDemand = "on_demand"
    }
    public enum Frequency: String, Sendable, CaseIterable { case hourly, daily, weekly, monthly }

    public var kind: Kind
    public var frequency: Frequency?
    /// Milliseconds since the epoch.
    public var start: Int64?
    public var end: Int64?
    public var timezone: String?

    public static let onDemand = ScheduleSpec(kind: .onDemand)

    public init(kind: Kind, frequency: Frequency? = nil, start: Int64? = nil, end: Int64? = nil, timezone: String? = nil) {
        self.kind = kind
        self.frequency = frequency
        self.start = start
        self.end = end
        self.timezone = timezone
    }
}

public enum Environment: String, Sendable, CaseIterable { case development, production }

public struct DestinationSpec: Sendable {
    public enum Kind: Sendable {
        /// NDJSON: one line per request, the JSON array exactly as it would be POSTed.
        case file(path: String)
        /// The mParticle Events API.
        case mparticle(MParticleSpec)
    }

    public var kind: Kind
    public var environment: Environment

    public var typeName: String {
        switch kind {
        case .file: return "file"
        case .mparticle: return "mparticle"
        }
    }
}

/// Where a secret comes from. The value itself is only read when a run opens the destination, and
/// is never printed.
public enum SecretReference: Sendable, Equatable, CustomStringConvertible {
    /// `${NAME}`: an environment variable.
    case environment(String)
    /// `{ file: path }`: the first line of a file (absolute path).
    case file(String)

    public var description: String {
        switch self {
        case .environment(let name): return "${\(name)}"
        case .file(let path): return "file \(Paths.display(path))"
        }
    }
}

/// `destination: { type: mparticle, ... }`.
public struct MParticleSpec: Sendable {
    public enum Pod: String, Sendable, CaseIterable { case us1, us2, eu1, au1 }
    public enum Historical: String, Sendable, CaseIterable { case auto, never }

    /// A pod, or nil when `url:` names the endpoint base instead.
    public var pod: Pod?
    /// The base URL ending in `/v2`, from the pod or `url:`.
    public var baseURL: String
    public var apiKey: SecretReference
    public var apiSecret: SecretReference
    public var maxInFlight: Int
    public var historical: Historical
    /// How long one request may be retried (429, 5xx, timeouts, dropped connections), in ms.
    public var retryForMillis: Int64
    /// How long one attempt may take before it counts as a timeout, in ms.
    public var timeoutMillis: Int64

    public static let defaultMaxInFlight = 8
    public static let defaultRetryForMillis: Int64 = 10 * 60_000
    public static let defaultTimeoutMillis: Int64 = 30_000

    public static func baseURL(for pod: Pod) -> String {
        switch pod {
        case .us1: return "https://s2s.us1.mparticle.com/v2"
        case .us2: return "https://s2s.us2.mparticle.com/v2"
        case .eu1: return "https://s2s.eu1.mparticle.com/v2"
        case .au1: return "https://s2s.au1.mparticle.com/v2"
        }
    }

    /// How errors name the endpoint: the pod, or the URL.
    public var endpointName: String { pod.map { "pod \($0.rawValue)" } ?? baseURL }
}
