/// What the engine learns about a mapped batch besides its bytes.
package struct BatchFacts: Sendable {
    /// The event's `timestamp_unixtime_ms`, to route historical events.
    package var eventTime: Int64?
    /// The hash behind `source_request_id`. Rows with one id are one record to mParticle, so the
    /// checkpoint also remembers delivered rows by it (no second hash per row).
    package var requestID: RowHash?

    package init() {}
}

/// The result of mapping one row.
package enum MappedRow: Sendable {
    /// The batch JSON, ready to be packed into a request.
    case batch([UInt8])
    /// The row cannot be sent; the reason says which field and why.
    case rejected(String)
}

/// Turns one source row into one mParticle batch (one user; one event in event mode).
///
/// This is where a row is mapped. It writes JSON bytes directly in a fixed order
/// (environment, mpid, user_identities, user_attributes, device_info, events), so equal rows give
/// byte-identical batches. It reads the row's cells in its `RowBatch` and writes the common cases
/// straight from the source's bytes (`FieldValue`); everything else goes through `ValueConversion`.
package struct BatchBuilder: Sendable {
    package let plan: MappingPlan
    private let environmentPrefix: [UInt8]
    /// Seeds the idempotency hashes with the job's name, so two jobs sending equal rows to one API
    /// key do not deduplicate each other.
    private let idSeed: UInt64
    /// Per-slot facts worked out once instead of per row (string comparisons in the hot path).
    let mpid: CompiledSlot?
    let identities: [CompiledSlot]
    let userAttributes: [CompiledSlot]
    let deviceInfo: [CompiledSlot]
    let eventTypeSlot: CompiledSlot?
    let eventData: [CompiledSlot]
    let customAttributes: [CompiledSlot]
    let customFlags: [CompiledSlot]
    let mapsCustomEventType: Bool
    /// For a fixed event type: whether it carries custom attributes and custom flags.
    let staticEventCarries: (attributes: Bool, flags: Bool)?

    enum EventSlotKind: Sendable {
        case location, product, productAction, eventName, customEventType, timestamp, messageID, other
    }

    /// The bytes the compiled slots point into.
    private let slotBytes = SlotBytes()

    /// A slot with what the hot path needs. Trivially copyable: it touches no `String` or array of
    /// the plan per row, so mapping a row retains and releases nothing for its slots.
    struct CompiledSlot: @unchecked Sendable {
        // @unchecked: `keyJSON` points into the builder's `SlotBytes`, immutable once made.
        let fast: FastSlot
        /// `"key":` as JSON.
        let keyJSON: UnsafeRawBufferPointer
        let isDeviceIdentity: Bool
        let omitsEmpty: Bool
        let eventKind: EventSlotKind
        /// The slot itself, in `BatchBuilder.slots`, for the general path and for messages.
        let index: Int

        init(_ slot: MappingPlan.Slot, index: Int, bytes: SlotBytes, key: String? = nil, isDeviceIdentity: Bool = false,
             eventKind: EventSlotKind = .other) {
            fast = FastSlot(slot, bytes: bytes)
            var w = JSONWriter(reservingCapacity: slot.key.utf8.count + 3)
            w.string(key ?? slot.key)
            w.raw(UInt8(ascii: ":"))
            keyJSON = bytes.store(w.bytes)
            self.isDeviceIdentity = isDeviceIdentity
            omitsEmpty = slot.omitsEmpty
            self.eventKind = eventKind
            self.index = index
        }
    }

    /// Every slot of the plan, in the order the compiled slots name them.
    let slots: [MappingPlan.Slot]
    /// For location and product fields: the key inside the nested object, by slot index.
    let nestedKeys: [Int: String]

    package init(plan: MappingPlan) {
        self.plan = plan
        var w = JSONWriter()
        w.raw("{\"environment\":")
        w.string(plan.environment.rawValue)
        environmentPrefix = w.bytes
        idSeed = RowHash.murmur3(Array(("syncjobs/" + plan.jobName + (plan.idScope.map { "/" + $0 } ?? "")).utf8)).high
        var all: [MappingPlan.Slot] = []
        var nested: [Int: String] = [:]
        let bytes = slotBytes
        func compile(_ slot: MappingPlan.Slot, key: String? = nil, isDeviceIdentity: Bool = false,
                     eventKind: EventSlotKind = .other) -> CompiledSlot {
            all.append(slot)
            return CompiledSlot(slot, index: all.count - 1, bytes: bytes, key: key, isDeviceIdentity: isDeviceIdentity, eventKind: eventKind)
        }
        mpid = plan.mpid.map { compile($0) }
        identities = plan.identities.map { compile($0) }
        userAttributes = plan.userAttributes.map { compile($0) }
        deviceInfo = plan.deviceInfo.map { compile($0, isDeviceIdentity: TargetCatalog.deviceIdentityFields.contains($0.key)) }
        eventTypeSlot = plan.eventTypeSlot.map { compile($0) }
        eventData = plan.eventData.map { slot in
            for (prefix, kind) in [("location.", EventSlotKind.location), ("product_action.products.", .product),
                                   ("product_action.", .productAction)] where slot.key.hasPrefix(prefix) {
                let key = String(slot.key.dropFirst(prefix.count))
                let compiled = compile(slot, key: key, eventKind: kind)
                nested[compiled.index] = key
                return compiled
            }
            let kinds: [String: EventSlotKind] = ["event_name": .eventName, "custom_event_type": .customEventType,
                                                  "timestamp_unixtime_ms": .timestamp, "source_message_id": .messageID]
            return compile(slot, eventKind: kinds[slot.key] ?? .other)
        }
        customAttributes = plan.customAttributes.map { compile($0) }
        customFlags = plan.customFlags.map { compile($0) }
        slots = all
        nestedKeys = nested
        mapsCustomEventType = plan.eventData.contains { $0.key == "custom_event_type" }
        staticEventCarries = plan.staticEventType.map {
            (TargetCatalog.customAttributeEventTypes.contains($0), TargetCatalog.customFlagEventTypes.contains($0))
        }
    }

    struct Rejection: Error { var reason: String }

    /// Maps a row of values (tests, and callers with one row at hand).
    package func map(_ values: [Value], extras: [Value.ObjectEntry] = []) -> MappedRow {
        var facts = BatchFacts()
        return map(values, extras: extras, facts: &facts)
    }

    package func map(_ values: [Value], extras: [Value.ObjectEntry] = [], facts: inout BatchFacts) -> MappedRow {
        var batch = RowBatch(columnCount: plan.columns.count, capacity: 1)
        batch.startRow(number: 1)
        for index in 0..<plan.columns.count { batch.append(index < values.count ? values[index] : .null) }
        batch.setExtras(extras)
        var w = JSONWriter(reservingCapacity: 512)
        if let reason = map(batch, row: 0, into: &w, facts: &facts) { return .rejected(reason) }
        return .batch(w.bytes)
    }

    /// Maps row `row` of `batch`, appending its batch to `w`; returns the reason when the row is
    /// rejected (and `w` is left as it was). `facts` says what the engine needs besides the bytes.
    package func map(_ batch: RowBatch, row: Int, into w: inout JSONWriter, facts: inout BatchFacts) -> String? {
        let start = w.bytes.count
        facts = BatchFacts()
        do {
            try build(batch, row, into: &w, from: start, facts: &facts)
            return nil
        } catch {
            w.bytes.removeLast(w.bytes.count - start)
            return (error as? Rejection)?.reason ?? "\(error)"
        }
    }

    /// The slot's field in this row, or nil when it is left out (null or empty).
    @inline(__always)
    func field(_ compiled: CompiledSlot, _ batch: RowBatch, _ row: Int) throws -> FieldValue? {
        // The common case first, touching nothing of the slot but its fast path (a copy of the
        // slot would retain each of its strings, per row).
        let column = compiled.fast.column
        var raw: Value
        if column >= 0 {
            let cell = column < batch.columnCount ? batch.cell(row, column) : .null
            switch compiled.fast.convert(cell, in: batch) {
            case .field(let field): return compiled.omitsEmpty && field.isEmptyText ? nil : field
            case .absent: return nil
            case .general: raw = batch.value(cell)
            }
        } else {
            switch slots[compiled.index].input {
            case .constant(let v): return .value(v)
            case .column(let index):
                raw = batch.value(index < batch.columnCount ? batch.cell(row, index) : .null)
            }
        }
        let field = try general(raw, slots[compiled.index])
        return compiled.omitsEmpty && field?.isEmptyText == true ? nil : field
    }

    /// The slot's field through `ValueConversion`: explicit `type:`, then the field's kind.
    private func general(_ raw: Value, _ slot: MappingPlan.Slot) throws -> FieldValue? {
        var raw = raw
        if let type = slot.type {
            switch ValueConversion.apply(type, to: raw) {
            case .success(let v): raw = v
            case .failure(let reason): throw Rejection(reason: "\(slot.sourceName) → \(slot.target.path): \(reason.text)")
            }
        }
        switch ValueConversion.convert(raw, to: slot.kind) {
        case .success(let v): return v.map(FieldValue.value)
        case .failure(let reason): throw Rejection(reason: "\(slot.sourceName) → \(slot.target.path): \(reason.text)")
        }
    }

    /// Writes `,"section":{"key":value,…}` for the slots with a value; returns how many.
    @inline(__always)
    private func section(_ opening: StaticString, _ slots: [CompiledSlot], _ batch: RowBatch, _ row: Int,
                         into w: inout JSONWriter, written first: inout Bool, identity: inout Bool) throws -> Int {
        var count = 0
        for index in slots.indices {
            guard let v = try field(slots[index], batch, row) else { continue }
            if first { w.raw(opening); first = false } else { w.raw(UInt8(ascii: ",")) }
            w.bytes.append(contentsOf: slots[index].keyJSON)
            w.field(v, batch)
            if slots[index].isDeviceIdentity { identity = true }
            count += 1
        }
        return count
    }

    private func build(_ batch: RowBatch, _ row: Int, into w: inout JSONWriter, from start: Int, facts: inout BatchFacts) throws {
        if let column = plan.passthroughColumn {
            let cell = batch.cell(row, column)
            // The source keeps each batch as its JSON text (see `MParticleRecordReader`).
            let parsed: Result<Value, JSONParseError>? = cell.kind == .text
                ? batch.withBytes(of: cell) { bytes in Result { () throws(JSONParseError) in try JSONParser.parse(bytes) } } : nil
            let value = try parsed?.get() ?? batch.value(cell)
            return try passOn(value, into: &w, facts: &facts)
        }
        w.raw(environmentPrefix)
        var hasIdentity = false
        let extras = batch.extras(ofRow: row)

        if let slot = mpid, let v = try field(slot, batch, row) {
            w.raw(",\"mpid\":")
            w.field(v, batch)
            hasIdentity = true
        }

        for required in plan.requiredCells {
            let cell = required.column < batch.columnCount ? batch.cell(row, required.column) : .null
            if batch.isNullOrEmpty(cell) { throw Rejection(reason: required.reason) }
        }

        var first = true
        var unused = false
        let identitySlots = try plan.identityChoice.map { [identities[try chosenIdentity($0, batch, row)]] } ?? identities
        if try section(",\"user_identities\":{", identitySlots, batch, row, into: &w, written: &first, identity: &unused) > 0 {
            hasIdentity = true
        }
        if !first { w.raw(UInt8(ascii: "}")) }

        // user attributes, plus JSON keys outside the columns when `$unmapped` sends them here
        first = true
        var attributeCount = try section(",\"user_attributes\":{", userAttributes, batch, row, into: &w, written: &first,
                                         identity: &unused)
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
        _ = try section(",\"device_info\":{", deviceInfo, batch, row, into: &w, written: &first, identity: &hasIdentity)
        if !first { w.raw(UInt8(ascii: "}")) }

        if !hasIdentity {
            throw Rejection(reason: "every identity is null or empty (\(identitySources)); a batch must identify its user")
        }

        var dataHasFields = false
        // A mapped source_message_id that is null in this row gets the derived one, like an unmapped one.
        var wroteMessageID = false
        if plan.jobKind == .event {
            dataHasFields = try writeEvent(into: &w, batch, row, extras: extras, eventTime: &facts.eventTime,
                                           wroteMessageID: &wroteMessageID)
        }
        // Idempotency ids: deterministic, so a resend (retry, crash and rerun, lookback) carries the
        // same ids and mParticle deduplicates it.
        let id = try w.bytes.withUnsafeBytes { all in
            try idempotencyHash(batch, row, content: UnsafeRawBufferPointer(rebasing: all[start...]))
        }
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
        if w.bytes.count - start > ValueConversion.batchBytesMax {
            throw Rejection(reason: "the batch is \(w.bytes.count - start) bytes; mParticle accepts at most \(ValueConversion.batchBytesMax) bytes (128 KB) per batch")
        }
    }

    /// A whole batch read from the source (`format: mparticle`), written with the job's
    /// environment when it has none and its own `source_request_id` (one derived from its content
    /// when it has none), so a replay carries the ids of the original delivery.
    private func passOn(_ value: Value, into w: inout JSONWriter, facts: inout BatchFacts) throws {
        guard case .object(let entries) = value else { throw Rejection(reason: "the record is not an mParticle batch") }
        let rest = entries.filter { $0.key != "environment" && $0.key != "source_request_id" }
        let environment = entries.first { $0.key == "environment" }?.value ?? .string(plan.environment.rawValue)
        var content = JSONWriter(reservingCapacity: 512)
        content.value(.object(rest))
        let id: String
        if case .string(let own)? = entries.first(where: { $0.key == "source_request_id" })?.value, !own.isEmpty {
            id = own
            facts.requestID = RowHash.murmur3(Array(own.utf8), seed: idSeed)
        } else {
            let hash = RowHash.murmur3(content.bytes, seed: idSeed)
            id = hash.description
            facts.requestID = hash
        }
        if case .array(let events)? = value["events"], let first = events.first, case .int(let time)? = first["data"]?["timestamp_unixtime_ms"] {
            facts.eventTime = time
        }
        w.value(.object([Value.ObjectEntry("environment", environment)] + rest + [Value.ObjectEntry("source_request_id", .string(id))]))
    }

    /// The identity slot the row's choosing cell names (an FME traffic type), or the reason it names none.
    private func chosenIdentity(_ choice: MappingPlan.IdentityChoice, _ batch: RowBatch, _ row: Int) throws -> Int {
        guard let column = choice.column else { return choice.slotByValue[0].slot }
        let cell = column < batch.columnCount ? batch.cell(row, column) : .null
        let mapped = choice.slotByValue.map { "'\($0.value)'" }.joined(separator: ", ")
        guard let value = batch.value(cell).scalarText, !value.isEmpty else {
            throw Rejection(reason: "the row has no \(choice.choosingName), which chooses its identity (\(choice.mapName) maps \(mapped))")
        }
        guard let slot = choice.slotByValue.first(where: { $0.value == value })?.slot else {
            throw Rejection(reason: "\(choice.choosingName) '\(value)' is not mapped in \(choice.mapName) (it maps \(mapped))")
        }
        return slot
    }

    /// The job's `key:` columns (and iterator) when declared, else the batch's bytes so far.
    private func idempotencyHash(_ batch: RowBatch, _ row: Int, content: UnsafeRawBufferPointer) throws -> RowHash {
        guard let keys = plan.keyColumns else { return RowHash.murmur3(content, seed: idSeed) }
        func cell(_ index: Int) -> RowBatch.Cell { index < batch.columnCount ? batch.cell(row, index) : .null }
        var k = JSONWriter(reservingCapacity: 64)
        k.raw(UInt8(ascii: "["))
        var allNull = true
        for (n, index) in keys.enumerated() {
            if n > 0 { k.raw(UInt8(ascii: ",")) }
            let c = cell(index)
            if c.kind != .null { allNull = false }
            k.cell(c, batch)
        }
        if allNull {
            throw Rejection(reason: "every 'key' column (\(keys.map { plan.columns[$0] }.joined(separator: ", "))) is null, so the row has no source_request_id")
        }
        if let iterator = plan.iteratorColumn {
            k.raw(UInt8(ascii: ","))
            k.cell(cell(iterator), batch)
        }
        k.raw(UInt8(ascii: "]"))
        return RowHash.murmur3(k.bytes, seed: idSeed)
    }

    private var identitySources: String {
        let names = ([plan.mpid].compactMap { $0 } + plan.identities
                     + plan.deviceInfo.filter { TargetCatalog.deviceIdentityFields.contains($0.key) }).map(\.sourceName)
        return names.joined(separator: ", ")
    }

    func extraValue(_ extra: Value.ObjectEntry, kind: FieldKind) throws -> Value? {
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
}
