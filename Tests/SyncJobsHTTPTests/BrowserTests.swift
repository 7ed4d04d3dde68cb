import Foundation
import SyncJobsCore
import Testing

/// The status page in a real browser (headless Chromium over WebDriver): the job table of the
/// shipped jobs, Run now, and the new run appearing in the history without a reload.
/// `scripts/test.sh` installs Chromium and sets `SYNCJOBS_BROWSER_TEST=required`, so there a
/// missing browser fails the test, as it does with `CI` set; a plain `swift test` without
/// Chromium skips it.
extension HTTPFaceTests {
    @Suite struct BrowserTests {
        /// Required under scripts/test.sh, and wherever `CI` is set: there a missing browser fails.
        static let required: Bool = {
            let environment = ProcessInfo.processInfo.environment
            if environment["SYNCJOBS_BROWSER_TEST"] == "required" { return true }
            guard let ci = environment["CI"]?.lowercased() else { return false }
            return !["", "0", "false", "no"].contains(ci)
        }()
        static let installed = WebDriver.chromium != nil && WebDriver.chromedriver != nil

        @Test(.enabled(if: installed || required, "needs chromium and chromium-driver (apt-get install -y chromium chromium-driver, or run scripts/test.sh)"))
        func runNowShowsTheNewRunWithoutAReload() async throws {
            try #require(Self.installed, "chromium and chromium-driver are not installed; scripts/test.sh installs them")
            let face = try await FaceUnderTest()
            let browser = try await WebDriver()
            do {
                try await browser.open(face.base + "/login")
                try await browser.type(FaceUnderTest.token, into: "input[name=token]")
                try await browser.click("button[type=submit]")
                #expect(try await waitFor(.seconds(10)) { try await browser.script("return location.pathname") == .string("/") })
                let names = try await browser.script("return [...document.querySelectorAll('#jobs tbody tr')].map(r => r.dataset.job)")
                #expect(names == .array(["app-events", "fme-events", "fme-impressions", "looker-events", "looker-users-explicit", "looker-users",
                                         "shop-users-full", "shop-users", "warehouse-users"].map(Value.string)))
                let state = try await browser.script("return document.querySelector('tr[data-job=\"shop-users\"] [data-field=state]').textContent")
                #expect(state == .string("active"))

                try await browser.open(face.base + "/jobs/shop-users")
                #expect(try await browser.script("return document.querySelectorAll('#history tr[data-run]').length") == .int(0))
                _ = try await browser.script("window.sameDocument = 'yes'")
                try await browser.click("form[action='/jobs/shop-users/run'] button")
                let appeared = try await waitFor(.seconds(30)) {
                    let count = try await browser.script("return document.querySelectorAll('#history tr[data-run]').length")
                    let status = try await browser.script("return document.querySelector('#history tr[data-run] .badge')?.textContent ?? ''")
                    return count == .int(1) && status == .string("succeeded")
                }
                #expect(appeared)
                #expect(try await browser.script("return window.sameDocument") == .string("yes"))
                #expect(try await browser.script("return document.querySelector('#history tr[data-run] td:nth-child(4)').textContent") == .string("200"))
                #expect(try await browser.script("return document.querySelector('#history tr[data-run] td:nth-child(3) small').textContent")
                        == .string("on \(ProcessInfo.processInfo.hostName) (pid \(getpid()))"))
                #expect(try await browser.script("return document.getElementById('flash').textContent") == .string("shop-users: run started (trigger api)"))
                #expect(try await waitFor(.seconds(10)) { try await browser.script("return document.querySelectorAll('#chart svg rect').length") == .int(2) })
                #expect(try await browser.script("return document.querySelector('#rejected td:nth-child(2)')?.textContent") == .string("42"))
                try await save(try await browser.screenshot(), "job-page.png")
                // More runs, for a status page that shows what runs leave behind.
                for job in ["app-events", "looker-users", "shop-users-full"] {
                    #expect(try await face.post("/api/jobs/\(job)/run", headers: FaceUnderTest.bearer).status == 202)
                    _ = try await face.runs(job) { $0.first?.status == .succeeded }
                }
                try await browser.open(face.base + "/")
                _ = try await waitFor(.seconds(10)) { try await browser.script("return document.readyState") == .string("complete") }
                try await save(try await browser.screenshot(), "status-page.png")
            } catch {
                await browser.quit()
                try? await face.stop()
                throw error
            }
            await browser.quit()
            try await face.stop()
        }

        /// Screenshots go to `SYNCJOBS_SCREENSHOTS` (a folder) when set, else to the temporary folder.
        private func save(_ png: Data, _ name: String) async throws {
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            let folder = ProcessInfo.processInfo.environment["SYNCJOBS_SCREENSHOTS"] ?? FileManager.default.temporaryDirectory.path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try png.write(to: URL(fileURLWithPath: folder + "/" + name))
        }
    }
}
