import Foundation
import Yams

/// Turns a job file into a `JobDefinition`, or every problem in it as diagnostics.
package enum JobFileParser {
    static let rootKeys = ["name", "type", "source", "mapping", "identity_names", "fme", "sync", "schedule", "destination", "key"]
    static let sourceKeys = ["sqlite", "postgres", "query", "table", "file", "format"]
    static let syncKeys = ["mode", "iterator", "iterator_type", "from", "lookback", "backfill_window"]
    static let scheduleKeys = ["type", "frequency", "start", "end", "timezone"]
    static let destinationKeys = ["type", "path", "environment"]
    static let mparticleKeys = ["type", "environment", "pod", "url", "api_key", "api_secret", "max_in_flight", "historical",
                                "retry_for", "timeout"]
    static let mappingKeys = ["column", "static", "ignore", "to", "type"]

    /// Loads and parses a job file. `displayPath` is how the file is named in diagnostics.
    package static func load(path: String, displayPath: String? = nil) throws -> (JobDefinition, [Diagnostic]) {
        let absolute = Paths.absolute(path)
        let shown = displayPath ?? Paths.display(absolute)
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw JobFileError([Diagnostic(at: SourceLocation(file: shown, line: 1, column: 1),
                                           "cannot read the job file", fix: "check that '\(shown)' exists and is readable")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw JobFileError([Diagnostic(at: SourceLocation(file: shown, line: 1, column: 1),
                                           "the job file is not UTF-8 text", fix: "save it as UTF-8")])
        }
        return try parse(text, filePath: absolute, displayPath: shown)
    }

    package static func parse(_ text: String, filePath: String, displayPath: String) throws -> (JobDefinition, [Diagnostic]) {
        let reader = YAMLReader(file: displayPath)
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw JobFileError([Diagnostic(at: SourceLocation(file: displayPath, line: 1, column: 1),
                                               "the job file is empty", fix: "declare at least 'source:' and 'mapping:'")])
            }
            root = node
        } catch let error as YamlError {
            throw JobFileError([yamlDiagnostic(error, file: displayPath)])
        }
        guard case .mapping = root else {
            throw JobFileError([Diagnostic(at: reader.location(root), "a job file must be a mapping of keys, not a \(YAMLReader.kind(of: root))",
                                           fix: "start with 'name:', 'type:', 'source:' …")])
        }
        let directory = Paths.directory(of: filePath)
        let top = YAMLReader.Map(reader: reader, node: root, path: "")
        var locations: [String: SourceLocation] = [:]

        let defaultName = URL(fileURLWithPath: filePath).deletingPathExtension().lastPathComponent
        var name = top.string("name") ?? defaultName
        if !name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) || name.isEmpty {
            reader.error(top.value("name"), "job name '\(name)' has characters other than letters, digits, '-', '_' and '.'",
                         fix: "rename it, for example '\(name.filter { $0.isLetter || $0.isNumber || $0 == "-" })'")
            name = defaultName
        }
        let kind = top.choice("type", JobDefinition.Kind.self, required: true) ?? .user

        // source
        var source: SourceSpec?
        if let map = top.map("source", required: true) {
            locations["source"] = reader.location(map.node)
            source = parseSource(map, reader: reader, directory: directory, locations: &locations)
        }

        // mapping
        var mapping: [MappingEntry] = []
        var lookerTagMapping: LookerTagMapping?
        var fmeImpressions: FMEImpressionsSpec?
        var mappingIsScalar = false
        let sendsBatches: Bool
        if case .file(_, .mparticle)? = source { sendsBatches = true } else { sendsBatches = false }
        if sendsBatches, let node = top.value("mapping") {
            reader.error(top.keyNode("mapping"), "'format: mparticle' reads mParticle batches and sends them on as they are, so the job has no mapping",
                         fix: "remove 'mapping:'")
            _ = node
        } else if let node = top.value("mapping") {
            locations["mapping"] = reader.location(node)
            if case .scalar(let scalar) = node, scalar.string == "fme_impressions" {
                fmeImpressions = parseFMEImpressions(mappingNode: node, top: top, kind: kind, source: source, reader: reader)
                if let fme = top.value("fme") { locations["fme"] = reader.location(fme) }
            } else if case .scalar(let scalar) = node {
                mappingIsScalar = true
                lookerTagMapping = parseLookerTagMapping(scalar.string, node: node, top: top, source: source, reader: reader)
                if let names = top.value("identity_names") { locations["identity_names"] = reader.location(names) }
            } else {
                mapping = parseMapping(node, reader: reader)
            }
        } else if !sendsBatches {
            reader.error(root, "missing key 'mapping'", fix: "add 'mapping:' with a list such as '- { column: email, to: user_identities.email }'")
        }

        // sync
        var sync = SyncSpec.full
        if let map = top.map("sync") {
            locations["sync"] = reader.location(map.node)
            sync = parseSync(map, reader: reader, locations: &locations)
            if sendsBatches && sync.mode == .incremental {
                reader.error(map.node, "'format: mparticle' reads whole batches, which have no iterator column, so it syncs in full",
                             fix: "write 'sync: { mode: full }' (an interrupted pass still resumes where it stopped)")
            }
        }

        // schedule
        var schedule = ScheduleSpec.onDemand
        if let map = top.map("schedule") {
            schedule = parseSchedule(map, reader: reader)
        }

        // destination
        var destination = DestinationSpec(kind: .file(path: Paths.resolve("../out/\(name).ndjson", against: directory)),
                                          environment: .development)
        if let map = top.map("destination") {
            locations["destination"] = reader.location(map.node)
            destination = parseDestination(map, reader: reader, directory: directory, jobName: name)
            if case .fme = destination.kind, kind == .user {
                reader.error(top.value("type"), "an fme destination sends events, and the batches of a user job (type: user) have none",
                             fix: "set 'type: event', or send user jobs to mParticle")
            }
            if case .fme = destination.kind, sync.lookback != nil {
                reader.warning(map.node, "rows that 'sync.lookback' reads again are sent to FME again, and FME's events API counts each one twice",
                               fix: "remove 'lookback:' for an fme destination, or accept the repeated events")
            }
        }

        if fmeImpressions == nil, let key = top.keyNode("fme"), !top.isUsed("fme") {
            _ = top.value("fme")
            reader.error(key, "'fme' applies to 'mapping: fme_impressions' only",
                         fix: "set 'mapping: fme_impressions' to read FME impressions, or remove 'fme:'")
        }
        if !mappingIsScalar, let key = top.keyNode("identity_names") {
            _ = top.value("identity_names")
            reader.error(key, "'identity_names' applies to 'mapping: looker' only",
                         fix: "remove it; a mapping list names each identity key in its 'to:'")
        }

        // key
        var key: [String]?
        if let node = top.value("key") {
            locations["key"] = reader.location(node)
            key = parseKey(node, reader: reader)
        }

        top.reportUnknownKeys(known: rootKeys)
        let diagnostics = reader.diagnostics
        guard let source, !diagnostics.contains(where: { $0.severity == .error }) else {
            throw JobFileError(diagnostics)
        }
        let job = JobDefinition(name: name, filePath: filePath, kind: kind, source: source, mapping: mapping, sync: sync,
                                schedule: schedule, destination: destination, key: key, locations: locations,
                                lookerTagMapping: lookerTagMapping, fmeImpressions: fmeImpressions)
        return (job, diagnostics)
    }

    static func yamlDiagnostic(_ error: YamlError, file: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        let fix = "check the indentation and quoting near this place (values containing ': ' or starting with '{', '[', '*', '&' need quotes)"
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let text = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return Diagnostic(at: at(mark), "YAML syntax error: \(text)", fix: fix)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return Diagnostic(at: at(context.mark), "the key '\(duplicates.joined(separator: "', '"))' appears twice in one mapping",
                              fix: "keep one of them")
        default:
            return Diagnostic(at: SourceLocation(file: file, line: 1, column: 1), "YAML error: \(error)", fix: fix)
        }
    }

    static func parseSource(_ map: YAMLReader.Map, reader: YAMLReader, directory: String,
                            locations: inout [String: SourceLocation]) -> SourceSpec? {
        defer { map.reportUnknownKeys(known: sourceKeys) }
        if map.has("postgres") {
            for key in ["postgres", "query", "table"] {
                if let node = map.value(key) { locations["source.\(key)"] = reader.location(node) }
            }
            for other in ["sqlite", "file"] where map.has(other) {
                _ = map.value(other)
                reader.error(map.keyNode(other), "the source names both 'postgres:' and '\(other):'", fix: "keep one of them")
                return nil
            }
            if map.has("format") {
                _ = map.value("format")
                reader.error(map.keyNode("format"), "'source.format' applies to 'file:' sources only", fix: "remove it")
            }
            return PostgresSourceParsing.parse(map, reader: reader, directory: directory)
        }
        let sqlite = map.string("sqlite")
        let file = map.string("file")
        let query = map.string("query")
        let table = map.string("table")
        let format = map.choice("format", FileFormat.self)
        for key in ["sqlite", "file", "query", "table"] {
            if let node = map.value(key) { locations["source.\(key)"] = reader.location(node) }
        }
        switch (sqlite, file) {
        case (nil, nil):
            reader.error(map.node, "the source names none of 'sqlite:', 'postgres:' and 'file:'",
                         fix: "add 'sqlite: path/to.db' or 'postgres: ${DATABASE_URL}' with 'table:' or 'query:', or 'file: path/to.csv'")
            return nil
        case (_?, _?):
            reader.error(map.keyNode("file"), "the source names both 'sqlite:' and 'file:'", fix: "keep one of them")
            return nil
        case (let dbPath?, nil):
            if format != nil { reader.error(map.keyNode("format"), "'source.format' applies to 'file:' sources only", fix: "remove it") }
            let path = Paths.resolve(dbPath, against: directory)
            return parseSelection(map, query: query, table: table, reader: reader, sourceName: "a SQLite source").map { .sqlite(path: path, selection: $0) }
        case (nil, let filePath?):
            if query != nil || table != nil {
                reader.error(map.keyNode(query != nil ? "query" : "table"), "'query:' and 'table:' apply to 'sqlite:' and 'postgres:' sources only",
                             fix: "remove it, or use 'sqlite:' or 'postgres:' instead of 'file:'")
            }
            let path = Paths.resolve(filePath, against: directory)
            if let format { return .file(path: path, format: format) }
            // A gzipped file is read as what it holds (`impressions.json.gz` is JSON).
            var url = URL(fileURLWithPath: path)
            if url.pathExtension.lowercased() == "gz" { url.deletePathExtension() }
            let ext = url.pathExtension.lowercased()
            let byExtension: [String: FileFormat] = ["csv": .csv, "tsv": .tsv, "tab": .tsv, "ndjson": .ndjson, "jsonl": .ndjson, "json": .json]
            if let guessed = byExtension[ext] { return .file(path: path, format: guessed) }
            reader.error(map.value("file"), "cannot tell the format of '\(filePath)' from its extension",
                         fix: "add 'format:' with one of 'csv', 'tsv', 'ndjson', 'json'")
            return nil
        }
    }

    /// `table:` or `query:` of a database source (SQLite, PostgreSQL).
    static func parseSelection(_ map: YAMLReader.Map, query: String?, table: String?, reader: YAMLReader,
                               sourceName: String) -> SQLiteSelection? {
        switch (query, table) {
        case (let q?, nil):
            if q.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                reader.error(map.value("query"), "'source.query' is empty", fix: "write the SELECT that returns the rows")
                return nil
            }
            return .query(q)
        case (nil, let t?):
            return .table(t)
        case (nil, nil):
            reader.error(map.node, "\(sourceName) needs 'table:' or 'query:'",
                         fix: "add 'table: users' or 'query: SELECT …'")
            return nil
        case (_?, _?):
            reader.error(map.keyNode("table"), "the source has both 'table:' and 'query:'", fix: "keep one of them")
            return nil
        }
    }

    /// `mapping: looker` (with an optional `identity_names:`): derive the mapping from the LookML
    /// tags of a Looker result when the source is opened.
    static func parseLookerTagMapping(_ text: String, node: Node, top: YAMLReader.Map, source: SourceSpec?,
                                      reader: YAMLReader) -> LookerTagMapping? {
        guard text == "looker" else {
            _ = top.value("identity_names")  // judged once the mapping is right
            reader.error(node, "'mapping' is '\(text)'; it must be a list of entries, 'looker' to derive it from the LookML tags of a Looker result, or 'fme_impressions' for Harness FME impressions",
                         fix: Spelling.suggestion(for: text, among: ["looker", "fme_impressions"]).map { "did you mean '\($0)'?" } ?? "write each entry on its own line starting with '- ', e.g. '- { column: email, to: user_identities.email }'")
            return nil
        }
        switch source {
        case .file(_, .looker)?, nil:
            break  // a missing source has its own diagnostic
        default:
            reader.error(node, "'mapping: looker' derives the mapping from the LookML tags of a Looker result, but the source is not one",
                         fix: "add 'format: looker' to 'source:' for a Looker json_detail result, or write the mapping as a list")
        }
        let identityNames = top.choice("identity_names", LookerTagMapping.IdentityNames.self) ?? .canonical
        return LookerTagMapping(identityNames: identityNames)
    }

    static func parseMapping(_ node: Node, reader: YAMLReader) -> [MappingEntry] {
        guard case .sequence(let sequence) = node else {
            reader.error(node, "'mapping' must be a list of entries, not a \(YAMLReader.kind(of: node))",
                         fix: "write each entry on its own line starting with '- ', e.g. '- { column: email, to: user_identities.email }'")
            return []
        }
        var entries: [MappingEntry] = []
        for item in sequence {
            guard case .mapping = item else {
                reader.error(item, "a mapping entry must be a mapping like '{ column: email, to: user_identities.email }', not a \(YAMLReader.kind(of: item))",
                             fix: "use one of 'column:', 'static:' or 'ignore:' with 'to:'")
                continue
            }
            let map = YAMLReader.Map(reader: reader, node: item, path: "mapping")
            defer { map.reportUnknownKeys(known: mappingKeys) }
            let present = ["column", "static", "ignore"].filter { map.has($0) }
            guard present.count == 1 else {
                if present.isEmpty {
                    reader.error(item, "a mapping entry needs one of 'column:', 'static:' or 'ignore:'",
                                 fix: "add 'column: <source column>' (or 'static: <value>', or 'ignore: <column>')")
                } else {
                    reader.error(map.keyNode(present[1]), "a mapping entry has both '\(present[0]):' and '\(present[1]):'",
                                 fix: "split it into two entries")
                }
                _ = present.map { map.value($0) }
                _ = map.value("to"); _ = map.value("type")
                continue
            }
            let location = reader.location(map.keyNode(present[0]))
            let target = map.string("to")
            let targetLocation = map.keyNode("to").map { reader.location(map.value("to") ?? $0) } ?? location
            let type = map.choice("type", ValueType.self)
            var input: MappingEntry.Input
            switch present[0] {
            case "column":
                guard let column = map.string("column", required: true) else { continue }
                input = column == "$unmapped" ? .unmapped : .column(column)
            case "static":
                guard let valueNode = map.value("static"), case .scalar(let scalar) = valueNode else {
                    reader.error(map.value("static"), "'static:' must be a single value (text, number or true/false)")
                    continue
                }
                input = .staticValue(YAMLReader.value(of: scalar))
            default:
                guard let column = map.string("ignore", required: true) else { continue }
                input = .ignore(column)
                if target != nil {
                    reader.error(map.keyNode("to"), "an 'ignore:' entry sends nothing, so it cannot have 'to:'", fix: "remove 'to:'")
                }
            }
            if case .ignore = input {} else if target == nil {
                reader.error(item, "the mapping entry has no 'to:'", fix: "add 'to:' with a batch path such as 'user_attributes.plan'")
                continue
            }
            entries.append(MappingEntry(input: input, target: target, type: type, location: location, targetLocation: targetLocation))
        }
        return entries
    }

    static func parseSync(_ map: YAMLReader.Map, reader: YAMLReader, locations: inout [String: SourceLocation]) -> SyncSpec {
        defer { map.reportUnknownKeys(known: syncKeys) }
        let mode = map.choice("mode", SyncSpec.Mode.self, required: true) ?? .full
        let iterator = map.string("iterator")
        let iteratorType = map.choice("iterator_type", IteratorType.self)
        let fromText = map.string("from")
        let lookbackText = map.string("lookback")
        let backfillText = map.string("backfill_window")
        if let node = map.value("iterator") { locations["sync.iterator"] = reader.location(node) }
        if mode == .full {
            for key in ["iterator", "iterator_type", "from", "lookback", "backfill_window"] where map.has(key) {
                reader.error(map.keyNode(key), "'sync.\(key)' applies to incremental syncs only", fix: "remove it, or set 'mode: incremental'")
            }
            return .full
        }
        guard let iterator else {
            reader.error(map.node, "an incremental sync needs 'iterator:'", fix: "name the column that grows with each change, e.g. 'iterator: updated_at'")
            return .full
        }
        guard let iteratorType else {
            if !map.has("iterator_type") {
                reader.error(map.node, "an incremental sync needs 'iterator_type:'",
                             fix: "add one of \(IteratorType.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "))")
            }
            return .full
        }
        var from: IteratorValue?
        if let fromText {
            from = iteratorType.parseBound(fromText)
            if from == nil {
                reader.error(map.value("from"), "'sync.from' is '\(fromText)', which is not \(iteratorType.expectation)",
                             fix: "write it as \(iteratorType.expectation)")
            }
        }
        var lookback: IteratorValue?
        if let lookbackText {
            lookback = iteratorType.parseLookback(lookbackText)
            if lookback == nil {
                let expected = iteratorType.isTime ? "a duration like '90s', '15m', '1h' or '2d'"
                    : iteratorType == .string ? "nothing: text iterators cannot look back" : "a non-negative number"
                reader.error(map.value("lookback"), "'sync.lookback' is '\(lookbackText)'; it must be \(expected)",
                             fix: iteratorType == .string ? "remove 'lookback:'" : "write it as \(expected)")
            }
        }
        var backfillWindow: Int64?
        if let backfillText {
            if iteratorType.isTime, case .int(let ms)? = iteratorType.parseLookback(backfillText), ms > 0 {
                backfillWindow = ms
            } else {
                reader.error(map.value("backfill_window"),
                             iteratorType.isTime ? "'sync.backfill_window' is '\(backfillText)'; it must be a duration like '6h', '1d' or '7d'"
                                                 : "'sync.backfill_window' applies to time iterators only",
                             fix: iteratorType.isTime ? "write it as a duration like '1d'" : "remove it")
            }
        }
        return SyncSpec(mode: .incremental, iterator: iterator, iteratorType: iteratorType, from: from,
                        lookback: lookback, lookbackText: lookbackText, backfillWindow: backfillWindow)
    }

    static func parseSchedule(_ map: YAMLReader.Map, reader: YAMLReader) -> ScheduleSpec {
        defer { map.reportUnknownKeys(known: scheduleKeys) }
        let kind = map.choice("type", ScheduleSpec.Kind.self, required: true) ?? .onDemand
        let frequency = map.choice("frequency", ScheduleSpec.Frequency.self)
        func instant(_ key: String) -> Int64? {
            guard let text = map.string(key) else { return nil }
            let hasZone = text.hasSuffix("Z") || text.hasSuffix("z") || text.range(of: #"[+-]\d\d:?\d\d$"#, options: .regularExpression) != nil
            guard let ms = Timestamp.parseMillis(text), hasZone else {
                reader.error(map.value(key), "'schedule.\(key)' is '\(text)', which is not an ISO 8601 time with an offset",
                             fix: "write it like 2026-11-15T19:00:00Z or 2026-11-15T20:00:00+01:00")
                return nil
            }
            return ms
        }
        let start = instant("start")
        let end = instant("end")
        let timezone = map.string("timezone")
        if let timezone, TimeZone(identifier: timezone) == nil {
            reader.error(map.value("timezone"), "'schedule.timezone' is '\(timezone)', which is not an IANA time zone",
                         fix: "use a name like 'UTC', 'Europe/Berlin' or 'America/New_York'")
        }
        switch kind {
        case .interval:
            if frequency == nil && !map.has("frequency") {
                reader.error(map.node, "an interval schedule needs 'frequency:'", fix: "add one of 'hourly', 'daily', 'weekly', 'monthly'")
            }
            if start == nil && !map.has("start") {
                reader.error(map.node, "an interval schedule needs 'start:'", fix: "add the first run time, e.g. 'start: 2026-11-15T19:00:00Z'")
            }
        case .once, .onDemand:
            if map.has("frequency") {
                reader.error(map.keyNode("frequency"), "'schedule.frequency' applies to interval schedules only", fix: "remove it, or set 'type: interval'")
            }
            if kind == .onDemand, map.has("start") {
                reader.error(map.keyNode("start"), "an on_demand job never runs by itself, so it has no 'start:'", fix: "remove it, or use 'type: once'")
            }
        }
        if let start, let end, end <= start {
            reader.error(map.value("end"), "'schedule.end' is not after 'schedule.start'", fix: "move 'end' after 'start' or remove it")
        }
        return ScheduleSpec(kind: kind, frequency: frequency, start: start, end: end, timezone: timezone)
    }

    static func parseDestination(_ map: YAMLReader.Map, reader: YAMLReader, directory: String, jobName: String) -> DestinationSpec {
        let environment = map.choice("environment", Environment.self) ?? .development
        let type = map.string("type") ?? "file"
        switch type {
        case "file":
            defer { map.reportUnknownKeys(known: destinationKeys) }
            let path = map.string("path") ?? "../out/\(jobName).ndjson"
            return DestinationSpec(kind: .file(path: Paths.resolve(path, against: directory)), environment: environment)
        case "mparticle":
            defer { map.reportUnknownKeys(known: mparticleKeys) }
            let spec = parseMParticle(map, reader: reader, directory: directory)
            return DestinationSpec(kind: spec.map { .mparticle($0) } ?? .file(path: ""), environment: environment)
        case "fme":
            defer { map.reportUnknownKeys(known: fmeDestinationKeys) }
            let spec = parseFME(map, reader: reader, directory: directory)
            return DestinationSpec(kind: spec.map { .fme($0) } ?? .file(path: ""), environment: environment)
        default:
            defer { map.reportUnknownKeys(known: destinationKeys) }
            reader.error(map.value("type"), "'destination.type' is '\(type)', which is not a destination", fix: Spelling.hint(for: type, among: ["file", "mparticle", "fme"]))
            return DestinationSpec(kind: .file(path: ""), environment: environment)
        }
    }

    static func parseMParticle(_ map: YAMLReader.Map, reader: YAMLReader, directory: String) -> MParticleSpec? {
        let pod = map.choice("pod", MParticleSpec.Pod.self)
        let url = map.string("url")
        var baseURL: String?
        switch (pod, url) {
        case (let pod?, nil):
            baseURL = MParticleSpec.baseURL(for: pod)
        case (nil, let url?):
            var trimmed = url
            while trimmed.hasSuffix("/") { trimmed.removeLast() }
            if !(trimmed.hasPrefix("http://") || trimmed.hasPrefix("https://")) || trimmed.count <= "https://".count {
                reader.error(map.value("url"), "'destination.url' is '\(url)', which is not an http:// or https:// URL",
                             fix: "write the Events API base, e.g. 'url: http://127.0.0.1:8080/v2', or use 'pod:'")
            } else {
                baseURL = trimmed
            }
        case (_?, _?):
            reader.error(map.keyNode("url"), "the destination names both 'pod:' and 'url:'", fix: "keep one of them")
        case (nil, nil):
            if !map.has("pod") {
                reader.error(map.node, "an mparticle destination needs 'pod:' (or 'url:')",
                             fix: "add 'pod:' with one of 'us1', 'us2', 'eu1', 'au1': the pod of your mParticle workspace")
            }
        }
        let apiKey = parseSecret(map, "api_key", reader: reader, directory: directory, example: "MPARTICLE_API_KEY")
        let apiSecret = parseSecret(map, "api_secret", reader: reader, directory: directory, example: "MPARTICLE_API_SECRET")
        let maxInFlight = parseMaxInFlight(map, default: MParticleSpec.defaultMaxInFlight, reader: reader)
        let historical = map.choice("historical", MParticleSpec.Historical.self) ?? .auto
        let retryFor = parseDuration(map, "retry_for", default: MParticleSpec.defaultRetryForMillis, reader: reader)
        let timeout = parseDuration(map, "timeout", default: MParticleSpec.defaultTimeoutMillis, reader: reader)
        guard let baseURL, let apiKey, let apiSecret else { return nil }
        return MParticleSpec(pod: pod, baseURL: baseURL, apiKey: apiKey, apiSecret: apiSecret, maxInFlight: maxInFlight,
                             historical: historical, retryForMillis: retryFor, timeoutMillis: timeout)
    }

    /// `destination.max_in_flight`: 1 to 64 requests at once.
    static func parseMaxInFlight(_ map: YAMLReader.Map, default value: Int, reader: YAMLReader) -> Int {
        guard let text = map.string("max_in_flight") else { return value }
        if let n = Int(text), (1...64).contains(n) { return n }
        reader.error(map.value("max_in_flight"), "'destination.max_in_flight' is '\(text)'; it must be a whole number from 1 to 64",
                     fix: "write e.g. 'max_in_flight: \(value)'")
        return value
    }

    /// A destination duration (`retry_for`, `timeout`) in milliseconds.
    static func parseDuration(_ map: YAMLReader.Map, _ key: String, default value: Int64, reader: YAMLReader) -> Int64 {
        guard let text = map.string(key) else { return value }
        if let ms = IteratorType.timestamp.parseLookback(text), case .int(let n) = ms, n > 0 { return n }
        reader.error(map.value(key), "'destination.\(key)' is '\(text)', which is not a duration",
                     fix: "write a duration like '500ms', '30s', '10m' or '1h'")
        return value
    }

    /// `${ENV_VAR}` or `{ file: path }`; an inline value is an error, and is never echoed back.
    static func parseSecret(_ map: YAMLReader.Map, _ key: String, reader: YAMLReader, directory: String,
                            example: String, destination: String = "an mparticle destination",
                            section: String = "destination") -> SecretReference? {
        let fix = "write '\(key): ${\(example)}' and set that environment variable, or '\(key): { file: path/to/secret }'"
        guard let node = map.value(key) else {
            reader.error(map.node, "\(destination) needs '\(key):'", fix: fix)
            return nil
        }
        switch node {
        case .scalar(let scalar):
            let text = scalar.string
            if text.hasPrefix("${"), text.hasSuffix("}") {
                let name = String(text.dropFirst(2).dropLast())
                if !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), !name.first!.isNumber {
                    return .environment(name)
                }
                reader.error(node, "'\(section).\(key)' names an environment variable that is not a valid name", fix: fix)
                return nil
            }
            // Never quote the value: it may be the secret itself.
            reader.error(node, "'\(section).\(key)' is written inline; secrets must not be in job files", fix: fix)
            return nil
        case .mapping:
            let inner = YAMLReader.Map(reader: reader, node: node, path: "\(section).\(key)")
            defer { inner.reportUnknownKeys(known: ["file"]) }
            guard let path = inner.string("file", required: true, fix: fix) else { return nil }
            return .file(Paths.resolve(path, against: directory))
        default:
            reader.error(node, "'\(section).\(key)' must be '${ENV_VAR}' or '{ file: path }', not a \(YAMLReader.kind(of: node))", fix: fix)
            return nil
        }
    }

    static func parseKey(_ node: Node, reader: YAMLReader) -> [String]? {
        let fix = "write the columns that identify a row, e.g. 'key: [customer_id, event_id]'"
        var columns: [String] = []
        switch node {
        case .scalar(let scalar) where !scalar.string.isEmpty:
            // `key: id` is the one-column list `[id]`. Plain text with a comma was meant as a list.
            if scalar.style == .plain && scalar.string.contains(",") {
                let names = scalar.string.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                reader.error(node, "'key' is the single value '\(scalar.string)'; several columns must be written as a list",
                             fix: "write 'key: [\(names.joined(separator: ", "))]', or quote the value if it is one column whose name has a comma")
                return nil
            }
            columns = [scalar.string]
        case .sequence(let sequence):
            for item in sequence {
                guard case .scalar(let scalar) = item, !scalar.string.isEmpty else {
                    reader.error(item, "each 'key' entry must be a column name", fix: fix)
                    return nil
                }
                if columns.contains(scalar.string) {
                    reader.error(item, "column '\(scalar.string)' is listed twice in 'key'", fix: "list it once")
                    return nil
                }
                columns.append(scalar.string)
            }
        default:
            reader.error(node, "'key' must be a list of column names", fix: fix)
            return nil
        }
        if columns.isEmpty {
            reader.error(node, "'key' is empty", fix: fix)
            return nil
        }
        return columns
    }
}
