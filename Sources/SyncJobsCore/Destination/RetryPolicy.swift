import Foundation

/// How a destination retries: exponential backoff with full jitter, `Retry-After`, the
/// `retry_for` budget of one request, and the pacing figures.
package struct RetryPolicy: Sendable {
    /// Backoff ceiling for the first retry; doubles with each retry up to `maxBackoff`.
    package var baseBackoff: Duration
    package var maxBackoff: Duration
    /// At or above this `X-mp-rate-limit-percentage-used`, request launches are spaced out; below
    /// `relaxBelow` the spacing shrinks again.
    package var slowAbove: Double
    package var relaxBelow: Double
    /// Spacing between request launches when slowing down: starts at `minSpacing`, grows by half
    /// while usage stays high, at most `maxSpacing`.
    package var minSpacing: Duration
    package var maxSpacing: Duration

    package init(baseBackoff: Duration = .milliseconds(500), maxBackoff: Duration = .seconds(30), slowAbove: Double = 80,
                relaxBelow: Double = 50, minSpacing: Duration = .milliseconds(50), maxSpacing: Duration = .seconds(2)) {
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
        self.slowAbove = slowAbove
        self.relaxBelow = relaxBelow
        self.minSpacing = minSpacing
        self.maxSpacing = maxSpacing
    }

    package var pacing: PacingPolicy {
        PacingPolicy(slowAbove: slowAbove, relaxBelow: relaxBelow, minSpacing: minSpacing, maxSpacing: maxSpacing)
    }

    /// The wait before retry number `attempt + 1`: uniform in [0, min(maxBackoff, baseBackoff·2^attempt))
    /// for `random` uniform in [0, 1). Full jitter keeps requests that failed together from
    /// retrying together.
    package func backoff(attempt: Int, random: Double) -> Duration {
        let ceiling = min(maxBackoff.seconds, baseBackoff.seconds * pow(2, Double(min(max(attempt, 0), 30))))
        return .milliseconds(Int64((random * ceiling * 1000).rounded()))
    }

    /// The wait a `Retry-After` header asks for: delta-seconds (what mParticle sends) or an HTTP
    /// date, measured from `now`. Nil when the header is missing or unreadable; a date in the past
    /// is no wait.
    package static func retryAfter(_ header: String?, now: Date) -> Duration? {
        guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Int(text) { return .seconds(max(0, seconds)) }
        // Rare (mParticle sends seconds): a formatter per use keeps this free of shared state.
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return .milliseconds(max(0, Int64((date.timeIntervalSince(now) * 1000).rounded(.up))))
    }

    /// Whether waiting `pending` more before the next attempt would end past `retryFor`, counted
    /// from the request's first attempt (`elapsed` ago).
    package static func wouldPass(retryFor: Duration, elapsed: Duration, pending: Duration) -> Bool {
        elapsed + pending > retryFor
    }
}
