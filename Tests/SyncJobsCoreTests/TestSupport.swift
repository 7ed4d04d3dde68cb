import Foundation
import Logging
@testable import SyncJobsCore

/// A temporary folder laid out like a project: `jobs/`, `data/`, `out/`, `.jobs/state.db`.
final class TestWorkspace {
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "syncjobs-test-" + UUID().uuidString
        for folder in ["jobs", "data", "out"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var workspace: Workspace { Workspace(jobsDirectory: root + "/jobs", statePath: root + "/.jobs/state.db") }

    func path(_ relative: String) -> String { root + "/" + relative }

    @discardableResult
    func write(_ relative: String, _ text: String) throws -> String {
        let path = self.path(relative)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func read(_ relative: String) -> String {
        (try? String(contentsOfFile: path(relative), encoding: .utf8)) ?? ""
    }

    /// Output lines of a file destination, each parsed into its batches.
    func requests(_ relative: String) throws -> [[Value]] {
        try read(relative).split(separator: "\n").map { line in
            guard case .array(let batches) = try JSONParser.parse(String(line)) else { return [] }
            return batches
        }
    }

    /// Creates a SQLite database from a script.
    func sqlite(_ relative: String, _ script: String) throws {
        let db = try SQLiteDatabase(path: path(relative), mode: .readWriteCreate)
        try db.execute(script)
        db.close()
    }

    func execute(_ relative: String, _ sql: String) throws {
        let db = try SQLiteDatabase(path: path(relative), mode: .readWrite)
        try db.execute(sql)
        db.close()
    }

    func job(_ name: String, _ yaml: String) throws -> JobDefinition {
        let path = try write("jobs/\(name).yaml", yaml)
        return try JobFileParser.load(path: path, displayPath: "jobs/\(name).yaml").0
    }

    func state() throws -> StateStore { try StateStore(path: path(".jobs/state.db")) }

    /// Runs a job once with its own destination, or `destination` when given.
    func run(_ job: JobDefinition, _ options: RunOptions = RunOptions(), destination: (any Destination)? = nil) async throws -> RunResult {
        let runner = JobRunner(job: job, state: try state(), destination: options.dryRun ? nil : try destination ?? DestinationFactory.make(for: job),
                               logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        return try await runner.run(options)
    }
}

/// Captures command output for assertions.
final class CapturedOutput: CommandOutput, @unchecked Sendable {
    private let lock = NSLock()
    private var outLines: [String] = []
    private var errLines: [String] = []

    func out(_ text: String) { lock.withLock { outLines.append(text) } }
    func err(_ text: String) { lock.withLock { errLines.append(text) } }
    func progress(_ text: String) {}
    var isTerminal: Bool { false }

    var stdout: String { lock.withLock { outLines.joined(separator: "\n") } }
    var stderr: String { lock.withLock { errLines.joined(separator: "\n") } }
}

/// A destination that records requests and can fail on a chosen request, to test what is kept.
final class RecordingDestination: Destination, @unchecked Sendable {
    private let lock = NSLock()
    private var received: [PackedRequest] = []
    let failOnRequest: Int?
    let onSend: (@Sendable (Int) throws -> Void)?
    let maxInFlight: Int

    init(failOnRequest: Int? = nil, maxInFlight: Int = 1, onSend: (@Sendable (Int) throws -> Void)? = nil) {
        self.failOnRequest = failOnRequest
        self.maxInFlight = maxInFlight
        self.onSend = onSend
    }

    struct Failure: Error, CustomStringConvertible { var description: String { "the destination is down" } }

    func send(_ request: PackedRequest) async throws -> DeliveryResult {
        try onSend?(request.sequence)
        if request.sequence == failOnRequest { throw Failure() }
        lock.withLock { received.append(request) }
        return .accepted
    }

    func makeDurable() async throws {}
    func close() async throws {}

    var requests: [PackedRequest] { lock.withLock { received } }

    /// Every batch received, parsed.
    var batches: [Value] {
        requests.flatMap { request in
            (0..<request.batchCount).compactMap { try? JSONParser.parse(String(decoding: request.batch($0), as: UTF8.self)) }
        }
    }
}

extension Value {
    /// `batch["user_identities"]?["customer_id"]` as text, for compact assertions.
    var customerID: String? {
        if case .string(let s)? = self["user_identities"]?["customer_id"] { return s }
        return nil
    }
}

extension Value {
    /// The batch without its idempotency ids, for tests about mapping rather than ids (the ids have
    /// their own exact tests in the mParticle destination's suite).
    var withoutIDs: Value {
        switch self {
        case .object(let entries):
            return .object(entries.filter { $0.key != "source_request_id" && $0.key != "source_message_id" }
                .map { Value.ObjectEntry($0.key, $0.value.withoutIDs) })
        case .array(let items):
            return .array(items.map(\.withoutIDs))
        default:
            return self
        }
    }
}
