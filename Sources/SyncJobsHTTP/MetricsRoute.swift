import Hummingbird
import SyncJobsCore

/// `GET /metrics`: the Prometheus text format of what runs and deliveries recorded through
/// swift-metrics, with each time-iterator job's checkpoint lag worked out at the scrape.
struct MetricsRoute: Sendable {
    let face: FaceContext

    func register(on router: Router<BasicRequestContext>) {
        router.get("metrics") { request, _ -> Response in
            if let refusal = face.access.mayRead(request) {
                let (status, message) = face.access.message(refusal)
                return .error(status, message)
            }
            recordCheckpointLag()
            return .text(face.registry.emitToString(), type: "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    /// Now minus the checkpoint's high watermark, for jobs whose iterator is a time.
    private func recordCheckpointLag() {
        guard let state = try? face.daemon.workspace.openState() else { return }
        let now = face.now()
        for job in face.live.definitions where job.sync.iteratorType?.isTime == true {
            guard case .int(let watermark)? = (try? state.checkpoint(job: job.name))??.lower else { continue }
            face.metrics.recordCheckpointLag(job: job.name, seconds: Double(now - watermark) / 1000)
        }
    }
}
