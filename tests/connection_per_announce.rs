//! A connection per announce, as many clients open: the first request of a connection is
//! answered from the socket (src/adapters/http/first_request.rs), and the rest by hyper.
//! Spoken to over raw TCP, to see what the server writes and when it closes.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough for anything that should happen to happen on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

fn announce_request(announce: &Announce, headers: &str) -> String {
    format!("GET /announce?{} HTTP/1.1\r\nHost: tracker\r\n{headers}\r\n", announce.query())
}

/// Everything the server sends until it closes the connection.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the server closed the connection")
        .expect("closed without a reset");
    received
}

/// Splits `bytes` into HTTP/1.1 responses (each with a `content-length`): head, body.
fn responses(mut bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    while !bytes.is_empty() {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole head");
        let head = String::from_utf8(bytes[..end].to_vec()).unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .expect("a content-length")
            .parse()
            .unwrap();
        let body = bytes[end + 4..end + 4 + length].to_vec();
        bytes = &bytes[end + 4 + length..];
        found.push((head, body));
    }
    found
}

#[tokio::test]
async fn an_announce_asking_to_close_is_answered_and_the_connection_closed() {
    let tracker = start_v4().await;
    let addr = tracker.running.local_addr().unwrap();
    for peer in 1..=3 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = announce_request(&Announce::new(1, peer), "Connection: close\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let answers = responses(&read_until_closed(&mut stream).await);
        assert_eq!(answers.len(), 1);
        let (head, body) = &answers[0];
        assert!(head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"), "{head}");
        assert!(head.contains("\r\nconnection: close\r\n"), "{head}");
        assert_eq!(Answer::parse(body).incomplete, i64::from(peer));
    }
    tracker.running.stop().await;
}

#[tokio::test]
async fn requests_sent_together_on_a_keep_alive_connection_are_all_answered() {
    let tracker = start_v4().await;
    let addr = tracker.running.local_addr().unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The first is answered from the first read, the others by hyper from what is left.
    let together = [
        announce_request(&Announce::new(1, 1), ""),
        announce_request(&Announce::new(1, 2), ""),
        "GET /healthz HTTP/1.1\r\nHost: tracker\r\nConnection: close\r\n\r\n".to_owned(),
    ]
    .concat();
    stream.write_all(together.as_bytes()).await.unwrap();
    let answers = responses(&read_until_closed(&mut stream).await);
    assert_eq!(answers.len(), 3);
    assert_eq!(Answer::parse(&answers[0].1).incomplete, 1);
    assert_eq!(Answer::parse(&answers[1].1).incomplete, 2);
    assert!(answers[2].0.starts_with("HTTP/1.1 200 OK"), "{}", answers[2].0);
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_announce_sent_in_pieces_is_answered() {
    let tracker = start_v4().await;
    let addr = tracker.running.local_addr().unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = announce_request(&Announce::new(1, 1), "Connection: close\r\n");
    // However the server's reads cut it, the answer is the same.
    for piece in request.as_bytes().chunks(40) {
        stream.write_all(piece).await.unwrap();
        stream.flush().await.unwrap();
    }
    let answers = responses(&read_until_closed(&mut stream).await);
    assert_eq!(answers.len(), 1);
    assert!(answers[0].0.contains("\r\nconnection: close\r\n"));
    assert_eq!(Answer::parse(&answers[0].1).incomplete, 1);
    tracker.running.stop().await;
}
