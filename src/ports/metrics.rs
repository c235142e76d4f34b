//! The metrics port: what the tracker counts, named for what happened, not for a library.

use std::time::Duration;

use crate::domain::announce::Refusal;
use crate::domain::peer::Event;

/// Which front end a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontEnd {
    Http,
    Udp,
}

/// Which request a measurement is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Announce,
    Scrape,
}

/// Why a request got a `failure reason`, grouped for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    MissingField,
    InvalidField,
    QueryTooLong,
    TooManyHashes,
    BadRealIp,
    PortZero,
    TorrentLimit,
    /// The announce named a listed peer without its key or address.
    PeerIdTaken,
    /// The store that holds the swarms did not answer in time.
    StorageUnavailable,
    /// The store that holds the swarms is at its memory limit.
    StorageFull,
}

impl From<&Refusal> for FailureKind {
    fn from(refusal: &Refusal) -> Self {
        match refusal {
            Refusal::PortZero => Self::PortZero,
            Refusal::TorrentLimit(_) => Self::TorrentLimit,
            // The address came from `ip=`, `X-Real-IP` or UDP's IP field: a bad field, as far
            // as counting goes.
            Refusal::UnusableAddress(_) => Self::InvalidField,
            Refusal::PeerIdTaken => Self::PeerIdTaken,
            Refusal::StorageUnavailable => Self::StorageUnavailable,
            Refusal::StorageFull => Self::StorageFull,
        }
    }
}

/// Why a UDP datagram was dropped, or answered only with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadPacket {
    /// Shorter than a BEP 15 header.
    TooShort,
    /// Longer than the receive loop reads: no BEP 15 request is.
    TooLong,
    /// Sent from port 0, where no answer can go.
    PortZero,
    /// A connect without the protocol id.
    NoMagic,
    /// A connection id we did not issue to that address, or one that expired.
    ConnectionId,
    /// A request with a valid connection id but a bad body: answered with an error.
    Malformed,
    /// An announce that came while `udp_max_in_flight` were being answered.
    Overloaded,
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOutcome {
    pub front_end: FrontEnd,
    pub route: Route,
    /// The announce's event, when the request got far enough to say.
    pub event: Option<Event>,
    pub failure: Option<FailureKind>,
}

/// How one forward to an upstream tracker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardOutcome {
    Ok,
    Timeout,
    Error,
    /// Not sent: the policy said this client was forwarded recently enough.
    RateLimited,
}

/// What a forward's answer was, for `forwarder_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardStatus {
    /// None came: timed out, refused, unreachable.
    NoAnswer,
    /// An HTTP answer with this status.
    Http(u16),
    /// A BEP 15 announce answer.
    UdpAnnounce,
    /// BEP 15's error action.
    UdpError,
    /// A UDP answer that could not be read, or too large.
    UdpUnreadable,
}

/// Why a connection was closed as soon as it was accepted, before any request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionRefusal {
    /// Its address already had `max_connections_per_ip` connections open.
    AddressCap,
}

#[cfg_attr(test, mockall::automock)]
pub trait Metrics: Send + Sync {
    fn request(&self, outcome: RequestOutcome, took: Duration);

    /// `forwarder` is the upstream's name; `status` is what its answer was; `took` is how long
    /// it was waited for (none when it was not sent).
    fn forward(
        &self,
        forwarder: &str,
        outcome: ForwardOutcome,
        status: ForwardStatus,
        took: Option<Duration>,
    );

    fn upstream_peers_merged(&self, peers: usize);

    /// `forwarder` answered with `peers` peers. Only the status page keeps this apart by
    /// forwarder, so it is dropped unless an implementation wants it.
    fn forwarder_peers(&self, _forwarder: &str, _peers: usize) {}

    fn peers_expired(&self, peers: usize);

    /// A connection was accepted and is being served.
    fn connection_opened(&self);

    /// A connection that `connection_opened` counted has closed.
    fn connection_closed(&self);

    fn connection_refused(&self, why: ConnectionRefusal);

    /// A UDP datagram was dropped, or answered only with an error.
    fn bad_packet(&self, why: BadPacket);
}

/// Metrics switched off: every measurement is dropped at the cost of a call.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn request(&self, _: RequestOutcome, _: Duration) {}
    fn forward(&self, _: &str, _: ForwardOutcome, _: ForwardStatus, _: Option<Duration>) {}
    fn upstream_peers_merged(&self, _: usize) {}
    fn peers_expired(&self, _: usize) {}
    fn connection_opened(&self) {}
    fn connection_closed(&self) {}
    fn connection_refused(&self, _: ConnectionRefusal) {}
    fn bad_packet(&self, _: BadPacket) {}
}

/// The text a metrics endpoint serves.
pub trait MetricsReport: Send + Sync {
    /// The body, and its content type.
    fn render(&self) -> (String, &'static str);
}
