import Yams

/// Reads a YAML node tree while collecting diagnostics with exact positions.
///
/// Each accessor records what went wrong instead of throwing, so one `jobs validate` reports every
/// problem in a file at once.
final class YAMLReader {
    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String) { self.file = file }

    func location(_ node: Node?) -> SourceLocation {
        let mark = node?.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func error(_ node: Node?, _ message: String, fix: String? = nil) {
        diagnostics.append(Diagnostic(.error, at: location(node), message, fix: fix))
    }

    func warning(_ node: Node?, _ message: String, fix: String? = nil) {
        diagnostics.append(Diagnostic(.warning, at: location(node), message, fix: fix))
    }

    func add(_ diagnostic: Diagnostic) { diagnostics.append(diagnostic) }

    /// A mapping node seen through its keys, remembering which keys were read so the rest can be
    /// reported as unknown.
    final class Map {
        let reader: YAMLReader
        let node: Node
        let path: String
        private(set) var pairs: [(key: String, keyNode: Node, value: Node)] = []
        private var used: Set<String> = []

        init(reader: YAMLReader, node: Node, path: String) {
            self.reader = reader
            self.node = node
            self.path = path
            if case .mapping(let mapping) = node {
                for (key, value) in mapping {
                    pairs.append((key.string ?? "", key, value))
                }
            }
        }

        func has(_ key: String) -> Bool { pairs.contains { $0.key == key } }

        func keyNode(_ key: String) -> Node? { pairs.first { $0.key == key }?.keyNode }

        func isUsed(_ key: String) -> Bool { used.contains(key) }

        func value(_ key: String) -> Node? {
            used.insert(key)
            return pairs.first { $0.key == key }?.value
        }

        func qualified(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

        func string(_ key: String, required: Bool = false, fix: String? = nil) -> String? {
            guard let node = value(key) else {
                if required { reader.error(self.node, "missing key '\(qualified(key))'", fix: fix ?? "add '\(key):'") }
                return nil
            }
            guard case .scalar(let scalar) = node else {
                reader.error(node, "'\(qualified(key))' must be a single value, not a \(YAMLReader.kind(of: node))", fix: fix)
                return nil
            }
            if Node.scalar(scalar).tag.rawValue == Tag.Name.null.rawValue && scalar.style == .plain && (scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null") {
                if required { reader.error(node, "'\(qualified(key))' is empty", fix: fix ?? "give it a value") }
                return nil
            }
            return scalar.string
        }

        func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type, required: Bool = false) -> T?
        where T.RawValue == String {
            let allowed = T.allCases.map(\.rawValue)
            guard let text = string(key, required: required, fix: "use one of \(allowed.map { "'\($0)'" }.joined(separator: ", "))") else { return nil }
            if let value = T(rawValue: text) { return value }
            reader.error(value(key), "'\(qualified(key))' is '\(text)', which is not allowed", fix: Spelling.hint(for: text, among: allowed))
            return nil
        }

        func map(_ key: String, required: Bool = false) -> Map? {
            guard let node = value(key) else {
                if required { reader.error(self.node, "missing section '\(qualified(key))'", fix: "add '\(key):' with its keys") }
                return nil
            }
            guard case .mapping = node else {
                reader.error(node, "'\(qualified(key))' must be a mapping of keys, not a \(YAMLReader.kind(of: node))")
                return nil
            }
            return Map(reader: reader, node: node, path: qualified(key))
        }

        /// Reports keys that no accessor asked for, with a "did you mean" from the known keys.
        func reportUnknownKeys(known: [String]) {
            for pair in pairs where !used.contains(pair.key) {
                reader.error(pair.keyNode, "unknown key '\(qualified(pair.key))'", fix: Spelling.hint(for: pair.key, among: known, noun: "one of the keys"))
            }
        }
    }

    static func kind(of node: Node) -> String {
        switch node {
        case .scalar: return "single value"
        case .mapping: return "mapping"
        case .sequence: return "list"
        case .alias: return "alias"
        }
    }

    /// A scalar as a JSON value: plain YAML scalars keep their resolved type, quoted ones are text.
    static func value(of scalar: Node.Scalar) -> Value {
        if scalar.style != .plain { return .string(scalar.string) }
        let node = Node.scalar(scalar)
        switch node.tag.rawValue {
        case Tag.Name.null.rawValue: return .null
        case Tag.Name.bool.rawValue: return node.bool.map(Value.bool) ?? .string(scalar.string)
        case Tag.Name.int.rawValue: return node.int.map { .int(Int64($0)) } ?? .string(scalar.string)
        case Tag.Name.float.rawValue:
            if let d = node.float, d.isFinite { return .double(d) }
            return .string(scalar.string)
        default: return .string(scalar.string)
        }
    }
}
