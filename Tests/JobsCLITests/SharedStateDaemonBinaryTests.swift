import EventsAPIServer
import Foundation
import SyncJobsTestSupport
import Testing
@testable import SyncJobsCore

/// Two `jobs daemon` processes on one PostgreSQL state, as on two machines.
@Suite(.enabled(if: TestPostgres.shouldRun, TestPostgres.skipNote))
struct SharedStateDaemonBinaryTests {
    /// The daemon running a job is killed mid-run: its connection dies and with it the job's
    /// lock, the other daemon takes the job over and resumes from the checkpoint, and the fire
    /// time runs to its end exactly once.
    @Test(.timeLimit(.minutes(3)))
    func aDaemonKilledMidRunHasItsJobTakenOverAndTheFireTimeRunsOnce() async throws {
        try await TestPostgres.withDatabase { database in
            let count = 30_000
            let server = try await startEventsAPI { $0.faults = { _ in .delay(milliseconds: 40) } }
            let project = try MParticleCLITests.project(count: count, server: server, maxInFlight: 2)
            let start = Timestamp.format(millis: (StateStore.now() / 1000 + 2) * 1000)
            try project.write("jobs/mp.yaml", project.read("jobs/mp.yaml") + "\nschedule: { type: once, start: \(start) }\n")
            let arguments = ["daemon", "--max-parallel", "2", "--state", database.url]
            let first = try JobsBinary.start(arguments, in: project.root, environment: MParticleCLITests.secrets).0
            let second = try JobsBinary.start(arguments, in: project.root, environment: MParticleCLITests.secrets).0
            defer {
                for daemon in [first, second] where daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) }
            }

            // One daemon takes the run; the other finds the job locked and waits to try again.
            let state = try StateStore(path: database.url)
            // Past the first stored checkpoint (every 10,000 rows).
            #expect(try await waitUntil(timeout: .seconds(30)) { server.acceptedRequests >= 130 })
            let holder = try #require(try state.activeRun(job: "mp"))
            let (killed, survivor) = holder.pid == first.processIdentifier ? (first, second) : (second, first)
            #expect(holder.pid == killed.processIdentifier)
            kill(killed.processIdentifier, SIGKILL)
            await JobsBinary.wait(killed)

            // The survivor's next attempt (15 s after its first) takes the job over.
            #expect(try await waitUntil(timeout: .seconds(90)) {
                (try? state.runs(job: "mp", limit: 5).first?.status) == .succeeded
            })
            kill(survivor.processIdentifier, SIGTERM)
            await JobsBinary.wait(survivor)

            let runs = try state.runs(job: "mp", limit: 5).reversed().map { $0 }
            #expect(runs.map(\.status) == [.interrupted, .succeeded])
            #expect(runs.map(\.pid) == [killed.processIdentifier, survivor.processIdentifier])
            #expect(runs.map(\.host) == [ProcessInfo.processInfo.hostName, ProcessInfo.processInfo.hostName])
            #expect(Set(runs.map(\.fireTime)).count == 1)
            #expect(runs[1].counts.rowsRead < count, "the survivor read from the checkpoint: \(runs[1].counts.rowsRead)")
            #expect(MParticleCLITests.delivered(server) == Set((1...count).map { String(format: "C%05d", $0) }))

            // History names the process of each run.
            let history = try await project.jobs("history", "mp", "--state", database.url)
            let lines = history.stdout.split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.first?.contains(" on \(ProcessInfo.processInfo.hostName) (pid \(survivor.processIdentifier))") == true, "\(history.stdout)")
            #expect(lines.last?.contains(" on \(ProcessInfo.processInfo.hostName) (pid \(killed.processIdentifier))") == true, "\(history.stdout)")
            try await server.stop()
        }
    }
}
