import Logging
import Synchronization

/// Keeps what a logger logged, for exact assertions on log lines.
package final class LogCapture: Sendable {
    package struct Entry: Sendable, Equatable, CustomStringConvertible {
        package var level: Logger.Level
        package var message: String
        package var metadata: [String: String]

        /// `warning Run could not start attempt=1 job=j`: metadata sorted by key.
        package var description: String {
            ([level.rawValue, message] + metadata.keys.sorted().map { "\($0)=\(metadata[$0]!)" }).joined(separator: " ")
        }
    }

    private let store = Mutex<[Entry]>([])

    package init() {}

    package var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    package var entries: [Entry] { store.withLock { $0 } }

    /// Entries whose message starts with `prefix`.
    package func entries(_ prefix: String) -> [Entry] { entries.filter { $0.message.hasPrefix(prefix) } }

    fileprivate func append(_ entry: Entry) { store.withLock { $0.append(entry) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append(Entry(level: event.level, message: event.message.description,
                                 metadata: merged.mapValues { "\($0)" }))
        }
    }
}
