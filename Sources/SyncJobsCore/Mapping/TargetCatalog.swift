/// What a mapped value must be to go into a given place in a batch.
package indirect enum FieldKind: Sendable, Hashable {
    /// A JSON string; numbers are written as text. Empty text counts as absent.
    case identity
    /// A string, at most `maxLength` characters; numbers become text.
    case text(maxLength: Int?)
    case integer
    case number
    case boolean
    /// Integer milliseconds since the epoch.
    case timestampMillis
    /// A hyphenated UUID; empty text counts as absent.
    case uuid
    /// One of the listed strings, matched without regard to case and written in the listed spelling.
    case enumeration([String])
    /// A user attribute: a scalar or a list of scalars, within mParticle's length limits.
    case userAttribute
    /// An event custom attribute or flag: a single value written as text.
    case eventAttribute
}

/// Where a `to:` path writes in a batch.
package enum Target: Sendable, Hashable {
    case mpid
    case identity(String)
    case userAttribute(String)
    case userAttributesAll
    case deviceInfo(String)
    case eventType
    /// A field of the event's `data`, as a dot path below it (`location.latitude`).
    case eventData(String)
    case customAttribute(String)
    case customAttributesAll
    case customFlag(String)
    case customFlagsAll

    package var isEvent: Bool {
        switch self {
        case .eventType, .eventData, .customAttribute, .customAttributesAll, .customFlag, .customFlagsAll: return true
        default: return false
        }
    }

    package var isWildcard: Bool {
        switch self {
        case .userAttributesAll, .customAttributesAll, .customFlagsAll: return true
        default: return false
        }
    }

    /// The path as written in job files, canonical spelling.
    package var path: String {
        switch self {
        case .mpid: return "mpid"
        case .identity(let k): return "user_identities.\(k)"
        case .userAttribute(let n): return "user_attributes.\(n)"
        case .userAttributesAll: return "user_attributes.*"
        case .deviceInfo(let f): return "device_info.\(f)"
        case .eventType: return "events.event_type"
        case .eventData(let f): return "events.data.\(f)"
        case .customAttribute(let n): return "events.data.custom_attributes.\(n)"
        case .customAttributesAll: return "events.data.custom_attributes.*"
        case .customFlag(let n): return "events.data.custom_flags.\(n)"
        case .customFlagsAll: return "events.data.custom_flags.*"
        }
    }

    package var kind: FieldKind {
        switch self {
        case .mpid: return .integer
        case .identity: return .identity
        case .userAttribute, .userAttributesAll: return .userAttribute
        case .deviceInfo(let f): return TargetCatalog.deviceInfo[f] ?? .text(maxLength: nil)
        case .eventType: return .enumeration(TargetCatalog.eventTypes)
        case .eventData(let f): return TargetCatalog.eventData[f]?.kind ?? .text(maxLength: nil)
        case .customAttribute, .customAttributesAll, .customFlag, .customFlagsAll: return .eventAttribute
        }
    }
}

