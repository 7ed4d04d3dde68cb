/// `jobs validate [JOB...]`: checks job files, including against their sources' columns.
public enum ValidateCommand {
    public static func execute(workspace: Workspace, jobs references: [String], output: any CommandOutput) -> ExitStatus {
        var paths: [String] = []
        if references.isEmpty {
            paths = workspace.jobFiles()
            if paths.isEmpty {
                output.err("no job files (.yaml or .yml) in \(Paths.display(workspace.jobsDirectory))")
                return .invalid
            }
        } else {
            for reference in references {
                do {
                    paths.append(try workspace.locate(reference))
                } catch {
                    output.err("\(error)")
                    return .invalid
                }
            }
        }
        var failed = 0
        var names: [String: String] = [:]
        for path in paths {
            let diagnostics = JobValidation.validate(path: path)
            var all = diagnostics
            if let (job, _) = try? JobFileParser.load(path: path) {
                if let other = names[job.name] {
                    all.append(Diagnostic(at: job.location("name").withFile(Paths.display(path)),
                                          "job name '\(job.name)' is also used by \(other)", fix: "give each job a unique 'name:'"))
                }
                names[job.name] = Paths.display(path)
            }
            for diagnostic in all { output.err(diagnostic.description) }
            if all.contains(where: { $0.severity == .error }) {
                failed += 1
            } else {
                output.out("ok \(Paths.display(path))")
            }
        }
        if failed > 0 {
            output.err("\(Format.plural(failed, "job file")) of \(paths.count) did not validate")
            return .invalid
        }
        return .ok
    }

}

extension SourceLocation {
    func withFile(_ file: String) -> SourceLocation { SourceLocation(file: file, line: line, column: column) }
}
