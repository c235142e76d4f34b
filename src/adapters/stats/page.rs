//! The status page as HTML: one self-contained document (inline CSS, inline SVG, no script),
//! for a LAN with no internet and a phone's screen. Every text from outside is escaped.

use std::fmt::Write as _;

use super::snapshot::{HistorySeries, Quantiles, Requests, Snapshot};

/// Seconds between the page's reloads of itself.
const REFRESH_SECS: u32 = 5;
/// The charts' drawing area, in SVG units; they scale to the width of the screen.
const CHART_WIDTH: f64 = 300.0;
const CHART_HEIGHT: f64 = 80.0;
/// The shortest span a chart covers: samples of the first minute are not stretched edge to edge.
const CHART_MIN_SPAN_SECS: u32 = 60;

const STYLE: &str = "\
body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:.75rem;\
color:#1d2330;background:#f4f6f9}\
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.05rem;margin:1.2rem 0 .4rem}\
.sub{color:#5b6475;margin:0 0 .6rem}\
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.5rem}\
.card{background:#fff;border-radius:.5rem;padding:.5rem .7rem;box-shadow:0 1px 2px #0002}\
.card b{display:block;font-size:1.5rem}.card span{color:#5b6475;font-size:.85rem}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.5rem}\
.chart{background:#fff;border-radius:.5rem;padding:.5rem;box-shadow:0 1px 2px #0002}\
.chart svg{width:100%;height:auto;display:block}\
.key{font-size:.8rem;color:#5b6475}.seed{color:#1a7f37}.leech{color:#c2410c}\
.scroll{overflow-x:auto;background:#fff;border-radius:.5rem;box-shadow:0 1px 2px #0002}\
table{border-collapse:collapse;width:100%;font-size:.9rem}\
th,td{padding:.3rem .5rem;text-align:right;border-bottom:1px solid #e3e7ee}td{white-space:nowrap}\
th:first-child,td:first-child{text-align:left}\
code{font:.8rem ui-monospace,monospace;word-break:break-all;white-space:normal}\
.none{color:#5b6475;padding:.5rem}";

/// The whole page for `snapshot`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut html = String::with_capacity(16 * 1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
<title>retracker status</title><style>{STYLE}</style></head><body>\
<h1>retracker</h1><p class=\"sub\">version {} · up {}</p>",
        escape(snapshot.version),
        duration(snapshot.uptime_secs),
    );
    cards(&mut html, snapshot);
    if snapshot.torrents.is_some() {
        charts(&mut html, &snapshot.history);
    } else {
        html.push_str(
            "<h2>Recent history</h2><div class=\"scroll none\" id=\"not-counted\">This store \
does not count torrents and peers: other instances share it, and counting would walk all of \
it.</div>",
        );
    }
    requests(&mut html, snapshot);
    busiest(&mut html, snapshot);
    forwarders(&mut html, snapshot);
    html.push_str("</body></html>\n");
    html
}

fn cards(html: &mut String, s: &Snapshot) {
    let memory = s.memory_rss_bytes.map_or_else(|| "n/a".to_owned(), megabytes);
    let count = |n: Option<u64>| n.map_or_else(|| "n/a".to_owned(), |n| n.to_string());
    let cards = [
        ("torrents", count(s.torrents), "torrents"),
        ("peers", count(s.peers), "peers"),
        ("seeders", count(s.seeders), "seeders"),
        ("leechers", count(s.leechers), "leechers"),
        ("ipv4", count(s.ipv4), "IPv4 peers"),
        ("ipv6", count(s.ipv6), "IPv6 peers"),
        ("connections", s.connections.to_string(), "open connections"),
        ("memory", memory, "memory (RSS)"),
    ];
    html.push_str("<div class=\"cards\">");
    for (id, value, label) in cards {
        let _ = write!(
            html,
            "<div class=\"card\" id=\"{id}\"><b>{}</b><span>{label}</span></div>",
            escape(&value)
        );
    }
    html.push_str("</div>");
}

fn charts(html: &mut String, history: &HistorySeries) {
    html.push_str("<h2>Recent history</h2><div class=\"charts\">");
    let now = history.at_secs.last().copied().unwrap_or(0);
    let top = history.torrents.iter().copied().max().unwrap_or(0);
    let _ = write!(html, "<div class=\"chart\"><div class=\"key\">torrents (up to {top})</div>");
    chart(html, "chart-torrents", &history.at_secs, now, &[(&history.torrents, "#2f5fd0")]);
    html.push_str("</div>");
    let top = history.seeders.iter().chain(&history.leechers).copied().max().unwrap_or(0);
    let _ = write!(
        html,
        "<div class=\"chart\"><div class=\"key\"><span class=\"seed\">seeders</span> and \
<span class=\"leech\">leechers</span> (up to {top})</div>"
    );
    let lines: [(&[u32], &str); 2] =
        [(&history.seeders, "#1a7f37"), (&history.leechers, "#c2410c")];
    chart(html, "chart-peers", &history.at_secs, now, &lines);
    html.push_str("</div></div>");
}

