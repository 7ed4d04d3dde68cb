import EventsAPIServer
import Foundation

// A keep-alive Events API sink for the benchmark: accepts every request at once (auth and the
// size limit checked, batches counted, nothing parsed) and prints its counts when stdin closes.
//   mparticle-sink [PORT]   prints "port N" on stdout, then serves until stdin reaches EOF.
var configuration = EventsAPIServer.Configuration(apiKey: "bench-key", apiSecret: "bench-secret")
configuration.validate = false
let server = EventsAPIServer(configuration)
let port = try await server.start(port: CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 0 : 0)
FileHandle.standardOutput.write(Data("port \(port)\n".utf8))
while readLine() != nil {}
print("requests \(server.acceptedRequests) batches \(server.acceptedBatchCount) bytes \(server.acceptedBytes) connections \(server.connections)")
try await server.stop()
