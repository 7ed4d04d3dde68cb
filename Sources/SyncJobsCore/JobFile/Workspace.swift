import Foundation

/// Where the job files and the state database are.
public struct Workspace: Sendable {
    package var jobsDirectory: String
    package var statePath: String

    /// `--jobs` (default `jobs`), and `--state`, else `JOBS_STATE`, else `.jobs/state.db` beside
    /// the jobs folder.
    public static func resolve(jobsDirectory: String?, statePath: String?,
                               environment: [String: String] = ProcessInfo.processInfo.environment) -> Workspace {
        let jobs = Paths.absolute(jobsDirectory ?? "jobs")
        let state = statePath ?? environment["JOBS_STATE"].flatMap { $0.isEmpty ? nil : $0 }
        let parent = (jobs as NSString).deletingLastPathComponent
        return Workspace(jobsDirectory: jobs, statePath: state.map { PostgresEndpoint.isURL($0) ? $0 : Paths.absolute($0) } ?? parent + "/.jobs/state.db")
    }

    /// Every job file in the jobs folder (`.yaml` or `.yml`), sorted by name.
    package func jobFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: jobsDirectory)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { jobsDirectory + "/" + $0 }
    }

    /// Finds a job by file path or by name. A reference must resolve to exactly one job file, and
    /// no other file in the jobs folder may declare that job's name: the name keys the job's
    /// checkpoint, lock and history, so two files sharing one would share them too.
    package func locate(_ reference: String) throws -> String {
        let declared = declaredNames()
        let path: String
        if reference.hasSuffix(".yaml") || reference.hasSuffix(".yml") || reference.contains("/") {
            path = Paths.absolute(reference)
            guard Paths.fileExists(path) else { throw UsageError("no job file at '\(reference)'") }
        } else {
            var candidates = ["yaml", "yml"].map { "\(jobsDirectory)/\(reference).\($0)" }.filter(Paths.fileExists)
            for (file, name) in declared where name == reference && !candidates.contains(file) { candidates.append(file) }
            guard candidates.count <= 1 else {
                if candidates.allSatisfy({ file in declared.contains { $0.path == file && $0.name == reference } }) {
                    throw Self.sharedName(reference, candidates)
                }
                throw UsageError("'\(reference)' matches \(candidates.count) job files, \(Self.fileList(candidates)); give each job a unique 'name:' and file name, or name the file by its path")
            }
            guard let only = candidates.first else {
                let names = declared.map(\.name)
                let hint = Spelling.suggestion(for: reference, among: names).map { "; did you mean '\($0)'?" }
                    ?? (names.isEmpty ? "; '\(Paths.display(jobsDirectory))' holds no job files (.yaml or .yml)" : "; the jobs are \(Format.names(names))")
                throw UsageError("no job named '\(reference)' in \(Paths.display(jobsDirectory))\(hint)")
            }
            path = only
        }
        let name = declared.first(where: { $0.path == path })?.name ?? (try? JobFileParser.load(path: path))?.0.name
        if let name {
            let sharing = [path] + declared.filter { $0.name == name && $0.path != path }.map(\.path)
            if sharing.count > 1 { throw Self.sharedName(name, sharing) }
        }
        return path
    }

    /// The name of every job file in the folder that parses, in file order.
    private func declaredNames() -> [(path: String, name: String)] {
        jobFiles().compactMap { file in (try? JobFileParser.load(path: file)).map { (file, $0.0.name) } }
    }

    private static func sharedName(_ name: String, _ files: [String]) -> UsageError {
        UsageError("job name '\(name)' is declared by \(files.count) job files, \(fileList(files)); give each job a unique 'name:' (a job's name keys its checkpoint, lock and history)")
    }

    /// "jobs/a.yaml and jobs/b.yaml", "jobs/a.yaml, jobs/b.yaml and jobs/c.yaml"
    private static func fileList(_ paths: [String]) -> String {
        let shown = paths.map(Paths.display)
        return shown.count <= 1 ? shown.joined() : shown.dropLast().joined(separator: ", ") + " and " + shown.last!
    }

    package func openState() throws -> StateStore { try StateStore(path: statePath) }
}

/// A job that cannot be found or named (a command-line mistake: exit code 2).
package struct UsageError: Error, Equatable, CustomStringConvertible {
    package var message: String
    package init(_ message: String) { self.message = message }
    package var description: String { message }
}
