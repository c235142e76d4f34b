//! The tracker served over loopback and spoken to with a real HTTP client.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use retracker::app::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
async fn two_peers_of_one_torrent_see_each_other_in_compact_form() {
    let tracker = start_v4().await;
    let (a, b) =
        (Announce::new(1, 1).with("event=started"), Announce::new(1, 2).with("event=started"));

    let first = announce(&tracker.base, &a).await;
    assert!(first.peers.is_empty(), "nobody else is there yet");
    assert_eq!((first.complete, first.incomplete), (0, 1));
    assert_eq!((first.interval, first.min_interval), (30, 15));

    let second = announce(&tracker.base, &b).await;
    assert_eq!(second.peers, vec![v4(a.port)]);
    assert_eq!((second.complete, second.incomplete), (0, 2));

    let again = announce(&tracker.base, &Announce::new(1, 1)).await;
    assert_eq!(again.peers, vec![v4(b.port)], "a peer never gets itself");
    tracker.running.stop().await;
}

#[tokio::test]
async fn dictionary_form_with_and_without_peer_ids() {
    let tracker = start_v4().await;
    let seeder = Announce::new(2, 1).seeding();
    announce(&tracker.base, &seeder).await;

    let with_ids = announce(&tracker.base, &Announce::new(2, 2).with("compact=0")).await;
    assert_eq!(with_ids.peers, vec![v4(seeder.port)]);
    assert_eq!(with_ids.peer_ids, vec![seeder.peer_id.to_vec()]);

    let without =
        announce(&tracker.base, &Announce::new(2, 3).with("compact=0&no_peer_id=1")).await;
    assert_eq!(without.peers.len(), 2);
    assert!(without.peer_ids.is_empty());
    tracker.running.stop().await;
}

#[tokio::test]
async fn ipv6_peers_come_in_peers6() {
    let tracker = start_on("[::1]:0", Config::default()).await;
    let (a, b) = (Announce::new(3, 1), Announce::new(3, 2));
    announce(&tracker.base, &a).await;
    let answer = announce(&tracker.base, &b).await;
    assert_eq!(answer.peers, vec![SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port))]);

    let (_, body) = get(&format!("{}/announce?{}", tracker.base, a.query())).await;
    let peers6 = b"6:peers618:";
    assert!(body.windows(peers6.len()).any(|w| w == peers6), "compact IPv6 peer in peers6");

    let dictionary = announce(&tracker.base, &Announce::new(3, 3).with("compact=0")).await;
    assert_eq!(dictionary.peers.len(), 2);
    assert!(dictionary.peers.iter().all(|p| p.ip().to_string() == "::1"));
    tracker.running.stop().await;
}

