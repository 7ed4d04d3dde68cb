/// The shapes of mParticle data that `format: mparticle` reads. `MParticleBatchShapes.normalize`
/// detects the shape of each record and turns it into batches in the Events API inbound shape.
package enum MParticleRecordShape: String, Sendable, Equatable {
    /// One Events API batch, `user_identities` an object: what `POST /v2/events` takes.
    case eventsAPIBatch = "an Events API batch"
    /// A JSON list of Events API batches: what `/v2/bulkevents` takes, and what our own file
    /// destination writes (one request per line).
    case eventsAPIBatchList = "a list of Events API batches"
    /// One batch as mParticle's raw-JSON outputs send it (Webhook, S3, Kinesis …): `user_identities`
    /// a list of `{identity_type, identity, timestamp_unixtime_ms}`, plus internal fields.
    case rawOutputBatch = "an mParticle raw-JSON output batch"
    /// A JSON list of raw-JSON output batches.
    case rawOutputBatchList = "a list of mParticle raw-JSON output batches"
    /// A Firehose `EventProcessingRequest` (`"type": "event_processing_request"`).
    case firehoseRequest = "a Firehose event_processing_request"
}

/// One record, normalized.
package struct MParticleRecord: Sendable, Equatable {
    package var shape: MParticleRecordShape
    /// Zero or more batches in the Events API inbound shape (an empty list gives none).
    package var batches: [Value]
    /// What normalizing left out, one sentence each, for the caller to warn about: identities
    /// whose type has no Events API key, hashed Firehose identities, Firehose events with no
    /// Events API event type. Empty for a record taken whole.
    package var notes: [String]

    package init(shape: MParticleRecordShape, batches: [Value], notes: [String] = []) {
        self.shape = shape
        self.batches = batches
        self.notes = notes
    }
}

/// A record that is none of the shapes, or one whose parts have the wrong kinds.
package struct MParticleShapeError: Error, Equatable, CustomStringConvertible, Sendable {
    package let message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}

/// Normalizes one JSON record into Events API batches. Pure: no I/O, no clock.
///
/// Detection, per record:
/// - a JSON list: each element is a batch (Events API or raw-JSON output, all of one kind);
/// - an object with a string `type`: a Firehose message, read only when it is an
///   `event_processing_request`;
/// - an object whose `user_identities` is a list, or that has the raw-JSON output's batch fields
///   `batch_id`, `message_type` or `message_id`: a raw-JSON output batch;
/// - an object with `events`, `user_identities` (an object), `mpid` or `user_attributes`: an
///   Events API batch, returned exactly as it is.
package enum MParticleBatchShapes {
    package static func normalize(_ record: Value) throws(MParticleShapeError) -> MParticleRecord {
        switch record {
        case .array(let items):
            return try normalizeList(items)
        case .object:
            return try normalizeObject(record, place: "the record")
        default:
            throw MParticleShapeError("\(expected); found \(record.kindPhrase)")
        }
    }

    static let expected = "expected an mParticle batch: an Events API batch (an object with events, user_identities or mpid), "
        + "a list of batches, a raw-JSON output batch (user_identities as a list) or a Firehose event_processing_request"

    private static func normalizeList(_ items: [Value]) throws(MParticleShapeError) -> MParticleRecord {
        var batches: [Value] = []
        var notes: [String] = []
        var first: MParticleRecordShape?
        for (index, item) in items.enumerated() {
            let place = "element \(index + 1) of the list"
            guard case .object = item else {
                throw MParticleShapeError("\(place) is \(item.kindPhrase); a list holds batches, which are objects")
            }
            let one = try normalizeObject(item, place: place)
            if one.shape == .firehoseRequest {
                throw MParticleShapeError("\(place) is a Firehose request; a list holds Events API or raw-JSON output batches")
            }
            if let first, first != one.shape {
                throw MParticleShapeError("\(place) is \(one.shape.rawValue) but element 1 is \(first.rawValue); a list holds one kind of batch")
            }
            first = first ?? one.shape
            batches += one.batches
            notes += one.notes.map { "\(place): \($0)" }
        }
        let shape: MParticleRecordShape = first == .rawOutputBatch ? .rawOutputBatchList : .eventsAPIBatchList
        return MParticleRecord(shape: shape, batches: batches, notes: notes)
    }

    private static func normalizeObject(_ object: Value, place: String) throws(MParticleShapeError) -> MParticleRecord {
        if let type = object["type"] {
            guard case .string(let name) = type, name == "event_processing_request" else {
                throw MParticleShapeError("\(place) has type \(JSONWriter.compact(type)); of the Firehose messages only an event_processing_request carries events")
            }
            return try firehoseRequest(object)
        }
        if let events = object["events"], !isList(events) {
            throw MParticleShapeError("\(place)'s events is \(events.kindPhrase), not a list")
        }
        switch object["user_identities"] {
        case .array?:
            return try rawOutputBatch(object, place: place)
        case .object?, .null?:
            return MParticleRecord(shape: .eventsAPIBatch, batches: [object])
        case let other?:
            throw MParticleShapeError("\(place)'s user_identities is \(other.kindPhrase); expected an object (Events API) or a list (raw-JSON output)")
        case nil:
            break
        }
        if rawOutputBatchFields.contains(where: { object[$0] != nil }) {
            return try rawOutputBatch(object, place: place)
        }
        if ["events", "mpid", "user_attributes"].contains(where: { object[$0] != nil }) {
            return MParticleRecord(shape: .eventsAPIBatch, batches: [object])
        }
        guard case .object(let entries) = object else { throw MParticleShapeError(expected) }
        let keys = entries.isEmpty ? "an empty object" : "an object with keys \(Format.names(entries.map(\.key)))"
        throw MParticleShapeError("\(expected); \(place) is \(keys)")
    }

    private static func isList(_ v: Value) -> Bool {
        if case .array = v { return true }
        return false
    }

    // MARK: - Raw-JSON output batches

    /// Batch fields only mParticle's outputs add, left out of the normalized batch: "for internal
    /// use … should be ignored" (JSON reference, "Differences between incoming and outgoing JSON").
    /// The batch's own `timestamp_unixtime_ms` (when mParticle received it) is kept: the FME
    /// mapper falls back to it for an event without a timestamp.
    static let rawOutputBatchFields = ["batch_id", "message_type", "message_id"]
    /// Event and event-data fields only the outputs add, left out the same way.
    static let rawOutputEventFields: Set<String> = ["message_type", "message_id", "event_start_unixtime_ms",
                                                     "session_start_unixtime", "session_start_unixtime_ms"]

    /// The batch with `user_identities` turned into the Events API object (in the list's order) and
    /// the output-only fields left out. Everything else is kept as it is, including `event_id`
    /// (mParticle's id of the event, which the FME mapper sends as `foreignId`).
    private static func rawOutputBatch(_ object: Value, place: String) throws(MParticleShapeError) -> MParticleRecord {
        guard case .object(let entries) = object else { throw MParticleShapeError(expected) }
        var notes: [String] = []
        var out: [Value.ObjectEntry] = []
        for entry in entries where !rawOutputBatchFields.contains(entry.key) {
            switch entry.key {
            case "user_identities":
                guard case .array(let items) = entry.value else { out.append(entry); continue }
                var identities = IdentityCollector()
                for (index, item) in items.enumerated() {
                    guard case .object = item else {
                        throw MParticleShapeError("\(place)'s user_identities element \(index + 1) is \(item.kindPhrase), not an object")
                    }
                    identities.add(type: item["identity_type"], value: item["identity"])
                }
                notes += identities.notes
                out.append(.init("user_identities", .object(identities.entries)))
            case "events":
                guard case .array(let events) = entry.value else { out.append(entry); continue }
                out.append(.init("events", .array(events.map(withoutOutputFields))))
            default:
                out.append(entry)
            }
        }
        return MParticleRecord(shape: .rawOutputBatch, batches: [.object(out)], notes: notes)
    }

    private static func withoutOutputFields(_ event: Value) -> Value {
        guard case .object(let entries) = event else { return event }
        return .object(entries.compactMap { entry in
            if rawOutputEventFields.contains(entry.key) { return nil }
            guard entry.key == "data", case .object(let data) = entry.value else { return entry }
            return .init("data", .object(data.filter { !rawOutputEventFields.contains($0.key) }))
        })
    }
}

