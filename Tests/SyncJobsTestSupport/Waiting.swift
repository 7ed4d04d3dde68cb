/// Checks `condition` every `interval` until it holds or `timeout` has passed in real time, and
/// says whether it held. For what no injected clock drives: another process, a file it writes, a
/// task reaching a point. Throws only when the test is cancelled.
package func waitUntil(timeout: Duration, every interval: Duration = .milliseconds(5), _ condition: () -> Bool) async throws -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if condition() { return true }
        try await Task.sleep(for: interval)
    }
    return condition()
}
