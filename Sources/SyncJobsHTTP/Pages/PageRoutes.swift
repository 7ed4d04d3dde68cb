import Foundation
import Hummingbird
import SyncJobsCore

/// The pages: `/`, `/jobs/{name}`, sign-in, and the buttons' form posts (which redirect back, so
/// the page works without JavaScript).
struct PageRoutes: Sendable {
    let face: FaceContext

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { request, _ -> Response in
            try page(request) { state, csrf in
                let rows = try face.live.definitions.map { job in
                    StatusPage.Row(job: job, report: try StatusCommand.jsonReport(job, state: state, now: face.now()), live: face.live.job(job.name))
                }
                return StatusPage.render(rows: rows, invalid: face.live.invalidFiles, root: root, signedIn: csrf != nil, csrf: face.access.csrf, now: face.now())
            }
        }
        router.get("jobs/:name") { request, context -> Response in
            let name = context.parameters.get("name") ?? ""
            return try page(request) { state, csrf in
                guard let job = face.live.definition(name) else {
                    if let file = face.live.invalidFiles.first(where: { JobPage.fileStem($0.file) == name }) {
                        return JobPage.renderInvalid(file, root: root, signedIn: csrf != nil)
                    }
                    throw HTTPError(.notFound, message: "no job named '\(name)' is loaded by this daemon")
                }
                let warnings = JobValidation.validate(path: job.filePath).filter { $0.severity == .warning }
                return JobPage.render(job: job, report: try StatusCommand.jsonReport(job, state: state, now: face.now()),
                                      runs: try state.runs(job: name, limit: JobPage.historyLength),
                                      rejected: try state.rejectedRows(job: name, limit: 10), warnings: warnings,
                                      live: face.live.job(name), csrf: csrf,
                                      flash: request.uri.queryParameters["done"].map(String.init))
            }
        }
        router.get("jobs/:name/chart.svg") { request, context -> Response in
            let name = context.parameters.get("name") ?? ""
            if let refusal = face.access.mayRead(request) {
                let (status, text) = face.access.message(refusal)
                return .text(text, status: status)
            }
            guard face.live.definition(name) != nil else { return .text("no job named '\(name)'", status: .notFound) }
            let runs = try face.daemon.workspace.openState().runs(job: name, limit: JobPage.historyLength)
            return .text(RunChart.svg(runs), type: "image/svg+xml")
        }
        for action in DaemonControlAction.allCases {
            router.post("jobs/:name/\(action.rawValue)") { request, context -> Response in
                var request = request
                let form = Self.form(try await request.collectBody(upTo: 16 * 1024))
                if let refusal = face.access.mayChange(request, formCSRF: form["csrf"] ?? "") {
                    let (status, text) = face.access.message(refusal)
                    return .html(message(text), status: status)
                }
                let name = context.parameters.get("name") ?? ""
                let reply = await face.daemon.control(action, job: name)
                let done = reply.message.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))) ?? ""
                return Response(status: .seeOther, headers: [.location: "/jobs/\(PageKit.segment(name))?done=\(done)"])
            }
        }
        router.get("login") { _, _ -> Response in .html(loginPage(failed: false)) }
        router.post("login") { request, _ -> Response in
            var request = request
            let form = Self.form(try await request.collectBody(upTo: 16 * 1024))
            if let reason = face.access.crossSite(request) { return .html(message("cross-site request refused: \(reason)"), status: .forbidden) }
            guard let token = form["token"], Access.equal(token, face.access.token) else { return .html(loginPage(failed: true), status: .forbidden) }
            return Response(status: .seeOther, headers: [
                .location: "/",
                .setCookie: "\(Access.cookieName)=\(face.access.session); Path=/; HttpOnly; SameSite=Strict",
            ])
        }
    }

    /// The project folder: the jobs folder's parent, which paths on the pages are relative to.
    private var root: String { (face.daemon.workspace.jobsDirectory as NSString).deletingLastPathComponent }

    /// A page read: allowed by `Access.mayRead`; the body gets the CSRF token when signed in.
    private func page(_ request: Request, _ body: (StateStore, String?) throws -> String) throws -> Response {
        if let refusal = face.access.mayRead(request) {
            if case .noToken = refusal { return Response(status: .seeOther, headers: [.location: "/login"]) }
            let (status, text) = face.access.message(refusal)
            return .html(message(text), status: status)
        }
        do {
            let csrf = face.access.signedIn(request) ? face.access.csrf : nil
            return .html(try body(try face.daemon.workspace.openState(), csrf))
        } catch let error as HTTPError {
            return .html(message(error.body ?? "not found"), status: error.status)
        } catch {
            return .html(message("\(error)"), status: .serviceUnavailable)
        }
    }

    private func loginPage(failed: Bool) -> String {
        PageKit.layout(title: "Sign in · syncjobs", body: """
            <h1>Sign in</h1>\(failed ? "<p class=\"flash\">That is not this daemon's token.</p>" : "")
            <form method="post" action="/login"><p>The daemon's token is in \(PageKit.escape(face.access.tokenSource)).</p>
            <p><input type="password" name="token" autocomplete="current-password" required style="width:100%;max-width:28rem;padding:.4rem"></p>
            <p><button type="submit">Sign in</button></p></form>
            """, script: "", signedIn: false, csrf: nil)
    }

    private func message(_ text: String) -> String {
        PageKit.layout(title: "syncjobs", body: "<p><a href=\"/\">← all jobs</a></p><p class=\"flash\">\(PageKit.escape(text))</p>", script: "", signedIn: false, csrf: nil)
    }

    /// An `application/x-www-form-urlencoded` body.
    static func form(_ buffer: ByteBuffer) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let key = parts.first { fields[key] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }
}
