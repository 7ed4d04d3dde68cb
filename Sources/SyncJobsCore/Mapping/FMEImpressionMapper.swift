/// The fields of a Harness FME (Split) impression, as Split's impressions webhook names them, with
/// the SDKs' spellings accepted too (`keyName`, `feature`, `changeNumber`).
package enum FMEImpressionFields {
    package struct Field: Sendable {
        /// The webhook's name, which is also the custom attribute FME's mParticle feed writes.
        package var name: String
        package var aliases: [String] = []
        /// A row without it is rejected.
        package var required = false
        /// Sent as a custom attribute of the event (the feed sends every field but these three).
        package var attribute = true
    }

    /// In the order the custom attributes are written.
    package static let all: [Field] = [
        Field(name: "key", aliases: ["keyName"], required: true),
        Field(name: "split", aliases: ["feature"], required: true),
        Field(name: "treatment", required: true),
        Field(name: "label"),
        Field(name: "bucketingKey"),
        Field(name: "splitVersionNumber", aliases: ["changeNumber"]),
        Field(name: "environmentId"),
        Field(name: "environmentName"),
        Field(name: "sdk"),
        Field(name: "sdkVersion"),
        Field(name: "machineName"),
        Field(name: "machineIp"),
        // `time` is the event's timestamp and `trafficTypeName` picks the identity; neither is an
        // attribute of the real feed's events.
        Field(name: "time", required: true, attribute: false),
        Field(name: "trafficTypeName", attribute: false),
    ]

    /// For a JSON source, whose columns come from its first record: each field, by any spelling.
    package static var columnGroups: [[String]] { all.map { [$0.name] + $0.aliases } }
}

/// What `mapping: fme_impressions` made of the source's columns, for `jobs plan`.
package struct FMEDerivedMapping: Sendable {
    package var rows: [(source: String, target: String)]
}

