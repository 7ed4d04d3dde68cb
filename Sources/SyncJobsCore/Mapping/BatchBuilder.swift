/// What the engine learns about a mapped batch besides its bytes.
public struct BatchFacts: Sendable {
    /// The event's `timestamp_unixtime_ms`, to route historical events.
    public var eventTime: Int64?
    /// The hash behind `source_request_id`. Rows with one id are one record to mParticle, so the
    /// checkpoint also remembers delivered rows by it (no second hash per row).
    public var requestID: RowHash?

    public init() {}
}

/// The result of mapping one row.
public enum MappedRow: Sendable {
    /// The batch JSON, ready to be packed into a request.
    case batch([UInt8])
    /// The row cannot be sent; the reason says which field and why.
    case rejected(String)
}

/// Turns one source row into one mParticle batch (one user; one event in event mode).
///
/// This is where a row is mapped. It writes JSON bytes directly in a fixed order
/// (environment, mpid, user_identities, user_attributes, device_info, events), so equal rows give
/// byte-identical batches.
public struct BatchBuilder: Sendable {
    public let plan: MappingPlan
    private let environmentPrefix: [UInt8]
    /// Seeds the idempotency hashes with the job's name, so two jobs sending equal rows to one API
    /// key do not deduplicate each other.
    private let idSeed: UInt64
    /// Per-slot facts worked out once instead of per row (string comparisons in the hot path).
    private let deviceSlotIsIdentity: [Bool]
    private let eventSlotKinds: [EventSlotKind]
    private let mapsCustomEventType: Bool

    private enum EventSlotKind {
        case location, product, productAction, eventName, customEventType, timestamp, messageID, other
    }

    public init(plan: MappingPlan) {
        self.plan = plan
        var w = JSONWriter()
        w.raw("{\"environment\":")
        w.string(plan.environment.rawValue)
        environmentPrefix = w.bytes
        idSeed = RowHash.murmur3(Array(("syncjobs/" + plan.jobName + (plan.idScope.map { "/" + $0 } ?? "")).utf8)).high
        deviceSlotIsIdentity = plan.deviceInfo.map { TargetCatalog.deviceIdentityFields.contains($0.key) }
        eventSlotKinds = plan.eventData.map { slot in
            if slot.key.hasPrefix("location.") { return .location }
            if slot.key.hasPrefix("product_action.products.") { return .product }
            if slot.key.hasPrefix("product_action.") { return .productAction }
            switch slot.key {
            case "event_name": return .eventName
            case "custom_event_type": return .customEventType
            case "timestamp_unixtime_ms": return .timestamp
            case "source_message_id": return .messageID
            default: return .other
            }
        }
        mapsCustomEventType = plan.eventData.contains { $0.key == "custom_event_type" }
    }

    private struct Rejection: Error { var reason: String }

    /// Maps a row. `extras` are keys of a JSON record that are not among the columns.
    public func map(_ values: [Value], extras: [Value.ObjectEntry] = []) -> MappedRow {
        var facts = BatchFacts()
        return map(values, extras: extras, facts: &facts)
    }

    /// Maps a row and reports facts about the batch the engine needs besides its bytes.
    public func map(_ values: [Value], extras: [Value.ObjectEntry] = [], facts: inout BatchFacts) -> MappedRow {
        do {
            return .batch(try build(values, extras: extras, facts: &facts))
        } catch let rejection as Rejection {
            return .rejected(rejection.reason)
        } catch {
            return .rejected("\(error)")
        }
    }

    @inline(__always)
    private func value(_ slot: MappingPlan.Slot, _ values: [Value]) throws -> Value? {
        var raw: Value
        switch slot.input {
        case .constant(let v): return v
        case .column(let index): raw = index < values.count ? values[index] : .null
        }
        if let type = slot.type {
            switch ValueConversion.apply(type, to: raw) {
            case .success(let v): raw = v
            case .failure(let reason): throw Rejection(reason: "\(slot.sourceName) → \(slot.target.path): \(reason.text)")
            }
        }
        switch ValueConversion.convert(raw, to: slot.kind) {
        case .success(let v): return v
        case .failure(let reason):
            throw Rejection(reason: "\(slot.sourceName) → \(slot.target.path): \(reason.text)")
        }
    }

