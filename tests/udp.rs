//! The UDP front end (BEP 15) through the real server on loopback: packets built by hand,
//! field by field, so these tests do not share the tracker's codec.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::fake_upstream::{Behaviour, FakeUpstream};
use common::*;
use retracker::app::Config;
use tokio::net::UdpSocket;

const MAGIC: u64 = 0x41727101980;
/// How long a test waits before it concludes no answer is coming.
const SILENCE: Duration = Duration::from_millis(300);

/// A tracker serving HTTP on 127.0.0.1 and UDP on `udp`, both on ports the system picks.
async fn start_udp(udp: &str, config: Config) -> (Tracker, SocketAddr) {
    let tracker = start_on("127.0.0.1:0", Config { udp_listen_addr: udp.into(), ..config }).await;
    let addr = tracker.running.udp_local_addr().expect("UDP is on");
    (tracker, addr)
}

/// A BEP 15 client on its own socket.
struct Client {
    socket: UdpSocket,
    tracker: SocketAddr,
}

impl Client {
    async fn new(tracker: SocketAddr) -> Self {
        Self::from_ip(if tracker.is_ipv4() { "127.0.0.1" } else { "::1" }, tracker).await
    }

    /// A client at another loopback address (127.0.0.0/8 is all loopback).
    async fn from_ip(ip: &str, tracker: SocketAddr) -> Self {
        let local = SocketAddr::new(ip.parse().unwrap(), 0);
        Self { socket: UdpSocket::bind(local).await.unwrap(), tracker }
    }

    /// Sends `packet` and returns the answer, or None if none comes.
    async fn exchange(&self, packet: &[u8]) -> Option<Vec<u8>> {
        self.socket.send_to(packet, self.tracker).await.unwrap();
        let mut buffer = vec![0; 4096];
        let received = tokio::time::timeout(SILENCE, self.socket.recv(&mut buffer)).await.ok()?;
        buffer.truncate(received.unwrap());
        Some(buffer)
    }

    async fn connect(&self) -> u64 {
        let answer = self.exchange(&header(MAGIC, 0, 77)).await.expect("a connect is answered");
        assert_eq!(answer.len(), 16, "as long as the connect");
        assert_eq!(word(&answer, 0), 0, "action connect");
        assert_eq!(word(&answer, 4), 77, "transaction id");
        u64::from_be_bytes(answer[8..16].try_into().unwrap())
    }
}

fn header(connection_id: u64, action: u32, transaction_id: u32) -> Vec<u8> {
    let mut packet = connection_id.to_be_bytes().to_vec();
    packet.extend(action.to_be_bytes());
    packet.extend(transaction_id.to_be_bytes());
    packet
}

