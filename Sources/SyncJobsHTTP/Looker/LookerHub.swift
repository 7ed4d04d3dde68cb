import Hummingbird

/// The Looker Action Hub for the mParticle action (placeholder until the hub lands).
struct LookerHub: Sendable {
    let face: FaceContext
    func register(on router: Router<BasicRequestContext>) {}
}
