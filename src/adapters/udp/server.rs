//! The UDP receive loop: one socket, read a batch of datagrams at a time (`batch`), each read
//! by `request`, answered through the `TrackerService` and written by `response`.
//!
//! Never an amplifier: a sender's address is spoofable until it shows a connection id we
//! issued to it, so only a connect (whose answer is as long as it) is answered without one;
//! anything else without a valid id, anything shorter than a header and anything from port 0
//! is dropped unanswered and counted.
//!
//! Connects are answered in the loop: they never wait. Announces and scrapes go through the
//! tracker, which may wait (an announce on upstream trackers, either on a Redis store); each
//! is tried once in the loop, and one that waits goes on in its own task, at most
//! `max_in_flight` at once; past that, they are dropped and the client retries, as BEP 15
//! clients do.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;

use super::batch::{Batch, Outbox};
use super::connection_id::ConnectionIds;
use super::request::{self, Announce, Malformed, Request, Scrape};
use super::response::{self, Family};
use crate::domain::announce::AnnounceRequest;
use crate::domain::identity::PeerKey;
use crate::domain::swarm::SwarmStats;
use crate::ports::metrics::{BadPacket, FailureKind, FrontEnd, RequestOutcome, Route};
use crate::ports::{Clock, Metrics, TrackerService};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpSettings {
    /// Info hashes accepted in one scrape.
    pub max_scrape_hashes: usize,
    /// Announces and scrapes being answered at once; past it, new ones are dropped.
    pub max_in_flight: usize,
    /// How long shutdown waits for announces in flight.
    pub shutdown_grace: Duration,
}

/// What the loop serves from.
pub struct UdpFrontEnd {
    pub tracker: Arc<dyn TrackerService>,
    pub metrics: Arc<dyn Metrics>,
    pub clock: Arc<dyn Clock>,
    pub ids: ConnectionIds,
    pub settings: UdpSettings,
}

/// Binds a UDP socket; an unspecified IPv6 address takes IPv4 clients too, as for HTTP.
pub fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};

    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// Serves `socket` until `shutdown` resolves, then waits up to the grace for announces in
/// flight.
pub async fn serve(socket: UdpSocket, front_end: UdpFrontEnd, shutdown: impl Future<Output = ()>) {
    let socket = Arc::new(socket);
    let front_end = Arc::new(front_end);
    let in_flight = Arc::new(Semaphore::new(front_end.settings.max_in_flight));
    let mut batch = Batch::new();
    let mut outbox = Outbox::new();
    let mut out = Vec::with_capacity(1024);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            ready = socket.readable() => if ready.is_err() { continue },
        }
        let fd = socket.as_raw_fd();
        let count = match socket.try_io(Interest::READABLE, || batch.receive(fd)) {
            Ok(count) => count,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(error) => {
                // ICMP errors from an earlier send surface here on some systems: the
                // socket itself is fine.
                tracing::debug!(%error, "udp receive failed");
                continue;
            }
        };
        for i in 0..count {
            let Some((packet, from)) = batch.datagram(i) else {
                front_end.metrics.bad_packet(BadPacket::TooLong);
                continue;
            };
            let Some(request) = front_end.answer(packet, from, &mut out) else {
                if !out.is_empty() {
                    outbox.push(from, &out);
                }
                continue;
            };
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                front_end.metrics.bad_packet(BadPacket::Overloaded);
                continue;
            };
            let front_end = front_end.clone();
            let mut answering = Box::pin(async move {
                let mut out = Vec::new();
                front_end.serve(request, from, &mut out).await;
                (out, permit)
            });
            // Most requests wait on nothing: answered here, they skip a task's scheduling
            // and go out with the batch. One that waits (on forwarders) goes on in a task of
            // its own, whose first poll hands each resource the task's waker in place of this
            // no-op one.
            let mut no_waker = Context::from_waker(Waker::noop());
            if let Poll::Ready((answer, _permit)) = answering.as_mut().poll(&mut no_waker) {
                outbox.push(from, &answer);
                continue;
            }
            let socket = socket.clone();
            tokio::spawn(async move {
                let (answer, _permit) = answering.await;
                send(&socket, &answer, from).await;
            });
        }
        flush(&socket, &mut outbox).await;
    }
    let all = u32::try_from(front_end.settings.max_in_flight).unwrap_or(u32::MAX);
    let grace = front_end.settings.shutdown_grace;
    let _ = tokio::time::timeout(grace, in_flight.acquire_many(all)).await;
}

