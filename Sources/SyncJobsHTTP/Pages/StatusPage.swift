import SyncJobsCore

/// `/`: every job in one table, with the files the daemon left out above it.
enum StatusPage {
    struct Row {
        var job: JobDefinition
        var report: Value
        var live: DaemonLive.Job?
    }

    static func render(rows: [Row], invalid: [DaemonLive.InvalidFile], root: String, signedIn: Bool, csrf: String, now: Int64) -> String {
        var body = "<h1>Sync jobs</h1><p id=\"flash\" class=\"flash\" hidden></p>"
        if !invalid.isEmpty {
            body += "<h2>Job files that do not validate</h2><div class=\"problems\">"
            for file in invalid {
                body += "<p><a href=\"/jobs/\(PageKit.segment(JobPage.fileStem(file.file)))\"><code>\(PageKit.escape(PageKit.relative(file.file, root)))</code></a> is left out until it validates:</p><ul>"
                body += file.problems.map { "<li>\(PageKit.escape(PageKit.relative($0, root)))</li>" }.joined() + "</ul>"
            }
            body += "</div>"
        }
        body += """
        <table id="jobs"><thead><tr><th>Job</th><th>Source → destination</th><th>Schedule</th><th>State</th><th>Last run</th>\
        <th>Checkpoint</th><th class="num">Failed rows</th>\(signedIn ? "<th></th>" : "")</tr></thead><tbody>
        """
        for row in rows { body += renderRow(row, csrf: signedIn ? csrf : nil) }
        if rows.isEmpty { body += "<tr><td colspan=\"8\">No job is loaded.</td></tr>" }
        body += "</tbody></table>"
        return PageKit.layout(title: "syncjobs", body: body, script: PageKit.commonScript + script, signedIn: signedIn, csrf: signedIn ? csrf : nil)
    }

    static func renderRow(_ row: Row, csrf: String?) -> String {
        let job = row.job, name = PageKit.escape(job.name), path = PageKit.segment(job.name)
        var html = "<tr data-job=\"\(name)\"><td data-label=\"Job\"><a href=\"/jobs/\(path)\"><strong>\(name)</strong></a><small>\(job.kind.rawValue), \(PageKit.escape(JobDescription.sync(job)))</small></td>"
        html += "<td data-label=\"Source → destination\">\(PageKit.escape(JobDescription.source(job)))<small>→ \(PageKit.escape(JobDescription.destination(job)))</small></td>"
        let next = row.live?.nextFire.map { "next " + PageKit.escape(PageKit.when($0, zone: job.schedule.timezone)) } ?? ""
        html += "<td data-label=\"Schedule\">\(PageKit.escape(JobDescription.schedule(job, report: row.report)))<small data-field=\"next\">\(next)</small></td>"
        let (state, detail) = JobPage.state(report: row.report, live: row.live)
        html += "<td data-label=\"State\" data-field=\"state\">\(PageKit.badge(state, detail))</td>"
        html += "<td data-label=\"Last run\" data-field=\"last\">\(lastRun(row.report))</td>"
        html += "<td data-label=\"Checkpoint\" data-field=\"checkpoint\">\(PageKit.escape(checkpoint(row.report)))</td>"
        html += "<td data-label=\"Failed rows\" class=\"num\" data-field=\"failed\">\(Format.count(int(row.report["failed_rows"]?["pending"])))</td>"
        if let csrf { html += "<td>\(JobPage.button("Run now", action: "run", job: job.name, csrf: csrf))</td>" }
        return html + "</tr>"
    }

    static func lastRun(_ report: Value) -> String {
        guard case .array(let runs)? = report["runs"], let run = runs.first else { return "<span class=\"muted\">no runs yet</span>" }
        let status = text(run["status"])
        let started = Timestamp.parseMillis(text(run["started_at"])).map(PageKit.instant) ?? text(run["started_at"])
        return "\(PageKit.badge(status)) <span>\(PageKit.escape(started))</span><small>#\(int(run["id"])) \(PageKit.escape(text(run["trigger"]))): read \(Format.count(int(run["rows_read"]))), sent \(Format.count(int(run["rows_sent"]))), rejected \(Format.count(int(run["rows_rejected"])))</small>"
    }

    static func checkpoint(_ report: Value) -> String {
        guard let checkpoint = report["checkpoint"], case .object = checkpoint else { return "—" }
        return "\(text(checkpoint["iterator"])) = \(text(checkpoint["value"]))"
    }

    static func text(_ value: Value?) -> String {
        switch value {
        case .string(let s)?: return s
        case .int(let i)?: return String(i)
        case .bool(let b)?: return String(b)
        default: return ""
        }
    }

    static func int(_ value: Value?) -> Int {
        if case .int(let i)? = value { return Int(i) }
        return 0
    }

    /// Redraws the state, last run, checkpoint and failed rows of each row from the API.
    static let script = """
    function lastRun(r){if(!r.runs.length)return '<span class="muted">no runs yet</span>';const x=r.runs[0];
      return badge(x.status)+' <span>'+esc(when(x.started_at))+'</span><small>#'+x.id+' '+esc(x.trigger)+': read '+fmt(x.rows_read)+', sent '+fmt(x.rows_sent)+', rejected '+fmt(x.rows_rejected)+'</small>'}
    async function poll(){try{const [jobs,d]=await Promise.all([getJSON('/api/jobs'),getJSON('/api/daemon')]);
      const live=Object.fromEntries(d.jobs.map(j=>[j.job,j]));let busy=false;
      for(const r of jobs){const tr=document.querySelector('tr[data-job="'+CSS.escape(r.job)+'"]');if(!tr)continue;const l=live[r.job];
        const [s,dt]=stateOf(r,l);if(s==='running')busy=true;tr.querySelector('[data-field=state]').innerHTML=badge(s,dt);
        tr.querySelector('[data-field=last]').innerHTML=lastRun(r);
        tr.querySelector('[data-field=checkpoint]').textContent=r.checkpoint?r.checkpoint.iterator+' = '+r.checkpoint.value:'—';
        tr.querySelector('[data-field=failed]').textContent=fmt(r.failed_rows.pending)}
      clearTimeout(window.pollTimer);window.pollTimer=setTimeout(poll,busy?1000:3000)}catch(e){window.pollTimer=setTimeout(poll,5000)}}
    window.pollTimer=setTimeout(poll,1000);
    """
}
