import Foundation
import SyncJobsCore

extension HTTPFaceOptions {
    /// `--listen HOST:PORT` with `--token-file F` or `--token-env NAME`. Without either, a loopback
    /// address gets a token generated into `http-token` beside the state database (mode 0600,
    /// kept across restarts); any other address is refused, since every request there needs one.
    public static func resolve(listen: String, tokenFile: String?, tokenEnv: String?, lookerEventsURL: String?,
                               workspace: Workspace, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HTTPFaceOptions {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ListenError("--listen '\(listen)' is not HOST:PORT; write it like 127.0.0.1:8080")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ListenError("--listen '\(listen)' names no host; write it like 127.0.0.1:8080") }
        let token: String, source: String
        if let tokenFile {
            guard let data = FileManager.default.contents(atPath: tokenFile) else {
                throw ListenError("--token-file \(tokenFile) cannot be read; check it exists and is readable")
            }
            token = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            source = "the file \(tokenFile)"
            guard token.count >= 16 else { throw ListenError("--token-file \(tokenFile) holds no token of at least 16 characters on its first line") }
        } else if let tokenEnv {
            token = environment[tokenEnv] ?? ""
            source = "$\(tokenEnv)"
            guard token.count >= 16 else { throw ListenError("--token-env \(tokenEnv): the environment variable is not set or shorter than 16 characters") }
        } else {
            guard isLoopback(host) else {
                throw ListenError("--listen \(listen) is not a loopback address, so every request needs a token: give --token-file F or --token-env NAME")
            }
            let path = (workspace.statePath as NSString).deletingLastPathComponent + "/http-token"
            (token, source) = (try generatedToken(at: path), "the file \(Paths.display(path))")
        }
        return HTTPFaceOptions(host: host, port: port, token: token, tokenSource: source,
                               lookerEventsURL: lookerEventsURL ?? defaultLookerEventsURL)
    }

    static func generatedToken(at path: String) throws -> String {
        if let data = FileManager.default.contents(atPath: path),
           let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first, line.count >= 16 {
            return String(line)
        }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let token = Access.random()
        guard FileManager.default.createFile(atPath: path, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ListenError("cannot write the generated token to \(path); give --token-file F instead")
        }
        return token
    }
}

public struct ListenError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
