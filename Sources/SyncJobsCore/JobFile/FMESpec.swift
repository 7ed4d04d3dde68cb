/// `destination: { type: fme, ... }`: Harness FME (Split) events (README "Sending to Harness FME").
package struct FMESpec: Sendable {
    /// The events API base, `https://events.split.io/api` unless `url:` says otherwise.
    package var baseURL: String
    /// The server-side SDK key, sent as a Bearer token; only by reference.
    package var apiKey: SecretReference
    package var environmentName: String?
    /// FME traffic type → mParticle identity (an Events API key, or `mpid`), in the job file's order.
    package var trafficTypes: [(trafficType: String, identity: String)]
    /// Events older than this are rejected, as the real integration drops them; nil: `off`.
    package var maxEventAgeMillis: Int64?
    package var maxInFlight: Int
    package var retryForMillis: Int64
    package var timeoutMillis: Int64

    package static let defaultBaseURL = "https://events.split.io/api"
    package static let defaultMaxEventAgeMillis: Int64 = 24 * 3_600_000
    package static let defaultMaxInFlight = 4
    /// The identities FME's mParticle event output can map a traffic type to.
    package static let identities = ["mpid"] + FMEImpressionsSpec.identities
}

extension JobFileParser {
    static let fmeDestinationKeys = ["type", "environment", "url", "api_key", "environment_name", "traffic_types", "max_event_age",
                                     "max_in_flight", "retry_for", "timeout"]

    static func parseFME(_ map: YAMLReader.Map, reader: YAMLReader, directory: String) -> FMESpec? {
        var baseURL = FMESpec.defaultBaseURL
        if let url = map.string("url") {
            var trimmed = url
            while trimmed.hasSuffix("/") { trimmed.removeLast() }
            if !(trimmed.hasPrefix("http://") || trimmed.hasPrefix("https://")) || trimmed.count <= "https://".count {
                reader.error(map.value("url"), "'destination.url' is '\(url)', which is not an http:// or https:// URL",
                             fix: "write the events API base, e.g. 'url: https://events.split.io/api', or leave it out for that")
            } else {
                baseURL = trimmed
            }
        }
        let apiKey = parseSecret(map, "api_key", reader: reader, directory: directory, example: "FME_SDK_KEY",
                                 destination: "an fme destination")
        let environmentName = map.string("environment_name")
        var trafficTypes: [(trafficType: String, identity: String)] = []
        var valid = true
        if let types = map.map("traffic_types") {
            for pair in types.pairs {
                guard let identity = types.string(pair.key) else {
                    reader.error(pair.value, "traffic type '\(pair.key)' in 'destination.traffic_types' has no identity",
                                 fix: "write '\(pair.key): customer_id'")
                    valid = false
                    continue
                }
                guard FMESpec.identities.contains(identity) else {
                    reader.error(pair.value, "'destination.traffic_types.\(pair.key)' is '\(identity)', which is not an identity FME's mParticle output can map",
                                 fix: Spelling.hint(for: identity, among: FMESpec.identities, noun: "one of"))
                    valid = false
                    continue
                }
                trafficTypes.append((pair.key, identity))
            }
            if types.pairs.isEmpty {
                reader.error(types.node, "'destination.traffic_types' is empty", fix: "map at least one FME traffic type, e.g. 'traffic_types: { user: customer_id }'")
                valid = false
            }
        } else if !map.has("traffic_types") {
            reader.error(map.node, "an fme destination needs 'traffic_types:', the FME traffic type each mParticle identity is sent as",
                         fix: "add e.g. 'traffic_types: { user: customer_id, anonymous: other }'")
            valid = false
        }
        var maxEventAge: Int64? = FMESpec.defaultMaxEventAgeMillis
        if let text = map.string("max_event_age") {
            if text == "off" {
                maxEventAge = nil
            } else if let ms = IteratorType.timestamp.parseLookback(text), case .int(let n) = ms, n > 0 {
                maxEventAge = n
            } else {
                reader.error(map.value("max_event_age"), "'destination.max_event_age' is '\(text)', which is not a duration",
                             fix: "write a duration like '24h' or '7d', or 'off' to send events of any age")
            }
        }
        let maxInFlight = parseMaxInFlight(map, default: FMESpec.defaultMaxInFlight, reader: reader)
        let retryFor = parseDuration(map, "retry_for", default: MParticleSpec.defaultRetryForMillis, reader: reader)
        let timeout = parseDuration(map, "timeout", default: MParticleSpec.defaultTimeoutMillis, reader: reader)
        guard let apiKey, valid else { return nil }
        return FMESpec(baseURL: baseURL, apiKey: apiKey, environmentName: environmentName, trafficTypes: trafficTypes,
                       maxEventAgeMillis: maxEventAge, maxInFlight: maxInFlight, retryForMillis: retryFor, timeoutMillis: timeout)
    }
}