/// Sends every answer in `outbox`, waiting while the socket's send buffer is full.
async fn flush(socket: &UdpSocket, outbox: &mut Outbox) {
    let fd = socket.as_raw_fd();
    while !outbox.is_done() {
        match socket.try_io(Interest::WRITABLE, || outbox.send(fd)) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                if socket.writable().await.is_err() {
                    outbox.skip();
                }
            }
            Err(error) => {
                // The first answer left was refused (its address, say): the others may go.
                tracing::debug!(%error, "udp send failed");
                outbox.skip();
            }
        }
    }
}

async fn send(socket: &UdpSocket, out: &[u8], to: SocketAddr) {
    if let Err(error) = socket.send_to(out, to).await {
        tracing::debug!(%error, %to, "udp send failed");
    }
}

/// A request with a valid connection id, for the tracker to answer.
enum Tracked {
    Announce(Announce),
    Scrape(Scrape),
}

impl UdpFrontEnd {
    /// Answers `packet` from `from` into `out` (left empty for no answer), or hands back a
    /// request for the tracker, to be answered by `serve`.
    fn answer(&self, packet: &[u8], from: SocketAddr, out: &mut Vec<u8>) -> Option<Tracked> {
        out.clear();
        if from.port() == 0 {
            self.metrics.bad_packet(BadPacket::PortZero);
            return None;
        }
        let now = self.clock.now();
        let ip = from.ip();
        match request::parse(packet, self.settings.max_scrape_hashes) {
            Ok(Request::Connect { transaction_id }) => {
                response::connect(out, transaction_id, self.ids.issue(ip, now));
                None
            }
            Ok(Request::Announce(announce)) => {
                if self.ids.is_valid(announce.connection_id, ip, now) {
                    return Some(Tracked::Announce(announce));
                }
                self.metrics.bad_packet(BadPacket::ConnectionId);
                None
            }
            Ok(Request::Scrape(scrape)) => {
                if self.ids.is_valid(scrape.connection_id, ip, now) {
                    return Some(Tracked::Scrape(scrape));
                }
                self.metrics.bad_packet(BadPacket::ConnectionId);
                None
            }
            Err(Malformed::TooShort(_)) => {
                self.metrics.bad_packet(BadPacket::TooShort);
                None
            }
            Err(Malformed::NoMagic) => {
                self.metrics.bad_packet(BadPacket::NoMagic);
                None
            }
            Err(Malformed::Answerable { connection_id, transaction_id, problem }) => {
                if self.ids.is_valid(connection_id, ip, now) {
                    self.metrics.bad_packet(BadPacket::Malformed);
                    tracing::debug!(%from, %problem, "udp request refused");
                    response::error(out, transaction_id, &problem.to_string());
                } else {
                    self.metrics.bad_packet(BadPacket::ConnectionId);
                }
                None
            }
        }
    }

    async fn serve(&self, request: Tracked, from: SocketAddr, out: &mut Vec<u8>) {
        match request {
            Tracked::Announce(announce) => self.announce(announce, from, out).await,
            Tracked::Scrape(scrape) => self.scrape(&scrape, out).await,
        }
    }

