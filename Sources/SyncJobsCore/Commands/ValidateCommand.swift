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
            let diagnostics = validate(path: path)
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

    /// Every diagnostic for one job file: its syntax and keys, then its mapping against the source.
    package static func validate(path: String) -> [Diagnostic] {
        let job: JobDefinition
        var diagnostics: [Diagnostic]
        do {
            (job, diagnostics) = try JobFileParser.load(path: path)
        } catch let error as JobFileError {
            return error.diagnostics
        } catch {
            return [Diagnostic(at: SourceLocation(file: Paths.display(path), line: 1, column: 1), "\(error)")]
        }
        let source: any OpenedSource
        do {
            source = try SourceOpener.open(job)
        } catch let error as JobFileError {
            diagnostics.append(contentsOf: error.diagnostics)
            return diagnostics
        } catch {
            diagnostics.append(Diagnostic(at: job.location("source"), "\(error)"))
            return diagnostics
        }
        defer { source.close() }
        var (_, mappingDiagnostics) = MappingCompiler.compile(job: job, for: source)
        if let empty = source.notes.first {
            // The file has no columns yet: the job's own are assumed, so "not sent" is no news.
            mappingDiagnostics.removeAll { $0.severity == .warning && $0.message.contains("neither mapped nor ignored") }
            mappingDiagnostics.append(Diagnostic(.warning, at: job.location("source"), "\(empty); the columns the mapping names are checked once it holds a record"))
        }
        diagnostics.append(contentsOf: mappingDiagnostics)
        if let iterator = job.sync.iterator, job.sync.mode == .incremental, !source.columns.contains(iterator) {
            let hint = Spelling.suggestion(for: iterator, among: source.columns).map { "did you mean '\($0)'?" }
                ?? "the columns are \(Format.names(source.columns))"
            diagnostics.append(Diagnostic(at: job.location("sync.iterator"), "iterator column '\(iterator)' is not in \(source.description)", fix: hint))
        }
        return diagnostics
    }
}

extension SourceLocation {
    func withFile(_ file: String) -> SourceLocation { SourceLocation(file: file, line: line, column: column) }
}
