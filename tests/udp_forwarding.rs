//! Forwarding to fake UDP (BEP 15) upstream trackers on loopback, through the real tracker.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use parking_lot::Mutex;
use retracker::app::Config;
use tokio::net::UdpSocket;

/// What a fake does with the `index`th datagram it got: the answers to send back, each from
/// its own address or (`true`) from another socket's.
type Script = Box<dyn FnMut(usize, &Packet) -> Vec<(Vec<u8>, bool)> + Send>;

struct Packet {
    connection_id: u64,
    action: u32,
    transaction_id: u32,
}

struct FakeUdp {
    addr: SocketAddr,
    /// (action, connection id) of each datagram received.
    seen: Arc<Mutex<Vec<(u32, u64)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeUdp {
    async fn start(script: Script) -> Self {
        Self::start_on("127.0.0.1:0", script).await.unwrap()
    }

    async fn start_on(bind: &str, mut script: Script) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(bind).await?;
        let other = UdpSocket::bind(bind).await?;
        let addr = socket.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            let mut buffer = [0u8; 2048];
            loop {
                let (length, from) = socket.recv_from(&mut buffer).await.unwrap();
                let bytes = &buffer[..length];
                let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
                let packet = Packet {
                    connection_id: u64::from_be_bytes(bytes[..8].try_into().unwrap()),
                    action: word(8),
                    transaction_id: word(12),
                };
                let index = {
                    let mut seen = log.lock();
                    seen.push((packet.action, packet.connection_id));
                    seen.len() - 1
                };
                for (answer, spoofed) in script(index, &packet) {
                    let sender = if spoofed { &other } else { &socket };
                    sender.send_to(&answer, from).await.unwrap();
                }
            }
        });
        Ok(Self { addr, seen, task })
    }

    fn entry(&self) -> String {
        format!("- uri: udp://{}/announce", self.addr)
    }

    fn connects(&self) -> usize {
        self.seen.lock().iter().filter(|(action, _)| *action == 0).count()
    }
}

impl Drop for FakeUdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn header(action: u32, transaction_id: u32) -> Vec<u8> {
    [action.to_be_bytes(), transaction_id.to_be_bytes()].concat()
}

fn connected(transaction_id: u32, connection_id: u64) -> Vec<u8> {
    [header(0, transaction_id), connection_id.to_be_bytes().to_vec()].concat()
}

fn announced(transaction_id: u32, peers: &[[u8; 6]]) -> Vec<u8> {
    let mut answer = header(1, transaction_id);
    answer.extend([0, 0, 2, 0x58, 0, 0, 0, 1, 0, 0, 0, 1]); // interval 600, leechers, seeders
    answer.extend(peers.concat());
    answer
}

fn error(transaction_id: u32, message: &str) -> Vec<u8> {
    [header(3, transaction_id), message.as_bytes().to_vec()].concat()
}

const PEER: [u8; 6] = [198, 51, 100, 1, 0x03, 0xe9]; // 198.51.100.1:1001
fn entry(peer: [u8; 6]) -> SocketAddr {
    let [a, b, c, d, high, low] = peer;
    SocketAddr::from(([a, b, c, d], u16::from_be_bytes([high, low])))
}

const OTHER_PEER: [u8; 6] = [198, 51, 100, 2, 0x03, 0xea]; // 198.51.100.2:1002

/// A well-behaved upstream handing out `PEER`, under connection id 7.
fn honest(_: usize, packet: &Packet) -> Vec<(Vec<u8>, bool)> {
    match (packet.action, packet.connection_id) {
        (0, _) => vec![(connected(packet.transaction_id, 7), false)],
        (1, 7) => vec![(announced(packet.transaction_id, &[PEER]), false)],
        _ => vec![],
    }
}

async fn tracker_for(
    fakes: &[&FakeUdp],
    forward_timeout: u64,
) -> (Tracker, tempfile::NamedTempFile) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for fake in fakes {
        writeln!(file, "{}", fake.entry()).unwrap();
    }
    let config = Config {
        forwards_file: file.path().to_string_lossy().into_owned(),
        forward_timeout,
        enable_prometheus: true,
        ..Config::default()
    };
    (start_on("127.0.0.1:0", config).await, file)
}

async fn metrics(tracker: &Tracker) -> String {
    String::from_utf8(get(&format!("{}/metrics", tracker.base)).await.1).unwrap()
}