    async fn announce(&self, announce: Announce, from: SocketAddr, out: &mut Vec<u8>) {
        let started = Instant::now();
        let ip = from.ip().to_canonical();
        let family = if ip.is_ipv4() { Family::V4 } else { Family::V6 };
        let (transaction_id, info_hash, event) =
            (announce.transaction_id, announce.info_hash, announce.event);
        let mut outcome = RequestOutcome {
            front_end: FrontEnd::Udp,
            route: Route::Announce,
            event: Some(event),
            failure: None,
        };
        match self.tracker.announce(announce_request(announce), ip).await {
            Ok(answer) => {
                let peers = answer.peers.len() + answer.upstream.len();
                tracing::debug!(%ip, %info_hash, ?event, peers, "udp announce");
                response::announce(out, transaction_id, &answer, family);
            }
            Err(refusal) => {
                tracing::debug!(reason = %refusal, route = ?Route::Announce, "udp refused");
                outcome.failure = Some(FailureKind::from(&refusal));
                response::error(out, transaction_id, &refusal.to_string());
            }
        }
        self.metrics.request(outcome, started.elapsed());
    }

    async fn scrape(&self, scrape: &Scrape, out: &mut Vec<u8>) {
        let started = Instant::now();
        let mut outcome = RequestOutcome {
            front_end: FrontEnd::Udp,
            route: Route::Scrape,
            event: None,
            failure: None,
        };
        let answer = match self.tracker.scrape(&scrape.info_hashes).await {
            Ok(answer) => answer,
            Err(refusal) => {
                outcome.failure = Some(FailureKind::from(&refusal));
                response::error(out, scrape.transaction_id, &refusal.to_string());
                self.metrics.request(outcome, started.elapsed());
                return;
            }
        };
        tracing::debug!(torrents = scrape.info_hashes.len(), "udp scrape");
        // The answer lists each torrent once; the packet may name one twice, and gets a line
        // for each time it did. A scrape names few, so a scan is quicker than a map.
        let counts = scrape.info_hashes.iter().map(|hash| {
            answer.files.iter().find(|(known, _)| known == hash).map(|(_, stats)| stats)
        });
        let zero = SwarmStats::default();
        response::scrape(out, scrape.transaction_id, counts.map(|stats| stats.unwrap_or(&zero)));
        self.metrics.request(outcome, started.elapsed());
    }
}

