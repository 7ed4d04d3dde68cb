import SyncJobsCore

/// `/jobs/{name}`: one job's details, buttons, chart of rows per run, history, latest rejected
/// rows, and the problems of its file when it does not validate.
enum JobPage {
    static let historyLength = 30

    static func render(job: JobDefinition, report: Value, runs: [RunRecord], rejected: RejectedRows, warnings: [Diagnostic],
                       live: DaemonLive.Job?, csrf: String?, flash: String?) -> String {
        let name = PageKit.escape(job.name)
        let (state, detail) = Self.state(report: report, live: live)
        var body = "<p><a href=\"/\">← all jobs</a></p><h1>\(name) <span data-field=\"state\">\(PageKit.badge(state, detail))</span></h1>"
        body += "<p id=\"flash\" class=\"flash\"\(flash == nil ? " hidden" : "")>\(PageKit.escape(flash ?? ""))</p>"
        if let csrf {
            let paused = report["paused"] == .bool(true)
            body += "<div class=\"actions\">" + button("Run now", action: "run", job: job.name, csrf: csrf)
            body += button(paused ? "Resume" : "Pause", action: paused ? "resume" : "pause", job: job.name, csrf: csrf, secondary: true)
            body += button("Retry failed rows", action: "retry", job: job.name, csrf: csrf, secondary: true) + "</div>"
        } else {
            body += "<p class=\"muted\"><a href=\"/login\">Sign in</a> to run, pause or retry this job.</p>"
        }
        let next = live?.nextFire.map { PageKit.when($0, zone: job.schedule.timezone) } ?? (report["paused"] == .bool(true) ? "paused" : "none")
        body += "<dl><dt>Type</dt><dd>\(job.kind.rawValue), \(PageKit.escape(JobDescription.sync(job)))</dd>"
        body += "<dt>Source</dt><dd>\(PageKit.escape(JobDescription.source(job)))</dd>"
        body += "<dt>Destination</dt><dd>\(PageKit.escape(JobDescription.destination(job)))</dd>"
        body += "<dt>Schedule</dt><dd>\(PageKit.escape(JobDescription.schedule(job, report: report)))</dd>"
        body += "<dt>Next run</dt><dd data-field=\"next\">\(PageKit.escape(next))</dd>"
        body += "<dt>Checkpoint</dt><dd data-field=\"checkpoint\">\(PageKit.escape(StatusPage.checkpoint(report)))</dd>"
        body += "<dt>Failed rows waiting for retry</dt><dd data-field=\"failed\">\(Format.count(StatusPage.int(report["failed_rows"]?["pending"])))</dd>"
        body += "<dt>File</dt><dd><code>\(PageKit.escape(JobDescription.display(job.filePath, job)))</code></dd></dl>"
        if !warnings.isEmpty {
            body += "<h2>Warnings</h2><ul class=\"problems\">" + warnings.map { "<li>\(PageKit.escape($0.description))</li>" }.joined() + "</ul>"
        }
        body += "<h2>Rows per run <small class=\"muted\">(last \(historyLength) runs: sent, rejected)</small></h2><div class=\"chart\" id=\"chart\">\(RunChart.svg(runs))</div>"
        body += "<h2>History</h2><table><thead><tr><th>Run</th><th>Status</th><th>Started</th><th class=\"num\">Read</th><th class=\"num\">Sent</th><th class=\"num\">Rejected</th><th>Error</th></tr></thead><tbody id=\"history\">"
        body += runs.isEmpty ? "<tr><td colspan=\"7\" class=\"muted\">No runs yet.</td></tr>" : runs.map(historyRow).joined()
        body += "</tbody></table>"
        body += "<h2>Latest rejected rows</h2><div id=\"rejected\">"
        if rejected.rows.isEmpty {
            body += "<p class=\"muted\">None.</p>"
        } else {
            body += "<table><thead><tr><th>Run</th><th>Row</th><th>Reason</th></tr></thead><tbody>"
            for row in rejected.rows {
                body += "<tr><td>#\(row.runID)</td><td class=\"num\">\(row.rowNumber)</td><td>\(PageKit.escape(row.reason))</td></tr>"
            }
            body += "</tbody></table><p class=\"muted\">\(Format.count(rejected.total)) rejected rows in all.</p>"
        }
        body += "</div>"
        let script = PageKit.commonScript + "const JOB=\(JSONWriter.compact(.string(job.name)));" + Self.script
        return PageKit.layout(title: "\(job.name) · syncjobs", body: body, script: script, signedIn: csrf != nil, csrf: csrf)
    }

    /// A job file the daemon left out: its problems, as `jobs validate` lists them.
    static func renderInvalid(_ file: DaemonLive.InvalidFile, root: String, signedIn: Bool) -> String {
        var body = "<p><a href=\"/\">← all jobs</a></p><h1>\(PageKit.escape(fileStem(file.file))) \(PageKit.badge("failing", "does not validate"))</h1>"
        body += "<p><code>\(PageKit.escape(PageKit.relative(file.file, root)))</code> is left out of the schedule until it validates. Its problems:</p>"
        body += "<ul class=\"problems\">" + file.problems.map { "<li>\(PageKit.escape(PageKit.relative($0, root)))</li>" }.joined() + "</ul>"
        return PageKit.layout(title: "\(fileStem(file.file)) · syncjobs", body: body, script: "", signedIn: signedIn, csrf: nil)
    }

