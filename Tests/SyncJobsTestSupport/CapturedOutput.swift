import Foundation
import SyncJobsCore

/// Captures command output for assertions.
package final class CapturedOutput: CommandOutput, @unchecked Sendable {
    // @unchecked: the lines are behind the lock.
    private let lock = NSLock()
    private var outLines: [String] = []
    private var errLines: [String] = []

    package init() {}

    package func out(_ text: String) { lock.withLock { outLines.append(text) } }
    package func err(_ text: String) { lock.withLock { errLines.append(text) } }
    package func progress(_ text: String) {}
    package var isTerminal: Bool { false }

    package var stdout: String { lock.withLock { outLines.joined(separator: "\n") } }
    package var stderr: String { lock.withLock { errLines.joined(separator: "\n") } }
}
