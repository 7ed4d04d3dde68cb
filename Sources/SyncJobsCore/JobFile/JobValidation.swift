import Foundation

/// Everything that can be checked about a job file before a run: the file, then the job against
/// its source (columns, the query, the mapping). `jobs validate` prints it; the daemon leaves out a
/// job file with errors.
package enum JobValidation {
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
        } catch let error as SourceError where error.unreachable {
            // The job file is fine as far as it can be checked without its source (CI without
            // access to the warehouse); the run will fail if the server is still not there.
            let key = job.locations["source.postgres"] != nil ? "source.postgres" : "source"
            diagnostics.append(Diagnostic(.warning, at: job.location(key), "the source was not checked: \(error.message)"))
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
