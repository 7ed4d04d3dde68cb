/// The Looker mParticle action's tag rules (README "Looker query results").
///
/// Each constant here is the action's own (looker-open-source/actions, `mparticle_enums.ts` and
/// `mparticle_transaction.ts`), so a LookML model tagged for the action maps the same way here.
package enum LookerTags {
    /// An identity tag, the key the action writes, and the Events API's canonical key.
    package struct Identity: Sendable {
        package var tag: String
        package var lookerKey: String
        package var canonicalKey: String
    }

    package static let identities: [Identity] = [
        Identity(tag: "mp_customer_id", lookerKey: "customerid", canonicalKey: "customer_id"),
        Identity(tag: "mp_email", lookerKey: "email", canonicalKey: "email"),
        Identity(tag: "mp_facebook", lookerKey: "facebook", canonicalKey: "facebook"),
        Identity(tag: "mp_google", lookerKey: "google", canonicalKey: "google"),
        Identity(tag: "mp_microsoft", lookerKey: "microsoft", canonicalKey: "microsoft"),
        Identity(tag: "mp_twitter", lookerKey: "twitter", canonicalKey: "twitter"),
        Identity(tag: "mp_yahoo", lookerKey: "yahoo", canonicalKey: "yahoo"),
        Identity(tag: "mp_other", lookerKey: "other", canonicalKey: "other"),
        Identity(tag: "mp_other2", lookerKey: "other2", canonicalKey: "other_id_2"),
        Identity(tag: "mp_other3", lookerKey: "other3", canonicalKey: "other_id_3"),
        Identity(tag: "mp_other4", lookerKey: "other4", canonicalKey: "other_id_4"),
    ]

    package static let userAttribute = "mp_user_attribute"
    package static let eventName = "mp_event_name"
    package static let deviceInfo = "mp_device_info"
    package static let customAttribute = "mp_custom_attribute"

    /// Tags whose value goes to a field of the event's `data`, by field name.
    ///
    /// Not the action's: `mp_event_id` goes to `source_message_id` (as text), the id mParticle
    /// recognises an event by. The action writes it to `event_id`, an int64 that mParticle's
    /// server sets, so the usual string ids (`e0`, UUIDs) would make every row rejected.
    package static let eventData: [(tag: String, field: String)] = [
        ("mp_custom_event_type", "custom_event_type"),
        ("mp_event_id", "source_message_id"),
        ("mp_timestamp_unixtime_ms", "timestamp_unixtime_ms"),
        ("mp_session_id", "session_id"),
        ("mp_session_uuid", "session_uuid"),
    ]

    /// The only `device_info` fields the action sends (`VALID_DEVICE_INFO_FIELDS`, 36 names).
    package static let deviceInfoFields: [String] = [
        "brand", "product", "device", "android_uuid", "device_manufacturer", "platform", "os_version", "device_model",
        "screen_height", "screen_width", "screen_dpi", "device_country", "locale_language", "locale_country",
        "network_country", "network_carrier", "network_code", "network_mobile_country_code", "timezone_offset",
        "build_identifier", "http_header_user_agent", "ios_advertising_id", "push_token", "cpu_architecture",
        "is_tablet", "push_notification_sound_enabled", "push_notification_vibrate_enabled",
        "radio_access_technology", "supports_telephony", "has_nfc", "bluetooth_enabled", "bluetooth_version",
        "ios_idfv", "android_advertising_id", "limit_ad_tracking", "is_dst",
    ]

    /// The event name the action sends when no field is tagged `mp_event_name`.
    package static let defaultEventName = "looker_custom_event"
    /// The custom event type it sends when no field is tagged `mp_custom_event_type`.
    package static let defaultCustomEventType = "other"
    /// The action's words when no field carries an identity tag.
    package static let noIdentityMessage = "Each row must specify at least 1 identity tag."

    package static var allTags: [String] {
        identities.map(\.tag) + [userAttribute, eventName, deviceInfo] + eventData.map(\.tag) + [customAttribute]
    }

    /// The tag that counts for a field (the action's `getTag`): none when the list is empty or
    /// its first element is falsy (`""`, null, false, 0), else the first element starting with
    /// `mp_` (case-sensitive). Later tags are never looked at.
    package static func effectiveTag(_ tags: [Value]) -> String? {
        guard let first = tags.first, !isFalsy(first) else { return nil }
        for tag in tags {
            if case .string(let text) = tag, text.hasPrefix("mp_") { return text }
        }
        return nil
    }

    static func isFalsy(_ value: Value) -> Bool {
        switch value {
        case .null: return true
        case .bool(let b): return !b
        case .int(let i): return i == 0
        case .double(let d): return d == 0 || d.isNaN
        case .number: return false
        case .string(let s): return s.isEmpty
        case .array, .object: return false
        }
    }

    /// `device_info` key of a field: its name after the first `.`, or the whole name.
    package static func deviceInfoKey(_ fieldName: String) -> String {
        guard let dot = fieldName.firstIndex(of: ".") else { return fieldName }
        return String(fieldName[fieldName.index(after: dot)...])
    }

    /// Attribute names are `looker_` plus the field name, dot and all (`looker_users.ltv`).
    package static func attributeName(_ fieldName: String) -> String { "looker_" + fieldName }
}

