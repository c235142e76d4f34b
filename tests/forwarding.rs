//! Forwarding to fake upstream trackers on loopback.

mod common;

use std::io::Write;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, Instant};

use common::fake_upstream::{Behaviour, FakeUpstream};
use common::*;
use retracker::app::Config;

fn v4(text: &str) -> SocketAddrV4 {
    text.parse().unwrap()
}

/// A tracker forwarding to the forwarders file `entries`.
async fn forwarding_tracker(
    entries: &[String],
    forward_timeout: u64,
) -> (Tracker, tempfile::NamedTempFile) {
    forwarding_tracker_with(entries, Config { forward_timeout, ..Config::default() }).await
}

/// A tracker forwarding to the forwarders file `entries`, with `config` for the rest.
async fn forwarding_tracker_with(
    entries: &[String],
    config: Config,
) -> (Tracker, tempfile::NamedTempFile) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for entry in entries {
        writeln!(file, "{entry}").unwrap();
    }
    let config = Config { forwards_file: file.path().to_string_lossy().into_owned(), ..config };
    (start_on("127.0.0.1:0", config).await, file)
}

fn entry(upstream: &FakeUpstream) -> String {
    format!("- uri: {}", upstream.announce_url())
}

fn compact(peers: &[&str]) -> Behaviour {
    Behaviour::Compact { peers: peers.iter().map(|p| v4(p)).collect(), interval: 600 }
}

