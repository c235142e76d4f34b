//! An upstream tracker's peers as kept between its answers, to be merged into many.
//!
//! One answer serves every announce of its torrent until the upstream's interval runs out, so
//! the work is done here once: endpoints only (6 bytes an IPv4 peer rather than a peer's 28;
//! we ask upstreams for compact answers, which carry no peer ids anyway), each once, sorted so
//! that a merge finds the answer's own peers among them by binary search instead of hashing.

use super::peer::{AnyEndpoint, AnyPeer, EndpointV4, EndpointV6, Peer, PeerList};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamPeers {
    v4: Vec<EndpointV4>,
    v6: Vec<EndpointV6>,
}

impl UpstreamPeers {
    /// The endpoints of `peers`, without repeats.
    pub fn new(peers: &PeerList) -> Self {
        let mut v4: Vec<_> = peers.v4.iter().map(|peer| peer.endpoint).collect();
        let mut v6: Vec<_> = peers.v6.iter().map(|peer| peer.endpoint).collect();
        v4.sort_unstable_by_key(|endpoint| v4_key(*endpoint));
        v4.dedup();
        v6.sort_unstable_by_key(|endpoint| v6_key(*endpoint));
        v6.dedup();
        Self { v4, v6 }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where `endpoint` is, if it is here: IPv4 endpoints first, then IPv6 ones.
    pub fn position(&self, endpoint: AnyEndpoint) -> Option<usize> {
        match endpoint {
            AnyEndpoint::V4(endpoint) => search(&self.v4, v4_key(endpoint), v4_key),
            AnyEndpoint::V6(endpoint) => {
                search(&self.v6, v6_key(endpoint), v6_key).map(|index| self.v4.len() + index)
            }
        }
    }

    /// The peer at `index` (below `len`), in the order of `position`.
    pub fn peer(&self, index: usize) -> AnyPeer {
        match self.v4.get(index) {
            Some(&endpoint) => AnyPeer::V4(Peer { id: None, endpoint }),
            None => AnyPeer::V6(Peer { id: None, endpoint: self.v6[index - self.v4.len()] }),
        }
    }
}

/// Where `key` is in `sorted`. Outside the list's range it is not looked for: local peers on a
/// LAN and an upstream's public ones never share a range, so most lookups stop there.
fn search<E: Copy, K: Ord>(sorted: &[E], key: K, key_of: fn(E) -> K) -> Option<usize> {
    let (&first, &last) = (sorted.first()?, sorted.last()?);
    if key < key_of(first) || key > key_of(last) {
        return None;
    }
    sorted.binary_search_by_key(&key, |&endpoint| key_of(endpoint)).ok()
}

// Endpoints ordered as integers: comparing addresses octet by octet made the lookups of a
// merge cost more than the merge itself.
fn v4_key(endpoint: EndpointV4) -> u64 {
    u64::from(endpoint.ip.to_bits()) << 16 | u64::from(endpoint.port)
}

fn v6_key(endpoint: EndpointV6) -> (u128, u16) {
    (endpoint.ip.to_bits(), endpoint.port)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::domain::ids::PeerId;
    use crate::domain::peer::Endpoint;

    fn list() -> PeerList {
        let v4 = |last, port| Peer {
            id: Some(PeerId([last; 20])),
            endpoint: Endpoint { ip: Ipv4Addr::new(10, 0, 0, last), port },
        };
        let v6 = |port| Peer { id: None, endpoint: Endpoint { ip: Ipv6Addr::LOCALHOST, port } };
        PeerList { v4: vec![v4(9, 1), v4(2, 7), v4(9, 1), v4(2, 6)], v6: vec![v6(5), v6(5), v6(4)] }
    }

    #[test]
    fn keeps_each_endpoint_once_and_no_ids() {
        let peers = UpstreamPeers::new(&list());
        assert_eq!(peers.len(), 5);
        let all: Vec<_> = (0..peers.len()).map(|index| peers.peer(index)).collect();
        assert!(all.iter().all(|peer| matches!(
            peer,
            AnyPeer::V4(Peer { id: None, .. }) | AnyPeer::V6(Peer { id: None, .. })
        )));
        let ports: Vec<_> = all.iter().map(|peer| peer.endpoint().port()).collect();
        assert_eq!(ports, [6, 7, 1, 4, 5]);
    }

    #[test]
    fn finds_every_endpoint_it_has_and_none_it_lacks() {
        let peers = UpstreamPeers::new(&list());
        for index in 0..peers.len() {
            assert_eq!(peers.position(peers.peer(index).endpoint()), Some(index));
        }
        let absent = [
            AnyEndpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 2),
            AnyEndpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3)), 1),
            AnyEndpoint::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 6),
        ];
        for endpoint in absent {
            assert_eq!(peers.position(endpoint), None, "{endpoint:?}");
        }
        assert!(UpstreamPeers::default().is_empty());
    }
}
