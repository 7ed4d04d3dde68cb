/// Firehose `EventProcessingRequest` → one Events API batch (reference §4.1, the Firehose Java
/// SDK's model). What each Firehose field becomes:
///
/// | Firehose request | Events API batch |
/// |---|---|
/// | `runtime_environment.is_debug` (or `debug`) | `environment`: `development` when true, `production` when false, left out when neither is there |
/// | `mpid` (a string) | `mpid`, an integer when the text is one (the Events API's type), else the text |
/// | `user_identities[{type, encoding, value}]` | `user_identities{key: value}`, keys per the §4.2 crosswalk (`customer` → `customer_id`, `other2` → `other_id_2` …); only `raw` identities (or ones without an encoding) |
/// | `user_attributes`, `user_attribute_lists` | `user_attributes` (lists are user attribute values in the Events API) |
/// | `runtime_environment.client_ip_address` | `ip` |
/// | `timestamp_ms` | `timestamp_unixtime_ms` (the batch's, as the raw-JSON outputs have it) |
/// | `id` | `source_request_id` |
/// | `events` | `events`, below |
///
/// Every event's data starts with the fields all Firehose events share:
///
/// | Firehose event | Events API `data` |
/// |---|---|
/// | `timestamp_ms` | `timestamp_unixtime_ms` |
/// | `id` (mParticle's id of the event, a UUID) | `event_id`: the event id FME's `foreignId` comes from (see below) |
/// | `source_id` (the SDK's id of the event: the "source event id") | `source_message_id` |
/// | `session_id`, `location` | `session_id`, `location` |
/// | `attributes`, `custom_flags` | `custom_attributes`, `custom_flags` (last) |
///
/// Then per `type`:
///
/// | Firehose `type` | Events API `event_type` and fields |
/// |---|---|
/// | `custom_event` | `custom_event`: `name` → `event_name`; `custom_event_type` (Firehose's `unknown` or none → `other`, which the Events API requires) |
/// | `screen_view` | `screen_view`: `screen_name` |
/// | `session_start` | `session_start` |
/// | `session_end` | `session_end`: `session_length_ms` → `session_duration_ms` |
/// | `product_action` | `commerce_event`: `product_action{action, transaction_id, affiliation, total_amount, tax_amount, shipping_amount, coupon_code, products}`, `currency_code`; each product `{id, name, brand, category, variant, position, price, quantity, coupon_code, total_product_amount ← total_amount, custom_attributes ← attributes}` |
/// | `promotion_action` | `commerce_event`: `promotion_action{action, promotions}` (promotions have the same fields in both) |
/// | `impression` | `commerce_event`: `product_impressions[{product_impression_list ← impression_list_name, products}]` |
/// | `error` | `crash_report`: `message`, `stack_trace` |
/// | `application_state_transition` | the same: `application_state` → `application_transition_type` (`install` and `upgrade` are `application_initialized` with `is_first_run` / `is_upgrade`) |
/// | `push_subscription` | `push_registration`: `register` (action is `subscribe`), `token` → `registration_token` |
/// | `push_message_receipt`, `push_message_open` | `push_message`: `push_message_type` `received`, `action` |
/// | `privacy_setting_change` | `opt_out` (shared fields only) |
/// | `user_attribute_change`, `user_identity_change`, `attribution`, any other | left out, with a note: the Events API has no such event |
///
/// Choices the reference leaves open (UNCONFIRMED there):
/// - The Firehose `id` goes to `event_id` rather than `source_message_id`: Firehose names
///   `source_id` the source event id, which is what `source_message_id` is in the Events API, and
///   `id` is mParticle's own id of the event, which is what `event_id` is (as a UUID here, where
///   the Events API has an integer). The FME mapper sends `event_id` as `foreignId`, so the
///   Firehose id is the `foreignId` of every FME event made from it, and the "source id" property
///   of session and screen events is Firehose's `source_id`, as the FME mapping tables name it.
/// - Hashed identities (`encoding` other than `raw`) are left out with a note: an FME key must be
///   the value the application passes to `getTreatment`, and a hash of it never matches.
/// - Device identities, `account`, `integration_attributes`, consent and platform fields are not
///   carried: nothing downstream reads them.
extension MParticleBatchShapes {
    static func firehoseRequest(_ request: Value) throws(MParticleShapeError) -> MParticleRecord {
        var notes: [String] = []
        var batch: [Value.ObjectEntry] = []
        let runtime = request["runtime_environment"]
        if case .bool(let debug)? = runtime?["is_debug"] ?? runtime?["debug"] {
            batch.append(.init("environment", .string(debug ? "development" : "production")))
        }
        if let mpid = present(request["mpid"]) {
            if case .string(let text) = mpid, let number = Int64(text) {
                batch.append(.init("mpid", .int(number)))
            } else {
                batch.append(.init("mpid", mpid))
            }
        }

        var identities = IdentityCollector()
        switch request["user_identities"] {
        case nil, .null?: break
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                guard case .object = item else {
                    throw MParticleShapeError("the request's user_identities element \(index + 1) is \(item.kindPhrase), not an object")
                }
                if let encoding = present(item["encoding"]), encoding != .string("raw") {
                    let name = item["type"]?.scalarText ?? "untyped"
                    notes.append("a \(encoding.scalarText ?? JSONWriter.compact(encoding))-hashed '\(name)' identity was left out: FME keys are raw values")
                    continue
                }
                identities.add(type: item["type"], value: item["value"])
            }
        case let other?:
            throw MParticleShapeError("the request's user_identities is \(other.kindPhrase), not a list")
        }
        notes += identities.notes
        batch.append(.init("user_identities", .object(identities.entries)))