#[tokio::test]
async fn an_answer_holds_local_peers_and_both_upstreams_peers_without_duplicates() {
    let client = Announce::new(1, 2);
    let client_itself = format!("127.0.0.1:{}", client.port);
    let healthy =
        FakeUpstream::start(compact(&["198.51.100.1:1001", "198.51.100.2:1002", &client_itself]))
            .await;
    let dictionary = FakeUpstream::start(Behaviour::Dictionary {
        peers: vec!["198.51.100.2:1002".parse().unwrap(), "198.51.100.3:1003".parse().unwrap()],
    })
    .await;
    let (tracker, _file) = forwarding_tracker(&[entry(&healthy), entry(&dictionary)], 2).await;

    let local = Announce::new(1, 1);
    announce(&tracker.base, &local).await;
    let answer = announce(&tracker.base, &client).await;

    let mut got = answer.peers.clone();
    got.sort();
    let mut want: Vec<SocketAddr> = [
        format!("127.0.0.1:{}", local.port),
        "198.51.100.1:1001".into(),
        "198.51.100.2:1002".into(),
        "198.51.100.3:1003".into(),
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    want.sort();
    assert_eq!(got, want, "local + both upstreams, de-duplicated, never the client itself");
    assert_eq!(
        answer.peers[0],
        format!("127.0.0.1:{}", local.port).parse().unwrap(),
        "local peers first"
    );
    tracker.running.stop().await;
}

#[tokio::test]
async fn ipv6_upstream_peers_come_in_peers6() {
    let upstream = FakeUpstream::start(Behaviour::Compact6 {
        peers: vec![SocketAddrV6::new("2001:db8::9".parse().unwrap(), 9999, 0, 0)],
    })
    .await;
    let (tracker, _file) = forwarding_tracker(&[entry(&upstream)], 2).await;
    let answer = announce(&tracker.base, &Announce::new(2, 1)).await;
    assert_eq!(answer.peers, vec!["[2001:db8::9]:9999".parse::<SocketAddr>().unwrap()]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn the_upstream_gets_the_clients_announce_and_no_address_by_default() {
    let upstream = FakeUpstream::start(compact(&[])).await;
    let (tracker, _file) = forwarding_tracker(&[entry(&upstream)], 2).await;
    let client = Announce::new(3, 1).with("event=started&numwant=7&uploaded=11&downloaded=22");
    let client = Announce { left: 33, ..client };
    announce(&tracker.base, &client).await;

    let got = upstream.requests();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    let decoded = |key: &str| {
        let raw =
            request.param(key).unwrap_or_else(|| panic!("{key} missing from {}", request.target));
        percent_encoding::percent_decode_str(&raw).collect::<Vec<u8>>()
    };
    assert_eq!(decoded("info_hash"), client.info_hash);
    assert_eq!(decoded("peer_id"), client.peer_id);
    assert_eq!(request.param("port"), Some(client.port.to_string()));
    // The client's query says uploaded and downloaded twice; as with any key, the last counts.
    assert_eq!(request.param("uploaded").as_deref(), Some("11"));
    assert_eq!(request.param("downloaded").as_deref(), Some("22"));
    assert_eq!(request.param("left").as_deref(), Some("33"));
    assert_eq!(request.param("event").as_deref(), Some("started"));
    assert_eq!(request.param("numwant").as_deref(), Some("7"));
    assert_eq!(request.param("compact").as_deref(), Some("1"));
    assert_eq!(request.param("ip"), None, "the upstream sees retracker's own address");
    assert_eq!(request.host, upstream.addr.to_string());
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_forwarders_ip_and_host_are_sent_to_that_forwarder_only() {
    let plain = FakeUpstream::start(compact(&[])).await;
    let overridden = FakeUpstream::start(compact(&[])).await;
    let entries = [
        entry(&plain),
        format!("- uri: {}\n  ip: 192.0.2.15\n  host: retracker.local", overridden.announce_url()),
    ];
    let (tracker, _file) = forwarding_tracker(&entries, 2).await;
    announce(&tracker.base, &Announce::new(4, 1)).await;

    let request = &overridden.requests()[0];
    assert_eq!(request.param("ip").as_deref(), Some("192.0.2.15"));
    assert_eq!(request.param("ipv4").as_deref(), Some("192.0.2.15"));
    assert_eq!(request.host, "retracker.local");
    let request = &plain.requests()[0];
    assert_eq!(request.param("ip"), None);
    assert_eq!(request.host, plain.addr.to_string());
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_hung_upstream_delays_the_answer_by_the_timeout_at_most() {
    let healthy = FakeUpstream::start(compact(&["198.51.100.1:1001"])).await;
    let slow = FakeUpstream::start(Behaviour::Slow {
        delay: Duration::from_secs(30),
        peers: vec![v4("198.51.100.9:1009")],
    })
    .await;
    let (tracker, _file) = forwarding_tracker(&[entry(&healthy), entry(&slow)], 1).await;
    let started = Instant::now();
    let answer = announce(&tracker.base, &Announce::new(5, 1)).await;
    let waited = started.elapsed();
    assert_eq!(answer.peers, vec!["198.51.100.1:1001".parse::<SocketAddr>().unwrap()]);
    assert!(waited >= Duration::from_secs(1), "it did wait for the slow one: {waited:?}");
    assert!(waited < Duration::from_millis(2_500), "FORWARD_TIMEOUT 1 s plus a margin: {waited:?}");
    tracker.running.stop().await;
}

#[tokio::test]
async fn misbehaving_upstreams_cost_their_own_peers_only() {
    let healthy = FakeUpstream::start(compact(&["198.51.100.1:1001"])).await;
    let mut broken = Vec::new();
    for behaviour in [
        Behaviour::Garbage,
        Behaviour::Status500,
        Behaviour::Close,
        Behaviour::HangMidBody,
        Behaviour::Huge,
        Behaviour::RedirectLoop,
        Behaviour::Failure,
    ] {
        broken.push(FakeUpstream::start(behaviour).await);
    }
    let mut entries = vec![entry(&healthy)];
    entries.extend(broken.iter().map(entry));
    // Nothing listens on this one: the connection is refused.
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    entries.push(format!("- uri: http://{refused}/announce"));
    let (tracker, _file) = forwarding_tracker(&entries, 2).await;

    let local = Announce::new(6, 1);
    announce(&tracker.base, &local).await;
    let answer = announce(&tracker.base, &Announce::new(6, 2)).await;
    let mut got = answer.peers.clone();
    got.sort();
    let want: Vec<SocketAddr> = vec![
        format!("127.0.0.1:{}", local.port).parse().unwrap(),
        "198.51.100.1:1001".parse().unwrap(),
    ];
    assert_eq!(got, want);
    for upstream in &broken {
        assert!(!upstream.requests().is_empty(), "every upstream was asked");
    }
    assert!(broken[5].requests().len() <= 4, "a redirect loop is followed a few times only");
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed_and_counts_as_a_failure() {
    let elsewhere = FakeUpstream::start(compact(&["198.51.100.9:1009"])).await;
    let redirecting =
        FakeUpstream::start(Behaviour::RedirectTo { location: elsewhere.announce_url() }).await;
    let entries = [format!("- uri: {}\n  host: retracker.local", redirecting.announce_url())];
    let config = Config { enable_prometheus: true, ..Config::default() };
    let (tracker, _file) = forwarding_tracker_with(&entries, config).await;

    let answer = announce(&tracker.base, &Announce::new(9, 1)).await;
    assert_eq!(answer.peers, vec![], "no peers from where the redirect pointed");
    assert_eq!(redirecting.requests().len(), 1);
    assert_eq!(elsewhere.requests().len(), 0, "the configured Host went to another host");
    let (_, metrics) = get(&format!("{}/metrics", tracker.base)).await;
    let failed = format!(
        r#"retracker_forwards_total{{forwarder="{}",outcome="error"}} 1"#,
        redirecting.addr
    );
    assert!(String::from_utf8(metrics).unwrap().contains(&failed), "{failed}");
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_redirect_within_the_same_origin_is_followed_with_the_configured_host() {
    let moved =
        FakeUpstream::start(Behaviour::MovedHere { peers: vec![v4("198.51.100.8:1008")] }).await;
    let entries = [format!("- uri: {}\n  host: retracker.local", moved.announce_url())];
    let (tracker, _file) = forwarding_tracker(&entries, 2).await;

    let answer = announce(&tracker.base, &Announce::new(10, 1)).await;
    assert_eq!(answer.peers, vec!["198.51.100.8:1008".parse::<SocketAddr>().unwrap()]);
    let requests = moved.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].target.starts_with("/moved?"), "{}", requests[1].target);
    assert!(requests[1].param("info_hash").is_some(), "the announce went along");
    assert_eq!(requests[1].host, "retracker.local");
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_client_is_forwarded_once_per_upstream_interval_but_stopped_goes_at_once() {
    let upstream = FakeUpstream::start(compact(&["198.51.100.1:1001"])).await; // interval 600
    let (tracker, _file) = forwarding_tracker(&[entry(&upstream)], 2).await;
    let client = Announce::new(7, 1);

    announce(&tracker.base, &client).await;
    tracker.clock.advance_minutes(1);
    let again = announce(&tracker.base, &client).await;
    assert_eq!(upstream.requests().len(), 1, "not forwarded again within the interval");
    assert_eq!(again.peers.len(), 1, "the remembered upstream peers are still handed out");

    announce(&tracker.base, &Announce::new(7, 2)).await;
    // With a fresh list at hand, this forward happens after the answer, in the background.
    assert_eq!(
        requests_within_5s(&upstream, 2).await,
        2,
        "another client is registered upstream too"
    );

    tracker.clock.advance_minutes(10);
    announce(&tracker.base, &client).await;
    assert_eq!(upstream.requests().len(), 3, "due again after the upstream's interval");

    announce(&tracker.base, &client.clone().with("event=stopped")).await;
    assert_eq!(requests_within_5s(&upstream, 4).await, 4);
    let stopped = upstream.requests();
    assert_eq!(stopped[3].param("event").as_deref(), Some("stopped"));
    tracker.running.stop().await;
}

/// How many requests `upstream` got, once it has `count` or five seconds have passed.
async fn requests_within_5s(upstream: &FakeUpstream, count: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    while upstream.requests().len() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    upstream.requests().len()
}
