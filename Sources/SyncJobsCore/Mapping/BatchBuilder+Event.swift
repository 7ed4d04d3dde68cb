/// The event of an event job's batch.
extension BatchBuilder {
    /// Writes the event up to the end of its data fields (the caller closes it); returns whether
    /// `data` has any field, and sets `wroteMessageID` when the row had a mapped source_message_id.
    func writeEvent(into w: inout JSONWriter, _ batch: RowBatch, _ row: Int, extras: [Value.ObjectEntry],
                    eventTime: inout Int64?, wroteMessageID: inout Bool) throws -> Bool {
        let eventType: String
        if let fixed = plan.staticEventType {
            eventType = fixed
        } else if let slot = eventTypeSlot, let t = try field(slot, batch, row)?.text(in: batch) {
            eventType = t
        } else {
            throw Rejection(reason: "\(plan.eventTypeSlot?.sourceName ?? "the event type") → events.event_type: the event type is empty")
        }
        let perRowType = plan.staticEventType == nil

        w.raw(",\"events\":[{\"event_type\":")
        w.string(eventType)
        w.raw(",\"data\":{")
        var firstField = true
        func key(_ keyJSON: UnsafeRawBufferPointer) {
            if !firstField { w.raw(UInt8(ascii: ",")) }
            firstField = false
            w.bytes.append(contentsOf: keyJSON)
        }
        func key(_ literal: StaticString) {
            if !firstField { w.raw(UInt8(ascii: ",")) }
            firstField = false
            w.raw(literal)
        }

        // Flat fields, then the nested objects location and product_action, in canonical order.
        var location: [(String, FieldValue)] = []
        var productAction: [(String, FieldValue)] = []
        var product: [(String, FieldValue)] = []
        var hasEventName = false
        var hasCustomEventType = false
        for index in eventData.indices {
            guard let v = try field(eventData[index], batch, row) else { continue }
            if perRowType, let spec = TargetCatalog.eventData[slots[eventData[index].index].key], !spec.eventTypes.contains(eventType) {
                let slot = slots[eventData[index].index]
                throw Rejection(reason: "\(slot.sourceName) → \(slot.target.path): \(eventType) events have no such field")
            }
            let kind = eventData[index].eventKind
            switch kind {
            case .location:
                location.append((nestedKeys[eventData[index].index] ?? "", v))
            case .product:
                product.append((nestedKeys[eventData[index].index] ?? "", v))
            case .productAction:
                productAction.append((nestedKeys[eventData[index].index] ?? "", v))
            case .eventName, .customEventType, .timestamp, .messageID, .other:
                if kind == .customEventType { hasCustomEventType = true }
                if kind == .messageID { wroteMessageID = true }
                if kind == .timestamp, let ms = v.millis { eventTime = ms }
                if kind == .eventName {
                    hasEventName = true
                    if v.isEmptyText {
                        throw Rejection(reason: "\(slots[eventData[index].index].sourceName) → events.data.event_name: the event name is empty")
                    }
                }
                key(eventData[index].keyJSON)
                w.field(v, batch)
                if kind == .eventName && eventType == "custom_event" && !mapsCustomEventType {
                    w.raw(",\"custom_event_type\":\"other\"")
                    hasCustomEventType = true
                }
            }
        }
        if eventType == "custom_event" {
            if !hasEventName {
                throw Rejection(reason: "\(plan.eventData.first { $0.key == "event_name" }?.sourceName ?? "no column") → events.data.event_name: a custom_event needs an event name, and it is null")
            }
            if !hasCustomEventType {
                key("\"custom_event_type\":")
                w.raw("\"other\"")
            }
        }
        func object(_ entries: [(String, FieldValue)]) {
            for (n, (k, v)) in entries.enumerated() {
                if n > 0 { w.raw(UInt8(ascii: ",")) }
                w.string(k); w.raw(UInt8(ascii: ":")); w.field(v, batch)
            }
        }
        if !location.isEmpty {
            guard location.contains(where: { $0.0 == "latitude" }), location.contains(where: { $0.0 == "longitude" }) else {
                throw Rejection(reason: "events.data.location needs both latitude and longitude; this row has only \(location.map(\.0).joined(separator: ", "))")
            }
            key("\"location\":")
            w.raw(UInt8(ascii: "{"))
            object(location)
            w.raw(UInt8(ascii: "}"))
        }
        if !productAction.isEmpty || !product.isEmpty {
            guard productAction.contains(where: { $0.0 == "action" }) else {
                throw Rejection(reason: "events.data.product_action.action is null; a product action needs its action")
            }
            key("\"product_action\":")
            w.raw(UInt8(ascii: "{"))
            object(productAction)
            if !product.isEmpty {
                w.raw(",\"products\":[{")
                object(product)
                w.raw("}]")
            }
            w.raw(UInt8(ascii: "}"))
        } else if eventType == "commerce_event" {
            throw Rejection(reason: "events.data.product_action.action is null; a commerce_event needs a product action")
        }

        // Whether the event type carries attributes and flags: worked out once for a fixed type.
        let carriesAttributes = staticEventCarries?.attributes ?? TargetCatalog.customAttributeEventTypes.contains(eventType)
        let carriesFlags = staticEventCarries?.flags ?? TargetCatalog.customFlagEventTypes.contains(eventType)
        try attributes("custom_attributes", customAttributes, extrasHere: plan.extrasTarget == .customAttributesAll,
                       allowed: carriesAttributes, eventType: eventType, batch, row, extras, into: &w, firstField: &firstField)
        try attributes("custom_flags", customFlags, extrasHere: plan.extrasTarget == .customFlagsAll,
                       allowed: carriesFlags, eventType: eventType, batch, row, extras, into: &w, firstField: &firstField)
        return !firstField
    }

    /// Writes `"custom_attributes":{…}` (or flags) when the row has any; refuses them on event
    /// types that carry none.
    private func attributes(_ name: StaticString, _ slots: [CompiledSlot], extrasHere: Bool, allowed: Bool,
                            eventType: String, _ batch: RowBatch, _ row: Int, _ extras: [Value.ObjectEntry],
                            into w: inout JSONWriter, firstField: inout Bool) throws {
        var opened = false
        var names: [String] = []
        func open() {
            guard !opened else { w.raw(UInt8(ascii: ",")); return }
            opened = true
            if !firstField { w.raw(UInt8(ascii: ",")) }
            firstField = false
            w.raw(UInt8(ascii: "\""))
            w.raw(name)
            w.raw("\":{")
        }
        for index in slots.indices {
            guard let v = try field(slots[index], batch, row) else { continue }
            guard allowed else { names.append(self.slots[slots[index].index].key); continue }
            open()
            w.bytes.append(contentsOf: slots[index].keyJSON)
            w.field(v, batch)
        }
        if extrasHere {
            for extra in extras {
                guard let v = try extraValue(extra, kind: .eventAttribute) else { continue }
                guard allowed else { names.append(extra.key); continue }
                open()
                w.string(extra.key)
                w.raw(UInt8(ascii: ":"))
                w.value(v)
            }
        }
        if !names.isEmpty {
            throw Rejection(reason: "\(eventType) events carry no \(name), but this row has \(names.joined(separator: ", "))")
        }
        if opened { w.raw(UInt8(ascii: "}")) }
    }
}
