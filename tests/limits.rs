//! The limits that keep one client, or a crowd, from exhausting the tracker: connections at
//! once, in all and from one address, idle keep-alive connections, request head size, torrents held, and addresses no peer
//! could be listed at. Spoken to over raw TCP where the HTTP client would hide the behaviour.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use retracker::app::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Long enough for anything that should happen to happen on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

fn announce_request(announce: &Announce) -> String {
    format!("GET /announce?{} HTTP/1.1\r\nHost: tracker\r\n\r\n", announce.query())
}

/// Reads one HTTP/1.1 response with a `content-length` from `stream`; returns its status and
/// body.
async fn read_response(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let status = head[9..12].parse().expect("a status code");
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse().expect("a length"));
            let body_start = end + 4;
            if received.len() >= body_start + length {
                return (status, received[body_start..body_start + length].to_vec());
            }
        }
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("the response came")
            .expect("the connection stayed up");
        assert!(read > 0, "closed mid-response after {received:?}");
        received.extend_from_slice(&chunk[..read]);
    }
}

/// Waits for the server to close `stream`, and returns what it sent before. A reset counts
/// as closed: the server may close with our bytes still unread.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("the server closed the connection");
        match read {
            Ok(0) | Err(_) => return received,
            Ok(read) => received.extend_from_slice(&chunk[..read]),
        }
    }
}

/// Opens a connection and has one announce answered on it, so the server has surely
/// accepted it; the connection stays open (keep-alive).
async fn served_connection(addr: SocketAddr, peer: u8) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(announce_request(&Announce::new(1, peer)).as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut stream).await;
    assert_eq!(status, 200);
    Answer::parse(&body);
    stream
}

#[tokio::test]
async fn past_the_connection_cap_a_new_connection_waits_until_one_closes() {
    let config = Config { max_connections: 2, header_read_timeout: 120, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let addr = tracker.running.local_addr().unwrap();
    let first = served_connection(addr, 1).await;
    let _second = served_connection(addr, 2).await;

    // The kernel completes the handshake (listen backlog), but the tracker does not take the
    // connection while two are open.
    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(announce_request(&Announce::new(1, 3)).as_bytes()).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut byte)).await;
    assert!(early.is_err(), "the third connection was served while two were open: {early:?}");

    drop(first);
    let (status, body) = read_response(&mut third).await;
    assert_eq!(status, 200, "served once a slot freed");
    assert_eq!(Answer::parse(&body).incomplete, 3);
    tracker.running.stop().await;
}