/// The announce as the core takes it, whichever front end it came through.
fn announce_request(announce: Announce) -> AnnounceRequest {
    // The key as an HTTP client writes it (libtorrent and Transmission send the same number
    // as eight hex digits), so that a client keeps its identity over both front ends.
    let mut hex = [0u8; 8];
    for (digit, shift) in hex.iter_mut().zip((0..8).rev()) {
        *digit = b"0123456789ABCDEF"[((announce.key >> (4 * shift)) & 0xf) as usize];
    }
    AnnounceRequest {
        info_hash: announce.info_hash,
        peer_id: announce.peer_id,
        port: announce.port,
        uploaded: announce.uploaded,
        downloaded: announce.downloaded,
        left: announce.left,
        event: announce.event,
        numwant: announce.num_want,
        claimed_ip: announce.ip.map(IpAddr::V4),
        peer_ids: false,
        key: PeerKey::of(&hex),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::domain::announce::AnnounceResponse;
    use crate::domain::ids::{InfoHash, PeerId};
    use crate::domain::peer::{Endpoint, Event, Peer, PeerList};
    use crate::domain::time::Timestamp;
    use crate::ports::clock::MockClock;
    use crate::ports::metrics::MockMetrics;
    use crate::ports::tracker_service::MockTrackerService;

    const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

    fn front_end(tracker: MockTrackerService, metrics: MockMetrics) -> UdpFrontEnd {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        UdpFrontEnd {
            tracker: Arc::new(tracker),
            metrics: Arc::new(metrics),
            clock: Arc::new(clock),
            ids: ConnectionIds::with_key([1; 16]),
            settings: UdpSettings {
                max_scrape_hashes: 10,
                max_in_flight: 10,
                shutdown_grace: Duration::from_secs(1),
            },
        }
    }

    /// An answer with one peer of each family.
    fn both_families() -> AnnounceResponse {
        let mut peers = PeerList::default();
        let v4 = Endpoint { ip: Ipv4Addr::new(192, 0, 2, 7), port: 7 };
        peers.v4.push(Peer { id: None, endpoint: v4 });
        let v6 = Endpoint { ip: "2001:db8::7".parse().unwrap(), port: 7 };
        peers.v6.push(Peer { id: None, endpoint: v6 });
        AnnounceResponse {
            interval: Duration::from_secs(30),
            min_interval: Duration::from_secs(15),
            stats: SwarmStats::default(),
            peers,
            upstream: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_mapped_ipv4_client_is_an_ipv4_client() {
        let mut tracker = MockTrackerService::new();
        tracker
            .expect_announce()
            .withf(|_, ip| *ip == IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)))
            .times(1)
            .returning(|_, _| Ok(both_families()));
        let mut metrics = MockMetrics::new();
        metrics.expect_request().times(1).return_const(());
        let front_end = front_end(tracker, metrics);
        let from: SocketAddr = "[::ffff:198.51.100.1]:6881".parse().unwrap();
        let id = front_end.ids.issue("198.51.100.1".parse().unwrap(), NOW);
        let mut out = Vec::new();
        let mut packet = id.to_be_bytes().to_vec();
        packet.extend(1u32.to_be_bytes());
        packet.extend(9u32.to_be_bytes());
        packet.extend([0; 82]);
        let request = front_end.answer(&packet, from, &mut out).expect("its id is valid");
        front_end.serve(request, from, &mut out).await;
        assert_eq!(out[20..], [192, 0, 2, 7, 0, 7], "one 6-byte peer");
    }

    #[test]
    fn nothing_from_port_zero_is_answered_not_even_a_connect() {
        let mut metrics = MockMetrics::new();
        metrics
            .expect_bad_packet()
            .withf(|why| *why == BadPacket::PortZero)
            .times(1)
            .return_const(());
        let front_end = front_end(MockTrackerService::new(), metrics);
        let mut connect = request::CONNECT_MAGIC.to_be_bytes().to_vec();
        connect.extend([0; 8]);
        let mut out = vec![1];
        let from: SocketAddr = "192.0.2.1:0".parse().unwrap();
        assert!(front_end.answer(&connect, from, &mut out).is_none());
        assert!(out.is_empty());
        let from: SocketAddr = "192.0.2.1:1".parse().unwrap();
        front_end.answer(&connect, from, &mut out);
        assert_eq!(out.len(), 16, "the same connect from a real port");
    }

    fn announce(key: u32) -> Announce {
        Announce {
            connection_id: 1,
            transaction_id: 2,
            info_hash: InfoHash([3; 20]),
            peer_id: PeerId([4; 20]),
            downloaded: 5,
            left: 6,
            uploaded: 7,
            event: Event::Completed,
            ip: Some("192.0.2.1".parse().unwrap()),
            key,
            num_want: None,
            port: 8,
        }
    }

    #[test]
    fn an_announce_reaches_the_core_as_http_would_send_it() {
        let request = announce_request(announce(0x00ab_cdef));
        assert_eq!(
            request,
            AnnounceRequest {
                info_hash: InfoHash([3; 20]),
                peer_id: PeerId([4; 20]),
                port: 8,
                uploaded: 7,
                downloaded: 5,
                left: 6,
                event: Event::Completed,
                numwant: None,
                claimed_ip: Some("192.0.2.1".parse().unwrap()),
                peer_ids: false,
                key: PeerKey::of(b"00ABCDEF"),
            }
        );
        assert_eq!(announce_request(announce(u32::MAX)).key, PeerKey::of(b"FFFFFFFF"));
    }
}