/// The `forwarder_status` line of one answer from `fake` of `status`.
fn status(fake: &FakeUdp, status: &str) -> String {
    format!(r#"forwarder_status{{name="{}",status="{status}"}} 1"#, fake.addr)
}

/// The metrics line of `count` forwards to `fake` with `outcome`.
fn outcome(fake: &FakeUdp, outcome: &str, count: u32) -> String {
    format!(r#"retracker_forwards_total{{forwarder="{}",outcome="{outcome}"}} {count}"#, fake.addr)
}

#[tokio::test]
async fn the_client_gets_the_upstreams_peers_and_the_connection_id_is_reused() {
    let fake = FakeUdp::start(Box::new(honest)).await;
    let (tracker, _file) = tracker_for(&[&fake], 2).await;

    let answer = announce(&tracker.base, &Announce::new(1, 1)).await;
    assert_eq!(answer.peers, ["198.51.100.1:1001".parse::<SocketAddr>().unwrap()]);
    announce(&tracker.base, &Announce::new(2, 1)).await;
    assert_eq!(fake.seen.lock().as_slice(), [(0, 0x0417_2710_1980), (1, 7), (1, 7)]);
    let metrics = metrics(&tracker).await;
    assert!(metrics.contains(&outcome(&fake, "ok", 2)), "{metrics}");
    assert!(metrics.contains(&status(&fake, "udp_ok").replace("} 1", "} 2")), "{metrics}");
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_dropped_datagram_is_sent_again() {
    let fake = FakeUdp::start(Box::new(|index, packet| match index {
        0 | 2 => vec![],
        _ => honest(index, packet),
    }))
    .await;
    let (tracker, _file) = tracker_for(&[&fake], 3).await;

    let answer = announce(&tracker.base, &Announce::new(1, 1)).await;
    assert_eq!(answer.peers.len(), 1, "both the lost connect and the lost announce resent");
    let actions: Vec<u32> = fake.seen.lock().iter().map(|(action, _)| *action).collect();
    assert_eq!(actions, [0, 0, 1, 1]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn answers_with_another_transaction_id_or_from_another_address_are_ignored() {
    let fake = FakeUdp::start(Box::new(|index, packet| {
        let id = packet.transaction_id;
        match packet.action {
            1 => vec![
                (announced(id.wrapping_add(1), &[OTHER_PEER]), false),
                (announced(id, &[OTHER_PEER]), true),
                (announced(id, &[PEER]), false),
            ],
            _ => honest(index, packet),
        }
    }))
    .await;
    let (tracker, _file) = tracker_for(&[&fake], 2).await;

    let answer = announce(&tracker.base, &Announce::new(1, 1)).await;
    assert_eq!(answer.peers, ["198.51.100.1:1001".parse::<SocketAddr>().unwrap()]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_error_action_is_a_failure() {
    let fake = FakeUdp::start(Box::new(|index, packet| match packet.action {
        1 => vec![(error(packet.transaction_id, "torrent not registered"), false)],
        _ => honest(index, packet),
    }))
    .await;
    let (tracker, _file) = tracker_for(&[&fake], 2).await;

    let answer = announce(&tracker.base, &Announce::new(1, 1)).await;
    assert!(answer.peers.is_empty());
    let metrics = metrics(&tracker).await;
    assert!(metrics.contains(&outcome(&fake, "error", 1)), "{metrics}");
    assert!(metrics.contains(&status(&fake, "udp_error")), "{metrics}");
    assert_eq!(fake.seen.lock().len(), 2, "a fresh connection id refused is not retried");
    tracker.running.stop().await;
}

#[tokio::test]
async fn garbage_is_a_failure() {
    let fake = FakeUdp::start(Box::new(|index, packet| match packet.action {
        // Our transaction id, an action nobody defines.
        1 => vec![([header(9, packet.transaction_id), vec![0xff; 30]].concat(), false)],
        _ => honest(index, packet),
    }))
    .await;
    let (tracker, _file) = tracker_for(&[&fake], 2).await;

    assert!(announce(&tracker.base, &Announce::new(1, 1)).await.peers.is_empty());
    let metrics = metrics(&tracker).await;
    assert!(metrics.contains(&outcome(&fake, "error", 1)), "{metrics}");
    assert!(metrics.contains(&status(&fake, "udp_unreadable")), "{metrics}");
    tracker.running.stop().await;
}

#[tokio::test]
async fn silence_is_a_timeout() {
    let fake = FakeUdp::start(Box::new(|_, _| vec![])).await;
    let (tracker, _file) = tracker_for(&[&fake], 1).await;

    let started = std::time::Instant::now();
    assert!(announce(&tracker.base, &Announce::new(1, 1)).await.peers.is_empty());
    assert!(started.elapsed() < Duration::from_secs(3));
    let metrics = metrics(&tracker).await;
    assert!(metrics.contains(&outcome(&fake, "timeout", 1)), "{metrics}");
    assert!(metrics.contains(&status(&fake, "error")), "{metrics}");
    // Resent after 250 ms and again at 750 ms; at least one resend even on a loaded machine.
    assert!(fake.connects() >= 2, "{:?}", fake.seen.lock());
    tracker.running.stop().await;
}

/// An upstream that gives each connect a new id and honours only the newest, as if the others
/// had expired; an announce with an old one gets an error action if `refuses`, else nothing.
/// Adding to the returned counter makes every id issued so far old.
async fn honouring_the_newest_id(refuses: bool) -> (FakeUdp, Arc<Mutex<u64>>) {
    let newest = Arc::new(Mutex::new(0u64));
    let issued = newest.clone();
    let fake = FakeUdp::start(Box::new(move |_, packet| {
        let id = packet.transaction_id;
        match packet.action {
            0 => {
                let mut newest = issued.lock();
                *newest += 1;
                vec![(connected(id, *newest), false)]
            }
            1 if packet.connection_id == *issued.lock() => vec![(announced(id, &[PEER]), false)],
            _ if refuses => vec![(error(id, "connection id expired"), false)],
            _ => vec![],
        }
    }))
    .await;
    (fake, newest)
}

#[tokio::test]
async fn an_expired_connection_id_is_renewed() {
    let (fake, newest) = honouring_the_newest_id(true).await;
    let (tracker, _file) = tracker_for(&[&fake], 2).await;

    assert_eq!(announce(&tracker.base, &Announce::new(1, 1)).await.peers.len(), 1);
    *newest.lock() += 100; // The upstream forgot id 1.
    let answer = announce(&tracker.base, &Announce::new(2, 1)).await;
    assert_eq!(answer.peers.len(), 1, "the refused id was renewed within the same forward");
    let actions: Vec<u32> = fake.seen.lock().iter().map(|(action, _)| *action).collect();
    assert_eq!(actions, [0, 1, 1, 0, 1]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn upstream_peers_follow_local_ones_without_repeats_or_the_client_itself() {
    let client = Announce::new(1, 2);
    let local = Announce::new(1, 1);
    let as_peer = |announce: &Announce| {
        let [high, low] = announce.port.to_be_bytes();
        [127, 0, 0, 1, high, low]
    };
    let listed = [PEER, as_peer(&client), as_peer(&local), OTHER_PEER];
    let fake = FakeUdp::start(Box::new(move |index, packet| match packet.action {
        1 => vec![(announced(packet.transaction_id, &listed), false)],
        _ => honest(index, packet),
    }))
    .await;
    let (tracker, _file) = tracker_for(&[&fake], 2).await;

    announce(&tracker.base, &local).await;
    let answer = announce(&tracker.base, &client).await;
    assert_eq!(answer.peers[0], entry(as_peer(&local)), "local peers first");
    let mut upstream = answer.peers[1..].to_vec();
    upstream.sort();
    assert_eq!(upstream, [entry(PEER), entry(OTHER_PEER)]);
    tracker.running.stop().await;
}

#[tokio::test]
async fn a_connection_id_met_with_silence_is_dropped() {
    // An old id gets no answer at all, as some trackers do.
    let (fake, newest) = honouring_the_newest_id(false).await;
    let (tracker, _file) = tracker_for(&[&fake], 1).await;

    assert_eq!(announce(&tracker.base, &Announce::new(1, 1)).await.peers.len(), 1);
    *newest.lock() += 100;
    assert_eq!(announce(&tracker.base, &Announce::new(2, 1)).await.peers.len(), 0, "timed out");
    assert_eq!(fake.connects(), 1);
    assert_eq!(announce(&tracker.base, &Announce::new(3, 1)).await.peers.len(), 1);
    assert_eq!(fake.connects(), 2, "the next forward connected afresh");
    tracker.running.stop().await;
}

#[tokio::test]
async fn an_upstream_reached_over_ipv6_answers_18_byte_peers() {
    let script: Script = Box::new(|index, packet| match packet.action {
        1 => {
            let mut answer = announced(packet.transaction_id, &[]);
            answer.extend([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0x1a, 0xe1]);
            vec![(answer, false)]
        }
        _ => honest(index, packet),
    });
    let Ok(fake) = FakeUdp::start_on("[::1]:0", script).await else {
        eprintln!("SKIPPED: no IPv6 loopback here");
        return;
    };
    let (tracker, _file) = tracker_for(&[&fake], 2).await;

    let answer = announce(&tracker.base, &Announce::new(1, 1)).await;
    assert_eq!(answer.peers, ["[2001:db8::7]:6881".parse::<SocketAddr>().unwrap()]);
    tracker.running.stop().await;
}