    private func build(_ values: [Value], extras: [Value.ObjectEntry], facts: inout BatchFacts) throws -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 512)
        w.raw(environmentPrefix)
        var hasIdentity = false

        if let slot = plan.mpid, let v = try value(slot, values) {
            w.raw(",\"mpid\":")
            w.value(v)
            hasIdentity = true
        }

        var first = true
        for slot in plan.identities {
            guard let v = try value(slot, values) else { continue }
            w.raw(first ? ",\"user_identities\":{" : ",")
            first = false
            w.string(slot.key)
            w.raw(UInt8(ascii: ":"))
            w.value(v)
            hasIdentity = true
        }
        if !first { w.raw(UInt8(ascii: "}")) }

        // user attributes, plus JSON keys outside the columns when `$unmapped` sends them here
        first = true
        var attributeCount = 0
        for slot in plan.userAttributes {
            guard let v = try value(slot, values) else { continue }
            w.raw(first ? ",\"user_attributes\":{" : ",")
            first = false
            w.string(slot.key)
            w.raw(UInt8(ascii: ":"))
            w.value(v)
            attributeCount += 1
        }
        if plan.extrasTarget == .userAttributesAll {
            for extra in extras {
                guard let v = try extraValue(extra, kind: .userAttribute) else { continue }
                w.raw(first ? ",\"user_attributes\":{" : ",")
                first = false
                w.string(extra.key)
                w.raw(UInt8(ascii: ":"))
                w.value(v)
                attributeCount += 1
            }
        }
        if !first { w.raw(UInt8(ascii: "}")) }
        if attributeCount > ValueConversion.userAttributesMax {
            throw Rejection(reason: "the row has \(attributeCount) user attributes; mParticle accepts at most \(ValueConversion.userAttributesMax) per batch")
        }

        first = true
        for (n, slot) in plan.deviceInfo.enumerated() {
            guard let v = try value(slot, values) else { continue }
            w.raw(first ? ",\"device_info\":{" : ",")
            first = false
            w.string(slot.key)
            w.raw(UInt8(ascii: ":"))
            w.value(v)
            if deviceSlotIsIdentity[n] { hasIdentity = true }
        }
        if !first { w.raw(UInt8(ascii: "}")) }

        if !hasIdentity {
            throw Rejection(reason: "every identity is null or empty (\(identitySources)); a batch must identify its user")
        }

        var dataHasFields = false
        // A mapped source_message_id that is null in this row gets the derived one, like an unmapped one.
        var wroteMessageID = false
        if plan.jobKind == .event {
            dataHasFields = try writeEvent(into: &w, values, extras: extras, eventTime: &facts.eventTime,
                                           wroteMessageID: &wroteMessageID)
        }
        // Idempotency ids: deterministic, so a resend (retry, crash and rerun, lookback) carries the
        // same ids and mParticle deduplicates it.
        let id = try idempotencyHash(values, content: w.bytes)
        facts.requestID = id
        if plan.jobKind == .event {
            if !wroteMessageID {
                w.raw(dataHasFields ? ",\"source_message_id\":\"" : "\"source_message_id\":\"")
                w.uuid(id.derived(1))
                w.raw(UInt8(ascii: "\""))
            }
            w.raw("}}]")
        }
        w.raw(",\"source_request_id\":\"")
        w.hex(id.high)
        w.hex(id.low)
        w.raw("\"}")
        if w.bytes.count > ValueConversion.batchBytesMax {
            throw Rejection(reason: "the batch is \(w.bytes.count) bytes; mParticle accepts at most \(ValueConversion.batchBytesMax) bytes (128 KB) per batch")
        }
        return w.bytes
    }

    /// The job's `key:` columns (and iterator) when declared, else the batch's bytes so far.
    private func idempotencyHash(_ values: [Value], content: [UInt8]) throws -> RowHash {
        guard let keys = plan.keyColumns else { return RowHash.murmur3(content, seed: idSeed) }
        var k = JSONWriter(reservingCapacity: 64)
        k.raw(UInt8(ascii: "["))
        var allNull = true
        for (n, index) in keys.enumerated() {
            if n > 0 { k.raw(UInt8(ascii: ",")) }
            let v = index < values.count ? values[index] : .null
            if !v.isNull { allNull = false }
            k.value(v)
        }
        if allNull {
            throw Rejection(reason: "every 'key' column (\(keys.map { plan.columns[$0] }.joined(separator: ", "))) is null, so the row has no source_request_id")
        }
        if let iterator = plan.iteratorColumn {
            k.raw(UInt8(ascii: ","))
            k.value(iterator < values.count ? values[iterator] : .null)
        }
        k.raw(UInt8(ascii: "]"))
        return RowHash.murmur3(k.bytes, seed: idSeed)
    }

    private var identitySources: String {
        let names = ([plan.mpid].compactMap { $0 } + plan.identities
                     + plan.deviceInfo.filter { TargetCatalog.deviceIdentityFields.contains($0.key) }).map(\.sourceName)
        return names.joined(separator: ", ")
    }

    private func extraValue(_ extra: Value.ObjectEntry, kind: FieldKind) throws -> Value? {
        if plan.extrasTakenNames.contains(extra.key) {
            throw Rejection(reason: "key '\(extra.key)' is not a column, and '$unmapped' would send it to '\(extra.key)', which another entry already writes")
        }
        if extra.key.count > ValueConversion.attributeNameMax {
            throw Rejection(reason: "key '\(extra.key.prefix(40))…' is longer than \(ValueConversion.attributeNameMax) characters, the attribute name limit")
        }
        switch ValueConversion.convert(extra.value, to: kind) {
        case .success(let v): return v
        case .failure(let reason): throw Rejection(reason: "key '\(extra.key)' ($unmapped): \(reason.text)")
        }
    }

    /// Writes the event up to the end of its data fields (the caller closes it); returns whether
    /// `data` has any field, and sets `wroteMessageID` when the row had a mapped source_message_id.
    private func writeEvent(into w: inout JSONWriter, _ values: [Value], extras: [Value.ObjectEntry],
                            eventTime: inout Int64?, wroteMessageID: inout Bool) throws -> Bool {
        let eventType: String
        if let fixed = plan.staticEventType {
            eventType = fixed
        } else if let slot = plan.eventTypeSlot, case .string(let t)? = try value(slot, values) {
            eventType = t
        } else {
            throw Rejection(reason: "\(plan.eventTypeSlot?.sourceName ?? "the event type") → events.event_type: the event type is empty")
        }
        let perRowType = plan.staticEventType == nil

        w.raw(",\"events\":[{\"event_type\":")
        w.string(eventType)
        w.raw(",\"data\":{")
        var firstField = true
        func field(_ key: String) {
            if !firstField { w.raw(UInt8(ascii: ",")) }
            firstField = false
            w.string(key)
            w.raw(UInt8(ascii: ":"))
        }

        // Flat fields, then the nested objects location and product_action, in canonical order.
        var location: [(String, Value)] = []
        var productAction: [(String, Value)] = []
        var product: [(String, Value)] = []
        var hasEventName = false
        var hasCustomEventType = false
        for (n, slot) in plan.eventData.enumerated() {
            guard let v = try value(slot, values) else { continue }
            if perRowType, let spec = TargetCatalog.eventData[slot.key], !spec.eventTypes.contains(eventType) {
                throw Rejection(reason: "\(slot.sourceName) → \(slot.target.path): \(eventType) events have no such field")
            }
            let kind = eventSlotKinds[n]
            switch kind {
            case .location:
                location.append((String(slot.key.dropFirst("location.".count)), v))
            case .product:
                product.append((String(slot.key.dropFirst("product_action.products.".count)), v))
            case .productAction:
                productAction.append((String(slot.key.dropFirst("product_action.".count)), v))
            case .eventName, .customEventType, .timestamp, .messageID, .other:
                if kind == .customEventType { hasCustomEventType = true }
                if kind == .messageID { wroteMessageID = true }
                if kind == .timestamp, case .int(let ms) = v { eventTime = ms }
                if kind == .eventName {
                    hasEventName = true
                    if case .string(let name) = v, name.isEmpty {
                        throw Rejection(reason: "\(slot.sourceName) → events.data.event_name: the event name is empty")
                    }
                }
                field(slot.key)
                w.value(v)
                if kind == .eventName && eventType == "custom_event" && !mapsCustomEventType {
                    field("custom_event_type")
                    w.raw("\"other\"")
                    hasCustomEventType = true
                }
            }
        }
        if eventType == "custom_event" {
            if !hasEventName {
                throw Rejection(reason: "\(plan.eventData.first { $0.key == "event_name" }?.sourceName ?? "no column") → events.data.event_name: a custom_event needs an event name, and it is null")
            }
            if !hasCustomEventType {
                field("custom_event_type")
                w.raw("\"other\"")
            }
        }
        if !location.isEmpty {
            guard location.contains(where: { $0.0 == "latitude" }), location.contains(where: { $0.0 == "longitude" }) else {
                throw Rejection(reason: "events.data.location needs both latitude and longitude; this row has only \(location.map(\.0).joined(separator: ", "))")
            }
            field("location")
            w.raw(UInt8(ascii: "{"))
            for (n, (k, v)) in location.enumerated() {
                if n > 0 { w.raw(UInt8(ascii: ",")) }
                w.string(k); w.raw(UInt8(ascii: ":")); w.value(v)
            }
            w.raw(UInt8(ascii: "}"))
        }
        if !productAction.isEmpty || !product.isEmpty {
            guard productAction.contains(where: { $0.0 == "action" }) else {
                throw Rejection(reason: "events.data.product_action.action is null; a product action needs its action")
            }
            field("product_action")
            w.raw(UInt8(ascii: "{"))
            for (n, (k, v)) in productAction.enumerated() {
                if n > 0 { w.raw(UInt8(ascii: ",")) }
                w.string(k); w.raw(UInt8(ascii: ":")); w.value(v)
            }
            if !product.isEmpty {
                w.raw(",\"products\":[{")
                for (n, (k, v)) in product.enumerated() {
                    if n > 0 { w.raw(UInt8(ascii: ",")) }
                    w.string(k); w.raw(UInt8(ascii: ":")); w.value(v)
                }
                w.raw("}]")
            }
            w.raw(UInt8(ascii: "}"))
        } else if eventType == "commerce_event" {
            throw Rejection(reason: "events.data.product_action.action is null; a commerce_event needs a product action")
        }

        // Two sections written the same way; a loop over an array literal here would allocate per row.
        func section(_ name: String, _ slots: [MappingPlan.Slot], _ extrasTarget: Target, _ allowed: Set<String>) throws {
            let entries = try attributeEntries(slots, extrasHere: plan.extrasTarget == extrasTarget, values, extras)
            guard !entries.isEmpty else { return }
            guard allowed.contains(eventType) else {
                throw Rejection(reason: "\(eventType) events carry no \(name), but this row has \(entries.map(\.0).joined(separator: ", "))")
            }
            field(name)
            w.raw(UInt8(ascii: "{"))
            for (n, (k, v)) in entries.enumerated() {
                if n > 0 { w.raw(UInt8(ascii: ",")) }
                w.string(k); w.raw(UInt8(ascii: ":")); w.value(v)
            }
            w.raw(UInt8(ascii: "}"))
        }
        try section("custom_attributes", plan.customAttributes, .customAttributesAll, TargetCatalog.customAttributeEventTypes)
        try section("custom_flags", plan.customFlags, .customFlagsAll, TargetCatalog.customFlagEventTypes)
        return !firstField
    }

    private func attributeEntries(_ slots: [MappingPlan.Slot], extrasHere: Bool, _ values: [Value],
                                  _ extras: [Value.ObjectEntry]) throws -> [(String, Value)] {
        var entries: [(String, Value)] = []
        for slot in slots {
            if let v = try value(slot, values) { entries.append((slot.key, v)) }
        }
        if extrasHere {
            for extra in extras {
                if let v = try extraValue(extra, kind: .eventAttribute) { entries.append((extra.key, v)) }
            }
        }
        return entries
    }
}
