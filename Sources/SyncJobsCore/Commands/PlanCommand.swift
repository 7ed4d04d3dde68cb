import Foundation
import Logging
import Synchronization

/// `jobs plan JOB`: what the next run would do, without doing it.
public enum PlanCommand {
    package static let previewBatches = 3
    package static let previewRowLimit = 1000

    public static func execute(workspace: Workspace, job reference: String, output: any CommandOutput,
                               now: Int64? = nil) async -> ExitStatus {
        guard let job = workspace.loadJob(reference, output: output) else { return .invalid }
        do {
            let state = try workspace.openState()
            let text = try await describe(job, state: state, now: now ?? StateStore.now())
            output.out(text)
            return .ok
        } catch let error as JobFileError {
            output.err(error.description)
            return .invalid
        } catch {
            output.err("\(job.name): \(error)")
            return .runFailed
        }
    }

    package static func describe(_ job: JobDefinition, state: StateStore, now: Int64) async throws -> String {
        let source = try SourceOpener.open(job)
        defer { source.close() }
        let (compiled, diagnostics) = MappingCompiler.compile(job: job, for: source)
        guard let plan = compiled else { throw JobFileError(diagnostics) }
        let stored = job.sync.mode == .incremental ? try state.checkpoint(job: job.name) : nil
        let window = try RunWindow.make(job: job, source: source, stored: stored, fullRefresh: false, now: now)
        var lines: [String] = []
        lines.append("job \(job.name) (\(job.kind.rawValue) batches, \(job.sync.mode.rawValue) sync) from \(Paths.display(job.filePath))")
        lines.append("source: \(source.description), columns \(source.columns.joined(separator: ", "))")
        lines.append("destination: \(job.destination.typeName) \(destinationDetail(job)), environment \(job.destination.environment.rawValue)")
        for warning in diagnostics where warning.severity == .warning { lines.append("warning: \(warning.message); \(warning.fix ?? "")") }
        let scheduleState = try state.scheduleState(job: job.name)
        var scheduleLine = "schedule: \(ScheduleCommand.describe(job.schedule, now: now))"
        if scheduleState.paused {
            scheduleLine += "; paused"
        } else {
            let upcoming = ScheduleCalculator(job.schedule).fireTimes(after: max(now, scheduleState.lastFireTime ?? Int64.min), count: 3)
            if !upcoming.isEmpty { scheduleLine += "; next runs \(upcoming.map { Timestamp.format(millis: $0) }.joined(separator: ", "))" }
        }
        lines.append(scheduleLine)

        lines.append("")
        if let read = window.read {
            lines.append("iterator: \(read.column) read as \(read.type.rawValue)")
            lines.append("checkpoint: \(stored?.display ?? "none (first run)")")
            let lower = read.lower.map { ">= \(read.type.display($0))" } ?? "from the first row"
            lines.append("lower bound: \(lower)" + (job.sync.lookbackText.map { " (looking back \($0))" } ?? ""))
            if let upper = read.upper {
                lines.append("upper bound: <= \(read.type.display(upper)) (the high watermark now; rows that arrive later wait for the next run)")
            } else if source.deliversInIteratorOrder {
                lines.append("upper bound: none: no row in the window")
            } else if let ceiling = read.ceiling {
                lines.append("upper bound: <= \(read.type.display(ceiling)) (the run's start; later values wait)")
            } else {
                lines.append("upper bound: the file as it is when the run starts")
            }
            switch window.boundary {
            case .none: break
            case .skipRemembered(let value, let hashes):
                lines.append("boundary: \(Format.plural(hashes.count, "row")) at \(read.type.display(value)) already delivered are skipped; other rows at that value are sent")
            case .skipAll(let value):
                lines.append("boundary: every row at \(read.type.display(value)) was delivered (by count) and is skipped")
            case .sendAll(let value):
                lines.append("boundary: every row at \(read.type.display(value)) is sent again")
            }
        } else {
            lines.append("full sync: every row is read on every run")
        }
        for note in window.notes { lines.append("note: \(note)") }
        lines.append("read: \(source.readDescription(window.read))")
        let count = try source.countRows(window.read)
        lines.append("rows to read: \(Format.count(count))")

        lines.append("")
        if let derived = plan.lookerMapping {
            lines.append(contentsOf: lookerMappingTable(derived))
        } else if plan.passthroughColumn != nil {
            lines.append("mapping: none: each record's mParticle batches are sent as they are (format: mparticle)")
        } else if let derived = plan.fmeMapping {
            lines.append("mapping: derived from the FME impression fields (mapping: fme_impressions)")
            let width = max("column".count, derived.rows.map(\.source.count).max() ?? 0)
            for row in [("column", "target")] + derived.rows {
                lines.append("  \(row.0.padding(toLength: width, withPad: " ", startingAt: 0))  \(row.1)")
            }
        } else {
            lines.append("mapping:")
            let summary = plan.summary
            let width = summary.map(\.source.count).max() ?? 0
            for entry in summary {
                lines.append("  \(entry.source.padding(toLength: width, withPad: " ", startingAt: 0))  →  \(entry.target)")
            }
        }

        // Preview: the run's own pipeline, dry, into a destination that keeps the first batches.
        let preview = PreviewDestination(keeping: previewBatches)
        var options = RunOptions(dryRun: true, limit: previewRowLimit, now: now)
        options.rejectedSampleLimit = previewRowLimit
        options.enough = { preview.isFull }
        let result = try await JobRunner(job: job, state: state, destination: preview, logger: Logger(label: "syncjobs.plan", factory: { _ in SwiftLogNoOpLogHandler() }))
            .run(options)
        if let failure = result.failure {
            if case .invalidJob(let diagnostics) = failure { throw JobFileError(diagnostics) }
            throw RunError(result.errorMessage ?? "the preview failed")
        }
        let batches = preview.batches.map { kept in
            let text = String(decoding: kept.batch, as: UTF8.self)
            return "row \(kept.rowNumber):\n" + JSONWriter.pretty((try? JSONParser.parse(text)) ?? .string(text))
        }
        let rejected = result.rejectedSamples.map { "  \(RowPosition.label($0, job: job)): \($0.reason)" }
        let examined = result.counts.rowsRead
        let skipped = result.counts.rowsSkipped
        lines.append("")
        if batches.isEmpty {
            lines.append("first batches: none (no row in the window maps to a batch)")
        } else {
            lines.append("first \(batches.count == 1 ? "batch" : "\(batches.count) batches"):")
            lines.append(contentsOf: batches)
            if case .fme(let spec) = job.destination.kind {
                lines.append("")
                lines.append(contentsOf: fmePreview(preview.batches, spec: spec, now: now))
            }
        }
        if !rejected.isEmpty {
            lines.append("")
            lines.append("rejected among the first \(Format.plural(examined, "row")) read:")
            lines.append(contentsOf: rejected)
        }
        if skipped > 0 { lines.append("(\(Format.plural(skipped, "row")) skipped as already delivered)") }
        return lines.joined(separator: "\n")
    }

