//! Helpers for the black-box tests: a tracker on loopback with a clock the test moves, and a
//! real HTTP client that speaks to it.

#![allow(dead_code)] // each test file uses its own share of these

pub mod fake_upstream;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use retracker::adapters::bencode::decode::{Value, decode};
use retracker::app::{self, Config, Running};
use retracker::domain::time::Timestamp;
use retracker::ports::Clock;

/// A clock that stands still until the test moves it.
pub struct ManualClock(AtomicU32);

impl ManualClock {
    /// Stands at an arbitrary fixed moment until moved.
    pub fn new() -> Self {
        Self(AtomicU32::new(1_700_000_000))
    }

    pub fn advance_minutes(&self, minutes: u32) {
        self.advance_secs(minutes * 60);
    }

    pub fn advance_secs(&self, secs: u32) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_secs(self.0.load(Ordering::SeqCst))
    }
}

pub struct Tracker {
    pub running: Running,
    pub clock: Arc<ManualClock>,
    pub base: String,
}

/// Starts a tracker on `listen` (port 0: the system picks) with `config` for the rest.
pub async fn start_on(listen: &str, config: Config) -> Tracker {
    let clock = Arc::new(ManualClock::new());
    let config = Config { listen_addr: listen.into(), ..config };
    let running = app::start(&config, clock.clone()).await.expect("tracker starts");
    // A UDP-only tracker has no HTTP base.
    let base = running.local_addr().map(|addr| format!("http://{addr}")).unwrap_or_default();
    Tracker { running, clock, base }
}

pub async fn start_v4() -> Tracker {
    start_on("127.0.0.1:0", Config::default()).await
}

/// One client's announce, as query parameters.
#[derive(Clone)]
pub struct Announce {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    pub left: u64,
    pub extra: String,
}

impl Announce {
    pub fn new(info_hash: u8, peer: u8) -> Self {
        // Bytes above 0x7f and reserved characters, as real hashes have.
        let mut hash = [0xf0u8; 20];
        hash[0] = info_hash;
        hash[1] = b'&';
        hash[2] = b'+';
        let mut peer_id = *b"-RT0001-000000000000";
        peer_id[19] = peer;
        Self {
            info_hash: hash,
            peer_id,
            port: 6000 + u16::from(peer),
            left: 1000,
            extra: String::new(),
        }
    }

    pub fn seeding(mut self) -> Self {
        self.left = 0;
        self
    }

    pub fn with(mut self, extra: &str) -> Self {
        self.extra.push('&');
        self.extra.push_str(extra);
        self
    }

    pub fn query(&self) -> String {
        format!(
            "info_hash={}&peer_id={}&port={}&uploaded=0&downloaded=0&left={}{}",
            percent_encode_all(&self.info_hash),
            percent_encode_all(&self.peer_id),
            self.port,
            self.left,
            self.extra
        )
    }
}

pub fn percent_encode_all(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

pub fn client() -> reqwest::Client {
    // reqwest is built without a TLS crypto provider; the tracker's is ring, so is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// GETs `url` and returns the status and body.
pub async fn get(url: &str) -> (u16, Vec<u8>) {
    get_with(&client(), url, &[]).await
}

pub async fn get_with(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<u8>) {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request answered");
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Sends an announce to `base` and decodes the answer, which must be a success.
pub async fn announce(base: &str, announce: &Announce) -> Answer {
    let (status, body) = get(&format!("{base}/announce?{}", announce.query())).await;
    assert_eq!(status, 200);
    Answer::parse(&body)
}

/// The failure reason of an answer, or a panic if it is not a failure.
pub fn failure_reason(body: &[u8]) -> String {
    let value = decode(body).unwrap_or_else(|e| panic!("not bencode ({e}): {body:?}"));
    let reason = value.get(b"failure reason").and_then(Value::as_bytes);
    String::from_utf8(reason.expect("a failure reason").to_vec()).unwrap()
}

/// An announce answer, decoded.
#[derive(Debug)]
pub struct Answer {
    pub complete: i64,
    pub incomplete: i64,
    pub interval: i64,
    pub min_interval: i64,
    pub peers: Vec<SocketAddr>,
    /// Peer ids of dictionary-form peers that carried one.
    pub peer_ids: Vec<Vec<u8>>,
}

impl Answer {
    pub fn parse(body: &[u8]) -> Self {
        let value = decode(body).unwrap_or_else(|e| panic!("not bencode ({e}): {body:?}"));
        if let Some(reason) = value.get(b"failure reason").and_then(Value::as_bytes) {
            panic!("tracker refused: {}", String::from_utf8_lossy(reason));
        }
        let int = |key: &[u8]| value.get(key).and_then(Value::as_integer).expect("integer key");
        let mut peers = Vec::new();
        let mut peer_ids = Vec::new();
        match value.get(b"peers").expect("peers") {
            Value::Bytes(compact) => {
                assert_eq!(compact.len() % 6, 0);
                peers.extend(compact.chunks(6).map(|c| {
                    let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
                    SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be_bytes([c[4], c[5]])))
                }));
            }
            Value::List(list) => {
                for peer in list {
                    let ip =
                        std::str::from_utf8(peer.get(b"ip").and_then(Value::as_bytes).unwrap())
                            .unwrap();
                    let port = peer.get(b"port").and_then(Value::as_integer).unwrap();
                    peers.push(SocketAddr::new(ip.parse().unwrap(), port as u16));
                    if let Some(id) = peer.get(b"peer id").and_then(Value::as_bytes) {
                        peer_ids.push(id.to_vec());
                    }
                }
            }
            other => panic!("peers is neither a string nor a list: {other:?}"),
        }
        if let Some(compact6) = value.get(b"peers6").and_then(Value::as_bytes) {
            assert_eq!(compact6.len() % 18, 0);
            peers.extend(compact6.chunks(18).map(|c| {
                let ip = Ipv6Addr::from(<[u8; 16]>::try_from(&c[..16]).unwrap());
                SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be_bytes([c[16], c[17]]), 0, 0))
            }));
        }
        Answer {
            complete: int(b"complete"),
            incomplete: int(b"incomplete"),
            interval: int(b"interval"),
            min_interval: int(b"min interval"),
            peers,
            peer_ids,
        }
    }
}

/// Scrapes `hashes` and returns (complete, downloaded, incomplete) for each, in order.
pub async fn scrape(base: &str, hashes: &[[u8; 20]]) -> Vec<(i64, i64, i64)> {
    let query: Vec<String> =
        hashes.iter().map(|h| format!("info_hash={}", percent_encode_all(h))).collect();
    let (status, body) = get(&format!("{base}/scrape?{}", query.join("&"))).await;
    assert_eq!(status, 200);
    let value = decode(&body).unwrap();
    let files = value.get(b"files").expect("files");
    hashes
        .iter()
        .map(|hash| {
            let file = files.get(hash).expect("every hash asked about is answered");
            let int = |key: &[u8]| file.get(key).and_then(Value::as_integer).unwrap();
            (int(b"complete"), int(b"downloaded"), int(b"incomplete"))
        })
        .collect()
}
