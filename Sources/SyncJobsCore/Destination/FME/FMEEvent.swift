/// One event for the Harness FME (Split) Events API, `POST /api/events(/bulk)` (reference §1.3).
package struct FMEEvent: Sendable, Equatable, CustomStringConvertible {
    /// The event type, already cleaned to the SDKs' `^[a-zA-Z0-9][-_.:a-zA-Z0-9]{0,79}$`.
    package var eventTypeId: String
    package var trafficTypeName: String
    /// The identity's value: what the application passes to `getTreatment` for the traffic type.
    package var key: String
    /// Sent only when configured. UNCONFIRMED (§1.2, §1.3): what FME does when it disagrees with
    /// the SDK key's environment; runner choice: leave it out unless the job names one.
    package var environmentName: String?
    /// Milliseconds since the Unix epoch.
    package var timestamp: Int64
    /// mParticle's id of the event. UNCONFIRMED (§1.3): whether the Events API takes a
    /// caller-supplied `foreignId` (it appears on events stored after an integration); the mapper
    /// copies the id into the `event_id` property as well.
    package var foreignId: String?
    /// Flat, in order; every value a scalar (string, number, boolean).
    package var properties: [(String, Value)]

    package init(eventTypeId: String, trafficTypeName: String, key: String, environmentName: String? = nil,
                 timestamp: Int64, foreignId: String? = nil, properties: [(String, Value)] = []) {
        self.eventTypeId = eventTypeId
        self.trafficTypeName = trafficTypeName
        self.key = key
        self.environmentName = environmentName
        self.timestamp = timestamp
        self.foreignId = foreignId
        self.properties = properties
    }

    package static func == (a: FMEEvent, b: FMEEvent) -> Bool {
        a.eventTypeId == b.eventTypeId && a.trafficTypeName == b.trafficTypeName && a.key == b.key
            && a.environmentName == b.environmentName && a.timestamp == b.timestamp && a.foreignId == b.foreignId
            && a.properties.count == b.properties.count
            && zip(a.properties, b.properties).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// Writes the event as FME JSON: `eventTypeId, trafficTypeName, key, environmentName` (when
    /// set)`, timestamp, value, foreignId` (when set)`, properties`.
    ///
    /// `value` is always `null`: no mParticle field is mapped to it in FME's mapping tables
    /// (UNCONFIRMED, §3.2), and `null` is what FME documents for events that are only counted.
    package func write(into w: inout JSONWriter) {
        w.raw("{\"eventTypeId\":")
        w.string(eventTypeId)
        w.raw(",\"trafficTypeName\":")
        w.string(trafficTypeName)
        w.raw(",\"key\":")
        w.string(key)
        if let environmentName {
            w.raw(",\"environmentName\":")
            w.string(environmentName)
        }
        w.raw(",\"timestamp\":")
        w.int(timestamp)
        w.raw(",\"value\":null")
        if let foreignId {
            w.raw(",\"foreignId\":")
            w.string(foreignId)
        }
        w.raw(",\"properties\":{")
        for (n, (key, value)) in properties.enumerated() {
            if n > 0 { w.raw(UInt8(ascii: ",")) }
            w.string(key)
            w.raw(UInt8(ascii: ":"))
            w.value(value)
        }
        w.raw("}}")
    }

    /// The event as FME JSON bytes.
    package var json: [UInt8] {
        var w = JSONWriter(reservingCapacity: 256 + properties.count * 32)
        write(into: &w)
        return w.bytes
    }

    package var description: String { String(decoding: json, as: UTF8.self) }

    /// The SDKs' estimate of an event's size (reference §1.5): 1024 + the UTF-8 length of every
    /// property key + the UTF-8 length of every string value.
    package var estimatedSize: Int {
        var size = FMELimits.baseSize
        for (key, value) in properties {
            size += key.utf8.count
            if case .string(let s) = value { size += s.utf8.count }
        }
        return size
    }
}

/// FME's limits on one event, as the SDKs enforce them (reference §1.3–§1.5). UNCONFIRMED
/// whether the server enforces them or trims (§1.5); runner choice: reject such events before
/// sending, as the SDKs refuse to queue them.
package enum FMELimits {
    /// Longest `key`, in Unicode scalars (the Python SDK's `len`): `MAX_LENGTH = 250`.
    package static let maxKeyLength = 250
    /// Most properties. The SDKs only warn above this and say the server trims the rest; the
    /// runner rejects instead, so nothing is lost silently.
    package static let maxProperties = 300
    /// Largest estimated size, bytes (see `FMEEvent.estimatedSize`).
    package static let maxEstimatedSize = 32_768
    /// The estimate's fixed part.
    package static let baseSize = 1024
}
