import Foundation
import SyncJobsCore
import SyncJobsTestSupport
import Testing

/// `/metrics` parsed as the Prometheus text format, after runs whose figures are known.
extension HTTPFaceTests {
    @Suite struct MetricsTests {
        /// `name{labels}` → value, for every sample line; fails on a line that is not a sample,
        /// a `# TYPE` or a `# HELP`.
        static func parse(_ text: String) throws -> [String: Double] {
            var samples: [String: Double] = [:]
            for line in text.split(separator: "\n") {
                if line.hasPrefix("# TYPE ") || line.hasPrefix("# HELP ") { continue }
                let parts = line.split(separator: " ")
                guard parts.count == 2, let value = Double(parts[1]) else {
                    Issue.record("not a Prometheus sample line: \(line)")
                    continue
                }
                samples[String(parts[0])] = value
            }
            return samples
        }

        @Test func runsRowsLatencyAndLag() async throws {
            let face = try await FaceUnderTest()
            for _ in 0..<2 {
                #expect(try await face.post("/api/jobs/shop-users-full/run", headers: FaceUnderTest.bearer).status == 202)
                _ = try await face.runs("shop-users-full") { $0.first?.status == .succeeded }
                _ = try await waitFor(.seconds(10)) { face.logs.entries("Run finished").count >= 1 }
            }
            #expect(try await face.post("/api/jobs/shop-users/run", headers: FaceUnderTest.bearer).status == 202)
            let shopRuns = try await face.runs("shop-users") { $0.first?.status == .succeeded }
            // The run's metrics are recorded after its record is finished: wait for the counter.
            var samples: [String: Double] = [:]
            _ = try await waitFor(.seconds(10)) {
                samples = try Self.parse(try await face.get("/metrics").body)
                return samples["syncjobs_runs_total{job=\"shop-users\",status=\"succeeded\"}"] == 1
                    && samples["syncjobs_runs_total{job=\"shop-users-full\",status=\"succeeded\"}"] == 2
            }
            let before = faceClock.now()
            let page = try await face.get("/metrics")
            let after = faceClock.now()
            #expect(page.headers.first(name: "Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            samples = try Self.parse(page.body)
            #expect(samples["syncjobs_runs_total{job=\"shop-users-full\",status=\"succeeded\"}"] == 2)
            #expect(samples["syncjobs_rows_read_total{job=\"shop-users-full\"}"] == 400)
            #expect(samples["syncjobs_rows_sent_total{job=\"shop-users-full\"}"] == 398)
            #expect(samples["syncjobs_rows_rejected_total{job=\"shop-users-full\"}"] == 2)
            #expect(samples["syncjobs_retries_total{job=\"shop-users-full\"}"] == 0)
            #expect(samples["syncjobs_throttled_seconds_total{job=\"shop-users-full\"}"] == 0)
            #expect(samples["syncjobs_rows_read_total{job=\"shop-users\"}"] == 200)
            // Each run delivers 199 rows to the file destination in 2 requests.
            #expect(samples["syncjobs_request_duration_seconds_count{destination=\"file\"}"] == 6)
            #expect(samples["syncjobs_request_duration_seconds_bucket{destination=\"file\",le=\"+Inf\"}"] == 6)
            let lastSuccess = try #require(samples["syncjobs_last_success_timestamp_seconds{job=\"shop-users\"}"])
            let ended = try #require(shopRuns.first?.endedAt)
            #expect(abs(lastSuccess - Double(ended) / 1000) < 1)
            // Checkpoint lag: now minus the high watermark 2026-10-26T00:48:00Z.
            let watermark = Double(Timestamp.parseMillis("2026-10-26T00:48:00Z")!) / 1000
            let lag = try #require(samples["syncjobs_checkpoint_lag_seconds{job=\"shop-users\"}"])
            #expect(lag >= Double(before) / 1000 - watermark && lag <= Double(after) / 1000 - watermark)
            // Full syncs have no checkpoint, and labels are job names and fixed words only.
            #expect(samples["syncjobs_checkpoint_lag_seconds{job=\"shop-users-full\"}"] == nil)
            for key in samples.keys {
                #expect(key.hasPrefix("syncjobs_"))
            }
            try await face.stop()
        }
    }
}
