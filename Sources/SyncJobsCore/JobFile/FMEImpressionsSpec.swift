import Yams

/// `mapping: fme_impressions` with its `fme:` section: each Harness FME (Split) impression becomes
/// one `custom_event` batch, the way FME's own mParticle feed sends it (README "FME impressions").
package struct FMEImpressionsSpec: Sendable, Equatable {
    /// The event name, `get_treatment` unless `fme.event_name` says otherwise (FME allows 256 characters).
    package var eventName: String
    /// Which mParticle identity receives the impression's key.
    package var identity: Identity

    package enum Identity: Sendable, Equatable {
        /// `fme.identity`: the same identity for every impression.
        case single(String)
        /// `fme.identities`: by the impression's `trafficTypeName`, in the job file's order.
        case byTrafficType([(trafficType: String, identity: String)])

        package static func == (a: Identity, b: Identity) -> Bool {
            switch (a, b) {
            case (.single(let x), .single(let y)): return x == y
            case (.byTrafficType(let x), .byTrafficType(let y)):
                return x.map(\.trafficType) == y.map(\.trafficType) && x.map(\.identity) == y.map(\.identity)
            default: return false
            }
        }
    }

    package static let defaultEventName = "get_treatment"
    package static let eventNameMax = 256
    /// The identities FME's feed configuration offers, which are Events API `user_identities` keys.
    package static let identities = ["customer_id", "email", "facebook", "twitter", "google", "microsoft", "yahoo",
                                     "other", "other_id_2", "other_id_3", "other_id_4"]

    package init(eventName: String = defaultEventName, identity: Identity) {
        self.eventName = eventName
        self.identity = identity
    }
}

extension JobFileParser {
    static let fmeKeys = ["event_name", "identities", "identity"]

    /// `fme:` for `mapping: fme_impressions`; nil (with diagnostics) when it is missing or wrong.
    static func parseFMEImpressions(mappingNode: Node, top: YAMLReader.Map, kind: JobDefinition.Kind?, source: SourceSpec?,
                                    reader: YAMLReader) -> FMEImpressionsSpec? {
        switch source {
        case .file(_, .csv)?, .file(_, .ndjson)?, .file(_, .json)?, nil:
            break
        default:
            reader.error(mappingNode, "'mapping: fme_impressions' reads FME impressions from a CSV, NDJSON or JSON file, but the source is not one",
                         fix: "point 'source:' at the impressions file with 'format: json' (the webhook's array), 'ndjson' or 'csv'")
        }
        if kind == .user {
            reader.error(top.value("type"), "'mapping: fme_impressions' makes one custom event per impression, but this is a user job (type: user)",
                         fix: "set 'type: event'")
        }
        guard let fme = top.map("fme") else {
            reader.error(mappingNode, "'mapping: fme_impressions' needs an 'fme:' section saying which identity receives the impression's key",
                         fix: "add 'fme: { identities: { user: customer_id } }' (traffic type → identity), or 'fme: { identity: customer_id }'")
            return nil
        }
        defer { fme.reportUnknownKeys(known: fmeKeys) }
        var eventName = FMEImpressionsSpec.defaultEventName
        if let name = fme.string("event_name") {
            if name.isEmpty || name.count > FMEImpressionsSpec.eventNameMax {
                reader.error(fme.value("event_name"), "'fme.event_name' is \(name.count) characters; FME allows 1 to \(FMEImpressionsSpec.eventNameMax)",
                             fix: "shorten it, or leave it out for '\(FMEImpressionsSpec.defaultEventName)'")
            } else {
                eventName = name
            }
        }
        func checkIdentity(_ name: String, at node: Node?, key: String) -> Bool {
            if FMEImpressionsSpec.identities.contains(name) { return true }
            reader.error(node, "'\(key)' is '\(name)', which is not an identity FME's feed can fill",
                         fix: Spelling.hint(for: name, among: FMEImpressionsSpec.identities, noun: "one of"))
            return false
        }
        switch (fme.has("identities"), fme.has("identity")) {
        case (true, true):
            _ = (fme.value("identity"), fme.value("identities"))
            reader.error(fme.keyNode("identity"), "'fme' has both 'identities:' and 'identity:'",
                         fix: "keep 'identities:' to choose by traffic type, or 'identity:' for one identity for every impression")
            return nil
        case (false, false):
            reader.error(fme.node, "'fme' needs 'identities:' (traffic type → identity) or 'identity:'",
                         fix: "add 'identities: { user: customer_id }' or 'identity: customer_id'")
            return nil
        case (false, true):
            guard let name = fme.string("identity", required: true),
                  checkIdentity(name, at: fme.value("identity"), key: "fme.identity") else { return nil }
            return FMEImpressionsSpec(eventName: eventName, identity: .single(name))
        case (true, false):
            guard let map = fme.map("identities") else { return nil }
            var pairs: [(trafficType: String, identity: String)] = []
            var valid = true
            for pair in map.pairs {
                guard let name = map.string(pair.key) else {
                    reader.error(pair.value, "traffic type '\(pair.key)' in 'fme.identities' has no identity", fix: "write '\(pair.key): customer_id'")
                    valid = false
                    continue
                }
                if checkIdentity(name, at: pair.value, key: "fme.identities.\(pair.key)") {
                    pairs.append((pair.key, name))
                } else {
                    valid = false
                }
            }
            if pairs.isEmpty && valid {
                reader.error(map.node, "'fme.identities' is empty", fix: "map at least one traffic type, e.g. 'identities: { user: customer_id }'")
                return nil
            }
            return valid ? FMEImpressionsSpec(eventName: eventName, identity: .byTrafficType(pairs)) : nil
        }
    }
}