/// One SVG line chart of `lines` against `at_secs`, from the oldest sample (at most an hour
/// ago) to `now`, all lines on the scale of the highest.
fn chart(html: &mut String, id: &str, at_secs: &[u32], now: u32, lines: &[(&[u32], &str)]) {
    let oldest = at_secs.first().copied().unwrap_or(now);
    let span = now.saturating_sub(oldest).max(CHART_MIN_SPAN_SECS);
    let top = lines.iter().flat_map(|(values, _)| values.iter()).copied().max().unwrap_or(0);
    let scale = f64::from(top.max(1));
    let _ = write!(
        html,
        "<svg id=\"{id}\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" role=\"img\" \
preserveAspectRatio=\"none\"><rect width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\" fill=\"#f8fafc\"/>"
    );
    for (values, colour) in lines {
        let mut points = String::new();
        for (at, value) in at_secs.iter().zip(values.iter()) {
            let ago = f64::from(now.saturating_sub(*at));
            let x = CHART_WIDTH * (1.0 - ago / f64::from(span)).max(0.0);
            // A line's width above the floor and below the top, so neither edge hides it.
            let y = CHART_HEIGHT - 2.0 - (CHART_HEIGHT - 4.0) * f64::from(*value) / scale;
            if at_secs.len() == 1 {
                // One point draws no line: give the first sample a short stroke of its own.
                let _ = write!(points, "{:.1},{y:.1} ", x - 4.0);
            }
            let _ = write!(points, "{x:.1},{y:.1} ");
        }
        let _ = write!(
            html,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" \
vector-effect=\"non-scaling-stroke\"/>",
            points.trim_end()
        );
    }
    let _ = write!(html, "</svg><div class=\"key\">{} ago … now</div>", duration(u64::from(span)));
}

fn requests(html: &mut String, s: &Snapshot) {
    html.push_str(
        "<h2>Requests</h2><div class=\"scroll\"><table id=\"requests\"><tr><th>front end</th>\
<th>announces/s</th><th>scrapes/s</th><th>announces</th><th>scrapes</th></tr>",
    );
    for (name, requests) in [("HTTP", &s.front_ends.http), ("UDP", &s.front_ends.udp)] {
        request_row(html, name, requests);
    }
    html.push_str(
        "</table></div><h2>Latency</h2><div class=\"scroll\"><table id=\"latency\">\
<tr><th>route</th><th>p50</th><th>p99</th></tr>",
    );
    for (name, quantiles) in
        [("announce", &s.latency_micros.announce), ("scrape", &s.latency_micros.scrape)]
    {
        latency_row(html, name, quantiles);
    }
    html.push_str("</table></div><h2>Failures</h2>");
    let failed: Vec<_> = s.failures.iter().filter(|failure| failure.count > 0).collect();
    if failed.is_empty() {
        html.push_str("<div class=\"scroll none\" id=\"failures\">none since start</div>");
        return;
    }
    html.push_str(
        "<div class=\"scroll\"><table id=\"failures\"><tr><th>kind</th><th>since start</th></tr>",
    );
    for failure in failed {
        let _ =
            write!(html, "<tr><td>{}</td><td>{}</td></tr>", escape(failure.kind), failure.count);
    }
    html.push_str("</table></div>");
}

fn request_row(html: &mut String, name: &str, r: &Requests) {
    let _ = write!(
        html,
        "<tr><td>{name}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
        r.announces_per_sec, r.scrapes_per_sec, r.announces, r.scrapes
    );
}

fn latency_row(html: &mut String, name: &str, q: &Quantiles) {
    let shown = |micros: Option<u64>| {
        micros.map_or_else(|| "–".to_owned(), |m| format!("≤ {}", micros_shown(m)))
    };
    let _ =
        write!(html, "<tr><td>{name}</td><td>{}</td><td>{}</td></tr>", shown(q.p50), shown(q.p99));
}

fn busiest(html: &mut String, s: &Snapshot) {
    html.push_str("<h2>Busiest torrents</h2>");
    if s.busiest.is_empty() {
        html.push_str("<div class=\"scroll none\" id=\"busiest\">no torrents yet</div>");
        return;
    }
    html.push_str(
        "<div class=\"scroll\"><table id=\"busiest\"><tr><th>info hash</th><th>seeders</th>\
<th>leechers</th><th>completed</th></tr>",
    );
    for torrent in &s.busiest {
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&torrent.info_hash),
            torrent.seeders,
            torrent.leechers,
            torrent.completed
        );
    }
    html.push_str("</table></div>");
}

fn forwarders(html: &mut String, s: &Snapshot) {
    if s.forwarders.is_empty() {
        return;
    }
    html.push_str(
        "<h2>Forwarders</h2><div class=\"scroll\"><table id=\"forwarders\"><tr><th>name</th>\
<th>last status</th><th>last answer</th><th>peers</th><th>backing off</th></tr>",
    );
    for forwarder in &s.forwarders {
        let status = forwarder.last_status.as_deref().unwrap_or("–");
        let ago = forwarder
            .last_answer_secs_ago
            .map_or_else(|| "never".to_owned(), |secs| format!("{} ago", duration(secs)));
        let _ = write!(
            html,
            "<tr><td>{}<br><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&forwarder.name),
            escape(&forwarder.uri),
            escape(status),
            escape(&ago),
            forwarder.peers,
            if forwarder.backing_off { "yes" } else { "no" }
        );
    }
    html.push_str("</table></div>");
}

/// `text` safe inside an element or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `3 d 4 h`, `2 h 5 min`, `7 min`, `12 s`: the two largest units.
fn duration(secs: u64) -> String {
    let (days, hours, minutes) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, _) => format!("{minutes} min"),
        (0, _, _) => format!("{hours} h {minutes} min"),
        _ => format!("{days} d {hours} h"),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

fn micros_shown(micros: u64) -> String {
    match micros {
        0..1_000 => format!("{micros} µs"),
        1_000..1_000_000 => format!("{} ms", micros / 1_000),
        _ => format!("{} s", micros / 1_000_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn durations_show_their_two_largest_units() {
        assert_eq!(duration(12), "12 s");
        assert_eq!(duration(7 * 60 + 3), "7 min");
        assert_eq!(duration(2 * 3_600 + 5 * 60), "2 h 5 min");
        assert_eq!(duration(3 * 86_400 + 4 * 3_600 + 59), "3 d 4 h");
    }
}
