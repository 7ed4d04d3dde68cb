/// A mapping compiled against a source's columns: which cell goes where, with what conversion.
///
/// Compiling once per run moves every name lookup, path parse and collision check out of the
/// per-row path; `BatchBuilder` then only indexes arrays.
package struct MappingPlan: Sendable {
    package enum Input: Sendable, Hashable {
        case column(Int)
        case constant(Value)
    }

    package struct Slot: Sendable {
        package var target: Target
        package var input: Input
        package var type: ValueType?
        /// The key under which the value is written (attribute name, identity key, field name).
        package var key: String
        package var kind: FieldKind
        package var sourceName: String
        /// Empty text is left out, like null (FME impression attributes), instead of sent as "".
        package var omitsEmpty = false
    }

    package var jobKind: JobDefinition.Kind
    package var environment: Environment
    package var columns: [String]

    package var mpid: Slot?
    package var identities: [Slot] = []
    package var userAttributes: [Slot] = []
    package var deviceInfo: [Slot] = []
    /// Event type fixed by the job (`static:` or the custom_event default) or read per row.
    package var staticEventType: String?
    package var eventTypeSlot: Slot?
    /// Event data fields in the order they are written.
    package var eventData: [Slot] = []
    package var customAttributes: [Slot] = []
    package var customFlags: [Slot] = []
    /// Where keys of a JSON record that are not columns go (`$unmapped`), if anywhere.
    package var extrasTarget: Target?
    /// Names already written by the wildcard target's section, so extras cannot collide.
    var extrasTakenNames: Set<String> = []
    /// For `mapping: looker`: how each field of the Looker result was mapped, for `jobs plan`.
    package var lookerMapping: LookerDerivedMapping? = nil
    /// For `mapping: fme_impressions`: what each column became, for `jobs plan`.
    package var fmeMapping: FMEDerivedMapping? = nil

    /// A cell a row cannot do without: when it is null or empty the row is rejected with `reason`.
    package struct RequiredCell: Sendable {
        package var column: Int
        package var reason: String
    }
    package var requiredCells: [RequiredCell] = []

    /// When set, a row writes only the identity its `column`'s value chooses (FME traffic types):
    /// `slotByValue` maps each value to an index in `identities`. With no such column the first
    /// choice serves every row.
    package struct IdentityChoice: Sendable {
        package var column: Int?
        package var slotByValue: [(value: String, slot: Int)]
        /// How the column and the table are named in rejection reasons.
        package var choosingName: String
        package var mapName: String
    }
    package var identityChoice: IdentityChoice? = nil
    /// `format: mparticle`: the column holding a whole batch, written as it is (the job's
    /// environment when it has none, its own `source_request_id` kept).
    package var passthroughColumn: Int? = nil

    /// Idempotency: `source_request_id` (and each event's `source_message_id`) are derived from the
    /// job's name and either the `key:` columns (with the iterator column in incremental jobs) or
    /// the batch's content.
    package var jobName: String = ""
    /// Set for deliveries that must not share ids with earlier ones (a backfill's resend, which
    /// mParticle would otherwise drop as a repeat): it is mixed into every id.
    package var idScope: String?
    package var keyColumns: [Int]?
    package var iteratorColumn: Int?

    /// One line per mapped target, for `jobs plan`.
    package var summary: [(source: String, target: String)] {
        var rows: [(String, String)] = []
        let all = [mpid].compactMap { $0 } + identities + userAttributes + deviceInfo + [eventTypeSlot].compactMap { $0 }
            + eventData + customAttributes + customFlags
        for slot in all { rows.append((slot.sourceName, slot.target.path)) }
        if let staticEventType, eventTypeSlot == nil { rows.append(("static '\(staticEventType)'", "events.event_type")) }
        if let extrasTarget { rows.append(("keys outside the columns", extrasTarget.path)) }
        return rows
    }
}

