import Foundation

/// A fresh folder under the system's temporary directory, removed with its contents when the
/// last reference to it goes. The base of `TestWorkspace` and `Project`.
package class TemporaryFolder {
    package let root: String

    /// `prefix` names the folder (`syncjobs-test-…`), so a folder a crashed test left behind says
    /// which kind of test made it.
    package init(prefix: String) throws {
        root = NSTemporaryDirectory() + prefix + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    package func path(_ relative: String) -> String { root + "/" + relative }

    /// Writes `text` to `relative` (the folder it is in must exist) and returns its full path.
    @discardableResult
    package func write(_ relative: String, _ text: String) throws -> String {
        let path = self.path(relative)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The text of `relative`, or "" when there is no such file: tests compare it with what a run
    /// should have written, and a missing file is then a plain mismatch.
    package func read(_ relative: String) -> String {
        (try? String(contentsOfFile: path(relative), encoding: .utf8)) ?? ""
    }
}

/// Runs `body` with the path of a fresh folder that is removed afterwards.
package func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let folder = try TemporaryFolder(prefix: "syncjobs-files-")
    return try withExtendedLifetime(folder) { try body(folder.root) }
}