fn word(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// One client's announce, as `common::Announce` is for HTTP.
struct UdpAnnounce {
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    left: u64,
    event: u32,
    num_want: i32,
    ip: [u8; 4],
    key: u32,
    port: u16,
}

impl UdpAnnounce {
    fn new(info_hash: u8, peer: u8) -> Self {
        let http = Announce::new(info_hash, peer);
        let mut peer_id = *b"-UD0001-000000000000";
        peer_id[19] = peer;
        Self {
            info_hash: http.info_hash,
            peer_id,
            left: 1000,
            event: 2,
            num_want: -1,
            ip: [0; 4],
            key: 0xabcd_0123,
            port: 7000 + u16::from(peer),
        }
    }

    fn packet(&self, connection_id: u64) -> Vec<u8> {
        let mut packet = header(connection_id, 1, 0x5eed); // 0-15
        packet.extend(self.info_hash); // 16
        packet.extend(self.peer_id); // 36
        packet.extend(0u64.to_be_bytes()); // 56: downloaded
        packet.extend(self.left.to_be_bytes()); // 64
        packet.extend(0u64.to_be_bytes()); // 72: uploaded
        packet.extend(self.event.to_be_bytes()); // 80
        packet.extend(self.ip); // 84: IP address
        packet.extend(self.key.to_be_bytes()); // 88: key
        packet.extend(self.num_want.to_be_bytes()); // 92
        packet.extend(self.port.to_be_bytes()); // 96
        packet
    }
}

/// An announce answer: (leechers, seeders, peers).
fn announce_answer(answer: &[u8], peer_len: usize) -> (u32, u32, Vec<SocketAddr>) {
    assert_eq!(word(answer, 0), 1, "action announce: {answer:?}");
    assert_eq!(word(answer, 4), 0x5eed);
    assert_eq!(word(answer, 8), 30, "the interval");
    assert_eq!((answer.len() - 20) % peer_len, 0);
    let peers = answer[20..]
        .chunks(peer_len)
        .map(|peer| {
            let (ip, port) = peer.split_at(peer_len - 2);
            let ip: std::net::IpAddr = match ip.len() {
                4 => <[u8; 4]>::try_from(ip).unwrap().into(),
                _ => <[u8; 16]>::try_from(ip).unwrap().into(),
            };
            SocketAddr::new(ip, u16::from_be_bytes([port[0], port[1]]))
        })
        .collect();
    (word(answer, 12), word(answer, 16), peers)
}

async fn udp_announce(client: &Client, announce: &UdpAnnounce) -> Vec<u8> {
    let id = client.connect().await;
    client.exchange(&announce.packet(id)).await.expect("an announce is answered")
}

#[tokio::test]
async fn a_second_client_gets_the_first_as_a_6_byte_peer() {
    let (tracker, udp) = start_udp("127.0.0.1:0", Config::default()).await;
    let (first, second) = (Client::new(udp).await, Client::new(udp).await);
    let answer = udp_announce(&first, &UdpAnnounce::new(1, 1)).await;
    assert_eq!(announce_answer(&answer, 6), (1, 0, vec![]));
    let answer = udp_announce(&second, &UdpAnnounce::new(1, 2)).await;
    assert_eq!(announce_answer(&answer, 6), (2, 0, vec!["127.0.0.1:7001".parse().unwrap()]));
    tracker.running.stop().await;
}

#[tokio::test]
async fn udp_can_serve_alone() {
    let config = Config { udp_listen_addr: "127.0.0.1:0".into(), ..Config::default() };
    let tracker = start_on("off", config).await;
    assert_eq!(tracker.running.local_addr(), None, "no HTTP");
    let udp = tracker.running.udp_local_addr().unwrap();
    let client = Client::new(udp).await;
    udp_announce(&client, &UdpAnnounce::new(1, 1)).await;
    let answer = udp_announce(&client, &UdpAnnounce::new(1, 2)).await;
    assert_eq!(announce_answer(&answer, 6).2, vec!["127.0.0.1:7001".parse().unwrap()]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn over_ipv6_peers_are_18_bytes() {
    let (tracker, udp) = start_udp("[::1]:0", Config::default()).await;
    let (first, second) = (Client::new(udp).await, Client::new(udp).await);
    udp_announce(&first, &UdpAnnounce::new(1, 1)).await;
    let answer = udp_announce(&second, &UdpAnnounce::new(1, 2)).await;
    assert_eq!(announce_answer(&answer, 18), (2, 0, vec!["[::1]:7001".parse().unwrap()]));
    tracker.running.stop().await;
}

#[tokio::test]
async fn http_and_udp_peers_meet() {
    let (tracker, udp) = start_udp("127.0.0.1:0", Config::default()).await;
    announce(&tracker.base, &Announce::new(1, 1)).await;
    let answer = udp_announce(&Client::new(udp).await, &UdpAnnounce::new(1, 2)).await;
    let (_, _, peers) = announce_answer(&answer, 6);
    assert_eq!(peers, vec!["127.0.0.1:6001".parse().unwrap()], "the HTTP peer, over UDP");
    let over_http = announce(&tracker.base, &Announce::new(1, 3)).await;
    let mut peers = over_http.peers;
    peers.sort();
    let expected: Vec<SocketAddr> =
        vec!["127.0.0.1:6001".parse().unwrap(), "127.0.0.1:7002".parse().unwrap()];
    assert_eq!(peers, expected, "the UDP peer, over HTTP");
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_announce_without_a_valid_connection_id_gets_no_answer() {
    let (tracker, udp) = start_udp("127.0.0.1:0", Config::default()).await;
    let client = Client::new(udp).await;
    let announce = UdpAnnounce::new(1, 1);
    assert_eq!(client.exchange(&announce.packet(0x0123_4567_89ab_cdef)).await, None, "forged");
    assert_eq!(client.exchange(&announce.packet(MAGIC)).await, None, "the connect magic");
    let id = client.connect().await;
    tracker.clock.advance_secs(2 * 60);
    assert!(client.exchange(&announce.packet(id)).await.is_some(), "good for two minutes");
    tracker.clock.advance_secs(2 * 60 + 1);
    assert_eq!(client.exchange(&announce.packet(id)).await, None, "expired");
    let other = Client::new(udp).await;
    assert_eq!(other.exchange(&announce.packet(id)).await, None, "another client's id");
    // And a scrape or a bad packet with a forged id is not answered either.
    let mut scrape = header(id, 2, 1);
    scrape.extend([1; 20]);
    assert_eq!(client.exchange(&scrape).await, None);
    assert_eq!(client.exchange(&header(id, 9, 1)).await, None);
    tracker.running.stop().await;
}

#[tokio::test]
async fn packets_shorter_than_a_header_or_without_the_magic_get_no_answer() {
    let (tracker, udp) = start_udp("127.0.0.1:0", Config::default()).await;
    let client = Client::new(udp).await;
    let connect = header(MAGIC, 0, 1);
    assert_eq!(client.exchange(&connect[..15]).await, None);
    assert_eq!(client.exchange(&[]).await, None);
    assert_eq!(client.exchange(&header(MAGIC - 1, 0, 1)).await, None);
    assert!(client.exchange(&connect).await.is_some(), "the tracker is still there");
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_scrape_answers_each_hash_in_order() {
    let (tracker, udp) = start_udp("127.0.0.1:0", Config::default()).await;
    let client = Client::new(udp).await;
    udp_announce(&client, &UdpAnnounce::new(1, 1)).await;
    udp_announce(&client, &UdpAnnounce { left: 0, event: 1, ..UdpAnnounce::new(1, 2) }).await;
    udp_announce(&client, &UdpAnnounce::new(2, 1)).await;
    let (one, two, unknown) = (UdpAnnounce::new(1, 0), UdpAnnounce::new(2, 0), [9; 20]);
    let id = client.connect().await;
    let mut packet = header(id, 2, 0xfeed);
    for hash in [two.info_hash, unknown, one.info_hash, two.info_hash] {
        packet.extend(hash);
    }
    let answer = client.exchange(&packet).await.expect("a scrape is answered");
    assert_eq!(answer.len(), 8 + 4 * 12);
    assert_eq!((word(&answer, 0), word(&answer, 4)), (2, 0xfeed));
    let counts: Vec<[u32; 3]> = answer[8..]
        .chunks(12)
        .map(|c| [word(c, 0), word(c, 4), word(c, 8)]) // seeders, completed, leechers
        .collect();
    assert_eq!(counts, [[0, 0, 1], [0, 0, 0], [1, 1, 1], [0, 0, 1]]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_bad_packet_with_a_valid_id_gets_an_error_with_a_message() {
    let config = Config { max_scrape_hashes: 2, ..Config::default() };
    let (tracker, udp) = start_udp("127.0.0.1:0", config).await;
    let client = Client::new(udp).await;
    let id = client.connect().await;
    let error = |answer: Vec<u8>, transaction_id| {
        assert_eq!(word(&answer, 0), 3, "action error");
        assert_eq!(word(&answer, 4), transaction_id);
        String::from_utf8(answer[8..].to_vec()).unwrap()
    };
    let answer = client.exchange(&header(id, 7, 41)).await.unwrap();
    assert_eq!(error(answer, 41), "unknown action 7: expected 1 (announce) or 2 (scrape)");
    let mut scrape = header(id, 2, 42);
    scrape.extend([1; 60]);
    let answer = client.exchange(&scrape).await.unwrap();
    assert_eq!(error(answer, 42), "too many info hashes: 3, the limit is 2");
    let refused = UdpAnnounce { port: 0, ..UdpAnnounce::new(1, 1) };
    let answer = client.exchange(&refused.packet(id)).await.unwrap();
    assert!(error(answer, 0x5eed).starts_with("invalid port 0"));
    tracker.running.stop().await;
}

#[tokio::test]
async fn num_want_minus_one_is_the_default_and_is_capped() {
    let config = Config { default_numwant: 2, ..Config::default() };
    let (tracker, udp) = start_udp("127.0.0.1:0", config).await;
    let client = Client::new(udp).await;
    for peer in 1..=4 {
        udp_announce(&client, &UdpAnnounce::new(1, peer)).await;
    }
    for (num_want, expected) in [(-1, 2), (1, 1), (0, 0), (300, 4)] {
        let announce = UdpAnnounce { num_want, event: 0, ..UdpAnnounce::new(1, 5) };
        let (_, _, peers) = announce_answer(&udp_announce(&client, &announce).await, 6);
        assert_eq!(peers.len(), expected, "num_want {num_want}");
    }
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_stopped_event_removes_the_peer() {
    let (tracker, udp) = start_udp("127.0.0.1:0", Config::default()).await;
    let client = Client::new(udp).await;
    udp_announce(&client, &UdpAnnounce::new(1, 1)).await;
    let stopped = udp_announce(&client, &UdpAnnounce { event: 3, ..UdpAnnounce::new(1, 1) }).await;
    announce_answer(&stopped, 6);
    let answer = udp_announce(&client, &UdpAnnounce::new(1, 2)).await;
    assert_eq!(announce_answer(&answer, 6), (1, 0, vec![]), "only the asker is left");
    tracker.running.stop().await;
}

#[tokio::test]
async fn the_ip_field_counts_only_where_allow_ip_param_allows() {
    for (allow, listed) in [(false, "127.0.0.1:7001"), (true, "192.0.2.9:7001")] {
        let config = Config { allow_ip_param: allow, ..Config::default() };
        let (tracker, udp) = start_udp("127.0.0.1:0", config).await;
        let client = Client::new(udp).await;
        udp_announce(&client, &UdpAnnounce { ip: [192, 0, 2, 9], ..UdpAnnounce::new(1, 1) }).await;
        let answer = udp_announce(&client, &UdpAnnounce::new(1, 2)).await;
        assert_eq!(announce_answer(&answer, 6).2, vec![listed.parse().unwrap()], "allow {allow}");
        tracker.running.stop().await;
    }
}

#[tokio::test]
async fn the_key_binds_a_peer_across_front_ends() {
    let (tracker, udp) = start_udp("127.0.0.1:0", Config::default()).await;
    // Another address than the HTTP announce's: from its own, any key may speak for a peer.
    let client = Client::from_ip("127.0.0.2", udp).await;
    // Over HTTP with the key as libtorrent writes it, then stopped over UDP with the same key.
    let http = Announce::new(1, 1).with("key=ABCD0123");
    announce(&tracker.base, &http).await;
    let as_udp = UdpAnnounce { peer_id: http.peer_id, event: 3, ..UdpAnnounce::new(1, 1) };
    let wrong_key = UdpAnnounce { key: 0x1111_2222, ..as_udp };
    let answer = udp_announce(&client, &wrong_key).await;
    assert_eq!(word(&answer, 0), 3, "another key from elsewhere may not stop it");
    assert!(String::from_utf8_lossy(&answer[8..]).starts_with("peer_id in use"));
    announce_answer(&udp_announce(&client, &as_udp).await, 6);
    let answer = udp_announce(&client, &UdpAnnounce::new(1, 2)).await;
    assert_eq!(announce_answer(&answer, 6), (1, 0, vec![]), "stopped by its key over UDP");
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_udp_announce_is_forwarded_and_gets_upstream_peers() {
    let upstream = FakeUpstream::start(Behaviour::Compact {
        peers: vec!["198.51.100.1:1001".parse().unwrap()],
        interval: 600,
    })
    .await;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(
        &mut file,
        format!("- uri: {}\n", upstream.announce_url()).as_bytes(),
    )
    .unwrap();
    let forwards_file = file.path().to_string_lossy().into_owned();
    let (tracker, udp) =
        start_udp("127.0.0.1:0", Config { forwards_file, ..Config::default() }).await;
    let answer = udp_announce(&Client::new(udp).await, &UdpAnnounce::new(1, 1)).await;
    assert_eq!(announce_answer(&answer, 6).2, vec!["198.51.100.1:1001".parse().unwrap()]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn udp_requests_and_bad_packets_are_counted() {
    let config = Config { enable_prometheus: true, ..Config::default() };
    let (tracker, udp) = start_udp("127.0.0.1:0", config).await;
    let client = Client::new(udp).await;
    udp_announce(&client, &UdpAnnounce::new(1, 1)).await;
    client.exchange(&[0; 10]).await;
    client.exchange(&[0; 8193]).await;
    client.exchange(&UdpAnnounce::new(1, 1).packet(1)).await;
    let (status, body) = get(&format!("{}/metrics", tracker.base)).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    for line in [
        r#"retracker_announces_total{event="started",front_end="udp",result="ok"} 1"#,
        r#"retracker_announces_total{event="started",front_end="http",result="ok"} 0"#,
        r#"retracker_udp_bad_packets_total{reason="too_short"} 1"#,
        r#"retracker_udp_bad_packets_total{reason="too_long"} 1"#,
        r#"retracker_udp_bad_packets_total{reason="connection_id"} 1"#,
        "requests 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
    }
    tracker.running.stop().await;
}
