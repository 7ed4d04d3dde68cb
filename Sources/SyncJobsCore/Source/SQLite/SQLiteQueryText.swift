/// A user's `query:` made safe to wrap as a subquery, `SELECT … FROM (query)`.
///
/// Semicolons after the last token are dropped (a subquery cannot hold one), comments are kept,
/// and a query ending in a `--` comment gets a newline, so the wrapper's closing parenthesis is
/// not swallowed by the comment. Tokens follow SQLite's tokenizer: `'…'` strings, `"…"`, `` `…` ``
/// and `[…]` identifiers, `--` and `/* */` comments.
enum SQLiteQueryText {
    static func wrappable(_ query: String) -> String {
        let bytes = Array(query.utf8)
        var tokens: [(kind: Kind, range: Range<Int>)] = []
        var index = 0
        while index < bytes.count {
            let start = index
            let kind = scan(bytes, &index)
            tokens.append((kind, start..<index))
        }
        let lastSignificant = tokens.lastIndex { $0.kind == .significant }
        let bodyEnd = lastSignificant.map { tokens[$0].range.upperBound } ?? 0
        var text = Array(bytes[0..<bodyEnd])
        var endsInLineComment = false
        for token in tokens[(lastSignificant.map { $0 + 1 } ?? 0)...] {
            switch token.kind {
            case .semicolon: continue
            case .lineComment: endsInLineComment = true
            case .blockComment: endsInLineComment = false
            case .whitespace, .significant: break
            }
            text.append(contentsOf: bytes[token.range])
        }
        while let last = text.last, isWhitespace(last) { text.removeLast() }
        if endsInLineComment { text.append(0x0A) }
        return String(decoding: text, as: UTF8.self)
    }

    enum Kind { case whitespace, lineComment, blockComment, semicolon, significant }

    /// Reads one token from `index`, leaving `index` just past it.
    private static func scan(_ bytes: [UInt8], _ index: inout Int) -> Kind {
        let byte = bytes[index]
        func next(_ offset: Int = 1) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }
        if isWhitespace(byte) {
            while index < bytes.count, isWhitespace(bytes[index]) { index += 1 }
            return .whitespace
        }
        switch byte {
        case UInt8(ascii: ";"):
            index += 1
            return .semicolon
        case UInt8(ascii: "-") where next() == UInt8(ascii: "-"):
            while index < bytes.count, bytes[index] != 0x0A { index += 1 }
            return .lineComment
        case UInt8(ascii: "/") where next() == UInt8(ascii: "*"):
            index += 2
            while index < bytes.count, !(bytes[index] == UInt8(ascii: "*") && next() == UInt8(ascii: "/")) { index += 1 }
            index = min(bytes.count, index + 2)
            return .blockComment
        case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`"), UInt8(ascii: "["):
            let close = byte == UInt8(ascii: "[") ? UInt8(ascii: "]") : byte
            index += 1
            while index < bytes.count {
                if bytes[index] == close {
                    // A doubled quote is an escaped one, except in […], which has no escape.
                    if close != UInt8(ascii: "]"), next() == close { index += 2; continue }
                    index += 1
                    break
                }
                index += 1
            }
            return .significant
        default:
            index += 1
            return .significant
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0C || byte == 0x0D
    }
}
