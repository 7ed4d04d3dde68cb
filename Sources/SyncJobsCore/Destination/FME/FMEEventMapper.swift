/// Why an mParticle event is not sent to FME although nothing is wrong with it. Not an error:
/// the real mParticle → FME integration drops these too (reference §3.1). Hashable, so a caller
/// counts skips by reason.
package enum FMESkipReason: Hashable, Sendable, CustomStringConvertible {
    /// Any event type but the five FME takes: `uninstall`, `crash_report`, `opt_out`,
    /// `push_registration`, `application_state_transition`, `push_message`,
    /// `network_performance`, `breadcrumb`, and any other name.
    case eventType(String)
    /// A `commerce_event` without a `product_action`: a promotion or impression event.
    case commerceWithoutProductAction

    package var description: String {
        switch self {
        case .eventType(let type):
            return "event type '\(type)' is not sent to FME"
        case .commerceWithoutProductAction:
            return "a commerce event without a product action (promotion or impression) is not sent to FME"
        }
    }
}

/// What became of one mParticle event.
package enum FMEEventOutcome: Sendable, Equatable {
    /// One FME event per mapped identity present on the batch, times one per product of a
    /// product action; never empty.
    case send([FMEEvent])
    case skipped(FMESkipReason)
    /// The event cannot be sent; the reason says why (a limit, a missing identity or timestamp, a
    /// name with nothing left for an eventTypeId). All of an event's FME events go, or none.
    case rejected(String)
}

/// What became of each event of one batch, in the batch's order.
package struct FMEBatchOutcome: Sendable, Equatable {
    package var outcomes: [FMEEventOutcome]

    package init(outcomes: [FMEEventOutcome]) { self.outcomes = outcomes }

    /// Every FME event to send, in order.
    package var events: [FMEEvent] {
        outcomes.flatMap { outcome -> [FMEEvent] in
            if case .send(let events) = outcome { return events }
            return []
        }
    }

    /// How many events were skipped, by reason.
    package var skipCounts: [FMESkipReason: Int] {
        var counts: [FMESkipReason: Int] = [:]
        for case .skipped(let reason) in outcomes { counts[reason, default: 0] += 1 }
        return counts
    }

    /// The rejected events: their 0-based index in the batch's `events`, and why.
    package var rejections: [(index: Int, reason: String)] {
        outcomes.enumerated().compactMap { index, outcome in
            if case .rejected(let reason) = outcome { return (index, reason) }
            return nil
        }
    }

    package static func == (a: FMEBatchOutcome, b: FMEBatchOutcome) -> Bool { a.outcomes == b.outcomes }
}

