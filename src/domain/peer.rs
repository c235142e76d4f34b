//! A peer as the tracker stores and hands it out: who it is, where to reach it, what it has.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::ids::PeerId;

/// Where a peer listens. Generic over the address family so an IPv4 peer costs 6 bytes,
/// not the 18 an IPv6 one needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint<Ip> {
    pub ip: Ip,
    pub port: u16,
}

pub type EndpointV4 = Endpoint<Ipv4Addr>;
pub type EndpointV6 = Endpoint<Ipv6Addr>;

/// An endpoint of either family, in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnyEndpoint {
    V4(EndpointV4),
    V6(EndpointV6),
}

impl AnyEndpoint {
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports for an
    /// IPv4 client) is an IPv4 peer: it belongs in `peers`, not `peers6`.
    pub fn new(ip: IpAddr, port: u16) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(ip) => Self::V4(Endpoint { ip, port }),
            IpAddr::V6(ip) => Self::V6(Endpoint { ip, port }),
        }
    }

    pub fn ip(&self) -> IpAddr {
        match self {
            Self::V4(endpoint) => IpAddr::V4(endpoint.ip),
            Self::V6(endpoint) => IpAddr::V6(endpoint.ip),
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Self::V4(endpoint) => endpoint.port,
            Self::V6(endpoint) => endpoint.port,
        }
    }
}

/// A peer handed to another client: its endpoint, and its id (for the dictionary form) where
/// known; peers learnt from another tracker's compact answer come without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer<Ip> {
    pub id: Option<PeerId>,
    pub endpoint: Endpoint<Ip>,
}

/// A peer of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnyPeer {
    V4(Peer<Ipv4Addr>),
    V6(Peer<Ipv6Addr>),
}

impl AnyPeer {
    pub fn endpoint(&self) -> AnyEndpoint {
        match self {
            Self::V4(peer) => AnyEndpoint::V4(peer.endpoint),
            Self::V6(peer) => AnyEndpoint::V6(peer.endpoint),
        }
    }
}

/// The peers chosen for one answer, by address family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerList {
    pub v4: Vec<Peer<Ipv4Addr>>,
    pub v6: Vec<Peer<Ipv6Addr>>,
}

impl PeerList {
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Appends `peer` to the list of its family.
    pub fn push(&mut self, peer: AnyPeer) {
        match peer {
            AnyPeer::V4(peer) => self.v4.push(peer),
            AnyPeer::V6(peer) => self.v6.push(peer),
        }
    }
}

/// The optional `event` of an announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Event {
    /// No event: the periodic re-announce.
    #[default]
    Periodic,
    Started,
    Completed,
    Stopped,
    /// BEP 21: the client has part of the torrent and wants no more of it (a partial seed).
    /// It says so in every announce while it is one.
    Paused,
}

/// What a peer does for a swarm, which decides whom it is handed to and how it is counted.
/// The order is the order of the regions of a peer set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Seeder,
    /// BEP 21: counted as incomplete, and handed only to peers that download: it has
    /// nothing to take from a seeder or another partial seed, nor they from it.
    PartialSeed,
    /// Downloading.
    Leecher,
}

impl Role {
    /// The role an announce states: `left=0` is a seeder whatever the event, and `paused`
    /// makes any other peer a partial seed for as long as it keeps sending it.
    pub fn announced(seeder: bool, event: Event) -> Self {
        match (seeder, event) {
            (true, _) => Self::Seeder,
            (false, Event::Paused) => Self::PartialSeed,
            (false, _) => Self::Leecher,
        }
    }

    /// Only uploads: a peer that is handed downloaders first, and no partial seeds.
    pub fn uploads_only(self) -> bool {
        self != Self::Leecher
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_mapped_v6_is_an_ipv4_peer() {
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let endpoint = AnyEndpoint::new(mapped, 6881);
        assert_eq!(
            endpoint,
            AnyEndpoint::V4(Endpoint { ip: Ipv4Addr::new(192, 0, 2, 7), port: 6881 })
        );
    }

    #[test]
    fn plain_v6_stays_v6() {
        let endpoint = AnyEndpoint::new("2001:db8::1".parse().unwrap(), 51413);
        assert!(matches!(endpoint, AnyEndpoint::V6(_)));
        assert_eq!(endpoint.ip().to_string(), "2001:db8::1");
        assert_eq!(endpoint.port(), 51413);
    }

    #[test]
    fn ipv4_endpoints_stay_small() {
        assert_eq!(std::mem::size_of::<EndpointV4>(), 6);
        assert_eq!(std::mem::size_of::<EndpointV6>(), 18);
    }
}
