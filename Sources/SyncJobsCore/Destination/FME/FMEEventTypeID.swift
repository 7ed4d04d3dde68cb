/// Cleaning a name into an FME `eventTypeId`.
///
/// The SDKs' rule (reference §1.4, JS/Python/Go/Ruby/PHP/Android code): `^[a-zA-Z0-9][-_.:a-zA-Z0-9]{0,79}$`.
/// UNCONFIRMED what the server does with an id that breaks it, and how the real mParticle output
/// treats names with spaces (§3.3 item 2). Runner choice, in this order:
/// 1. every character outside `[-_.:a-zA-Z0-9]` becomes `_` (a space too, as FME's Segment
///    integration does: `sample event` → `sample_event`; a character made of several Unicode
///    scalars, such as `é` written with a combining accent, becomes one `_`);
/// 2. leading characters that are not letters or digits are dropped (`__init` → `init`);
/// 3. the result is cut to 80 characters.
///
/// When nothing is left (`""`, `"!!!"`) there is no id, and the mapper rejects the event.
package enum FMEEventTypeID {
    package static let maxLength = 80

    package static func clean(_ name: String) -> String? {
        var out = ""
        out.reserveCapacity(min(name.utf8.count, maxLength))
        for character in name {
            let allowed = isAlphanumeric(character) || character == "-" || character == "_" || character == "." || character == ":"
            if out.isEmpty && !isAlphanumeric(character) { continue }
            out.append(allowed ? character : "_")
            if out.count == maxLength { break }
        }
        return out.isEmpty ? nil : out
    }

    /// ASCII letters and digits only: the rule's `a-zA-Z0-9`.
    private static func isAlphanumeric(_ c: Character) -> Bool {
        guard let ascii = c.asciiValue else { return false }
        return (0x30...0x39).contains(ascii) || (0x41...0x5A).contains(ascii) || (0x61...0x7A).contains(ascii)
    }

    /// Whether a name already fits the rule as it is.
    package static func isValid(_ name: String) -> Bool { clean(name) == name }
}
