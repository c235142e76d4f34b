//! The status page over a mocked repository: the JSON schema and the HTML it renders.

use super::*;
use crate::domain::swarm::PeerCensus;
use crate::ports::metrics::{FailureKind, FrontEnd};
use crate::ports::peer_repository::MockPeerRepository;

fn repository() -> Arc<dyn PeerRepository> {
    let mut repository = MockPeerRepository::new();
    repository.expect_totals().returning(|| {
        Some(StoreTotals {
            torrents: 2,
            peers: PeerCensus { seeders_v4: 3, leechers_v4: 4, seeders_v6: 1, leechers_v6: 0 },
        })
    });
    repository.expect_busiest().returning(|limit| {
        assert_eq!(limit, BUSIEST);
        let stats = SwarmStats { complete: 3, incomplete: 4, downloaded: 9, downloaders: 4 };
        vec![(InfoHash([0xab; 20]), stats)]
    });
    Arc::new(repository)
}

fn page() -> StatusPage {
    let label = ForwarderLabel {
        name: "<lan>".into(),
        uri: "http://***@lan.test/announce?passkey=***".into(),
    };
    StatusPage::new(repository(), vec![label], Duration::from_secs(60))
}

fn announce(front_end: FrontEnd, failure: Option<FailureKind>) -> RequestOutcome {
    RequestOutcome { front_end, route: Route::Announce, event: None, failure }
}

#[test]
fn json_carries_the_documented_fields() {
    let page = page();
    page.sample();
    page.request(announce(FrontEnd::Http, None), Duration::from_micros(30));
    page.request(announce(FrontEnd::Udp, Some(FailureKind::PortZero)), Duration::from_micros(30));
    page.forward("<lan>", ForwardOutcome::Ok, ForwardStatus::Http(200), None);
    page.forwarder_peers("<lan>", 5);
    page.connection_opened();
    let json: serde_json::Value = serde_json::from_str(&page.json()).unwrap();

    assert_eq!(json["torrents"], 2);
    assert_eq!(json["peers"], 8);
    assert_eq!((&json["seeders"], &json["leechers"]), (&4.into(), &4.into()));
    assert_eq!((&json["ipv4"], &json["ipv6"]), (&7.into(), &1.into()));
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert!(json["uptime_secs"].is_u64());
    assert_eq!(json["front_ends"]["http"]["announces"], 1);
    assert_eq!(json["front_ends"]["udp"]["announces"], 1);
    assert_eq!(json["front_ends"]["udp"]["scrapes"], 0);
    assert!(json["front_ends"]["http"]["announces_per_sec"].as_f64().unwrap() > 0.0);
    let port_zero = json["failures"].as_array().unwrap().iter().find(|f| f["kind"] == "port_zero");
    assert_eq!(port_zero.unwrap()["count"], 1);
    assert_eq!(json["latency_micros"]["announce"]["p50"], 32);
    assert!(json["latency_micros"]["scrape"]["p99"].is_null());
    let busiest = &json["busiest"][0];
    assert_eq!(busiest["info_hash"], "ab".repeat(20));
    assert_eq!((&busiest["seeders"], &busiest["leechers"]), (&3.into(), &4.into()));
    assert_eq!(busiest["completed"], 9);
    let forwarder = &json["forwarders"][0];
    assert_eq!(forwarder["name"], "<lan>");
    assert_eq!(forwarder["uri"], "http://***@lan.test/announce?passkey=***");
    assert_eq!(forwarder["last_status"], "ok 200");
    assert_eq!(forwarder["last_answer_secs_ago"], 0);
    assert_eq!((&forwarder["peers"], &forwarder["backing_off"]), (&5.into(), &false.into()));
    assert_eq!(json["connections"], 1);
    assert!(json["memory_rss_bytes"].is_u64() || json["memory_rss_bytes"].is_null());
    assert_eq!(json["history"]["interval_secs"], 10);
    assert_eq!(json["history"]["torrents"], serde_json::json!([2]));
    assert_eq!(json["history"]["seeders"], serde_json::json!([4]));
    assert_eq!(json["history"]["leechers"], serde_json::json!([4]));
    assert_eq!(json["history"]["at_secs"].as_array().unwrap().len(), 1);
}

#[test]
fn the_page_shows_the_counts_and_escapes_what_it_is_given() {
    let page = page();
    page.sample();
    let html = page.html();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<meta http-equiv=\"refresh\""));
    assert!(html.contains("id=\"torrents\"><b>2</b>"));
    assert!(html.contains("id=\"peers\"><b>8</b>"));
    assert!(html.contains(&"ab".repeat(20)));
    assert!(html.contains("<svg id=\"chart-peers\""));
    assert!(html.contains("&lt;lan&gt;") && !html.contains("<lan>"));
    assert!(!html.contains("<script"), "the page runs no script");
    assert!(!html.contains(" src=") && !html.contains(" href="), "no external assets");
}

#[test]
fn the_repository_is_walked_at_most_once_a_second() {
    let mut repository = MockPeerRepository::new();
    repository.expect_totals().times(1).returning(|| Some(StoreTotals::default()));
    repository.expect_busiest().times(1).returning(|_| Vec::new());
    let page = StatusPage::new(Arc::new(repository), Vec::new(), Duration::ZERO);
    for _ in 0..5 {
        let _ = page.json();
        let _ = page.html();
    }
}

#[test]
fn a_store_that_does_not_count_shows_no_counts_rather_than_zeros() {
    let mut repository = MockPeerRepository::new();
    repository.expect_totals().returning(|| None);
    repository.expect_busiest().returning(|_| Vec::new());
    let page = StatusPage::new(Arc::new(repository), Vec::new(), Duration::ZERO);
    page.sample();
    page.request(announce(FrontEnd::Http, None), Duration::from_micros(30));
    let json: serde_json::Value = serde_json::from_str(&page.json()).unwrap();
    for field in ["torrents", "peers", "seeders", "leechers", "ipv4", "ipv6"] {
        assert!(json[field].is_null(), "{field}: {}", json[field]);
    }
    assert_eq!(json["history"]["at_secs"], serde_json::json!([]), "no samples of nothing");
    assert_eq!(json["front_ends"]["http"]["announces"], 1, "requests are still counted");
    let html = page.html();
    assert!(html.contains("id=\"torrents\"><b>n/a</b>"), "{html}");
    assert!(html.contains("id=\"not-counted\"") && !html.contains("<svg"), "{html}");
}
