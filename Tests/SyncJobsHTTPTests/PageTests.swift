import Foundation
import SyncJobsCore
import SyncJobsTestSupport
import Testing

/// The pages as served: the job table, a job's page, and a job file that does not validate.
extension HTTPFaceTests {
    @Suite struct PageTests {
        @Test func aFileThatDoesNotValidateIsShownWithItsProblems() async throws {
            let face = try await FaceUnderTest { project in
                let broken = try String(contentsOfFile: project.path("examples/broken.yaml"), encoding: .utf8)
                    .replacingOccurrences(of: "sqlite: shop.db", with: "sqlite: ../examples/shop.db")
                try broken.write(toFile: project.path("jobs/broken.yaml"), atomically: true, encoding: .utf8)
            }
            let page = try await face.get("/")
            #expect(page.status == 200)
            #expect(page.headers.first(name: "Content-Type") == "text/html; charset=utf-8")
            #expect(page.body.contains("<h2>Job files that do not validate</h2>"))
            #expect(page.body.contains("<li>jobs/broken.yaml:9:7: column &#39;emial&#39; is not in table &#39;users&#39; in examples/shop.db; did you mean &#39;email&#39;?</li>"))
            let broken = try await face.get("/jobs/broken")
            #expect(broken.status == 200)
            #expect(broken.body.contains("<span class=\"badge failing\">failing does not validate</span>"))
            #expect(broken.body.contains("<li>jobs/broken.yaml:10:25: &#39;user_atributes.plan&#39; is not a place in an mParticle batch; did you mean &#39;user_attributes.plan&#39;?</li>"))
            let daemon = try await face.get("/api/daemon")
            #expect(element(daemon.json?["invalid_files"], 0)?["file"] == .string(face.project.path("jobs/broken.yaml")))
            try await face.stop()
        }

        @Test func aJobsPageHasItsHistoryChartAndRejectedRows() async throws {
            let face = try await FaceUnderTest()
            for _ in 0..<2 {
                #expect(try await face.post("/api/jobs/shop-users-full/run", headers: FaceUnderTest.bearer).status == 202)
                _ = try await face.runs("shop-users-full") { $0.first?.status == .succeeded && $0.count >= 1 }
                _ = try await waitFor(.seconds(10)) { !(try await face.get("/api/daemon").body.contains("\"trigger\"")) }
            }
            let runs = try await face.runs("shop-users-full") { $0.count == 2 && $0.allSatisfy { $0.status == .succeeded } }
            let page = try await face.get("/jobs/shop-users-full")
            #expect(page.status == 200)
            #expect(page.body.contains("<dt>Source</dt><dd>SQLite examples/shop.db, table users</dd>"))
            #expect(page.body.contains("<dt>Destination</dt><dd>file out/shop-users-full.ndjson (development)</dd>"))
            #expect(page.body.contains("<dt>Schedule</dt><dd>daily from 2026-11-15 19:00 UTC</dd>"))
            for run in runs {
                #expect(page.body.contains("<tr data-run=\"\(run.id)\"><td data-label=\"Run\">#\(run.id) <small>api</small></td>"))
                #expect(page.body.contains("<title>run #\(run.id) succeeded: sent 199, rejected 1</title>"))
                // The daemon that ran it (in-process here: this test's host and pid).
                #expect(page.body.contains("<br><small>on \(ProcessInfo.processInfo.hostName) (pid \(getpid()))</small></td>"))
            }
            #expect(page.body.contains("<td class=\"num\">42</td><td>every identity is null or empty (column &#39;customer_id&#39;, column &#39;email&#39;); a batch must identify its user</td>"))
            // Signed out on loopback: no buttons, a way to sign in.
            #expect(!page.body.contains("<button"))
            #expect(page.body.contains("<a href=\"/login\">Sign in</a> to run, pause or retry this job."))
            let (cookie, csrf) = try await face.signIn()
            let signedIn = try await face.get("/jobs/shop-users-full", headers: [("Cookie", cookie)])
            #expect(signedIn.body.contains("<form class=\"inline\" method=\"post\" action=\"/jobs/shop-users-full/run\" data-action=\"/api/jobs/shop-users-full/run\"><input type=\"hidden\" name=\"csrf\" value=\"\(csrf)\"><button type=\"submit\">Run now</button></form>"))
            #expect(signedIn.body.contains(">Pause</button>") && signedIn.body.contains(">Retry failed rows</button>"))
            let chart = try await face.get("/jobs/shop-users-full/chart.svg")
            #expect(chart.headers.first(name: "Content-Type") == "image/svg+xml")
            #expect(chart.body.hasPrefix("<svg viewBox=\"0 0 900 150\" width=\"100%\" role=\"img\" aria-label=\"Rows per run, last 2 runs\">"))
            #expect(try await face.get("/jobs/nope").status == 404)
            try await face.stop()
        }
    }
}
