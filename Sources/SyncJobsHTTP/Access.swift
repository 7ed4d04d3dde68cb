import Foundation
import HTTPTypes
import Hummingbird

/// Who may do what (README "The daemon's HTTP face"):
/// - reads (pages, `GET /api/…`, `/metrics`) are open on a loopback address and need the token
///   on any other address;
/// - every change (run, pause, resume, retry) needs the token: `Authorization: Bearer <token>`,
///   or the session cookie set by signing in on the page together with the page's CSRF token
///   (form field `csrf` or header `X-CSRF-Token`), from the same origin.
/// `/healthz` is always open: it says nothing but that the daemon answers.
struct Access: Sendable {
    let token: String
    /// Where the token is, for messages (never the token itself).
    let tokenSource: String
    let loopback: Bool
    /// The session cookie's value and the CSRF token: random per daemon process, so neither is
    /// the token, and signing in again after a restart is all it costs.
    let session: String
    let csrf: String

    static let cookieName = "syncjobs_session"

    init(token: String, tokenSource: String, loopback: Bool) {
        self.token = token
        self.tokenSource = tokenSource
        self.loopback = loopback
        session = Self.random()
        csrf = Self.random()
    }

    enum Refusal: Error {
        case noToken, badToken, crossSite(String), badCSRF
    }

    /// Whether the request carries the token (Bearer) or the session cookie.
    func credential(_ request: Request) -> Result<Bool, Refusal> {
        if let header = request.headers[.authorization] {
            let prefix = "Bearer "
            guard header.hasPrefix(prefix), Self.equal(String(header.dropFirst(prefix.count)), token) else { return .failure(.badToken) }
            return .success(true)
        }
        if let cookie = cookieValue(request) {
            return Self.equal(cookie, session) ? .success(false) : .failure(.badToken)
        }
        return .failure(.noToken)
    }

    func signedIn(_ request: Request) -> Bool {
        if case .success = credential(request) { return true }
        return false
    }

    /// Reads: open on loopback, else the token or a session.
    func mayRead(_ request: Request) -> Refusal? {
        if loopback && request.headers[.authorization] == nil { return nil }
        if case .failure(let refusal) = credential(request) { return refusal }
        return nil
    }

    /// Changes: the token, or a session with the CSRF token from the same origin.
    func mayChange(_ request: Request, formCSRF: String?) -> Refusal? {
        switch credential(request) {
        case .failure(let refusal): return refusal
        case .success(true): return nil
        case .success(false):
            if let reason = crossSite(request) { return .crossSite(reason) }
            let given = formCSRF ?? request.headers[HTTPField.Name("X-CSRF-Token")!]
            guard let given, Self.equal(given, csrf) else { return .badCSRF }
            return nil
        }
    }

    /// A browser names the page a request comes from (`Origin`, `Sec-Fetch-Site`); one from
    /// another site is refused whatever it carries.
    func crossSite(_ request: Request) -> String? {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!], site == "cross-site" {
            return "the browser marked it cross-site"
        }
        if let origin = request.headers[HTTPField.Name("Origin")!] {
            let host = request.head.authority ?? ""
            let originHost = origin.components(separatedBy: "://").last ?? origin
            if origin == "null" || originHost != host { return "it comes from \(origin), not from this daemon's page" }
        }
        return nil
    }

    func message(_ refusal: Refusal) -> (HTTPResponse.Status, String) {
        switch refusal {
        case .noToken:
            return (.unauthorized, "this request needs the daemon's token: send 'Authorization: Bearer <token>' (the token is in \(tokenSource)), or sign in on the page at /login")
        case .badToken:
            return (.forbidden, "the token or session is not this daemon's; use the token in \(tokenSource) (sessions end when the daemon restarts: sign in again at /login)")
        case .crossSite(let reason):
            return (.forbidden, "cross-site request refused: \(reason)")
        case .badCSRF:
            return (.forbidden, "the request lacks this page's CSRF token; reload the page and try again")
        }
    }

    func cookieValue(_ request: Request) -> String? {
        guard let header = request.headers[.cookie] else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            if pair.hasPrefix(Self.cookieName + "=") { return String(pair.dropFirst(Self.cookieName.count + 1)) }
        }
        return nil
    }

    /// Compares without stopping at the first difference, so timing does not tell how much matched.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return difference == 0
    }

    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(format: "%016llx", generator.next() as UInt64) }.joined()
    }
}