/// The places a mapping may write, with their types: mParticle's Events API batch fields
/// (see README "Mapping targets").
package enum TargetCatalog {
    /// Canonical Events API identity keys.
    package static let identityKeys: [String] = [
        "customer_id", "email", "other", "other_id_2", "other_id_3", "other_id_4", "other_id_5", "other_id_6",
        "other_id_7", "other_id_8", "other_id_9", "other_id_10", "mobile_number", "phone_number_2", "phone_number_3",
        "facebook", "google", "microsoft", "twitter", "yahoo", "alias", "facebook_custom_audience_id",
    ]

    /// Legacy spellings (IDSync, the Looker action, mParticle's CSV docs) accepted as input.
    package static let identityAliases: [String: String] = {
        var aliases = ["customerid": "customer_id", "facebookcustomaudienceid": "facebook_custom_audience_id"]
        for n in 2...10 { aliases["other\(n)"] = "other_id_\(n)" }
        return aliases
    }()

    package static let platforms = ["iOS", "Android", "web", "tvOS", "roku", "out_of_band", "alexa", "smart_tv", "fire_tv", "xbox", "desktop"]

    /// device_info fields that identify a device, so a batch carrying one has an identity.
    package static let deviceIdentityFields: Set<String> = [
        "android_uuid", "ios_advertising_id", "ios_idfv", "android_advertising_id", "roku_advertising_id",
        "roku_publisher_id", "fire_advertising_id", "push_token", "amp_id", "microsoft_advertising_id",
        "microsoft_publisher_id",
    ]

    package static let deviceInfo: [String: FieldKind] = {
        var fields: [String: FieldKind] = [:]
        for f in ["brand", "product", "device", "android_uuid", "device_manufacturer", "os_version", "device_model",
                  "device_country", "locale_language", "locale_country", "network_country", "network_carrier",
                  "network_code", "network_mobile_country_code", "build_identifier", "http_header_user_agent",
                  "push_token", "cpu_architecture", "radio_access_technology", "bluetooth_version",
                  "build_version_release", "amp_id", "microsoft_advertising_id", "microsoft_publisher_id"] {
            fields[f] = .text(maxLength: nil)
        }
        fields["platform"] = .enumeration(platforms)
        for f in ["screen_height", "screen_width", "screen_dpi", "timezone_offset"] { fields[f] = .integer }
        fields["att_timestamp_unixtime_ms"] = .timestampMillis
        fields["att_authorization_status"] = .enumeration(["authorized", "denied", "not_determined", "restricted"])
        for f in ["is_tablet", "push_notification_sound_enabled", "push_notification_vibrate_enabled",
                  "supports_telephony", "has_nfc", "bluetooth_enabled", "limit_ad_tracking", "is_dst"] {
            fields[f] = .boolean
        }
        for f in ["ios_advertising_id", "ios_idfv", "android_advertising_id", "roku_advertising_id",
                  "roku_publisher_id", "fire_advertising_id"] {
            fields[f] = .uuid
        }
        return fields
    }()

    package static let eventTypes = ["custom_event", "screen_view", "commerce_event", "session_start", "session_end"]

    package static let customEventTypes = ["navigation", "location", "search", "transaction", "user_content",
                                          "user_preference", "social", "other", "media", "attribution"]

    package static let productActions = ["add_to_cart", "remove_from_cart", "checkout", "checkout_option", "click",
                                        "view_detail", "purchase", "refund", "add_to_wishlist", "remove_from_wish_list"]

    /// An event data field: its type and the event types that carry it.
    package struct EventField: Sendable {
        package var kind: FieldKind
        package var eventTypes: Set<String>
    }

    static let allEvents = Set(eventTypes)

    package static let eventData: [String: EventField] = {
        var fields: [String: EventField] = [:]
        func add(_ name: String, _ kind: FieldKind, _ types: Set<String> = allEvents) {
            fields[name] = EventField(kind: kind, eventTypes: types)
        }
        add("timestamp_unixtime_ms", .timestampMillis)
        add("source_message_id", .text(maxLength: nil))
        add("session_uuid", .text(maxLength: nil))
        // The Looker action sends mp_event_id here and mp_session_id to session_id; mapping: looker
        // sends mp_event_id to source_message_id instead (LookerTags.eventData).
        add("event_id", .integer)
        add("session_id", .integer)
        add("location.latitude", .number)
        add("location.longitude", .number)
        add("location.accuracy", .number)
        add("event_name", .text(maxLength: 256), ["custom_event", "commerce_event"])
        add("custom_event_type", .enumeration(customEventTypes), ["custom_event"])
        add("screen_name", .text(maxLength: 256), ["screen_view", "commerce_event"])
        add("session_duration_ms", .integer, ["session_end"])
        add("currency_code", .text(maxLength: nil), ["commerce_event"])
        let commerce: Set<String> = ["commerce_event"]
        add("product_action.action", .enumeration(productActions), commerce)
        add("product_action.checkout_step", .integer, commerce)
        for f in ["checkout_options", "product_action_list", "product_list_source", "affiliation", "coupon_code"] {
            add("product_action.\(f)", .text(maxLength: nil), commerce)
        }
        add("product_action.transaction_id", .text(maxLength: nil), commerce)
        for f in ["total_amount", "tax_amount", "shipping_amount"] { add("product_action.\(f)", .number, commerce) }
        for f in ["id", "name", "brand", "category", "variant", "coupon_code"] {
            add("product_action.products.\(f)", .text(maxLength: nil), commerce)
        }
        add("product_action.products.position", .integer, commerce)
        for f in ["price", "quantity", "total_product_amount"] { add("product_action.products.\(f)", .number, commerce) }
        add("product_action.products.added_to_cart_time_ms", .timestampMillis, commerce)
        return fields
    }()

    /// Which event types may carry custom attributes and custom flags.
    package static let customAttributeEventTypes: Set<String> = ["custom_event", "screen_view", "commerce_event", "session_end"]
    package static let customFlagEventTypes: Set<String> = ["custom_event", "screen_view", "commerce_event"]

    /// Patterns shown when a path is not recognised.
    package static let userModePatterns = [
        "mpid", "user_identities.<key>", "user_attributes.<name>", "user_attributes.*", "device_info.<field>",
    ]
    package static let eventModePatterns = userModePatterns + [
        "events.event_type", "events.data.<field>", "events.data.custom_attributes.<name>",
        "events.data.custom_attributes.*", "events.data.custom_flags.<name>", "events.data.custom_flags.*",
    ]

    package enum ParseFailure: Error, Sendable {
        case unknown(message: String, fix: String)
    }

    /// Parses a `to:` path. Mode checks (event paths in user mode) happen in the compiler.
    package static func parse(_ path: String) -> Result<Target, ParseFailure> {
        let parts = path.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let head = parts[0]
        let rest = parts.count > 1 ? parts[1] : nil
        func unknown(_ what: String, _ candidates: [String], noun: String) -> Result<Target, ParseFailure> {
            .failure(.unknown(message: "'\(path)' is not a place in an mParticle batch: unknown \(what)",
                              fix: Spelling.hint(for: rest ?? head, among: candidates, noun: noun)))
        }
        switch (head, rest) {
        case ("mpid", nil):
            return .success(.mpid)
        case ("user_identities", let key?):
            if identityKeys.contains(key) { return .success(.identity(key)) }
            if let canonical = identityAliases[key.lowercased()] { return .success(.identity(canonical)) }
            return unknown("identity key '\(key)'", identityKeys, noun: "one of the identity keys")
        case ("user_attributes", "*"):
            return .success(.userAttributesAll)
        case ("user_attributes", let name?) where !name.isEmpty:
            return .success(.userAttribute(name))
        case ("device_info", let field?):
            if deviceInfo[field] != nil { return .success(.deviceInfo(field)) }
            return unknown("device_info field '\(field)'", deviceInfo.keys.sorted(), noun: "one of the device_info fields")
        case ("events", "event_type"):
            return .success(.eventType)
        case ("events", let sub?) where sub.hasPrefix("data."):
            let field = String(sub.dropFirst("data.".count))
            if field == "custom_attributes.*" { return .success(.customAttributesAll) }
            if field == "custom_flags.*" { return .success(.customFlagsAll) }
            if field.hasPrefix("custom_attributes."), field.count > "custom_attributes.".count {
                return .success(.customAttribute(String(field.dropFirst("custom_attributes.".count))))
            }
            if field.hasPrefix("custom_flags."), field.count > "custom_flags.".count {
                return .success(.customFlag(String(field.dropFirst("custom_flags.".count))))
            }
            if eventData[field] != nil { return .success(.eventData(field)) }
            let candidates = eventData.keys.sorted() + ["custom_attributes.<name>", "custom_flags.<name>"]
            return .failure(.unknown(message: "'\(path)' is not a place in an mParticle batch: unknown event data field '\(field)'",
                                     fix: Spelling.hint(for: field, among: candidates, noun: "one of")))
        default:
            let heads = ["mpid", "user_identities", "user_attributes", "device_info", "events"]
            let fix: String
            if let match = Spelling.suggestion(for: head, among: heads) {
                fix = "did you mean '\(match)\(rest.map { ".\($0)" } ?? "")'?"
            } else {
                fix = "use one of \(eventModePatterns.map { "'\($0)'" }.joined(separator: ", "))"
            }
            return .failure(.unknown(message: "'\(path)' is not a place in an mParticle batch", fix: fix))
        }
    }
}