/// Derives the mapping of `mapping: fme_impressions` (README "FME impressions") and compiles it
/// with the same `MappingCompiler` as a written mapping. Each impression becomes one custom event
/// named `fme.event_name`, timed by `time`, with the impression's fields as custom attributes
/// under the webhook's names, and its key under the identity of its traffic type.
package enum FMEImpressionMapper {
    static func compile(job: JobDefinition, spec: FMEImpressionsSpec, for source: any OpenedSource) -> (MappingPlan?, [Diagnostic]) {
        let location = job.location("mapping")
        let columns = source.columns
        var diagnostics: [Diagnostic] = []
        var entries: [MappingEntry] = []
        var rows: [(String, String)] = []
        var resolved: [String: String] = [:]
        func entry(_ input: MappingEntry.Input, _ target: String?, _ type: ValueType? = nil) -> MappingEntry {
            MappingEntry(input: input, target: target, type: type, location: location, targetLocation: location)
        }

        for field in FMEImpressionFields.all {
            let present = ([field.name] + field.aliases).filter(columns.contains)
            guard let column = present.first else {
                if field.required {
                    let spellings = ([field.name] + field.aliases).map { "'\($0)'" }.joined(separator: " or ")
                    diagnostics.append(Diagnostic(at: location, "\(source.description) has no \(spellings) column, which every FME impression needs",
                                                  fix: "export the impressions with Split's field names (\(FMEImpressionFields.all.filter(\.required).map(\.name).joined(separator: ", ")), …)"))
                }
                continue
            }
            if present.count > 1 {
                diagnostics.append(Diagnostic(.warning, at: location, "\(source.description) has both \(Format.names(present)); '\(column)' is read",
                                              fix: "keep one spelling in the export"))
                entries += present.dropFirst().map { entry(.ignore($0), nil) }
            }
            resolved[field.name] = column
            if field.attribute {
                entries.append(entry(.column(column), "events.data.custom_attributes.\(field.name)"))
                rows.append((column, "events.data.custom_attributes.\(field.name)"))
            }
        }
        guard let keyColumn = resolved["key"] else { return (nil, diagnostics) }
        if let time = resolved["time"] {
            entries.append(entry(.column(time), "events.data.timestamp_unixtime_ms"))
            rows.append((time, "events.data.timestamp_unixtime_ms"))
        }

        // The key goes to one identity slot per distinct identity; the row's traffic type chooses
        // which one is written.
        var choices: [(trafficType: String, identity: String)] = []
        switch spec.identity {
        case .single(let identity):
            entries.append(entry(.column(keyColumn), "user_identities.\(identity)"))
            rows.insert((keyColumn, "user_identities.\(identity)"), at: 0)
        case .byTrafficType(let pairs):
            choices = pairs
            var seen: Set<String> = []
            for pair in pairs where seen.insert(pair.identity).inserted {
                entries.append(entry(.column(keyColumn), "user_identities.\(pair.identity)"))
            }
            let described = pairs.map { "user_identities.\($0.identity) when trafficTypeName is '\($0.trafficType)'" }
            rows.insert((keyColumn, described.joined(separator: "; ")), at: 0)
            if resolved["trafficTypeName"] == nil && pairs.count > 1 {
                diagnostics.append(Diagnostic(at: job.location("fme"),
                    "'fme.identities' chooses the identity by traffic type, but \(source.description) has no 'trafficTypeName' column",
                    fix: "export 'trafficTypeName' with the impressions, or use 'fme: { identity: \(pairs[0].identity) }' for every impression"))
            }
        }
        entries.append(entry(.staticValue(.string(spec.eventName)), "events.data.event_name"))
        entries.append(entry(.staticValue(.string("other")), "events.data.custom_event_type"))
        rows.append(("(static)", "events.data.event_name = '\(spec.eventName)'"))
        rows.append(("(static)", "events.data.custom_event_type = 'other'"))
        if let trafficType = resolved["trafficTypeName"] {
            entries.append(entry(.ignore(trafficType), nil))
            rows.append((trafficType, "chooses the identity (not sent)"))
        }
        let known = Set(FMEImpressionFields.all.flatMap { [$0.name] + $0.aliases })
        for column in columns where !known.contains(column) {
            entries.append(entry(.ignore(column), nil))
            rows.append((column, "not sent: not an FME impression field"))
        }
        if diagnostics.contains(where: { $0.severity == .error }) { return (nil, diagnostics) }

        var derivedJob = job
        derivedJob.mapping = entries
        // A deterministic source_message_id from the impression's identity (key, split, time,
        // treatment), not the row's bytes: a re-export with other optional fields is one event.
        if derivedJob.key == nil {
            derivedJob.key = ["key", "split", "time", "treatment"].compactMap { resolved[$0] }
        }
        let (compiled, compileDiagnostics) = MappingCompiler.compile(job: derivedJob, columns: columns, acceptsExtraKeys: false,
                                                                     sourceDescription: source.description)
        guard var plan = compiled else { return (nil, diagnostics + compileDiagnostics) }
        let index = Dictionary(columns.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        plan.requiredCells = FMEImpressionFields.all.filter(\.required).compactMap { field in
            resolved[field.name].flatMap { index[$0] }.map { MappingPlan.RequiredCell(column: $0, reason: "the impression has no \(field.name)") }
        }
        if !choices.isEmpty {
            let slotByIdentity = Dictionary(plan.identities.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { a, _ in a })
            plan.identityChoice = MappingPlan.IdentityChoice(
                column: resolved["trafficTypeName"].flatMap { index[$0] },
                slotByValue: choices.compactMap { pair in slotByIdentity[pair.identity].map { (pair.trafficType, $0) } },
                choosingName: "trafficTypeName", mapName: "fme.identities")
        }
        // The feed leaves out empty attributes (bucketingKey is often "").
        for index in plan.customAttributes.indices { plan.customAttributes[index].omitsEmpty = true }
        plan.fmeMapping = FMEDerivedMapping(rows: rows)
        // The compiler's notes about columns it was told to ignore are about the derived mapping, not the user's.
        return (plan, diagnostics + compileDiagnostics.filter { $0.severity == .error })
    }
}
