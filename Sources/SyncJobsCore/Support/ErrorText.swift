import Foundation

/// The text of an error for people: what failed and how to fix it, as the error says it.
package enum ErrorText {
    package static func describe(_ error: any Error) -> String {
        if let error = error as? LocalizedError, let description = error.errorDescription { return description }
        return "\(error)"
    }
}
