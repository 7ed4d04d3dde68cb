import SyncJobsCore

/// Rows per run over the last runs, as an inline SVG bar chart drawn on the server: sent rows in
/// green, rejected on top in red, oldest run on the left.
enum RunChart {
    static func svg(_ runs: [RunRecord]) -> String {
        let runs = Array(runs.prefix(30).reversed())
        guard !runs.isEmpty else { return "<p class=\"muted\">No runs yet.</p>" }
        let width = 900.0, height = 150.0, top = 14.0, bottom = 22.0, left = 48.0
        let peak = max(1, runs.map { $0.counts.rowsSent + $0.counts.rowsRejected }.max() ?? 1)
        let slot = (width - left) / Double(max(runs.count, 30))
        let scale = (height - top - bottom) / Double(peak)
        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" role=\"img\" aria-label=\"Rows per run, last \(runs.count) runs\">"
        svg += "<text x=\"\(Int(left) - 6)\" y=\"\(Int(top) + 4)\" text-anchor=\"end\" font-size=\"11\" fill=\"#667085\">\(Format.count(peak))</text>"
        svg += "<text x=\"\(Int(left) - 6)\" y=\"\(Int(height - bottom))\" text-anchor=\"end\" font-size=\"11\" fill=\"#667085\">0</text>"
        svg += "<line x1=\"\(Int(left))\" y1=\"\(height - bottom)\" x2=\"\(Int(width))\" y2=\"\(height - bottom)\" stroke=\"#d0d5dd\"/>"
        for (index, run) in runs.enumerated() {
            let x = left + Double(index) * slot + slot * 0.15, w = slot * 0.7
            let sent = Double(run.counts.rowsSent) * scale, rejected = Double(run.counts.rowsRejected) * scale
            let base = height - bottom
            let title = "run #\(run.id) \(run.status.rawValue): sent \(Format.count(run.counts.rowsSent)), rejected \(Format.count(run.counts.rowsRejected))"
            svg += "<g><title>\(PageKit.escape(title))</title>"
            svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(base - sent))\" width=\"\(fmt(w))\" height=\"\(fmt(sent))\" fill=\"\(run.status == .failed ? "#f04438" : "#12b76a")\"/>"
            if rejected > 0 { svg += "<rect x=\"\(fmt(x))\" y=\"\(fmt(base - sent - rejected))\" width=\"\(fmt(w))\" height=\"\(fmt(rejected))\" fill=\"#fda29b\"/>" }
            svg += "<text x=\"\(fmt(x + w / 2))\" y=\"\(Int(height) - 6)\" text-anchor=\"middle\" font-size=\"10\" fill=\"#667085\">#\(run.id)</text></g>"
        }
        return svg + "</svg>"
    }

    private static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }
}
