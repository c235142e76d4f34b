//! The announce as a client states it, and the rules applied before it reaches a swarm.

use std::net::IpAddr;
use std::time::Duration;

use super::address;
use super::identity::PeerKey;
use super::ids::{InfoHash, PeerId};
use super::peer::{Event, PeerList};
use super::swarm::SwarmStats;
use super::upstream_peers::UpstreamSelection;

/// An announce as the client sent it, already decoded from its wire format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    /// Bytes still to download; zero means the client is a seeder.
    pub left: u64,
    pub event: Event,
    /// How many peers the client asked for, if it said.
    pub numwant: Option<u32>,
    /// The address the client claims for itself (`ip=`), honoured only where allowed.
    pub claimed_ip: Option<IpAddr>,
    /// The answer is to show peer ids: a dictionary answer (`compact=0`) without `no_peer_id`.
    pub peer_ids: bool,
    /// The `key` the client sent, if any: what lets it change or stop its listed peer from
    /// another address (`domain::identity`).
    pub key: Option<PeerKey>,
}

impl AnnounceRequest {
    pub fn is_seeder(&self) -> bool {
        self.left == 0
    }
}

/// Why an announce or scrape is refused. The text reaches the user's client as the
/// `failure reason`, so it says what was wrong in the user's terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("invalid port 0: announce the port your client listens on (1-65535)")]
    PortZero,
    #[error("tracker is full: it tracks {0} torrents, the most it allows; try again later")]
    TorrentLimit(usize),
    #[error(
        "invalid peer address {0}: other peers cannot connect to an unspecified, multicast, \
         broadcast or reserved address"
    )]
    UnusableAddress(IpAddr),
    #[error("peer_id in use: this torrent lists it for a client with another key or address")]
    PeerIdTaken,
    /// The store that holds the swarms did not answer in time (a shared store is down).
    #[error("tracker storage unavailable: try again later")]
    StorageUnavailable,
    /// The shared store is at the memory it may use, and takes nothing more.
    #[error("tracker is full: its storage holds the most it may; try again later")]
    StorageFull,
}

/// How many peers an answer may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NumwantLimits {
    /// Used when the client does not say.
    pub default: usize,
    /// No client gets more than this, whatever it asks for.
    pub max: usize,
}

impl NumwantLimits {
    pub fn effective(&self, requested: Option<u32>) -> usize {
        let requested =
            requested.map_or(self.default, |n| usize::try_from(n).unwrap_or(usize::MAX));
        requested.min(self.max)
    }
}

/// Checks the rules an announce must meet before it may touch a swarm. `listed_at` is the
/// address the peer would be handed out at, after `X-Real-IP` and `ip=` are taken into account.
pub fn admit(request: &AnnounceRequest, listed_at: IpAddr) -> Result<(), Refusal> {
    if request.port == 0 {
        return Err(Refusal::PortZero);
    }
    if !address::is_listable(listed_at) {
        return Err(Refusal::UnusableAddress(listed_at.to_canonical()));
    }
    Ok(())
}

/// The answer to an accepted announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceResponse {
    /// How long the client should wait before its next announce.
    pub interval: Duration,
    /// The shortest wait the tracker tolerates.
    pub min_interval: Duration,
    pub stats: SwarmStats,
    pub peers: PeerList,
    /// Peers from upstream trackers, given after `peers`.
    pub upstream: UpstreamSelection,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn request() -> AnnounceRequest {
        AnnounceRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([2; 20]),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 100,
            event: Event::Started,
            numwant: None,
            claimed_ip: None,
            peer_ids: false,
            key: None,
        }
    }

    #[test]
    fn numwant_defaults_and_caps() {
        let limits = NumwantLimits { default: 50, max: 200 };
        assert_eq!(limits.effective(None), 50);
        assert_eq!(limits.effective(Some(0)), 0);
        assert_eq!(limits.effective(Some(120)), 120);
        assert_eq!(limits.effective(Some(u32::MAX)), 200);
    }

    const LAN: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 15));

    #[test]
    fn port_zero_is_refused() {
        assert_eq!(admit(&AnnounceRequest { port: 0, ..request() }, LAN), Err(Refusal::PortZero));
        assert_eq!(admit(&request(), LAN), Ok(()));
    }

    #[test]
    fn an_unusable_address_is_refused_and_named() {
        let multicast: IpAddr = "::ffff:224.0.0.1".parse().unwrap();
        let refused = admit(&request(), multicast);
        assert_eq!(refused, Err(Refusal::UnusableAddress("224.0.0.1".parse().unwrap())));
        let reason = refused.unwrap_err().to_string();
        assert!(reason.starts_with("invalid peer address 224.0.0.1: "), "{reason}");
    }

    #[test]
    fn left_zero_is_a_seeder() {
        assert!(AnnounceRequest { left: 0, ..request() }.is_seeder());
        assert!(!request().is_seeder());
    }
}
