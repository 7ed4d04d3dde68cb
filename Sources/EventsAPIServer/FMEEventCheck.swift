/// The field rules of one FME event, as `FMEEventsServer` applies them. Each refusal says which
/// field failed and why; the server adds the event's index.
enum FMEEventCheck {
    struct Refusal: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    static let fields: Set<String> = [
        "eventTypeId", "trafficTypeName", "key", "environmentName", "timestamp", "value", "properties", "foreignId",
    ]
    static let maxKeyLength = 250
    static let maxProperties = 300
    static let maxPropertiesSize = 32768
    /// What the properties size estimate starts from (the SDKs' rule).
    static let propertiesSizeBase = 1024

    /// Checks `item`, an element of the body `bytes`, and returns it as recorded.
    static func event(_ item: LoopbackJSON, in bytes: [UInt8], request: Int) throws(Refusal) -> FMEEventsServer.Event {
        guard case .object(let members) = item.kind else { throw Refusal("must be a JSON object, not \(item.typeName)") }
        var fields: [String: LoopbackJSON] = [:]
        for (name, value) in members {
            guard Self.fields.contains(name) else { throw Refusal("unknown field '\(name)'") }
            guard fields.updateValue(value, forKey: name) == nil else { throw Refusal("field '\(name)' appears twice") }
        }
        let eventTypeId = try string("eventTypeId", fields)
        guard validEventTypeId(eventTypeId) else {
            throw Refusal("eventTypeId '\(eventTypeId)' does not match \(FMEEventsServer.eventTypeIdPattern)")
        }
        let trafficTypeName = try string("trafficTypeName", fields)
        guard !trafficTypeName.isEmpty else { throw Refusal("trafficTypeName is empty") }
        let key = try string("key", fields)
        let keyLength = key.unicodeScalars.count
        guard (1...maxKeyLength).contains(keyLength) else {
            throw Refusal("key has \(keyLength) characters; it must have 1 to \(maxKeyLength)")
        }
        let environmentName = try optionalString("environmentName", fields)
        let timestamp = try self.timestamp(fields)
        var value: String?
        if let node = fields["value"] {
            switch node.kind {
            case .number, .null: value = LoopbackJSON.text(of: node, in: bytes)
            default: throw Refusal("value must be a number or null, not \(node.typeName)")
            }
        }
        let properties = try self.properties(fields["properties"], in: bytes)
        let foreignId = try optionalString("foreignId", fields)
        return FMEEventsServer.Event(
            json: LoopbackJSON.text(of: item, in: bytes), eventTypeId: eventTypeId, trafficTypeName: trafficTypeName, key: key,
            environmentName: environmentName, timestamp: timestamp, value: value, properties: properties,
            foreignId: foreignId, request: request)
    }

    /// `^[a-zA-Z0-9][-_.:a-zA-Z0-9]{0,79}$`
    static func validEventTypeId(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard let first = bytes.first, bytes.count <= 80, isAlphanumeric(first) else { return false }
        return bytes.dropFirst().allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
            || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: ":") }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    static func string(_ name: String, _ fields: [String: LoopbackJSON]) throws(Refusal) -> String {
        guard let node = fields[name] else { throw Refusal("\(name) is missing") }
        guard case .string(let text) = node.kind else { throw Refusal("\(name) must be a string, not \(node.typeName)") }
        return text
    }

    static func optionalString(_ name: String, _ fields: [String: LoopbackJSON]) throws(Refusal) -> String? {
        guard fields[name] != nil else { return nil }
        return try string(name, fields)
    }

    static func timestamp(_ fields: [String: LoopbackJSON]) throws(Refusal) -> Int64 {
        guard let node = fields["timestamp"] else { throw Refusal("timestamp is missing") }
        guard case .number(let text) = node.kind else {
            throw Refusal("timestamp must be an integer of milliseconds, not \(node.typeName)")
        }
        guard let millis = Int64(text) else { throw Refusal("timestamp \(text) is not an integer of milliseconds") }
        return millis
    }

    /// Flat properties: string, number, boolean or null values; at most 300; an estimated size of
    /// 1024 + the UTF-8 bytes of the keys and of the string values, at most 32768.
    static func properties(_ node: LoopbackJSON?, in bytes: [UInt8]) throws(Refusal) -> [FMEEventsServer.Property]? {
        guard let node else { return nil }
        let members: [(name: String, value: LoopbackJSON)]
        switch node.kind {
        case .null: return nil
        case .object(let entries): members = entries
        default: throw Refusal("properties must be an object, not \(node.typeName)")
        }
        guard members.count <= maxProperties else {
            throw Refusal("properties has \(members.count) entries; at most \(maxProperties) allowed")
        }
        var seen: Set<String> = []
        var size = propertiesSizeBase
        var properties: [FMEEventsServer.Property] = []
        properties.reserveCapacity(members.count)
        for (name, value) in members {
            guard seen.insert(name).inserted else { throw Refusal("property '\(name)' appears twice") }
            size += name.utf8.count
            switch value.kind {
            case .string(let text): size += text.utf8.count
            case .number, .bool, .null: break
            case .object, .array:
                throw Refusal("property '\(name)' must be a string, number, boolean or null, not \(value.typeName)")
            }
            properties.append(.init(name, LoopbackJSON.text(of: value, in: bytes)))
        }
        guard size <= maxPropertiesSize else {
            throw Refusal("properties are estimated at \(size) bytes (1024 + keys + string values); at most \(maxPropertiesSize) allowed")
        }
        return properties
    }
}
