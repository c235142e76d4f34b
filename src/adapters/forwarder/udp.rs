//! A UDP (BEP 15) upstream tracker: connect, then announce, over tokio sockets.
//!
//! Each announce uses a socket of its own, connected to the upstream: the kernel then drops
//! datagrams from any other address, and concurrent announces need no demultiplexing. The
//! connection id is what is shared: one per forwarder, good for a minute, so most announces
//! cost one round trip. BEP 15's retransmission ladder (15 s, 30 s, ...) would outlast any
//! sensible forward timeout, so datagrams are resent after 250 ms, 500 ms, 1 s, ... until the
//! caller's timeout drops the announce.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::udp_codec::{self, Answer};
use crate::domain::announce::AnnounceRequest;
use crate::ports::{UpstreamAnswer, UpstreamError, UpstreamTracker};

/// How long BEP 15 lets a client use a connection id.
const CONNECTION_ID_LIFE: Duration = Duration::from_secs(60);
const FIRST_RESEND: Duration = Duration::from_millis(250);
const LONGEST_RESEND: Duration = Duration::from_secs(4);
/// The largest answer read: a header and 200 IPv6 peers. A longer one is refused, as an
/// HTTP answer past its cap is.
pub const MAX_ANSWER_BYTES: usize = 20 + 18 * 200;

pub struct UdpUpstream {
    name: String,
    host: String,
    port: u16,
    claimed_ip: Option<Ipv4Addr>,
    /// The connection id last obtained, and when.
    connection: Mutex<Option<(u64, Instant)>>,
}

impl UdpUpstream {
    /// `name` labels it in logs and metrics; `host` and `port` are the upstream's, resolved
    /// at each announce; `claimed_ip` fills the announce's IP field.
    pub fn new(name: String, host: String, port: u16, claimed_ip: Option<Ipv4Addr>) -> Self {
        Self { name, host, port, claimed_ip, connection: Mutex::new(None) }
    }

    fn cached_connection(&self) -> Option<u64> {
        let cached = *self.connection.lock();
        cached.filter(|(_, obtained)| obtained.elapsed() < CONNECTION_ID_LIFE).map(|(id, _)| id)
    }

    async fn connect(&self, socket: &Exchange) -> Result<u64, UpstreamError> {
        let transaction_id = transaction_id();
        match socket.ask(&udp_codec::connect_request(transaction_id), transaction_id).await? {
            Answer::Connected(id) => {
                *self.connection.lock() = Some((id, Instant::now()));
                Ok(id)
            }
            other => Err(failure(other)),
        }
    }

    async fn announce_under(
        &self,
        socket: &Exchange,
        connection_id: u64,
        request: &AnnounceRequest,
    ) -> Result<Answer, UpstreamError> {
        let transaction_id = transaction_id();
        let packet =
            udp_codec::announce_request(connection_id, transaction_id, request, self.claimed_ip);
        socket.ask(&packet, transaction_id).await
    }
}

#[async_trait]
impl UpstreamTracker for UdpUpstream {
    fn name(&self) -> &str {
        &self.name
    }

    async fn announce(&self, request: &AnnounceRequest) -> Result<UpstreamAnswer, UpstreamError> {
        let socket = Exchange::open(&self.host, self.port).await?;
        // Forgotten unless the announce succeeds, timeout included: a silent upstream may
        // have stopped honouring it.
        let forget = Forget(&self.connection);
        let answer = match self.cached_connection() {
            Some(id) => match self.announce_under(&socket, id, request).await? {
                // Refused under a cached id: perhaps expired early; one fresh connect.
                Answer::Error(_) => {
                    let id = self.connect(&socket).await?;
                    self.announce_under(&socket, id, request).await?
                }
                answer => answer,
            },
            None => {
                let id = self.connect(&socket).await?;
                self.announce_under(&socket, id, request).await?
            }
        };
        match answer {
            Answer::Announced { interval, peers } => {
                std::mem::forget(forget);
                Ok(UpstreamAnswer { interval: Some(interval), peers, over_udp: true })
            }
            other => Err(failure(other)),
        }
    }
}

/// Clears the cached connection id when dropped.
struct Forget<'a>(&'a Mutex<Option<(u64, Instant)>>);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        *self.0.lock() = None;
    }
}

/// One announce's socket, connected to the upstream.
struct Exchange {
    socket: UdpSocket,
    ipv6: bool,
}

impl Exchange {
    async fn open(host: &str, port: u16) -> Result<Self, UpstreamError> {
        let address = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| transport("cannot resolve", error))?
            .next()
            .ok_or_else(|| UpstreamError::Transport(format!("{host} has no address")))?;
        let local: IpAddr = if address.is_ipv6() {
            Ipv6Addr::UNSPECIFIED.into()
        } else {
            Ipv4Addr::UNSPECIFIED.into()
        };
        let socket = UdpSocket::bind(SocketAddr::new(local, 0))
            .await
            .map_err(|error| transport("cannot open a socket", error))?;
        socket.connect(address).await.map_err(|error| transport("cannot connect", error))?;
        Ok(Self { socket, ipv6: address.is_ipv6() })
    }

    /// Sends `packet` until an answer to `transaction_id` comes, waiting longer each time.
    async fn ask(&self, packet: &[u8], transaction_id: u32) -> Result<Answer, UpstreamError> {
        // One byte over the cap, to tell a datagram that fits from one the kernel cut short.
        let mut buffer = [0u8; MAX_ANSWER_BYTES + 1];
        let mut wait = FIRST_RESEND;
        loop {
            self.socket.send(packet).await.map_err(|error| transport("cannot send", error))?;
            let deadline = Instant::now() + wait;
            loop {
                let received = tokio::time::timeout_at(deadline, self.socket.recv(&mut buffer));
                let length = match received.await {
                    Err(_) => break,
                    Ok(Ok(length)) => length,
                    // An ICMP unreachable from an earlier send: the next resend may fare better.
                    Ok(Err(_)) => continue,
                };
                if length > MAX_ANSWER_BYTES {
                    let problem = format!("answer larger than {MAX_ANSWER_BYTES} bytes");
                    return Err(UpstreamError::UdpUnreadable(problem));
                }
                match udp_codec::read_answer(&buffer[..length], transaction_id, self.ipv6) {
                    Answer::Foreign => continue,
                    answer => return Ok(answer),
                }
            }
            wait = (wait * 2).min(LONGEST_RESEND);
        }
    }
}

fn failure(answer: Answer) -> UpstreamError {
    match answer {
        Answer::Error(message) => UpstreamError::UdpError(message),
        Answer::Malformed(problem) => UpstreamError::UdpUnreadable(problem),
        other => UpstreamError::UdpUnreadable(format!("unexpected answer {other:?}")),
    }
}

fn transport(what: &str, error: std::io::Error) -> UpstreamError {
    UpstreamError::Transport(format!("{what}: {error}"))
}

/// From the OS: a guessable id would let an off-path sender forge answers.
fn transaction_id() -> u32 {
    getrandom::u32().unwrap_or_else(|_| fastrand::u32(..))
}
