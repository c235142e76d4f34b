//! `/metrics` after known traffic: exact counter values.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use common::fake_upstream::{Behaviour, FakeUpstream};
use common::*;
use retracker::app::Config;

/// The samples of a Prometheus text page, keyed by name and labels as written.
async fn samples(base: &str) -> HashMap<String, f64> {
    let (status, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').unwrap();
            (key.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn value(samples: &HashMap<String, f64>, key: &str) -> f64 {
    *samples.get(key).unwrap_or_else(|| panic!("no sample {key}; have {:#?}", samples.keys()))
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let tracker = start_v4().await;
    assert_eq!(get(&format!("{}/metrics", tracker.base)).await.0, 404);
    tracker.running.stop().await;
}

#[tokio::test]
async fn counters_and_gauges_after_scripted_traffic() {
    let config = Config { enable_prometheus: true, peer_age: 10.0, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let base = &tracker.base;

    announce(base, &Announce::new(1, 1).with("event=started")).await;
    announce(base, &Announce::new(1, 2).with("event=started")).await;
    announce(base, &Announce::new(1, 2)).await;
    announce(base, &Announce::new(1, 3).seeding().with("event=completed")).await;
    announce(base, &Announce::new(2, 1).with("event=paused")).await;
    get(&format!("{base}/announce?info_hash=short")).await;
    get(&format!("{base}/announce?{}", Announce::new(1, 4).with("event=started&port=0").query()))
        .await;
    scrape(base, &[Announce::new(1, 1).info_hash]).await;
    get(&format!("{base}/scrape")).await;

    let s = samples(base).await;
    assert_eq!(value(&s, "requests"), 7.0, "the Go original's count of announce requests");
    assert_eq!(
        value(&s, r#"retracker_announces_total{event="started",front_end="http",result="ok"}"#),
        2.0
    );
    assert_eq!(
        value(&s, r#"retracker_announces_total{event="none",front_end="http",result="ok"}"#),
        1.0
    );
    assert_eq!(
        value(&s, r#"retracker_announces_total{event="paused",front_end="http",result="ok"}"#),
        1.0
    );
    assert_eq!(
        value(&s, r#"retracker_announces_total{event="completed",front_end="http",result="ok"}"#),
        1.0
    );
    assert_eq!(
        value(&s, r#"retracker_announces_total{event="unknown",front_end="http",result="failed"}"#),
        1.0
    );
    assert_eq!(
        value(&s, r#"retracker_announces_total{event="started",front_end="http",result="failed"}"#),
        1.0
    );
    assert_eq!(value(&s, r#"retracker_failures_total{kind="invalid_field"}"#), 1.0);
    assert_eq!(value(&s, r#"retracker_failures_total{kind="port_zero"}"#), 1.0);
    assert_eq!(value(&s, r#"retracker_failures_total{kind="missing_field"}"#), 1.0);
    assert_eq!(value(&s, r#"retracker_scrapes_total{front_end="http",result="ok"}"#), 1.0);
    assert_eq!(value(&s, r#"retracker_scrapes_total{front_end="http",result="failed"}"#), 1.0);
    assert_eq!(
        value(&s, r#"retracker_request_duration_seconds_count{front_end="http",route="announce"}"#),
        7.0
    );
    assert_eq!(
        value(&s, r#"retracker_request_duration_seconds_count{front_end="http",route="scrape"}"#),
        2.0
    );
    assert_eq!(
        value(
            &s,
            r#"retracker_request_duration_seconds_bucket{front_end="http",route="scrape",le="+Inf"}"#
        ),
        2.0
    );
    assert_eq!(value(&s, "retracker_torrents"), 2.0);
    // A partial seed is a leecher here, as in `incomplete`.
    assert_eq!(value(&s, r#"retracker_peers{family="ipv4",role="leecher"}"#), 3.0);
    assert_eq!(value(&s, r#"retracker_peers{family="ipv4",role="seeder"}"#), 1.0);
    assert_eq!(value(&s, r#"retracker_peers{family="ipv6",role="leecher"}"#), 0.0);
    assert_eq!(value(&s, "retracker_peers_expired_total"), 0.0);

    tracker.clock.advance_minutes(11);
    tracker.running.sweep_now();
    tokio::time::sleep(Duration::from_millis(1_100)).await; // past the gauges' one-second cache
    let s = samples(base).await;
    assert_eq!(value(&s, "retracker_peers_expired_total"), 4.0);
    assert_eq!(value(&s, "retracker_torrents"), 0.0);
    assert_eq!(value(&s, r#"retracker_peers{family="ipv4",role="leecher"}"#), 0.0);
    assert!(!s.keys().any(|k| k.starts_with("target_info") || k.contains("otel_scope")));
    tracker.running.stop().await;
}

#[tokio::test]
async fn forwarder_metrics_keep_the_go_names() {
    let healthy = FakeUpstream::start(Behaviour::Compact {
        peers: vec!["198.51.100.1:1001".parse().unwrap()],
        interval: 600,
    })
    .await;
    let failing = FakeUpstream::start(Behaviour::Status500).await;
    let hung =
        FakeUpstream::start(Behaviour::Slow { delay: Duration::from_secs(30), peers: vec![] })
            .await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for upstream in [&healthy, &failing, &hung] {
        writeln!(file, "- uri: {}", upstream.announce_url()).unwrap();
    }
    let config = Config {
        enable_prometheus: true,
        forward_timeout: 1,
        forwards_file: file.path().to_string_lossy().into_owned(),
        ..Config::default()
    };
    let tracker = start_on("127.0.0.1:0", config).await;
    let client = Announce::new(1, 1);
    announce(&tracker.base, &client).await;
    announce(&tracker.base, &client).await;

    let s = samples(&tracker.base).await;
    let (ok, bad, slow) = (healthy.addr, failing.addr, hung.addr);
    assert_eq!(value(&s, &format!(r#"forwarder_status{{name="{ok}",status="200"}}"#)), 1.0);
    assert_eq!(value(&s, &format!(r#"forwarder_status{{name="{bad}",status="500"}}"#)), 1.0);
    assert_eq!(value(&s, &format!(r#"forwarder_status{{name="{slow}",status="error"}}"#)), 1.0);
    let forwards = |name: &str, outcome: &str| {
        value(&s, &format!(r#"retracker_forwards_total{{forwarder="{name}",outcome="{outcome}"}}"#))
    };
    assert_eq!(
        (forwards(&ok.to_string(), "ok"), forwards(&ok.to_string(), "rate_limited")),
        (1.0, 1.0)
    );
    assert_eq!(
        (forwards(&bad.to_string(), "error"), forwards(&bad.to_string(), "rate_limited")),
        (1.0, 1.0)
    );
    assert_eq!(
        (forwards(&slow.to_string(), "timeout"), forwards(&slow.to_string(), "rate_limited")),
        (1.0, 1.0)
    );
    assert_eq!(
        value(&s, &format!(r#"retracker_forward_duration_seconds_count{{forwarder="{ok}"}}"#)),
        1.0
    );
    assert_eq!(
        value(&s, "retracker_upstream_peers_merged_total"),
        2.0,
        "one peer in each of two answers"
    );
    tracker.running.stop().await;
}

/// The Go original's client library exported the process's own figures; dashboards built on
/// it read `process_resident_memory_bytes` and the rest under these names.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn process_figures_and_connections_are_exported() {
    let config = Config { enable_prometheus: true, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let s = samples(&tracker.base).await;
    assert!(value(&s, "process_resident_memory_bytes") > 1e6);
    assert!(value(&s, "process_virtual_memory_bytes") > value(&s, "process_resident_memory_bytes"));
    assert!(value(&s, "process_cpu_seconds_total") >= 0.0);
    assert!(value(&s, "process_open_fds") >= 3.0);
    assert!(value(&s, "process_max_fds") >= value(&s, "process_open_fds"));
    assert!(value(&s, "process_start_time_seconds") > 1.6e9, "seconds since 1970");
    assert!(value(&s, "retracker_connections") >= 1.0, "the scrape's own connection");
    assert_eq!(
        value(&s, r#"retracker_connections_refused_total{reason="max_connections_per_ip"}"#),
        0.0
    );
    tracker.running.stop().await;
}

#[tokio::test]
async fn forwarder_status_keeps_http_codes_and_folds_the_rest_into_other() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut upstreams = Vec::new();
    for code in [599, 600, 999] {
        let upstream = FakeUpstream::start(Behaviour::Status(code)).await;
        writeln!(file, "- uri: {}", upstream.announce_url()).unwrap();
        upstreams.push(upstream);
    }
    let config = Config {
        enable_prometheus: true,
        forwards_file: file.path().to_string_lossy().into_owned(),
        ..Config::default()
    };
    let tracker = start_on("127.0.0.1:0", config).await;
    announce(&tracker.base, &Announce::new(1, 1)).await;

    let s = samples(&tracker.base).await;
    let status = |upstream: &FakeUpstream, status: &str| {
        value(&s, &format!(r#"forwarder_status{{name="{}",status="{status}"}}"#, upstream.addr))
    };
    assert_eq!(status(&upstreams[0], "599"), 1.0, "a code HTTP allows is kept");
    assert_eq!(status(&upstreams[1], "other"), 1.0);
    assert_eq!(status(&upstreams[2], "other"), 1.0);
    let statuses: Vec<&String> = s.keys().filter(|k| k.starts_with("forwarder_status")).collect();
    assert_eq!(statuses.len(), 3, "{statuses:#?}");
    tracker.running.stop().await;
}
