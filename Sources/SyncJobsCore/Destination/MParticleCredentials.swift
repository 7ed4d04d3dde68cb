import Foundation

/// The key and secret, read when the destination opens; only the Basic auth header is kept.
package struct MParticleCredentials: Sendable {
    package let authorization: String

    package init(key: String, secret: String) {
        authorization = "Basic " + Data((key + ":" + secret).utf8).base64EncodedString()
    }

    package static func resolve(_ spec: MParticleSpec, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MParticleCredentials {
        MParticleCredentials(key: try read(spec.apiKey, "api_key", environment), secret: try read(spec.apiSecret, "api_secret", environment))
    }

    static func read(_ reference: SecretReference, _ key: String, _ environment: [String: String]) throws -> String {
        switch reference {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw MParticleError("destination.\(key) reads the environment variable \(name), which is not set; export it before running the job")
            }
            return value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw MParticleError("destination.\(key) reads the file \(Paths.display(path)), which cannot be read; check it exists and is readable")
            }
            let value = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map {
                $0.trimmingCharacters(in: .whitespaces)
            } ?? ""
            guard !value.isEmpty else { throw MParticleError("destination.\(key) reads the file \(Paths.display(path)), which is empty") }
            return value
        }
    }
}