/// The mapping derived from a Looker result's tags: what each field becomes, as mapping entries
/// for the ordinary `MappingCompiler`, and a table for `jobs plan`.
package struct LookerDerivedMapping: Sendable {
    package struct Row: Sendable {
        package var field: LookerField
        /// The tag that counts (see `LookerTags.effectiveTag`); nil when there is none.
        package var tag: String?
        /// The path written, with identity keys in the job's spelling; nil when not sent.
        package var target: String?
        /// Why the field is not sent, or which field replaced it.
        package var note: String?
    }

    package var kind: JobDefinition.Kind
    package var identityNames: LookerTagMapping.IdentityNames
    /// One row per field, in the action's visit order.
    package var rows: [Row]
    /// Values the action fills in when no field is tagged for them: (path, value).
    package var defaults: [(target: String, value: String)]
    package var entries: [MappingEntry]
    package var diagnostics: [Diagnostic]
    package var hasIdentityField: Bool
}

/// Derives a job's mapping from LookML tags, following the Looker mParticle action rule by rule,
/// and compiles it with the same `MappingCompiler` as a written mapping.
package enum LookerTagMapper {
    package static func derive(fields: [LookerField], kind: JobDefinition.Kind, identityNames: LookerTagMapping.IdentityNames,
                              at location: SourceLocation) -> LookerDerivedMapping {
        var rows: [LookerDerivedMapping.Row] = []
        var diagnostics: [Diagnostic] = []
        func warn(_ message: String, _ fix: String) { diagnostics.append(Diagnostic(.warning, at: location, message, fix: fix)) }
        let identityByTag = Dictionary(LookerTags.identities.map { ($0.tag, $0) }, uniquingKeysWith: { a, _ in a })
        let eventDataByTag = Dictionary(LookerTags.eventData.map { ($0.tag, $0.field) }, uniquingKeysWith: { a, _ in a })
        let whitelist = Set(LookerTags.deviceInfoFields)

        /// Written targets in first-visit order, each with the row that supplies its value: a
        /// later field with the same target replaces the value but keeps the position, as in the action.
        var targets: [(canonical: String, shown: String, row: Int, replaced: [Int])] = []
        var targetPosition: [String: Int] = [:]
        var hasIdentityField = false

        for field in fields {
            let tag = LookerTags.effectiveTag(field.tags)
            let quotedField = "'\(field.name)'"
            var canonical: String?
            var shown: String?
            var note: String?
            if let tag, let identity = identityByTag[tag] {
                hasIdentityField = true
                canonical = "user_identities.\(identity.canonicalKey)"
                shown = "user_identities.\(identityNames == .looker ? identity.lookerKey : identity.canonicalKey)"
            } else if kind == .user {
                if tag == LookerTags.eventName {
                    note = "not sent: mp_event_name fields are dropped in user jobs"
                    warn("field \(quotedField) is tagged mp_event_name, which user jobs do not send (the action drops it too)",
                         "set 'type: event' to send events, or remove the field from the query")
                } else {
                    canonical = "user_attributes.\(LookerTags.attributeName(field.name))"
                }
            } else {
                switch tag {
                case LookerTags.userAttribute?:
                    canonical = "user_attributes.\(LookerTags.attributeName(field.name))"
                case LookerTags.eventName?:
                    canonical = "events.data.event_name"
                case LookerTags.deviceInfo?:
                    let key = LookerTags.deviceInfoKey(field.name)
                    if whitelist.contains(key) {
                        canonical = "device_info.\(key)"
                    } else {
                        note = "not sent: '\(key)' is not one of the action's device_info fields"
                        let hint = Spelling.suggestion(for: key, among: LookerTags.deviceInfoFields).map { "did you mean a dimension named '\($0)'?" }
                            ?? "name the dimension after a device_info field (brand, platform, os_version, …)"
                        warn("field \(quotedField) is tagged mp_device_info, but '\(key)' is not one of the 36 device_info fields the action sends, so it is not sent", hint)
                    }
                case LookerTags.customAttribute?:
                    canonical = "events.data.custom_attributes.\(LookerTags.attributeName(field.name))"
                case let tag?:
                    if let dataField = eventDataByTag[tag] {
                        canonical = "events.data.\(dataField)"
                    } else {
                        note = "not sent: '\(tag)' is not an mParticle tag"
                    }
                case nil:
                    note = field.tags.isEmpty ? "not sent: no mp_ tag" : "not sent: no mp_ tag that counts"
                }
            }
            if shown == nil { shown = canonical }
            checkTags(field, effective: tag, kind: kind, warn: warn)

            let rowIndex = rows.count
            rows.append(LookerDerivedMapping.Row(field: field, tag: tag, target: shown, note: note))
            guard let canonical, let shown else { continue }
            if let position = targetPosition[canonical] {
                let replaced = targets[position].row
                targets[position].replaced.append(replaced)
                for loser in targets[position].replaced {
                    rows[loser].target = nil
                    rows[loser].note = "not sent: replaced by '\(field.name)' (the last field visited wins)"
                }
                warn("fields '\(rows[replaced].field.name)' and \(quotedField) both go to '\(shown)'; \(quotedField) is visited later, so its value is sent",
                     "keep one of the tags in LookML, or remove one field from the query")
                targets[position].row = rowIndex
            } else {
                targetPosition[canonical] = targets.count
                targets.append((canonical, shown, rowIndex, []))
            }
        }

        var entries: [MappingEntry] = []
        for target in targets {
            entries.append(MappingEntry(input: .column(rows[target.row].field.name), target: target.canonical, type: nil,
                                        location: location, targetLocation: location))
        }
        for row in rows where row.target == nil {
            entries.append(MappingEntry(input: .ignore(row.field.name), target: nil, type: nil, location: location, targetLocation: location))
        }
        var defaults: [(String, String)] = []
        if kind == .event {
            if targetPosition["events.data.event_name"] == nil {
                defaults.append(("events.data.event_name", LookerTags.defaultEventName))
                entries.append(MappingEntry(input: .staticValue(.string(LookerTags.defaultEventName)), target: "events.data.event_name",
                                            type: nil, location: location, targetLocation: location))
            }
            if targetPosition["events.data.custom_event_type"] == nil {
                // The engine writes this default itself; listed so the plan shows it.
                defaults.append(("events.data.custom_event_type", LookerTags.defaultCustomEventType))
            }
        }
        if !hasIdentityField {
            diagnostics.append(Diagnostic(.error, at: location,
                "no field of the Looker result has an identity tag, so no batch could say which user it is about (the Looker action stops with \"\(LookerTags.noIdentityMessage)\")",
                fix: "tag a dimension with one of \(LookerTags.identities.map(\.tag).joined(separator: ", ")) in LookML (e.g. tags: [\"mp_email\"]) and include it in the query"))
        }
        return LookerDerivedMapping(kind: kind, identityNames: identityNames, rows: rows, defaults: defaults, entries: entries,
                                    diagnostics: diagnostics, hasIdentityField: hasIdentityField)
    }

    /// Warnings for tags that do not do what they look like they do.
    private static func checkTags(_ field: LookerField, effective: String?, kind: JobDefinition.Kind,
                                  warn: (String, String) -> Void) {
        let texts = field.tags.compactMap { tag -> String? in if case .string(let s) = tag { return s } else { return nil } }
        let mpTags = texts.filter { $0.hasPrefix("mp_") }
        if effective == nil, !mpTags.isEmpty {
            warn("field '\(field.name)' has the tag '\(mpTags[0])' after an empty first tag, which hides every tag (the action reads no tag then)",
                 "remove the empty tag in LookML")
        } else if mpTags.count > 1, let effective {
            warn("field '\(field.name)' has several mp_ tags (\(Format.names(mpTags))); only the first, '\(effective)', counts",
                 "keep one mp_ tag on the field in LookML")
        }
        if let effective, !LookerTags.allTags.contains(effective) {
            let fate = kind == .user ? "it is sent as the user attribute '\(LookerTags.attributeName(field.name))'" : "it is not sent"
            warn("field '\(field.name)' has the tag '\(effective)', which is not an mParticle tag, so \(fate)",
                 Spelling.hint(for: effective, among: LookerTags.allTags, noun: "one of the tags"))
        }
        for text in texts where !text.hasPrefix("mp_") && text.lowercased().hasPrefix("mp_") {
            warn("field '\(field.name)' has the tag '\(text)', which does not count: tags are case-sensitive",
                 "write it as '\(text.lowercased())'")
        }
    }

    /// Derives the mapping for `job` from the source's Looker fields and compiles it.
    static func compile(job: JobDefinition, rule: LookerTagMapping, for source: any OpenedSource) -> (MappingPlan?, [Diagnostic]) {
        let location = job.location("mapping")
        guard let fields = source.lookerFields else {
            return (nil, [Diagnostic(at: location, "'mapping: looker' derives the mapping from the LookML tags of a Looker result, but \(source.description) is not one",
                                     fix: "set 'format: looker' in 'source:', or write the mapping as a list")])
        }
        let derived = derive(fields: fields, kind: job.kind, identityNames: rule.identityNames, at: location)
        if derived.diagnostics.contains(where: { $0.severity == .error }) {
            return (nil, derived.diagnostics.filter { $0.severity == .error })
        }
        var derivedJob = job
        derivedJob.mapping = derived.entries
        let (compiled, diagnostics) = MappingCompiler.compile(job: derivedJob, columns: source.columns,
                                                              acceptsExtraKeys: source.acceptsExtraKeys,
                                                              sourceDescription: source.description)
        guard var plan = compiled else { return (nil, diagnostics) }
        var warnings: [Diagnostic] = []
        if rule.identityNames == .looker {
            let lookerKeys = Dictionary(LookerTags.identities.map { ($0.canonicalKey, $0.lookerKey) }, uniquingKeysWith: { a, _ in a })
            var respelt: [(looker: String, canonical: String)] = []
            for index in plan.identities.indices {
                let canonical = plan.identities[index].key
                guard let looker = lookerKeys[canonical], looker != canonical else { continue }
                plan.identities[index].key = looker
                respelt.append((looker, canonical))
            }
            if !respelt.isEmpty {
                warnings.append(schemaRefusesLookerNames(respelt, at: job.location("identity_names")))
            }
        }
        plan.lookerMapping = derived
        return (plan, derived.diagnostics + diagnostics + warnings)
    }

    /// The action's spellings `customerid` and `other2` … `other4` are not among the keys that
    /// mParticle's published Events API schema allows in `user_identities` (it allows no others),
    /// so a batch carrying them does not validate against it.
    static func schemaRefusesLookerNames(_ keys: [(looker: String, canonical: String)], at location: SourceLocation) -> Diagnostic {
        let pairs = keys.map { "'\($0.looker)' (the schema's '\($0.canonical)')" }.joined(separator: ", ")
        return Diagnostic(.warning, at: location,
                          "'identity_names: looker' writes the user_identities \(keys.count == 1 ? "key" : "keys") \(pairs), which mParticle's published Events API schema refuses: its user_identities allows only its own key names",
                          fix: "remove 'identity_names: looker' to write the schema's names, unless your mParticle input is known to accept the action's spellings")
    }
}
