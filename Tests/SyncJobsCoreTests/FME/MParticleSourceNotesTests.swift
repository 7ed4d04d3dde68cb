import Foundation
import Testing
@testable import SyncJobsCore

/// `format: mparticle`: what normalizing a record leaves out is counted and shown with the run,
/// never dropped unsaid; the batches themselves go on.
@Suite struct MParticleSourceNotesTests {
    @Test func whatARecordLosesIsANoteOfTheRun() async throws {
        let t = try TestWorkspace()
        let request = #"{"type":"event_processing_request","mpid":"81","user_identities":[{"type":"customer","encoding":"raw","value":"u-1"},{"type":"email","encoding":"sha256","value":"ab12"}],"events":[{"type":"custom_event","id":"e1","timestamp_ms":1767225600000,"name":"Opened"}]}"#
        try t.write("data/requests.ndjson", request + "\n" + request.replacingOccurrences(of: "u-1", with: "u-2") + "\n")
        let job = try t.job("replay", """
            type: event
            source: { file: ../data/requests.ndjson, format: mparticle }
            sync: { mode: full }
            destination: { path: ../out/replay.ndjson, environment: production }
            """)
        let destination = RecordingDestination()
        let result = try await t.run(job, destination: destination)
        #expect(result.succeeded, "\(result.errorMessage ?? "")")
        #expect(destination.batches.count == 2)
        #expect(result.notes == ["2 rows: a sha256-hashed 'email' identity was left out: FME keys are raw values"])
    }
}
