import Foundation
import SyncJobsCore

/// A job's source and destination in words, for the pages: paths and endpoints, never secrets
/// (credentials appear as the variable or file they are read from, as `jobs status` names them).
enum JobDescription {
    static func source(_ job: JobDefinition) -> String {
        if case .file(let path, let format) = job.source { return "\(format.rawValue) file \(display(path, job))" }
        if case .sqlite(let path, let selection) = job.source {
            switch selection {
            case .table(let table): return "SQLite \(display(path, job)), table \(table)"
            case .query: return "SQLite \(display(path, job)), a query"
            }
        }
        return display(job.source.path, job)
    }

    /// A path as the project names it: relative to the folder that holds the jobs folder.
    static func display(_ path: String, _ job: JobDefinition) -> String {
        let jobs = (job.filePath as NSString).deletingLastPathComponent
        let root = (jobs as NSString).deletingLastPathComponent + "/"
        return path.hasPrefix(root) ? String(path.dropFirst(root.count)) : Paths.display(path)
    }

    static func schedule(_ job: JobDefinition, report: Value) -> String {
        switch job.schedule.kind {
        case .onDemand: return "on demand"
        case .once, .interval:
            return StatusPage.text(report["schedule"]).replacingOccurrences(of: #"(\d)T(\d\d:\d\d):00Z"#, with: "$1 $2 UTC", options: .regularExpression)
        }
    }

    static func destination(_ job: JobDefinition) -> String {
        let environment = job.destination.environment.rawValue
        switch job.destination.kind {
        case .file(let path): return "file \(display(path, job)) (\(environment))"
        case .mparticle(let spec): return "mParticle \(spec.endpointName) (\(environment))"
        case .fme(let spec): return "Harness FME \(spec.baseURL)"
        }
    }

    static func sync(_ job: JobDefinition) -> String {
        guard job.sync.mode == .incremental, let iterator = job.sync.iterator else { return "full" }
        return "incremental on \(iterator)"
    }
}
