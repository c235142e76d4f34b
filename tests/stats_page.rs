//! The status page after scripted traffic: `/stats.json` read as JSON, and `/stats` rendered
//! by a real browser (Debian's headless Chromium), whose DOM must show the counts, a torrent's
//! hash and the charts.
//!
//! The browser test skips loudly without `chromium`, and fails instead when
//! RETRACKER_REQUIRE_BROWSER=1 (as CI sets it). With RETRACKER_STATS_SCREENSHOT=FILE it also
//! saves a screenshot of the page there (how docs/stats.png is made).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::fake_upstream::{Behaviour, FakeUpstream};
use common::*;
use retracker::app::Config;

/// How long Chromium gets to load and render the page before it is killed.
const BROWSER_DEADLINE: Duration = Duration::from_secs(60);

async fn start_with_stats() -> Tracker {
    start_on("127.0.0.1:0", Config { enable_stats: true, ..Config::default() }).await
}

/// Two torrents: the first with a seeder and two leechers (one of them completed), the second
/// with one leecher; then a scrape.
async fn scripted_traffic(base: &str) {
    announce(base, &Announce::new(1, 1).seeding().with("event=started")).await;
    announce(base, &Announce::new(1, 2).with("event=started")).await;
    announce(base, &Announce::new(1, 3).seeding().with("event=completed")).await;
    announce(base, &Announce::new(2, 4).with("event=started")).await;
    scrape(base, &[Announce::new(1, 0).info_hash]).await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn the_status_page_is_off_by_default() {
    let tracker = start_v4().await;
    for path in ["/stats", "/stats.json"] {
        assert_eq!(get(&format!("{}{path}", tracker.base)).await.0, 404, "{path}");
    }
    tracker.running.stop().await;
}

#[tokio::test]
async fn stats_json_counts_the_scripted_traffic() {
    let tracker = start_with_stats().await;
    scripted_traffic(&tracker.base).await;
    let (status, body) = get(&format!("{}/stats.json", tracker.base)).await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["torrents"], 2);
    assert_eq!(json["peers"], 4);
    // `completed` reports the peer done: a seeder from then on.
    assert_eq!((&json["seeders"], &json["leechers"]), (&2.into(), &2.into()));
    assert_eq!((&json["ipv4"], &json["ipv6"]), (&4.into(), &0.into()));
    let http = &json["front_ends"]["http"];
    assert_eq!((&http["announces"], &http["scrapes"]), (&4.into(), &1.into()));
    assert!(http["announces_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(json["front_ends"]["udp"]["announces"], 0);
    assert!(json["latency_micros"]["announce"]["p99"].is_u64());
    let busiest = json["busiest"].as_array().unwrap();
    assert_eq!(busiest.len(), 2);
    assert_eq!(busiest[0]["info_hash"], hex(&Announce::new(1, 0).info_hash));
    assert_eq!((&busiest[0]["seeders"], &busiest[0]["leechers"]), (&2.into(), &1.into()));
    assert_eq!(busiest[0]["completed"], 1);
    assert!(json["memory_rss_bytes"].as_u64().unwrap() > 0);
    assert_eq!(json["history"]["interval_secs"], 10);
    tracker.running.stop().await;
}

#[tokio::test]
async fn stats_json_shows_each_forwarder_with_its_secrets_hidden() {
    let peers = ["198.51.100.1:1001", "198.51.100.2:1002"].map(|p| p.parse().unwrap()).to_vec();
    let good = FakeUpstream::start(Behaviour::Compact { peers, interval: 600 }).await;
    let broken = FakeUpstream::start(Behaviour::Status500).await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "- uri: {}?passkey=secret123\n  name: good", good.announce_url()).unwrap();
    writeln!(file, "- uri: {}\n  name: broken", broken.announce_url()).unwrap();
    let forwards_file = file.path().to_string_lossy().into_owned();
    let config = Config { enable_stats: true, forwards_file, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;

    announce(&tracker.base, &Announce::new(1, 1)).await;
    let (_, body) = get(&format!("{}/stats.json", tracker.base)).await;
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("secret123"), "the passkey shows in\n{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let good = &json["forwarders"][0];
    assert_eq!(good["name"], "good");
    assert!(good["uri"].as_str().unwrap().ends_with("/announce?passkey=***"), "{good}");
    assert_eq!((&good["last_status"], &good["peers"]), (&"ok 200".into(), &2.into()));
    assert_eq!(good["backing_off"], false);
    assert!(good["last_answer_secs_ago"].is_u64());
    let broken = &json["forwarders"][1];
    assert_eq!((&broken["name"], &broken["last_status"]), (&"broken".into(), &"error 500".into()));
    assert_eq!((&broken["peers"], &broken["backing_off"]), (&0.into(), &true.into()));
    let (_, page) = get(&format!("{}/stats", tracker.base)).await;
    assert!(!String::from_utf8(page).unwrap().contains("secret123"));
    tracker.running.stop().await;
}

/// Chromium's command, or why there is none: a loud skip, or a failure where CI requires it.
fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if found.is_none() {
        let required = std::env::var("RETRACKER_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        let missing = "chromium is missing (apt-get install --no-install-recommends chromium)";
        assert!(!required, "{missing}, and RETRACKER_REQUIRE_BROWSER=1 says this test must run");
        // Straight to the stream: libtest would hide eprintln! output of a passing test.
        let _ = writeln!(std::io::stderr(), "\n*** browser test skipped: {missing} ***\n");
    }
    found
}

/// Runs headless Chromium on `url` with `action` (`--dump-dom`, `--screenshot=...`) and a
/// profile of its own; kills it if it is not done within the deadline. Returns its stdout.
fn run_chromium(program: &str, profile: &Path, action: &[String], url: &str) -> String {
    let mut child = Command::new(program)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(action)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    loop {
        if let Some(status) = child.try_wait().expect("chromium can be waited for") {
            assert!(status.success(), "chromium failed: {status}");
            break;
        }
        if started.elapsed() > BROWSER_DEADLINE {
            // This child only, by its pid.
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {BROWSER_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("the reader thread ends with chromium")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_renders_the_counts_a_hash_and_the_charts() {
    let Some(program) = chromium() else { return };
    let tracker = start_with_stats().await;
    scripted_traffic(&tracker.base).await;
    let url = format!("{}/stats", tracker.base);
    let profile = tempfile::tempdir().unwrap();
    let dump = {
        let (url, profile) = (url.clone(), profile.path().to_owned());
        let action = vec!["--dump-dom".to_owned()];
        tokio::task::spawn_blocking(move || run_chromium(program, &profile, &action, &url))
            .await
            .unwrap()
    };
    assert!(dump.contains("<h1>retracker</h1>"), "not the status page:\n{dump}");
    assert!(dump.contains(r#"id="torrents"><b>2</b>"#), "no torrent count in\n{dump}");
    assert!(dump.contains(r#"id="peers"><b>4</b>"#), "no peer count in\n{dump}");
    assert!(dump.contains(r#"id="seeders"><b>2</b>"#), "no seeder count in\n{dump}");
    assert!(dump.contains(&hex(&Announce::new(2, 0).info_hash)), "no hash in\n{dump}");
    for chart in ["chart-torrents", "chart-peers"] {
        assert!(dump.contains(&format!("<svg id=\"{chart}\"")), "no {chart} in\n{dump}");
    }
    assert!(dump.contains("<polyline"), "no line drawn in\n{dump}");

    if let Ok(path) = std::env::var("RETRACKER_STATS_SCREENSHOT") {
        let action = vec![format!("--screenshot={path}"), "--window-size=1000,1400".to_owned()];
        let profile = profile.path().to_owned();
        tokio::task::spawn_blocking(move || run_chromium(program, &profile, &action, &url))
            .await
            .unwrap();
    }
    tracker.running.stop().await;
}
