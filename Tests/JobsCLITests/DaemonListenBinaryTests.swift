import SyncJobsTestSupport
import Testing

/// `jobs daemon --listen` as a user starts it: the token rules refuse a bad start with exit 2.
@Suite struct DaemonListenBinaryTests {
    @Test func anAddressOffLoopbackNeedsAToken() async throws {
        let project = try Project()
        let result = try await project.jobs("daemon", "--listen", "0.0.0.0:8080")
        #expect(result.status == 2)
        #expect(result.stderr == "--listen 0.0.0.0:8080 is not a loopback address, so every request needs a token: give --token-file F or --token-env NAME\n")
        let bare = try await project.jobs("daemon", "--listen", "8080")
        #expect(bare.status == 2)
        #expect(bare.stderr == "--listen '8080' is not HOST:PORT; write it like 127.0.0.1:8080\n")
        let noListen = try await project.jobs("daemon", "--token-env", "T")
        #expect(noListen.status == 2)
        #expect(noListen.stderr.hasPrefix("Error: --token-file, --token-env and --looker-events-url need --listen\n"))
    }
}