// MARK: - Identities

/// The Events API `user_identities` key for an identity type name as the raw-JSON outputs
/// (`identity_type`) or Firehose (`type`) spell it, per the reference's §4.2 crosswalk:
/// the Events API keys themselves (`customer_id`, `email`, `other`, `other_id_2` …, `facebook`,
/// `twitter`, `google`, `microsoft`, `yahoo`, `mobile_number`, `phone_number_2/3`, `alias`,
/// `facebook_custom_audience_id`), the legacy spellings the mapping accepts (`customerid`,
/// `other2`…`other10`), and Firehose's `customer`. Case is ignored.
///
/// UNCONFIRMED (§4.2): that the raw-JSON outputs spell Yahoo and Other 2–4 `yahoo` and
/// `other_id_2`…`other_id_4`; both those and Firehose's `other2`… forms are accepted, so either works.
package func eventsAPIIdentityKey(_ name: String) -> String? {
    let lowered = name.lowercased()
    if TargetCatalog.identityKeys.contains(lowered) { return lowered }
    if let canonical = TargetCatalog.identityAliases[lowered] { return canonical }
    if lowered == "customer" { return "customer_id" }
    return nil
}

/// Builds a `user_identities` object from a list of typed identities.
struct IdentityCollector {
    var entries: [Value.ObjectEntry] = []
    var notes: [String] = []

    /// Adds one identity. A type without an Events API key is left out with a note; so is a second
    /// identity of a type already added (the first is kept). A null or missing value is left out.
    /// A value that is not text (a number) becomes its text: identities are strings.
    mutating func add(type: Value?, value: Value?) {
        guard case .string(let name)? = type else {
            notes.append("an identity without a type name (\(type.map { JSONWriter.compact($0) } ?? "none")) was left out")
            return
        }
        guard let key = eventsAPIIdentityKey(name) else {
            notes.append("identity type '\(name)' has no Events API key; left out")
            return
        }
        guard let value, !value.isNull else { return }
        guard !entries.contains(where: { $0.key == key }) else {
            notes.append("a second '\(name)' identity was left out; the first is kept")
            return
        }
        entries.append(.init(key, value.scalarText.map(Value.string) ?? .string(JSONWriter.compact(value))))
    }
}
