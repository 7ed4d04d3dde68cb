import Foundation

/// Reads an Action Hub execute request as it arrives, in bounded memory: the inline attachment's
/// `data` (the query result, often most of the request) is written to a file, unescaped when it
/// is a JSON string and copied when it is JSON itself; the rest of the request is kept, with that
/// value replaced by `null`, to be parsed once complete.
struct LookerRequestSpool: ~Copyable {
    /// The request without the attachment's data: its settings, form answers and plan are small.
    static let restLimit = 4 << 20

    private(set) var rest: [UInt8] = []
    private(set) var attachmentBytes = 0
    private let output: FileHandle
    private var pending: [UInt8] = []

    private struct Container {
        var isObject: Bool
        var expectingKey: Bool
        /// The key this container is the value of, for the top level's children.
        var parentKey: String?
    }

    private enum Mode { case structure, dataString, dataRaw }

    private var mode = Mode.structure
    private var stack: [Container] = []
    private var inString = false
    private var escaped = false
    private var capturingKey = false
    private var capture: [UInt8] = []
    private var lastKey: String?
    private var valueIsData = false
    // `\uXXXX` in the data string, and a high surrogate waiting for its low half.
    private var unicodeDigits: [UInt8]?
    private var highSurrogate: UInt32?
    private var rawDepth = 0

    init(output: FileHandle) { self.output = output }

    struct TooLarge: Error {}

    mutating func feed(_ bytes: some Sequence<UInt8>) throws {
        for byte in bytes {
            switch mode {
            case .structure: structure(byte)
            case .dataString: dataString(byte)
            case .dataRaw: dataRaw(byte)
            }
            if pending.count >= 1 << 16 { flush() }
        }
        if rest.count > Self.restLimit { throw TooLarge() }
    }

    mutating func finish() {
        flush()
    }

    private mutating func flush() {
        guard !pending.isEmpty else { return }
        output.write(Data(pending))
        attachmentBytes += pending.count
        pending.removeAll(keepingCapacity: true)
    }

    private mutating func structure(_ byte: UInt8) {
        if inString {
            rest.append(byte)
            if escaped {
                escaped = false
                if capturingKey { capture.append(byte) }
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
                if capturingKey { lastKey = String(decoding: capture, as: UTF8.self) }
            } else if capturingKey {
                capture.append(byte)
            }
            return
        }
        let isSpace = byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
        if valueIsData && !isSpace {
            valueIsData = false
            if byte == UInt8(ascii: "\"") {
                mode = .dataString
                return
            }
            if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") {
                mode = .dataRaw
                rawDepth = 0
                dataRaw(byte)
                return
            }
        }
        rest.append(byte)
        switch byte {
        case UInt8(ascii: "\""):
            inString = true
            capturingKey = stack.last.map { $0.isObject && $0.expectingKey } ?? false
            capture.removeAll(keepingCapacity: true)
        case UInt8(ascii: ":"):
            stack[stack.count - 1].expectingKey = false
            valueIsData = stack.count == 2 && stack[1].parentKey == "attachment" && lastKey == "data"
        case UInt8(ascii: ","):
            if stack.last?.isObject == true { stack[stack.count - 1].expectingKey = true }
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            stack.append(Container(isObject: byte == UInt8(ascii: "{"), expectingKey: byte == UInt8(ascii: "{"),
                                   parentKey: stack.count == 1 ? lastKey : nil))
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            if !stack.isEmpty { stack.removeLast() }
        default:
            break
        }
    }

    /// The attachment's data as a JSON string: its unescaped bytes go to the file.
    private mutating func dataString(_ byte: UInt8) {
        if var digits = unicodeDigits {
            digits.append(byte)
            if digits.count < 4 {
                unicodeDigits = digits
                return
            }
            unicodeDigits = nil
            let code = UInt32(String(decoding: digits, as: UTF8.self), radix: 16) ?? 0xFFFD
            if (0xD800..<0xDC00).contains(code) {
                highSurrogate = code
                return
            }
            var scalar = code
            if (0xDC00..<0xE000).contains(code), let high = highSurrogate {
                scalar = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
            }
            highSurrogate = nil
            pending.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
            return
        }
        if escaped {
            escaped = false
            switch byte {
            case UInt8(ascii: "n"): pending.append(0x0A)
            case UInt8(ascii: "t"): pending.append(0x09)
            case UInt8(ascii: "r"): pending.append(0x0D)
            case UInt8(ascii: "b"): pending.append(0x08)
            case UInt8(ascii: "f"): pending.append(0x0C)
            case UInt8(ascii: "u"): unicodeDigits = []
            default: pending.append(byte)
            }
            return
        }
        if byte == UInt8(ascii: "\\") {
            escaped = true
        } else if byte == UInt8(ascii: "\"") {
            rest.append(contentsOf: Array("null".utf8))
            mode = .structure
        } else {
            pending.append(byte)
        }
    }

    /// The attachment's data as JSON itself: copied to the file until its closing bracket.
    private mutating func dataRaw(_ byte: UInt8) {
        pending.append(byte)
        if inString {
            if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
            return
        }
        switch byte {
        case UInt8(ascii: "\""): inString = true
        case UInt8(ascii: "{"), UInt8(ascii: "["): rawDepth += 1
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            rawDepth -= 1
            if rawDepth == 0 {
                rest.append(contentsOf: Array("null".utf8))
                mode = .structure
            }
        default: break
        }
    }
}
