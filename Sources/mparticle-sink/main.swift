import EventsAPIServer
import Foundation

// A keep-alive sink for the benchmark: accepts every request at once (auth and the size limits
// checked, batches or events counted, nothing parsed) and prints its counts when stdin closes.
//   mparticle-sink [PORT]         the mParticle Events API; prints "port N", then serves until stdin reaches EOF
//   mparticle-sink --fme [PORT]   the Harness FME events API, the same way
var arguments = Array(CommandLine.arguments.dropFirst())
let fme = arguments.first == "--fme"
if fme { arguments.removeFirst() }
let requestedPort = arguments.first.flatMap(Int.init) ?? 0
if fme {
    var configuration = FMEEventsServer.Configuration(sdkKey: "bench-sdk-key")
    configuration.validate = false
    let server = FMEEventsServer(configuration)
    let port = try await server.start(port: requestedPort)
    FileHandle.standardOutput.write(Data("port \(port)\n".utf8))
    while readLine() != nil {}
    print("requests \(server.acceptedRequests) events \(server.acceptedEventCounts.reduce(0, +)) bytes \(server.acceptedBytes) connections \(server.connections)")
    try await server.stop()
} else {
    var configuration = EventsAPIServer.Configuration(apiKey: "bench-key", apiSecret: "bench-secret")
    configuration.validate = false
    let server = EventsAPIServer(configuration)
    let port = try await server.start(port: requestedPort)
    FileHandle.standardOutput.write(Data("port \(port)\n".utf8))
    while readLine() != nil {}
    print("requests \(server.acceptedRequests) batches \(server.acceptedBatchCount) bytes \(server.acceptedBytes) connections \(server.connections)")
    try await server.stop()
}
