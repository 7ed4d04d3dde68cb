import EventsAPIServer

/// Runs `body` with a started loopback FME events server, and stops it afterwards.
package func withFMEEvents<T>(_ configure: (inout FMEEventsServer.Configuration) -> Void = { _ in },
                              _ body: (FMEEventsServer) async throws -> T) async throws -> T {
    var configuration = FMEEventsServer.Configuration()
    configure(&configuration)
    let server = FMEEventsServer(configuration)
    try await server.start()
    do {
        let result = try await body(server)
        try await server.stop()
        return result
    } catch {
        try? await server.stop()
        throw error
    }
}