#[tokio::test]
async fn scrape_counts_seeders_leechers_and_downloads() {
    let tracker = start_v4().await;
    let leecher = Announce::new(4, 1).with("event=started");
    let finisher = Announce::new(4, 2);
    announce(&tracker.base, &leecher).await;
    announce(&tracker.base, &finisher).await;
    announce(&tracker.base, &finisher.clone().seeding().with("event=completed")).await;
    announce(&tracker.base, &finisher.clone().seeding().with("event=completed")).await;

    let unknown = [9u8; 20];
    let counts = scrape(&tracker.base, &[leecher.info_hash, unknown]).await;
    assert_eq!(counts, vec![(1, 1, 1), (0, 0, 0)]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_partial_seed_is_not_handed_to_seeders_and_is_counted_apart_in_scrape() {
    let tracker = start_v4().await;
    let seeder = Announce::new(12, 1).seeding();
    // BEP 21: a client that wants no more of the torrent than it has says `paused`.
    let partial = Announce::new(12, 2).with("event=paused");
    let leecher = Announce::new(12, 3);
    for peer in [&seeder, &partial, &leecher] {
        announce(&tracker.base, peer).await;
    }

    let to_seeder = announce(&tracker.base, &seeder).await;
    assert_eq!(to_seeder.peers, vec![v4(leecher.port)], "a partial seed wants nothing");
    let to_partial = announce(&tracker.base, &partial).await;
    assert_eq!(to_partial.peers, vec![v4(leecher.port), v4(seeder.port)], "leechers first");
    let mut to_leecher = announce(&tracker.base, &leecher).await.peers;
    to_leecher.sort();
    assert_eq!(to_leecher, vec![v4(seeder.port), v4(partial.port)]);

    let answer = announce(&tracker.base, &leecher).await;
    assert_eq!((answer.complete, answer.incomplete), (1, 2), "a partial seed is incomplete");
    let (_, body) = get(&format!(
        "{}/scrape?info_hash={}",
        tracker.base,
        percent_encode_all(&seeder.info_hash)
    ))
    .await;
    let counts = b"d8:completei1e10:downloadedi0e11:downloadersi1e10:incompletei2ee";
    assert!(body.windows(counts.len()).any(|w| w == counts), "{}", String::from_utf8_lossy(&body));

    // Once it announces without `paused` it downloads again.
    announce(&tracker.base, &Announce::new(12, 2)).await;
    assert_eq!(announce(&tracker.base, &seeder).await.peers.len(), 2);
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_stopped_peer_disappears() {
    let tracker = start_v4().await;
    let (a, b) = (Announce::new(5, 1), Announce::new(5, 2));
    announce(&tracker.base, &a).await;
    announce(&tracker.base, &b).await;

    let stopping = announce(&tracker.base, &a.clone().with("event=stopped")).await;
    assert!(stopping.peers.is_empty());

    let answer = announce(&tracker.base, &b).await;
    assert!(answer.peers.is_empty());
    assert_eq!(answer.incomplete, 1);
    assert_eq!(scrape(&tracker.base, &[a.info_hash]).await, vec![(0, 0, 1)]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_aged_peer_disappears_from_answers_and_memory() {
    let config = Config { peer_age: 10.0, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let (old, fresh) = (Announce::new(6, 1), Announce::new(6, 2));
    announce(&tracker.base, &old).await;
    tracker.clock.advance_minutes(6);
    let answer = announce(&tracker.base, &fresh).await;
    assert_eq!(answer.peers, vec![v4(old.port)], "six minutes old is still alive");

    tracker.clock.advance_minutes(5);
    let answer = announce(&tracker.base, &fresh).await;
    assert!(answer.peers.is_empty(), "eleven minutes old is gone from answers");

    let report = tracker.running.sweep_now();
    assert_eq!((report.peers_removed, report.torrents_removed), (1, 0));
    assert_eq!(scrape(&tracker.base, &[old.info_hash]).await, vec![(0, 0, 1)]);

    tracker.clock.advance_minutes(11);
    let report = tracker.running.sweep_now();
    assert_eq!((report.peers_removed, report.torrents_removed), (1, 1));
    tracker.running.stop().await;
}

#[tokio::test]
async fn numwant_is_honoured_and_capped() {
    let config = Config { max_numwant: 5, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    for peer in 1..=10 {
        announce(&tracker.base, &Announce::new(7, peer)).await;
    }
    let asker = Announce::new(7, 11);
    assert_eq!(announce(&tracker.base, &asker.clone().with("numwant=3")).await.peers.len(), 3);
    assert_eq!(announce(&tracker.base, &asker.clone().with("numwant=100")).await.peers.len(), 5);
    // Too large for any integer: still just a large number.
    let beyond_u64 = asker.clone().with("numwant=99999999999999999999999");
    assert_eq!(announce(&tracker.base, &beyond_u64).await.peers.len(), 5);
    assert_eq!(announce(&tracker.base, &asker).await.peers.len(), 5);
    tracker.running.stop().await;
}

#[tokio::test]
async fn every_malformed_announce_gets_a_failure_reason_and_the_tracker_keeps_serving() {
    let config = Config { max_query_length: 400, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let good = Announce::new(8, 1).query();
    let without = |key: &str| {
        good.split('&')
            .filter(|pair| !pair.starts_with(&format!("{key}=")))
            .collect::<Vec<_>>()
            .join("&")
    };
    let cases = [
        (without("info_hash"), "missing info_hash"),
        (without("peer_id"), "missing peer_id"),
        (without("port"), "missing port"),
        (without("left"), "missing left"),
        (format!("{good}&info_hash=%AA%BB"), "invalid info_hash: must be 20 bytes, got 2"),
        (format!("{good}&peer_id=tooshort"), "invalid peer_id: must be 20 bytes, got 8"),
        (format!("{good}&port=0"), "invalid port 0"),
        (format!("{good}&port=65536"), "invalid port: expected a port number from 1 to 65535"),
        (format!("{good}&port=http"), "invalid port: expected a port number from 1 to 65535"),
        (format!("{good}&left=lots"), "invalid left: expected a whole number of bytes"),
        (format!("{good}&uploaded=-1"), "invalid uploaded: expected a whole number of bytes"),
        (format!("{good}&numwant=many"), "invalid numwant: expected a whole number of peers"),
        (format!("{good}&pad={}", "x".repeat(400)), "request too long"),
        (String::new(), "missing info_hash"),
    ];
    for (query, reason) in cases {
        let (status, body) = get(&format!("{}/announce?{query}", tracker.base)).await;
        assert_eq!(status, 200, "{query}");
        let got = failure_reason(&body);
        assert!(got.starts_with(reason), "{query}: got '{got}', want '{reason}…'");
    }
    let (_, body) = get(&format!("{}/announce", tracker.base)).await;
    assert_eq!(failure_reason(&body), "missing info_hash");

    let answer = announce(&tracker.base, &Announce::new(8, 1)).await;
    assert_eq!(answer.incomplete, 1, "still serving after all that");
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_event_nobody_defines_is_served_as_no_event() {
    let tracker = start_v4().await;
    let listed = Announce::new(11, 1);
    announce(&tracker.base, &listed.clone().with("event=started")).await;
    let extension = Announce::new(11, 2).with("event=exploded");
    let answer = announce(&tracker.base, &extension).await;
    assert_eq!(answer.peers, vec![v4(listed.port)]);
    assert_eq!(answer.incomplete, 2, "it is listed, as with no event");
    tracker.running.stop().await;
}

#[tokio::test]
async fn malformed_scrapes_get_a_failure_reason() {
    let config = Config { max_scrape_hashes: 2, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let hash = format!("info_hash={}", percent_encode_all(&[1; 20]));
    let cases = [
        (String::new(), "missing info_hash"),
        ("info_hash=abc".to_string(), "invalid info_hash: must be 20 bytes, got 3"),
        ([hash.as_str(); 3].join("&"), "too many info_hash values: 3, the limit is 2"),
    ];
    for (query, reason) in cases {
        let (status, body) = get(&format!("{}/scrape?{query}", tracker.base)).await;
        assert_eq!((status, failure_reason(&body)), (200, reason.to_string()), "{query}");
    }
    tracker.running.stop().await;
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let tracker = start_v4().await;
    for path in ["/", "/favicon.ico", "/announce/extra", "/metrics"] {
        let (status, _) = get(&format!("{}{path}", tracker.base)).await;
        assert_eq!(status, 404, "{path}");
    }
    tracker.running.stop().await;
}

#[tokio::test]
async fn x_real_ip_is_used_only_when_enabled() {
    let header = [("X-Real-IP", "203.0.113.7")];
    let client = client();
    for (trusted, expected) in [(false, "127.0.0.1"), (true, "203.0.113.7")] {
        let config = Config { x_real_ip: trusted, ..Config::default() };
        let tracker = start_on("127.0.0.1:0", config).await;
        let proxied = Announce::new(9, 1);
        get_with(&client, &format!("{}/announce?{}", tracker.base, proxied.query()), &header).await;
        let answer = announce(&tracker.base, &Announce::new(9, 2)).await;
        assert_eq!(answer.peers, vec![SocketAddr::new(expected.parse().unwrap(), proxied.port)]);

        let bad = [("X-Real-IP", "not-an-address")];
        let (_, body) =
            get_with(&client, &format!("{}/announce?{}", tracker.base, proxied.query()), &bad)
                .await;
        if trusted {
            assert_eq!(failure_reason(&body), "invalid X-Real-IP header: expected an IP address");
        } else {
            Answer::parse(&body);
        }
        tracker.running.stop().await;
    }
}

#[tokio::test]
async fn the_ip_parameter_is_honoured_only_when_allowed() {
    for (allowed, expected) in [(false, "127.0.0.1"), (true, "198.51.100.20")] {
        let config = Config { allow_ip_param: allowed, ..Config::default() };
        let tracker = start_on("127.0.0.1:0", config).await;
        let claiming = Announce::new(10, 1).with("ip=198.51.100.20");
        announce(&tracker.base, &claiming).await;
        let answer = announce(&tracker.base, &Announce::new(10, 2)).await;
        assert_eq!(answer.peers, vec![SocketAddr::new(expected.parse().unwrap(), claiming.port)]);
        tracker.running.stop().await;
    }
}

#[tokio::test]
async fn a_client_that_sends_half_a_request_is_cut_off_and_does_not_block_shutdown() {
    let config = Config { header_read_timeout: 1, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let mut slow =
        tokio::net::TcpStream::connect(tracker.running.local_addr().unwrap()).await.unwrap();
    slow.write_all(b"GET /announce?info_hash=").await.unwrap();

    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut buffer)).await;
    assert!(closed.is_ok(), "the server closed the half-sent request");

    let mut another =
        tokio::net::TcpStream::connect(tracker.running.local_addr().unwrap()).await.unwrap();
    another.write_all(b"GET /ann").await.unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(10), tracker.running.stop()).await;
    assert!(stopped.is_ok(), "shutdown finished despite a half-open request");
}