    /// The mapping derived from LookML tags as a table (field, tag, target), in the order the
    /// fields are visited, so a user can see why each field goes where it goes.
    static func lookerMappingTable(_ derived: LookerDerivedMapping) -> [String] {
        var lines = ["mapping: derived from the LookML tags (\(derived.kind.rawValue) job, \(derived.identityNames == .looker ? "the Looker action's identity names" : "canonical identity names"))"]
        var table: [[String]] = [["field", "tag", "target"]]
        for row in derived.rows {
            let kind = row.field.category == .dimension ? "" : " (\(row.field.category.rawValue))"
            table.append([row.field.name + kind, row.tag ?? "-", row.target ?? row.note ?? "not sent"])
        }
        for (target, value) in derived.defaults {
            table.append(["(no field)", "-", "\(target) = '\(value)'"])
        }
        let widths = (0..<2).map { column in table.map { $0[column].count }.max() ?? 0 }
        for row in table {
            lines.append("  " + row[0].padding(toLength: widths[0], withPad: " ", startingAt: 0) + "  "
                         + row[1].padding(toLength: widths[1], withPad: " ", startingAt: 0) + "  " + row[2])
        }
        return lines
    }

    /// What the previewed batches become at an fme destination: the FME events it would send, and
    /// what it would skip or refuse, by the same mapper as a run.
    static func fmePreview(_ batches: [(rowNumber: Int, batch: [UInt8])], spec: FMESpec, now: Int64) -> [String] {
        let mapper = FMEEventMapper(trafficTypes: spec.trafficTypes, environmentName: spec.environmentName,
                                    maxEventAge: spec.maxEventAgeMillis)
        var lines = ["as FME events (destination type fme):"]
        for kept in batches {
            let batch = (try? kept.batch.withUnsafeBytes { try JSONParser.parse($0) }) ?? .null
            for (index, outcome) in mapper.map(batch, now: now).outcomes.enumerated() {
                let place = "row \(kept.rowNumber), event \(index + 1)"
                switch outcome {
                case .send(let events):
                    for event in events { lines.append("  \(place): \(event.description)") }
                case .skipped(let reason):
                    lines.append("  \(place): skipped: \(reason)")
                case .rejected(let reason):
                    lines.append("  \(place): refused: \(reason)")
                }
            }
        }
        return lines
    }

    static func destinationDetail(_ job: JobDefinition) -> String {
        switch job.destination.kind {
        case .file(let path): return Paths.display(path)
        case .mparticle(let spec):
            // Names where the secrets come from, never their values.
            return "\(spec.endpointName) (POST \(spec.baseURL)/bulkevents\(spec.historical == .auto ? ", events older than 30 days to /bulkevents/historical" : "")), api_key \(spec.apiKey), api_secret \(spec.apiSecret), max_in_flight \(spec.maxInFlight)"
        case .fme(let spec):
            let types = spec.trafficTypes.map { "\($0.trafficType) ← \($0.identity)" }.joined(separator: ", ")
            return "Harness FME (POST \(spec.baseURL)/events/bulk), api_key \(spec.apiKey), traffic types \(types), max_event_age \(spec.maxEventAgeMillis.map { Format.duration(millis: $0) } ?? "off"), max_in_flight \(spec.maxInFlight)"
        }
    }
}

/// Where `jobs plan` sends the run's batches: it keeps the first few and sends nothing.
final class PreviewDestination: Destination {
    private let wanted: Int
    private let kept = Mutex<[(rowNumber: Int, batch: [UInt8])]>([])

    init(keeping wanted: Int) { self.wanted = wanted }

    var maxInFlight: Int { 1 }
    /// One batch a request, so each batch arrives as soon as it is mapped.
    var packing: PackingLimits { PackingLimits(maxBatches: 1, maxBytes: .max) }

    var batches: [(rowNumber: Int, batch: [UInt8])] { kept.withLock { $0 } }
    var isFull: Bool { kept.withLock { $0.count >= wanted } }

    func send(_ request: PackedRequest) async throws -> DeliveryResult {
        kept.withLock { kept in
            for index in 0..<request.batchCount where kept.count < wanted {
                kept.append((request.rowNumbers[index], Array(request.batch(index))))
            }
        }
        return .accepted
    }

    func makeDurable() async throws {}
    func close() async throws {}
}
