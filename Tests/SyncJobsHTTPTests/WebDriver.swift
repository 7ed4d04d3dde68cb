import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SyncJobsCore

/// Headless Chromium from Debian's packages, driven over WebDriver (`chromedriver`), for the
/// browser test. Only the handful of commands the test needs.
final class WebDriver: @unchecked Sendable {
    // @unchecked: the process is started once and only terminated after.
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let chromedriver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first { FileManager.default.isExecutableFile(atPath: $0) }

    let process: Process
    let base: String
    let session: String
    let client: HTTPClient

    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    init() async throws {
        guard let chromium = Self.chromium, let chromedriver = Self.chromedriver else {
            throw FaceError("chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)")
        }
        let port = Int.random(in: 20_000..<60_000)
        process = Process()
        process.executableURL = URL(fileURLWithPath: chromedriver)
        process.arguments = ["--port=\(port)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        base = "http://127.0.0.1:\(port)"
        client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let base = self.base, client = self.client
            let ready = try await waitFor(.seconds(20)) {
                (try? await Self.call(client, "GET", base + "/status", nil))?["value"]?["ready"] == .bool(true)
            }
            guard ready else { throw FaceError("chromedriver did not become ready") }
            let capabilities = #"{"capabilities":{"alwaysMatch":{"browserName":"chrome","goog:chromeOptions":{"binary":"\#(chromium)","args":["--headless=new","--no-sandbox","--disable-gpu","--disable-dev-shm-usage","--window-size=1280,1100","--hide-scrollbars"]}}}}"#
            let created = try await Self.call(client, "POST", base + "/session", capabilities)
            guard case .string(let id)? = created["value"]?["sessionId"] else { throw FaceError("no WebDriver session: \(JSONWriter.compact(created))") }
            session = id
        } catch {
            process.terminate()
            try? await client.shutdown()
            throw error
        }
    }

    func quit() async {
        _ = try? await command("DELETE", "", nil)
        process.terminate()
        // (waitUntilExit would spin a run loop on a cooperative thread.)
        if (try? await waitFor(.seconds(5), { !process.isRunning })) != true { kill(process.processIdentifier, SIGKILL) }
        try? await client.shutdown()
    }

    func open(_ url: String) async throws {
        _ = try await command("POST", "/url", JSONWriter.compact(.object([.init("url", .string(url))])))
    }

    func element(_ css: String) async throws -> String {
        let found = try await command("POST", "/element", JSONWriter.compact(.object([.init("using", .string("css selector")), .init("value", .string(css))])))
        guard case .string(let id)? = found[Self.elementKey] else { throw FaceError("no element matches \(css): \(JSONWriter.compact(found))") }
        return id
    }

    func click(_ css: String) async throws {
        _ = try await command("POST", "/element/\(try await element(css))/click", "{}")
    }

    func type(_ text: String, into css: String) async throws {
        _ = try await command("POST", "/element/\(try await element(css))/value", JSONWriter.compact(.object([.init("text", .string(text))])))
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    func script(_ script: String) async throws -> Value {
        try await command("POST", "/execute/sync", JSONWriter.compact(.object([.init("script", .string(script)), .init("args", .array([]))])))
    }

    func screenshot() async throws -> Data {
        guard case .string(let base64) = try await command("GET", "/screenshot", nil), let png = Data(base64Encoded: base64) else {
            throw FaceError("no screenshot")
        }
        return png
    }

    /// A session command; returns its `value`.
    private func command(_ method: String, _ path: String, _ body: String?) async throws -> Value {
        let answer = try await Self.call(client, method, "\(base)/session/\(session)\(path)", body)
        if case .object(let entries)? = answer["value"], entries.contains(where: { $0.key == "error" }) {
            throw FaceError("WebDriver \(method) \(path): \(JSONWriter.compact(answer))")
        }
        return answer["value"] ?? .null
    }

    private static func call(_ client: HTTPClient, _ method: String, _ url: String, _ body: String?) async throws -> Value {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "Content-Type", value: "application/json")
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(60))
        return try JSONParser.parse(String(buffer: try await response.body.collect(upTo: 32 << 20)))
    }
}
