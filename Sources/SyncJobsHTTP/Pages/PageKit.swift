import Foundation
import SyncJobsCore

/// The pages' shared frame: escaping, the layout with its style sheet and live-update script,
/// and time formatting.
enum PageKit {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Encodes a job name for a path segment.
    static func segment(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? name
    }

    /// Paths in `text` as the project names them: relative to `root`, the jobs folder's parent.
    static func relative(_ text: String, _ root: String) -> String {
        text.replacingOccurrences(of: root.hasSuffix("/") ? root : root + "/", with: "")
    }

    static func layout(title: String, body: String, script: String, signedIn: Bool, csrf: String?) -> String {
        let account = signedIn ? "<span class=\"muted\">signed in</span>" : "<a href=\"/login\">Sign in</a> to run, pause or retry"
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        \(csrf.map { "<meta name=\"csrf\" content=\"\(escape($0))\">" } ?? "")
        <title>\(escape(title))</title>
        <style>\(style)</style></head>
        <body><header><a class="brand" href="/">syncjobs</a><nav>\(account)</nav></header>
        <main>\(body)</main>
        <footer>JSON: <a href="/api/jobs">/api/jobs</a> · <a href="/api/daemon">/api/daemon</a> · <a href="/metrics">/metrics</a></footer>
        <script>\(script)</script>
        </body></html>
        """
    }

    /// `2026-11-22 10:00:02 UTC`: seconds, no milliseconds.
    static func instant(_ millis: Int64) -> String {
        let text = Timestamp.format(millis: millis / 1000 * 1000)
        return text.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: " UTC")
    }

    /// `2026-11-22 11:00 CET (2026-11-22 10:00:00 UTC)`, or the UTC instant alone for UTC jobs.
    static func when(_ millis: Int64, zone: String?) -> String {
        let utc = instant(millis)
        guard let zone, zone != "UTC", let timeZone = TimeZone(identifier: zone) else { return utc }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm zzz"
        return "\(formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))) (\(utc))"
    }

    static func badge(_ state: String, _ detail: String = "") -> String {
        "<span class=\"badge \(state)\">\(state)\(detail.isEmpty ? "" : " " + escape(detail))</span>"
    }

    static let style = """
    :root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f7f8fa;--ok:#067647;--okbg:#dcfae6;--bad:#b42318;--badbg:#fee4e2;\
    --run:#175cd3;--runbg:#d1e9ff;--pause:#93370d;--pausebg:#fef0c7}
    *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
    header{display:flex;justify-content:space-between;align-items:center;padding:.7rem 1.2rem;background:#101828;color:#fff}
    header a{color:#fff}.brand{font-weight:700;text-decoration:none;font-size:1.1rem}nav{font-size:.9rem}nav .muted{color:#d0d5dd}
    main{max-width:1320px;margin:0 auto;padding:1rem 1.2rem}h1{font-size:1.35rem;margin:.3rem 0 1rem}h2{font-size:1.05rem;margin:1.6rem 0 .6rem}
    a{color:#1849a9}table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:8px;overflow:hidden}
    th,td{text-align:left;padding:.55rem .7rem;border-bottom:1px solid var(--line);vertical-align:top}
    th{font-size:.78rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);background:#fcfcfd}
    td small,.muted{color:var(--muted)}td small{display:block}tr:last-child td{border-bottom:0}.num{text-align:right;font-variant-numeric:tabular-nums}
    .badge{display:inline-block;padding:.1rem .55rem;border-radius:999px;font-size:.8rem;font-weight:600;white-space:nowrap}
    .active,.succeeded{color:var(--ok);background:var(--okbg)}.failing,.failed{color:var(--bad);background:var(--badbg)}
    .running{color:var(--run);background:var(--runbg)}.paused,.interrupted{color:var(--pause);background:var(--pausebg)}
    button{white-space:nowrap;font:inherit;font-size:.85rem;padding:.3rem .75rem;border-radius:6px;border:1px solid #175cd3;background:#175cd3;color:#fff;cursor:pointer}
    button.secondary{background:#fff;color:#175cd3}form.inline{display:inline}.actions{display:flex;gap:.5rem;flex-wrap:wrap;margin:.5rem 0 1rem}
    .problems{background:#fff;border:1px solid #fda29b;border-radius:8px;padding:.6rem 1rem}.problems li{font-family:ui-monospace,monospace;font-size:.85rem}
    dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.2rem;background:#fff;border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem;margin:0}
    dt{color:var(--muted)}dd{margin:0}.chart{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6rem}
    .flash{background:var(--runbg);border-radius:8px;padding:.5rem .9rem;margin-bottom:1rem}code{font-size:.85rem}
    footer{max-width:1320px;margin:1rem auto 2rem;padding:0 1.2rem;color:var(--muted);font-size:.85rem}
    @media (max-width:760px){thead{display:none}table,tbody,tr,td{display:block;width:100%}tr{border-bottom:1px solid var(--line)}
    td{border:0;padding:.3rem .8rem}td[data-label]::before{content:attr(data-label);display:block;font-size:.72rem;text-transform:uppercase;color:var(--muted)}}
    """

    /// Progressive enhancement: buttons post with fetch (the page stays), and the page polls the
    /// JSON API to redraw what changes. Without JavaScript the forms post and redirect back.
    static let commonScript = """
    const csrf=document.querySelector('meta[name=csrf]')?.content;
    function esc(s){return String(s??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]))}
    function fmt(n){return Number(n).toLocaleString('en-US')}
    function when(t){return t?String(t).replace('T',' ').replace(/[.][0-9]+Z$|Z$/,' UTC'):''}
    function badge(s,d){return '<span class="badge '+s+'">'+s+(d?' '+esc(d):'')+'</span>'}
    function stateOf(r,l){if(l&&l.running)return['running',fmt(Math.round(l.running.rows_per_second))+' rows/s'];if(r.paused)return['paused',''];
      if(r.runs.length&&r.runs[0].status==='failed')return['failing',''];return['active','']}
    document.querySelectorAll('form[data-action]').forEach(f=>f.addEventListener('submit',async e=>{e.preventDefault();
      const r=await fetch(f.dataset.action,{method:'POST',headers:{'X-CSRF-Token':csrf},credentials:'same-origin'});
      const j=await r.json().catch(()=>({message:r.statusText}));const m=document.getElementById('flash');
      if(m){m.hidden=false;m.textContent=j.message||j.error}setTimeout(poll,300)}));
    async function getJSON(u){const r=await fetch(u,{credentials:'same-origin'});if(!r.ok)throw new Error(r.status);return r.json()}
    """
}