/// Maps one mParticle batch (the Events API inbound shape: what every job produces and what
/// `MParticleBatchShapes` normalizes to) into FME events, as the mParticle → FME event output
/// does (reference §3, the Harness FME mParticle guide's tables). Pure: the clock is a parameter.
package struct FMEEventMapper: Sendable {
    /// One traffic type and the identity that gives its key: an Events API `user_identities` key
    /// (`customer_id`, `email`, `other`, `other_id_2` …) or `mpid` for the batch's mpid.
    package struct TrafficTypeIdentity: Sendable, Equatable {
        package var trafficType: String
        package var identity: String
    }

    /// The identities FME's UI offers to map (reference §3.1); the mapper reads any Events API key.
    package static let offeredIdentities = ["mpid", "customer_id", "email", "facebook", "twitter", "google", "microsoft",
                                            "yahoo", "other", "other_id_2", "other_id_3", "other_id_4"]
    /// The real integration's limit: "FME does not accept data more than 24 hours old" (§3.1).
    package static let defaultMaxEventAge: Int64 = 86_400_000

    package static let acceptedEventTypes: Set<String> = ["custom_event", "screen_view", "session_start", "session_end", "commerce_event"]

    package let trafficTypes: [TrafficTypeIdentity]
    package let environmentName: String?
    /// Milliseconds; nil sends events of any age.
    package let maxEventAge: Int64?

    /// `trafficTypes` in the job's order, which is the order of the fan-out.
    package init(trafficTypes: [(trafficType: String, identity: String)], environmentName: String?, maxEventAge: Int64?) {
        self.trafficTypes = trafficTypes.map { TrafficTypeIdentity(trafficType: $0.trafficType, identity: $0.identity) }
        self.environmentName = environmentName
        self.maxEventAge = maxEventAge
    }

    /// One outcome per element of the batch's `events` (none when it has no events), checked in
    /// this order: the event's shape, its type (skips), the batch's identities, the eventTypeId,
    /// the timestamp and its age, then each FME event's limits. Skips come before the identity
    /// check, so an event FME never takes counts as skipped even on a batch without identities.
    package func map(_ batch: Value, now: Int64) -> FMEBatchOutcome {
        guard case .array(let events)? = batch["events"] else { return FMEBatchOutcome(outcomes: []) }
        let keys = identityKeys(batch)
        return FMEBatchOutcome(outcomes: events.map { mapEvent($0, batch: batch, keys: keys, now: now) })
    }

    /// The (traffic type, key) pairs of the batch, in configuration order: one per mapped identity
    /// that is present and not empty. Two identities mapped to one traffic type give two pairs
    /// (FME "creates two events", §3.1), and so does one identity mapped to two traffic types.
    func identityKeys(_ batch: Value) -> [(trafficType: String, identity: String, key: String)] {
        trafficTypes.compactMap { mapping in
            let value = mapping.identity == "mpid" ? batch["mpid"] : batch["user_identities"]?[mapping.identity]
            guard let text = value?.scalarText, !text.isEmpty else { return nil }
            return (mapping.trafficType, mapping.identity, text)
        }
    }

    private func mapEvent(_ event: Value, batch: Value, keys: [(trafficType: String, identity: String, key: String)],
                          now: Int64) -> FMEEventOutcome {
        guard case .object = event else { return .rejected("the event is \(event.kindPhrase), not an object") }
        guard case .string(let type)? = event["event_type"] else { return .rejected("the event has no event_type") }
        let data = event["data"] ?? .object([])
        guard Self.acceptedEventTypes.contains(type) else { return .skipped(.eventType(type)) }
        if type == "commerce_event" {
            guard case .object? = data["product_action"] else { return .skipped(.commerceWithoutProductAction) }
        }
        guard !keys.isEmpty else {
            let wanted = Format.names(Array(uniqued(trafficTypes.map(\.identity))))
            return .rejected("the batch has none of the identities mapped to FME traffic types: \(wanted)")
        }

        let eventTypeId: String
        switch eventTypeName(type: type, data: data) {
        case .success(let id): eventTypeId = id
        case .failure(let problem): return .rejected(problem.message)
        }

        let timestamp: Int64
        switch eventTime(data: data, batch: batch) {
        case .success(let ms): timestamp = ms
        case .failure(let problem): return .rejected(problem.message)
        }
        if let maxEventAge, now - timestamp > maxEventAge {
            return .rejected("event at \(Timestamp.format(millis: timestamp)) is older than max_event_age \(Self.ageText(maxEventAge))")
        }

        let foreignId = Self.eventID(data)
        let properties = FMEProperties(type: type, data: data, eventID: foreignId)
        var out: [FMEEvent] = []
        for pair in keys {
            if pair.key.unicodeScalars.count > FMELimits.maxKeyLength {
                return .rejected("the \(pair.identity) key for traffic type '\(pair.trafficType)' is \(pair.key.unicodeScalars.count) characters long; FME keys are at most \(FMELimits.maxKeyLength)")
            }
            for product in properties.perProduct {
                let fme = FMEEvent(eventTypeId: eventTypeId, trafficTypeName: pair.trafficType, key: pair.key,
                                   environmentName: environmentName, timestamp: timestamp, foreignId: foreignId,
                                   properties: properties.leading + product + properties.attributes)
                if fme.properties.count > FMELimits.maxProperties {
                    return .rejected("the event has \(fme.properties.count) properties; FME takes at most \(FMELimits.maxProperties)")
                }
                let size = fme.estimatedSize
                if size > FMELimits.maxEstimatedSize {
                    return .rejected("the event's estimated size is \(size) bytes (1024 + property keys + string values); FME takes at most \(FMELimits.maxEstimatedSize)")
                }
                out.append(fme)
            }
        }
        return .send(out)
    }

    /// The event name for custom events; for the others the Firehose event type name:
    /// `session_start`, `session_end`, `screen_view`, `product_action`.
    ///
    /// UNCONFIRMED (§3.3 item 1): FME's tables say only "event type". The Firehose names are the
    /// runner choice: the real output is a Firehose integration, and they equal the Events API
    /// `event_type` except commerce (`commerce_event` there); the product action (`purchase` …)
    /// is a property instead.
    private func eventTypeName(type: String, data: Value) -> Result<String, FMEProblem> {
        switch type {
        case "custom_event":
            guard let name = data["event_name"], !name.isNull else {
                return .failure(FMEProblem("a custom_event without an event_name has no FME eventTypeId"))
            }
            let text = name.scalarText ?? JSONWriter.compact(name)
            guard let id = FMEEventTypeID.clean(text) else {
                return .failure(FMEProblem("event name '\(text)' leaves nothing for an FME eventTypeId (letters, digits, '-', '_', '.', ':', starting with a letter or digit)"))
            }
            return .success(id)
        case "commerce_event":
            return .success("product_action")
        default:
            return .success(type)
        }
    }

    /// `data.timestamp_unixtime_ms`, else the batch's `timestamp_unixtime_ms` (the raw-JSON
    /// outputs' time of receipt). Integers, integral numbers and integer text (the outputs write
    /// some numbers as strings) are milliseconds.
    private func eventTime(data: Value, batch: Value) -> Result<Int64, FMEProblem> {
        let field = "timestamp_unixtime_ms"
        guard let value = [data[field], batch[field]].lazy.compactMap({ $0 }).first(where: { !$0.isNull }) else {
            return .failure(FMEProblem("the event has no \(field), and neither has its batch"))
        }
        switch value {
        case .int(let ms): return .success(ms)
        case .double(let d) where d == d.rounded() && abs(d) < 9.2e18: return .success(Int64(d))
        case .string(let s): if let ms = Int64(s) { return .success(ms) }
        default: break
        }
        return .failure(FMEProblem("\(field) \(JSONWriter.compact(value)) is not milliseconds since the epoch"))
    }

    /// The event's id, for `foreignId` and the `event_id` property: `data.event_id` (mParticle's id;
    /// from a Firehose request, the Firehose event `id`), else `data.source_message_id`. Always
    /// text, so a 64-bit id keeps its digits.
    static func eventID(_ data: Value) -> String? {
        for field in ["event_id", "source_message_id"] {
            if let text = data[field]?.scalarText, !text.isEmpty { return text }
        }
        return nil
    }

    /// `24h`, `90m`, `30s`, `1500ms`.
    static func ageText(_ millis: Int64) -> String {
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000)] where millis % size == 0 && millis != 0 {
            return "\(millis / size)\(unit)"
        }
        return "\(millis)ms"
    }
}

private struct FMEProblem: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The names in order, each once.
private func uniqued(_ names: [String]) -> [String] {
    var seen = Set<String>()
    return names.filter { seen.insert($0).inserted }
}