#[tokio::test]
async fn past_the_per_address_cap_a_new_connection_is_closed_and_other_addresses_are_served() {
    let config = Config {
        max_connections_per_ip: 2,
        header_read_timeout: 120,
        enable_prometheus: true,
        ..Config::default()
    };
    let tracker = start_on("127.0.0.1:0", config).await;
    let addr = tracker.running.local_addr().unwrap();
    let _first = served_connection(addr, 1).await;
    let _second = served_connection(addr, 2).await;

    let mut third = TcpStream::connect(addr).await.unwrap();
    let _ = third.write_all(announce_request(&Announce::new(1, 3)).as_bytes()).await;
    let answer = read_until_closed(&mut third).await;
    assert!(answer.is_empty(), "closed without an answer, got {answer:?}");

    // Another loopback address, still served while 127.0.0.1 is at its cap.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let mut other = socket.connect(addr).await.unwrap();
    other.write_all(announce_request(&Announce::new(1, 4)).as_bytes()).await.unwrap();
    let (status, body) = read_response(&mut other).await;
    assert_eq!(status, 200);
    assert_eq!(Answer::parse(&body).incomplete, 3, "peers 1, 2 and 4; the third never got in");

    other.write_all(b"GET /metrics HTTP/1.1\r\nHost: tracker\r\n\r\n").await.unwrap();
    let (status, body) = read_response(&mut other).await;
    assert_eq!(status, 200);
    let metrics = String::from_utf8(body).unwrap();
    let refused = r#"retracker_connections_refused_total{reason="max_connections_per_ip"} 1"#;
    assert!(metrics.lines().any(|line| line == refused), "{metrics}");
    assert!(metrics.lines().any(|line| line == "retracker_connections 3"), "{metrics}");
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let config = Config { header_read_timeout: 2, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let addr = tracker.running.local_addr().unwrap();

    let mut idle = served_connection(addr, 1).await;
    let after = read_until_closed(&mut idle).await;
    assert!(after.is_empty(), "nothing is sent on an idle close: {after:?}");

    // Also one that never sends a byte.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(read_until_closed(&mut silent).await.is_empty());
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_oversized_request_head_is_refused_and_the_tracker_keeps_serving() {
    let config = Config { max_header_bytes: 16 * 1024, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let addr = tracker.running.local_addr().unwrap();
    let long_line = format!("GET /announce?pad={} HTTP/1.1\r\nHost: t\r\n\r\n", "x".repeat(20_000));
    let long_header =
        format!("GET /announce HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n", "x".repeat(20_000));
    let many_headers = format!("GET /announce HTTP/1.1\r\n{}\r\n", "X-Pad: x\r\n".repeat(2_000));

    for request in [long_line, long_header, many_headers] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // The server may stop reading, and close, before all of it is written.
        let _ = stream.write_all(request.as_bytes()).await;
        let answer = read_until_closed(&mut stream).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "a 4xx or a plain close, got {answer:?}"
        );
    }

    // Within the head limit, a query past max_query_length gets a failure reason, not a 431.
    let padded = Announce::new(1, 1).with(&format!("pad={}", "x".repeat(9_000)));
    let (status, body) = get(&format!("{}/announce?{}", tracker.base, padded.query())).await;
    assert_eq!(status, 200);
    assert!(failure_reason(&body).starts_with("request too long"));

    let answer = announce(&tracker.base, &Announce::new(1, 2)).await;
    assert_eq!(answer.incomplete, 1, "still serving");
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_oversized_head_gets_431_when_the_server_has_read_all_of_it() {
    // Over the head limit but within hyper's smallest read buffer (8 KiB), so the server reads
    // every byte and its answer is not lost to a reset: the status can be checked exactly.
    let config = Config { max_query_length: 128, max_header_bytes: 2_048, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let request = format!("GET /announce HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "x".repeat(3_000));
    let mut stream = TcpStream::connect(tracker.running.local_addr().unwrap()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = String::from_utf8_lossy(&read_until_closed(&mut stream).await).to_string();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    tracker.running.stop().await;
}

#[tokio::test]
async fn past_max_torrents_new_torrents_are_refused_and_known_ones_keep_working() {
    let config = Config { max_torrents: 2, peer_age: 10.0, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    announce(&tracker.base, &Announce::new(1, 1)).await;
    tracker.clock.advance_minutes(6);
    announce(&tracker.base, &Announce::new(2, 1)).await;

    let (status, body) =
        get(&format!("{}/announce?{}", tracker.base, Announce::new(3, 1).query())).await;
    assert_eq!(status, 200);
    assert_eq!(
        failure_reason(&body),
        "tracker is full: it tracks 2 torrents, the most it allows; try again later"
    );
    let known = announce(&tracker.base, &Announce::new(2, 2)).await;
    assert_eq!(known.incomplete, 2, "a known torrent takes new peers");

    // Once the first torrent's only peer ages out and the sweep frees it, there is room.
    tracker.clock.advance_minutes(5);
    assert_eq!(tracker.running.sweep_now().torrents_removed, 1);
    assert_eq!(announce(&tracker.base, &Announce::new(3, 1)).await.incomplete, 1);
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_claimed_unusable_address_is_refused_and_a_private_one_is_not() {
    let config = Config { allow_ip_param: true, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    for (torrent, (ip, listed)) in (10..).zip([
        ("224.0.0.1", None),
        ("0.0.0.0", None),
        ("255.255.255.255", None),
        ("240.1.2.3", None),
        ("ff02::1", None),
        ("::", None),
        ("192.168.1.15", Some("192.168.1.15")),
        ("fe80::1", Some("fe80::1")),
    ]) {
        let claiming = Announce::new(torrent, 1).with(&format!("ip={ip}"));
        let (_, body) = get(&format!("{}/announce?{}", tracker.base, claiming.query())).await;
        match listed {
            None => {
                let reason = failure_reason(&body);
                assert!(reason.starts_with("invalid peer address "), "ip={ip}: {reason}");
            }
            Some(listed) => {
                Answer::parse(&body);
                let answer = announce(&tracker.base, &Announce::new(torrent, 2)).await;
                let expected = SocketAddr::new(listed.parse().unwrap(), claiming.port);
                assert_eq!(answer.peers, vec![expected], "ip={ip}");
            }
        }
    }
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_unusable_x_real_ip_is_refused() {
    let config = Config { x_real_ip: true, ..Config::default() };
    let tracker = start_on("127.0.0.1:0", config).await;
    let client = client();
    let url = format!("{}/announce?{}", tracker.base, Announce::new(5, 1).query());
    for header in ["0.0.0.0", "239.255.255.250", "::ffff:224.0.0.5"] {
        let (status, body) = get_with(&client, &url, &[("X-Real-IP", header)]).await;
        assert_eq!(status, 200);
        let reason = failure_reason(&body);
        assert!(reason.starts_with("invalid peer address "), "X-Real-IP {header}: {reason}");
    }
    let (_, body) = get_with(&client, &url, &[("X-Real-IP", "10.1.2.3")]).await;
    assert_eq!(Answer::parse(&body).incomplete, 1, "a private address behind the proxy is fine");
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_claimed_unusable_address_is_ignored_when_ip_is_not_honoured() {
    let tracker = start_v4().await;
    let claiming = Announce::new(6, 1).with("ip=224.0.0.1");
    announce(&tracker.base, &claiming).await;
    let answer = announce(&tracker.base, &Announce::new(6, 2)).await;
    assert_eq!(answer.peers, vec![SocketAddr::from(([127, 0, 0, 1], claiming.port))]);
    tracker.running.stop().await;
}
