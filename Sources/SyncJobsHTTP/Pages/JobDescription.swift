import SyncJobsCore

/// A job's source and destination in words, for the pages: paths and endpoints, never secrets
/// (credentials appear as the variable or file they are read from, as `jobs status` names them).
enum JobDescription {
    static func source(_ job: JobDefinition) -> String {
        if case .file(let path, let format) = job.source { return "\(format.rawValue) file \(Paths.display(path))" }
        if case .sqlite(let path, let selection) = job.source {
            switch selection {
            case .table(let table): return "SQLite \(Paths.display(path)), table \(table)"
            case .query: return "SQLite \(Paths.display(path)), a query"
            }
        }
        return Paths.display(job.source.path)
    }

    static func destination(_ job: JobDefinition) -> String {
        let environment = job.destination.environment.rawValue
        switch job.destination.kind {
        case .file(let path): return "file \(Paths.display(path)) (\(environment))"
        case .mparticle(let spec): return "mParticle \(spec.endpointName) (\(environment))"
        case .fme(let spec): return "Harness FME \(spec.baseURL)"
        }
    }

    static func sync(_ job: JobDefinition) -> String {
        guard job.sync.mode == .incremental, let iterator = job.sync.iterator else { return "full" }
        return "incremental on \(iterator)"
    }
}
