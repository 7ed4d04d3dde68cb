import Foundation
import Testing

/// README's "A session", run word for word with the built binary on a fresh copy of the shipped
/// `jobs/` and `examples/`. The test reads README.md, so the session and the product cannot drift
/// apart: change one and this fails until the other says the same.
@Suite struct ReadmeSessionTests {
    struct Step: Equatable {
        var command: String
        var expected: [String]
    }

    /// The first `console` block under "## A session": each line starting with `$ ` is a command,
    /// and the lines up to the next command are its output (standard output and standard error
    /// together, as a terminal shows them).
    static func session(in readme: String) throws -> [Step] {
        let lines = readme.components(separatedBy: "\n")
        let heading = try #require(lines.firstIndex(of: "## A session"), "README.md has no '## A session' section")
        let open = try #require(lines[heading...].firstIndex(of: "```console"), "no ```console block under '## A session'")
        let close = try #require(lines[(open + 1)...].firstIndex(of: "```"), "the console block under '## A session' is not closed")
        var steps: [Step] = []
        for line in lines[(open + 1)..<close] {
            if line.hasPrefix("$ ") {
                steps.append(Step(command: String(line.dropFirst(2)), expected: []))
            } else if steps.isEmpty {
                Issue.record("README session: output line before the first command: \(line)")
            } else {
                steps[steps.count - 1].expected.append(line)
            }
        }
        return steps
    }

    /// What may differ between runs, and nothing else: a duration in seconds with two decimals
    /// (`0.01 s`) becomes `N.NN s`, and a rate (`15,563 rows/s`) becomes `N rows/s`.
    static func masked(_ line: String) -> String {
        line.replacingOccurrences(of: #"\b\d+\.\d\d s\b"#, with: "N.NN s", options: .regularExpression)
            .replacingOccurrences(of: #"\b\d[\d,]* rows/s\b"#, with: "N rows/s", options: .regularExpression)
    }

    @Test func theSessionParsesIntoCommandsAndTheirOutput() throws {
        let steps = try Self.session(in: """
            ## A session

            ```console
            $ jobs validate
            ok jobs/a.yaml
            $ echo $?
            0
            ```
            """)
        #expect(steps == [Step(command: "jobs validate", expected: ["ok jobs/a.yaml"]), Step(command: "echo $?", expected: ["0"])])
        #expect(Self.masked("a run #1: read 2 rows in 12.34 s (15,563 rows/s); 0.5 s") == "a run #1: read 2 rows in N.NN s (N rows/s); 0.5 s")
    }

    @Test func theReadmeSessionRunsWordForWord() async throws {
        let readme = try String(contentsOf: JobsBinary.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let steps = try Self.session(in: readme)
        try #require(steps.contains { $0.command.hasPrefix("jobs ") }, "the README session runs no jobs command")
        let project = try Project()
        var lastStatus: Int32 = 0
        for step in steps {
            var output: [String]
            if step.command == "echo $?" {
                output = ["\(lastStatus)"]
            } else if step.command.hasPrefix("jobs ") {
                let arguments = step.command.dropFirst("jobs ".count).split(separator: " ").map(String.init)
                let result = try await JobsBinary.runInterleaved(arguments, in: project.root)
                lastStatus = result.status
                output = result.output.components(separatedBy: "\n")
                if output.last == "" { output.removeLast() }
            } else {
                Issue.record("README session: '\(step.command)' is neither a 'jobs' command nor 'echo $?', so this test cannot run it")
                continue
            }
            #expect(output.map(Self.masked) == step.expected.map(Self.masked), "$ \(step.command)")
        }
    }
}