    static func historyRow(_ run: RunRecord) -> String {
        "<tr data-run=\"\(run.id)\"><td data-label=\"Run\">#\(run.id) <small>\(PageKit.escape(run.trigger))</small></td><td data-label=\"Status\">\(PageKit.badge(run.status.rawValue))</td>"
            + "<td data-label=\"Started\">\(PageKit.instant(run.startedAt))\(process(run))</td><td class=\"num\" data-label=\"Read\">\(Format.count(run.counts.rowsRead))</td>"
            + "<td class=\"num\" data-label=\"Sent\">\(Format.count(run.counts.rowsSent))</td><td class=\"num\" data-label=\"Rejected\">\(Format.count(run.counts.rowsRejected))</td>"
            + "<td data-label=\"Error\">\(PageKit.escape(run.error ?? ""))</td></tr>"
    }

    /// Which daemon (or `jobs` command) ran it: several may share one state.
    static func process(_ run: RunRecord) -> String {
        guard let host = run.host, let pid = run.pid else { return "" }
        return "<br><small>on \(PageKit.escape(host)) (pid \(pid))</small>"
    }

    static func button(_ label: String, action: String, job: String, csrf: String, secondary: Bool = false) -> String {
        let path = PageKit.segment(job)
        return "<form class=\"inline\" method=\"post\" action=\"/jobs/\(path)/\(action)\" data-action=\"/api/jobs/\(path)/\(action)\">"
            + "<input type=\"hidden\" name=\"csrf\" value=\"\(PageKit.escape(csrf))\"><button type=\"submit\"\(secondary ? " class=\"secondary\"" : "")>\(label)</button></form>"
    }

    /// active, paused, running (with rows/s) or failing (the last run failed).
    static func state(report: Value, live: DaemonLive.Job?) -> (String, String) {
        if let running = live?.running { return ("running", "\(Format.count(Int(running.rowsPerSecond.rounded()))) rows/s") }
        if report["paused"] == .bool(true) { return ("paused", "") }
        if case .array(let runs)? = report["runs"], let last = runs.first, last["status"] == .string("failed") { return ("failing", "") }
        return ("active", "")
    }

    static func fileStem(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        for suffix in [".yaml", ".yml"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    }

    /// Redraws the state and the history from the API while the page is open.
    static let script = """
    function row(x){return '<tr data-run="'+x.id+'"><td data-label="Run">#'+x.id+' <small>'+esc(x.trigger)+'</small></td><td data-label="Status">'+badge(x.status)+
      '</td><td data-label="Started">'+esc(when(x.started_at))+(x.host?'<br><small>on '+esc(x.host)+' (pid '+x.pid+')</small>':'')+'</td><td class="num" data-label="Read">'+fmt(x.rows_read)+'</td><td class="num" data-label="Sent">'+fmt(x.rows_sent)+
      '</td><td class="num" data-label="Rejected">'+fmt(x.rows_rejected)+'</td><td data-label="Error">'+esc(x.error)+'</td></tr>'}
    async function poll(){try{const p='/api/jobs/'+encodeURIComponent(JOB);
      const [r,runs,d]=await Promise.all([getJSON(p),getJSON(p+'/runs?limit=30'),getJSON('/api/daemon')]);
      const l=d.jobs.find(j=>j.job===JOB);const [s,dt]=stateOf(r,l);
      document.querySelector('[data-field=state]').innerHTML=badge(s,dt);
      document.querySelector('[data-field=checkpoint]').textContent=r.checkpoint?r.checkpoint.iterator+' = '+r.checkpoint.value:'—';
      document.querySelector('[data-field=failed]').textContent=fmt(r.failed_rows.pending);
      const shown=document.getElementById('history').dataset.shown;const key=runs.map(x=>x.id+x.status+x.rows_read).join();
      if(runs.length&&shown!==key){document.getElementById('history').innerHTML=runs.map(row).join('');document.getElementById('history').dataset.shown=key;
        const c=await fetch('/jobs/'+encodeURIComponent(JOB)+'/chart.svg',{credentials:'same-origin'});if(c.ok)document.getElementById('chart').innerHTML=await c.text()}
      const rj=r.rejected_rows.recent;if(rj.length)document.getElementById('rejected').innerHTML='<table><thead><tr><th>Run</th><th>Row</th><th>Reason</th></tr></thead><tbody>'+
        rj.map(x=>'<tr><td>#'+x.run+'</td><td class="num">'+x.row+'</td><td>'+esc(x.reason)+'</td></tr>').join('')+'</tbody></table><p class="muted">'+fmt(r.rejected_rows.total)+' rejected rows in all.</p>';
      clearTimeout(window.pollTimer);window.pollTimer=setTimeout(poll,s==='running'?1000:3000)}catch(e){window.pollTimer=setTimeout(poll,5000)}}
    window.pollTimer=setTimeout(poll,1000);
    """
}
