import Foundation

extension Workspace {
    /// Finds and parses a job for a command, or prints why it cannot (the command then exits 2).
    func loadJob(_ reference: String, output: any CommandOutput) -> JobDefinition? {
        do {
            return try JobFileParser.load(path: try locate(reference)).0
        } catch {
            output.err("\(error)")
            return nil
        }
    }
}

/// Where command output goes: standard output for results, standard error for progress and
/// problems. Tests capture both.
public protocol CommandOutput: Sendable {
    func out(_ text: String)
    func err(_ text: String)
    /// Rewrites the current line of standard error (progress); only called when it is a terminal.
    func progress(_ text: String)
    var isTerminal: Bool { get }
}

public struct StandardOutput: CommandOutput {
    public init() {}

    public func out(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
    public func err(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
    public func progress(_ text: String) { FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8)) }
    public var isTerminal: Bool { isatty(STDERR_FILENO) == 1 }
}

/// Exit codes: 0 ok, 1 a run failed, 2 an invalid job or usage.
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    case runFailed = 1
    case invalid = 2
}
