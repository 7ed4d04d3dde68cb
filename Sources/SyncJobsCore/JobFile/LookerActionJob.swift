/// The job a Looker Action Hub execute becomes: the spooled query result read with `format:
/// looker` and `mapping: looker`, sent to mParticle. Its history, rejected rows and lock are those
/// of the job named `name`; its credentials come with the request and live only in the
/// destination (see `MParticleCredentials(key:secret:)`), so the job itself carries none.
extension JobDefinition {
    package static let lookerActionName = "looker-mparticle"

    package static func lookerAction(result path: String, kind: Kind, environment: Environment, eventsURL: String) -> JobDefinition {
        // The references only name where the values came from in messages; nothing is read from them.
        let spec = MParticleSpec(pod: nil, baseURL: eventsURL, apiKey: .environment("the action's apiKey setting"),
                                 apiSecret: .environment("the action's apiSecret setting"), maxInFlight: MParticleSpec.defaultMaxInFlight,
                                 historical: .auto, retryForMillis: MParticleSpec.defaultRetryForMillis,
                                 timeoutMillis: MParticleSpec.defaultTimeoutMillis)
        return JobDefinition(name: lookerActionName, filePath: path, kind: kind, source: .file(path: path, format: .looker), mapping: [],
                             sync: .full, schedule: .onDemand, destination: DestinationSpec(kind: .mparticle(spec), environment: environment),
                             key: nil, locations: [:], lookerTagMapping: LookerTagMapping())
    }
}