        var attributes: [Value.ObjectEntry] = []
        for name in ["user_attributes", "user_attribute_lists"] {
            switch request[name] {
            case nil, .null?: break
            case .object(let entries)?: attributes += entries
            case let other?: throw MParticleShapeError("the request's \(name) is \(other.kindPhrase), not an object")
            }
        }
        if !attributes.isEmpty { batch.append(.init("user_attributes", .object(attributes))) }
        batch.add("ip", runtime?["client_ip_address"])
        batch.add("timestamp_unixtime_ms", request["timestamp_ms"])

        var events: [Value] = []
        switch request["events"] {
        case nil, .null?: break
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                guard case .object = item else {
                    throw MParticleShapeError("the request's event \(index + 1) is \(item.kindPhrase), not an object")
                }
                switch firehoseEvent(item) {
                case .success(let event): events.append(event)
                case .failure(let note): notes.append("event \(index + 1) \(note.message)")
                }
            }
        case let other?:
            throw MParticleShapeError("the request's events is \(other.kindPhrase), not a list")
        }
        batch.append(.init("events", .array(events)))
        batch.add("source_request_id", request["id"])
        return MParticleRecord(shape: .firehoseRequest, batches: [.object(batch)], notes: notes)
    }

    /// One Firehose event as an Events API event, or why it has none (a note, not an error).
    private static func firehoseEvent(_ event: Value) -> Result<Value, MParticleShapeError> {
        guard case .string(let type)? = event["type"] else {
            return .failure(MParticleShapeError("has no type; left out"))
        }
        var data: [Value.ObjectEntry] = []
        data.add("timestamp_unixtime_ms", event["timestamp_ms"])
        data.add("event_id", event["id"])
        data.add("source_message_id", event["source_id"])
        data.add("session_id", event["session_id"])
        data.add("location", event["location"])

        let eventType: String
        switch type {
        case "session_start":
            eventType = "session_start"
        case "session_end":
            eventType = "session_end"
            data.add("session_duration_ms", event["session_length_ms"])
        case "custom_event":
            eventType = "custom_event"
            data.add("event_name", event["name"])
            let customType = present(event["custom_event_type"])
            data.add("custom_event_type", customType == nil || customType == .string("unknown") ? .string("other") : customType)
        case "screen_view":
            eventType = "screen_view"
            data.add("screen_name", event["screen_name"])
        case "product_action":
            eventType = "commerce_event"
            var action: [Value.ObjectEntry] = []
            for field in ["action", "transaction_id", "affiliation", "total_amount", "tax_amount", "shipping_amount", "coupon_code"] {
                action.add(field, event[field])
            }
            if case .array(let products)? = event["products"] { action.add("products", .array(products.map(product))) }
            data.add("product_action", .object(action))
            data.add("currency_code", event["currency_code"])
        case "promotion_action":
            eventType = "commerce_event"
            var action: [Value.ObjectEntry] = []
            action.add("action", event["action"])
            action.add("promotions", event["promotions"])
            data.add("promotion_action", .object(action))
        case "impression":
            eventType = "commerce_event"
            if case .array(let impressions)? = event["impressions"] {
                data.add("product_impressions", .array(impressions.map { impression in
                    var out: [Value.ObjectEntry] = []
                    out.add("product_impression_list", impression["impression_list_name"])
                    if case .array(let products)? = impression["products"] { out.add("products", .array(products.map(product))) }
                    return .object(out)
                }))
            }
        case "error":
            eventType = "crash_report"
            data.add("message", event["message"])
            data.add("stack_trace", event["stack_trace"])
        case "application_state_transition":
            eventType = "application_state_transition"
            let state = event["application_state"]?.scalarText
            data.add("application_transition_type", applicationTransitions[state ?? ""].map(Value.string))
            if state == "install" { data.add("is_first_run", .bool(true)) }
            if state == "upgrade" { data.add("is_upgrade", .bool(true)) }
        case "push_subscription":
            eventType = "push_registration"
            if let action = present(event["action"]) { data.add("register", .bool(action == .string("subscribe"))) }
            data.add("registration_token", event["token"])
        case "push_message_receipt", "push_message_open":
            eventType = "push_message"
            data.add("push_message_type", .string(type == "push_message_open" ? "action" : "received"))
        case "privacy_setting_change":
            eventType = "opt_out"
        default:
            return .failure(MParticleShapeError("(\(type)) has no Events API event type; left out"))
        }
        data.add("custom_attributes", event["attributes"])
        data.add("custom_flags", event["custom_flags"])
        return .success(.object([.init("event_type", .string(eventType)), .init("data", .object(data))]))
    }

    private static let applicationTransitions = [
        "install": "application_initialized", "upgrade": "application_initialized", "initialize": "application_initialized",
        "exit": "application_exit", "background": "application_background", "foreground": "application_foreground",
    ]

    /// A Firehose product as an Events API product.
    private static func product(_ product: Value) -> Value {
        guard case .object = product else { return product }
        var out: [Value.ObjectEntry] = []
        for field in ["id", "name", "brand", "category", "variant", "position", "price", "quantity", "coupon_code"] {
            out.add(field, product[field])
        }
        out.add("total_product_amount", product["total_amount"])
        out.add("custom_attributes", product["attributes"])
        return .object(out)
    }

    private static func present(_ v: Value?) -> Value? {
        guard let v, !v.isNull else { return nil }
        return v
    }
}

extension Array where Element == Value.ObjectEntry {
    /// Appends the entry unless the value is missing or null.
    mutating func add(_ key: String, _ value: Value?) {
        guard let value, !value.isNull else { return }
        append(Value.ObjectEntry(key, value))
    }
}