/// Compiles job mapping entries against the source's columns.
package enum MappingCompiler {
    /// Compiles a job's mapping against an opened source's columns.
    package static func compile(job: JobDefinition, for source: any OpenedSource) -> (MappingPlan?, [Diagnostic]) {
        if let rule = job.lookerTagMapping {
            return LookerTagMapper.compile(job: job, rule: rule, for: source)
        }
        if let spec = job.fmeImpressions {
            return FMEImpressionMapper.compile(job: job, spec: spec, for: source)
        }
        if case .file(_, .mparticle) = job.source {
            var plan = MappingPlan(jobKind: job.kind, environment: job.destination.environment, columns: source.columns)
            plan.passthroughColumn = source.columns.firstIndex(of: MParticleRecordReader.column)
            plan.jobName = job.name
            return (plan, [])
        }
        return compile(job: job, columns: source.columns, acceptsExtraKeys: source.acceptsExtraKeys,
                sourceDescription: source.description)
    }

    /// Canonical order of event data fields in the output.
    static let eventDataOrder: [String] = [
        "event_name", "custom_event_type", "screen_name", "timestamp_unixtime_ms", "source_message_id", "event_id",
        "session_id", "session_uuid",
        "session_duration_ms", "currency_code", "location.latitude", "location.longitude", "location.accuracy",
        "product_action.action", "product_action.checkout_step", "product_action.checkout_options",
        "product_action.product_action_list", "product_action.product_list_source", "product_action.transaction_id",
        "product_action.affiliation", "product_action.total_amount", "product_action.tax_amount",
        "product_action.shipping_amount", "product_action.coupon_code", "product_action.products.id",
        "product_action.products.name", "product_action.products.brand", "product_action.products.category",
        "product_action.products.variant", "product_action.products.position", "product_action.products.price",
        "product_action.products.quantity", "product_action.products.coupon_code",
        "product_action.products.added_to_cart_time_ms", "product_action.products.total_product_amount",
    ]

    package static func compile(job: JobDefinition, columns: [String], acceptsExtraKeys: Bool,
                               sourceDescription: String) -> (MappingPlan?, [Diagnostic]) {
        var diagnostics: [Diagnostic] = []
        func error(_ at: SourceLocation, _ message: String, fix: String? = nil) {
            diagnostics.append(Diagnostic(.error, at: at, message, fix: fix))
        }
        let columnIndex = Dictionary(columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        func resolveColumn(_ name: String, at location: SourceLocation) -> Int? {
            if let index = columnIndex[name] { return index }
            let fix: String
            if let match = Spelling.suggestion(for: name, among: columns) {
                fix = "did you mean '\(match)'?"
            } else {
                fix = "the columns are \(Format.names(columns))"
            }
            error(location, "column '\(name)' is not in \(sourceDescription)", fix: fix)
            return nil
        }

        var plan = MappingPlan(jobKind: job.kind, environment: job.destination.environment, columns: columns)
        var written: [Target: SourceLocation] = [:]
        var used: Set<Int> = []
        var unmappedEntry: (target: Target, entry: MappingEntry)?

        func claim(_ target: Target, at location: SourceLocation) -> Bool {
            if let first = written[target] {
                error(location, "two mapping entries write '\(target.path)' (the other is on line \(first.line))",
                      fix: "keep one of them, or send one to another path")
                return false
            }
            written[target] = location
            return true
        }

        var slots: [MappingPlan.Slot] = []
        for entry in job.mapping {
            var target: Target?
            if let path = entry.target {
                switch TargetCatalog.parse(path) {
                case .success(let parsed): target = parsed
                case .failure(.unknown(let message, let fix)):
                    error(entry.targetLocation, message, fix: fix)
                    continue
                }
            }
            if let target, target.isEvent, job.kind == .user {
                error(entry.targetLocation, "'\(target.path)' is an event field, but this is a user job (type: user)",
                      fix: "use user_identities, user_attributes or device_info paths, or set 'type: event'")
                continue
            }
            switch entry.input {
            case .ignore(let name):
                if let index = resolveColumn(name, at: entry.location) { used.insert(index) }
            case .unmapped:
                guard let target, target.isWildcard else {
                    error(entry.targetLocation, "'$unmapped' sends every remaining column under its own name, so 'to:' must end in '.*'",
                          fix: "use 'to: user_attributes.*'" + (job.kind == .event ? " or 'to: events.data.custom_attributes.*'" : ""))
                    continue
                }
                if let previous = unmappedEntry {
                    error(entry.location, "'$unmapped' appears twice (first on line \(previous.entry.location.line))", fix: "keep one of them")
                    continue
                }
                if entry.type != nil {
                    error(entry.location, "'type:' cannot apply to '$unmapped'", fix: "map the column that needs a conversion on its own entry")
                }
                unmappedEntry = (target, entry)
            case .column(let name):
                guard let target else { continue }
                if target.isWildcard {
                    error(entry.targetLocation, "'\(target.path)' takes '$unmapped' only", fix: "write 'column: $unmapped', or name one attribute instead of '*'")
                    continue
                }
                guard let index = resolveColumn(name, at: entry.location) else { continue }
                used.insert(index)
                guard claim(target, at: entry.targetLocation) else { continue }
                guard checkName(target, at: entry.targetLocation, error: error) else { continue }
                slots.append(slot(target, input: .column(index), type: entry.type, sourceName: "column '\(name)'"))
            case .staticValue(let value):
                guard let target else { continue }
                if target.isWildcard {
                    error(entry.targetLocation, "a static value needs a single path, not '\(target.path)'", fix: "name the field instead of '*'")
                    continue
                }
                guard claim(target, at: entry.targetLocation) else { continue }
                guard checkName(target, at: entry.targetLocation, error: error) else { continue }
                // Convert now: a static value that cannot fit its field is a job error, not a row error.
                var converted = value
                if let type = entry.type {
                    switch ValueConversion.apply(type, to: value) {
                    case .success(let v): converted = v
                    case .failure(let reason):
                        error(entry.location, "static value \(ValueConversion.quoted(value)) cannot be used as \(type.rawValue): \(reason.text)", fix: "change the value or its 'type:'")
                        continue
                    }
                }
                switch ValueConversion.convert(converted, to: target.kind) {
                case .success(let v?): converted = v
                case .success(nil):
                    error(entry.location, "static value for '\(target.path)' is empty", fix: "give it a value or remove the entry")
                    continue
                case .failure(let reason):
                    error(entry.location, "static value for '\(target.path)' does not fit: \(reason.text)",
                          fix: "change the value")
                    continue
                }
                slots.append(slot(target, input: .constant(converted), type: nil, sourceName: "static \(ValueConversion.quoted(value))"))
            }
        }

        // $unmapped: every column no other entry maps or ignores, in source order.
        if let (wildcard, entry) = unmappedEntry {
            for (index, name) in columns.enumerated() where !used.contains(index) {
                let target: Target
                switch wildcard {
                case .customAttributesAll: target = .customAttribute(name)
                case .customFlagsAll: target = .customFlag(name)
                default: target = .userAttribute(name)
                }
                if let first = written[target] {
                    error(entry.location, "'$unmapped' would send column '\(name)' to '\(target.path)', which line \(first.line) already writes",
                          fix: "add '- { ignore: \(name) }' or map column '\(name)' explicitly")
                    continue
                }
                guard checkName(target, at: entry.location, error: error) else { continue }
                written[target] = entry.location
                slots.append(slot(target, input: .column(index), type: nil, sourceName: "column '\(name)' ($unmapped)"))
            }
            if acceptsExtraKeys {
                plan.extrasTarget = wildcard
            }
        } else {
            let unmapped = columns.enumerated().filter { !used.contains($0.offset) }.map(\.element)
            if !unmapped.isEmpty {
                let location = job.location("mapping")
                diagnostics.append(Diagnostic(.warning, at: location,
                    "\(unmapped.count == 1 ? "column" : "columns") \(Format.names(unmapped)) \(unmapped.count == 1 ? "is" : "are") neither mapped nor ignored, so \(unmapped.count == 1 ? "it is" : "they are") not sent",
                    fix: "map \(unmapped.count == 1 ? "it" : "them"), add '- { ignore: <column> }', or add '- { column: $unmapped, to: user_attributes.* }'"))
            }
        }

        for s in slots {
            switch s.target {
            case .mpid: plan.mpid = s
            case .identity: plan.identities.append(s)
            case .userAttribute: plan.userAttributes.append(s)
            case .deviceInfo: plan.deviceInfo.append(s)
            case .eventType: plan.eventTypeSlot = s
            case .eventData: plan.eventData.append(s)
            case .customAttribute: plan.customAttributes.append(s)
            case .customFlag: plan.customFlags.append(s)
            case .userAttributesAll, .customAttributesAll, .customFlagsAll: break
            }
        }
        plan.eventData.sort { (eventDataOrder.firstIndex(of: $0.key) ?? 999) < (eventDataOrder.firstIndex(of: $1.key) ?? 999) }
        switch plan.extrasTarget {
        case .userAttributesAll?: plan.extrasTakenNames = Set(plan.userAttributes.map(\.key))
        case .customAttributesAll?: plan.extrasTakenNames = Set(plan.customAttributes.map(\.key))
        case .customFlagsAll?: plan.extrasTakenNames = Set(plan.customFlags.map(\.key))
        default: break
        }

        // Identity: every batch must say which user it is about.
        // Judged on the targets written, so a misspelt identity column is reported once, not twice.
        let identityTargets = job.mapping.compactMap { entry -> Target? in
            guard let path = entry.target, case .success(let target) = TargetCatalog.parse(path) else { return nil }
            return target
        }.filter { target in
            switch target {
            case .mpid, .identity: return true
            case .deviceInfo(let field): return TargetCatalog.deviceIdentityFields.contains(field)
            default: return false
            }
        }
        if job.mapping.isEmpty {
            error(job.location("mapping"), "the mapping is empty, so no batch could say which user it is about",
                  fix: "add entries, at least one mapping a column to 'user_identities.customer_id', 'user_identities.email', another identity key, 'mpid' or a device id")
        } else if identityTargets.isEmpty {
            error(job.location("mapping"), "no mapping entry writes a user identity, so no batch could say which user it is about",
                  fix: "map a column to 'user_identities.customer_id', 'user_identities.email', another identity key, 'mpid' or a device id")
        }

        if job.kind == .event {
            compileEventChecks(&plan, job: job, written: written, error: error)
        } else if plan.userAttributes.isEmpty && plan.deviceInfo.isEmpty && plan.extrasTarget == nil && !job.mapping.isEmpty {
            diagnostics.append(Diagnostic(.warning, at: job.location("mapping"), "user batches will carry identities only",
                                          fix: "map columns to 'user_attributes.<name>' to send attributes"))
        }
        if plan.userAttributes.count > ValueConversion.userAttributesMax {
            error(job.location("mapping"), "the mapping writes \(plan.userAttributes.count) user attributes; mParticle accepts at most \(ValueConversion.userAttributesMax) per batch",
                  fix: "ignore some columns or map fewer attributes")
        }
        plan.jobName = job.name
        if let key = job.key {
            let resolved = key.compactMap { resolveColumn($0, at: job.location("key")) }
            if resolved.count == key.count { plan.keyColumns = resolved }
            if job.sync.mode == .incremental, let iterator = job.sync.iterator, let index = columnIndex[iterator],
               !resolved.contains(index) {
                plan.iteratorColumn = index
            }
            if job.kind == .user && job.sync.mode == .full {
                diagnostics.append(Diagnostic(.warning, at: job.location("key"),
                    "a full user sync sends each key with the same source_request_id on every run, and mParticle drops repeats for 30 to 60 days, so changed attributes would be dropped too",
                    fix: "add a column that changes with the row (e.g. updated_at) to 'key:', or remove 'key:' to derive the id from the row's content"))
            }
        }
        let hasErrors = diagnostics.contains { $0.severity == .error }
        // Warnings about what is not sent are noise until the errors are fixed.
        return hasErrors ? (nil, diagnostics.filter { $0.severity == .error }) : (plan, diagnostics)
    }

    private static func compileEventChecks(_ plan: inout MappingPlan, job: JobDefinition, written: [Target: SourceLocation],
                                           error: (SourceLocation, String, String?) -> Void) {
        if let slot = plan.eventTypeSlot, case .constant(.string(let type)) = slot.input {
            plan.staticEventType = type
            plan.eventTypeSlot = nil
        } else if plan.eventTypeSlot == nil {
            plan.staticEventType = "custom_event"
        }
        guard let eventType = plan.staticEventType else { return }
        // Fields that this event type does not carry are a job error when the type is fixed.
        for slot in plan.eventData {
            if let field = TargetCatalog.eventData[slot.key], !field.eventTypes.contains(eventType) {
                error(written[slot.target] ?? job.location("mapping"),
                      "'\(slot.target.path)' does not exist on \(eventType) events",
                      "it belongs to \(field.eventTypes.sorted().joined(separator: ", ")); remove it or change 'events.event_type'")
            }
        }
        if !plan.customAttributes.isEmpty || plan.extrasTarget == .customAttributesAll,
           !TargetCatalog.customAttributeEventTypes.contains(eventType) {
            error(job.location("mapping"), "\(eventType) events carry no custom attributes", "remove the custom_attributes entries")
        }
        if !plan.customFlags.isEmpty, !TargetCatalog.customFlagEventTypes.contains(eventType) {
            error(job.location("mapping"), "\(eventType) events carry no custom flags", "remove the custom_flags entries")
        }
        let keys = Set(plan.eventData.map(\.key))
        if eventType == "custom_event" && !keys.contains("event_name") {
            error(job.location("mapping"), "custom_event batches need an event name",
                  "map a column or a static value to 'events.data.event_name'")
        }
        if eventType == "commerce_event" && !keys.contains("product_action.action") {
            error(job.location("mapping"), "commerce_event batches need a product action",
                  "map a column or a static value to 'events.data.product_action.action'")
        }
    }

    private static func checkName(_ target: Target, at location: SourceLocation,
                                  error: (SourceLocation, String, String?) -> Void) -> Bool {
        switch target {
        case .userAttribute(let name), .customAttribute(let name), .customFlag(let name):
            if name.count > ValueConversion.attributeNameMax {
                error(location, "attribute name '\(name.prefix(40))…' is \(name.count) characters long; the limit is \(ValueConversion.attributeNameMax)",
                      "use a shorter name")
                return false
            }
            return true
        default:
            return true
        }
    }

    private static func slot(_ target: Target, input: MappingPlan.Input, type: ValueType?, sourceName: String) -> MappingPlan.Slot {
        let key: String
        switch target {
        case .mpid: key = "mpid"
        case .identity(let k), .userAttribute(let k), .deviceInfo(let k), .eventData(let k), .customAttribute(let k), .customFlag(let k):
            key = k
        case .eventType: key = "event_type"
        case .userAttributesAll, .customAttributesAll, .customFlagsAll: key = "*"
        }
        return MappingPlan.Slot(target: target, input: input, type: type, key: key, kind: target.kind, sourceName: sourceName)
    }
}
