//! An upstream tracker's peers as kept between its answers, and the part of them one answer
//! gets.
//!
//! One answer serves every announce of its torrent until the upstream's interval runs out, so
//! the work is done here once: endpoints only (we ask upstreams for compact answers, which
//! carry no peer ids anyway), each once, sorted so that a merge finds the answer's own peers
//! among them by binary search instead of hashing. Each endpoint is kept as its octets in
//! network order, address then port, which sorts as the endpoint does; an answer then takes
//! runs of the shared list, and writing a compact answer copies them whole.
//!
//! A list is shared by its torrent's announces, which read it cold: its reference count, its
//! length and its first IPv4 octets share one allocation and one cache line, behind a thin
//! pointer (a std `Arc<Vec<_>>` puts the count and the octets a pointer apart, a miss each).
//! The IPv6 endpoints, rarer, hang off that header.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use triomphe::ThinArc;

use super::peer::{AnyEndpoint, Endpoint, EndpointV4, EndpointV6};

/// An IPv4 endpoint as 4 address octets and a big-endian port.
pub type OctetsV4 = [u8; 6];
/// An IPv6 endpoint as 16 address octets and a big-endian port.
pub type OctetsV6 = [u8; 18];

/// Cheap to clone: a clone shares the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamPeers {
    /// The IPv4 endpoints, with the IPv6 ones as the header.
    shared: ThinArc<Box<[OctetsV6]>, OctetsV4>,
}

impl Default for UpstreamPeers {
    fn default() -> Self {
        Self::sorted(Vec::new(), Vec::new())
    }
}

impl UpstreamPeers {
    /// The endpoints of `peers`, without repeats: for tests that have a peer list (upstream
    /// answers are collected from endpoints).
    #[cfg(test)]
    pub fn new(peers: &super::peer::PeerList) -> Self {
        let v4 = peers.v4.iter().map(|peer| AnyEndpoint::V4(peer.endpoint));
        v4.chain(peers.v6.iter().map(|peer| AnyEndpoint::V6(peer.endpoint))).collect()
    }

    fn sorted(mut v4: Vec<OctetsV4>, mut v6: Vec<OctetsV6>) -> Self {
        v4.sort_unstable_by_key(v4_key);
        v4.dedup();
        v6.sort_unstable();
        v6.dedup();
        Self { shared: ThinArc::from_header_and_slice(v6.into_boxed_slice(), &v4) }
    }

    /// Asks the CPU to fetch the list's first cache line (its reference count, length and
    /// first endpoints), which an announce's plan and merge are about to read cold, while the
    /// swarm's own work goes on. A hint only: it reads nothing and changes nothing.
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            // SAFETY: a prefetch never faults and reads nothing into the program; the pointer is
            // the live allocation this list holds.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(self.shared.heap_ptr().cast()) };
        }
    }

    /// Whether both are the same shared list, not merely equal ones.
    pub fn is_same_list(&self, other: &Self) -> bool {
        self.shared.ptr() == other.shared.ptr()
    }

    fn v4(&self) -> &[OctetsV4] {
        &self.shared.slice
    }

    fn v6(&self) -> &[OctetsV6] {
        &self.shared.header.header
    }

    pub fn len(&self) -> usize {
        self.v4().len() + self.v6().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where `endpoint` is, if it is here: IPv4 endpoints first, then IPv6 ones.
    pub fn position(&self, endpoint: AnyEndpoint) -> Option<usize> {
        match endpoint {
            AnyEndpoint::V4(endpoint) => self.v4_position(endpoint),
            AnyEndpoint::V6(endpoint) => self.v6_position(endpoint),
        }
    }

    #[inline]
    pub fn v4_position(&self, endpoint: EndpointV4) -> Option<usize> {
        let key = u64::from(endpoint.ip.to_bits()) << 16 | u64::from(endpoint.port);
        search(self.v4(), key, v4_key)
    }

    pub fn v6_position(&self, endpoint: EndpointV6) -> Option<usize> {
        let index = search(self.v6(), v6_octets(endpoint), |octets| *octets)?;
        Some(self.v4().len() + index)
    }

    /// Every endpoint, in the order of `position`.
    pub fn endpoints(&self) -> impl Iterator<Item = AnyEndpoint> + '_ {
        (0..self.len()).map(|position| self.endpoint(position))
    }

    /// The endpoint at `position` (below `len`), in the order of `position`.
    pub fn endpoint(&self, position: usize) -> AnyEndpoint {
        let v4 = self.v4();
        match v4.get(position) {
            Some(octets) => AnyEndpoint::V4(v4_endpoint(octets)),
            None => AnyEndpoint::V6(v6_endpoint(&self.v6()[position - v4.len()])),
        }
    }

    /// The IPv4 endpoints among `positions`.
    pub fn v4_in(&self, positions: &Range<usize>) -> &[OctetsV4] {
        let v4 = self.v4();
        let end = positions.end.min(v4.len());
        &v4[positions.start.min(end)..end]
    }

    /// The IPv6 endpoints among `positions`.
    pub fn v6_in(&self, positions: &Range<usize>) -> &[OctetsV6] {
        let offset = self.v4().len();
        let end = positions.end.max(offset) - offset;
        &self.v6()[positions.start.max(offset) - offset..end]
    }
}

/// Endpoints as an upstream answer lists them, kept without repeats.
impl FromIterator<AnyEndpoint> for UpstreamPeers {
    fn from_iter<I: IntoIterator<Item = AnyEndpoint>>(endpoints: I) -> Self {
        let endpoints = endpoints.into_iter();
        // Room for all at once: a filtered reader of an answer knows only its upper bound.
        let (least, most) = endpoints.size_hint();
        let mut v4 = Vec::with_capacity(most.unwrap_or(least));
        let mut v6 = Vec::new();
        for endpoint in endpoints {
            match endpoint {
                AnyEndpoint::V4(endpoint) => v4.push(v4_octets(endpoint)),
                AnyEndpoint::V6(endpoint) => v6.push(v6_octets(endpoint)),
            }
        }
        Self::sorted(v4, v6)
    }
}

/// The upstream peers one answer gets: runs of positions in shared lists, so that choosing
/// them copies no peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamSelection {
    runs: Vec<(UpstreamPeers, Range<usize>)>,
}

impl UpstreamSelection {
    /// Adds `positions` of `peers`, joined to the last run where they follow on from it.
    pub fn push(&mut self, peers: &UpstreamPeers, positions: Range<usize>) {
        if positions.is_empty() {
            return;
        }
        match self.runs.last_mut() {
            Some((last, run)) if last.is_same_list(peers) && run.end == positions.start => {
                run.end = positions.end;
            }
            _ => self.runs.push((peers.clone(), positions)),
        }
    }

    pub fn len(&self) -> usize {
        self.runs.iter().map(|(_, run)| run.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// The IPv4 endpoints, a run at a time.
    pub fn v4(&self) -> impl Iterator<Item = &[OctetsV4]> {
        self.runs.iter().map(|(peers, run)| peers.v4_in(run))
    }

    /// The IPv6 endpoints, a run at a time.
    pub fn v6(&self) -> impl Iterator<Item = &[OctetsV6]> {
        self.runs.iter().map(|(peers, run)| peers.v6_in(run))
    }

    pub fn v4_len(&self) -> usize {
        self.v4().map(<[_]>::len).sum()
    }

    pub fn v6_len(&self) -> usize {
        self.v6().map(<[_]>::len).sum()
    }

    /// Every endpoint chosen, IPv4 ones of a run before its IPv6 ones.
    pub fn endpoints(&self) -> impl Iterator<Item = AnyEndpoint> {
        self.runs
            .iter()
            .flat_map(|(peers, run)| run.clone().map(|position| peers.endpoint(position)))
    }
}

/// Where `key` is in `sorted`. Outside the list's range it is not looked for: local peers on a
/// LAN and an upstream's public ones never share a range, so most lookups stop there.
#[inline]
fn search<E, K: Ord>(sorted: &[E], key: K, key_of: fn(&E) -> K) -> Option<usize> {
    let (first, last) = (sorted.first()?, sorted.last()?);
    if key < key_of(first) || key > key_of(last) {
        return None;
    }
    sorted.binary_search_by_key(&key, key_of).ok()
}

// IPv4 endpoints compared as integers (the octets read big-endian, so in the same order):
// octet by octet, the lookups of a merge cost more than the merge itself.
fn v4_key(octets: &OctetsV4) -> u64 {
    let [a, b, c, d, e, f] = *octets;
    u64::from_be_bytes([0, 0, a, b, c, d, e, f])
}

fn v4_octets(endpoint: EndpointV4) -> OctetsV4 {
    let ([a, b, c, d], [e, f]) = (endpoint.ip.octets(), endpoint.port.to_be_bytes());
    [a, b, c, d, e, f]
}

fn v6_octets(endpoint: EndpointV6) -> OctetsV6 {
    let mut octets = [0; 18];
    octets[..16].copy_from_slice(&endpoint.ip.octets());
    octets[16..].copy_from_slice(&endpoint.port.to_be_bytes());
    octets
}

fn v4_endpoint(octets: &OctetsV4) -> EndpointV4 {
    let [a, b, c, d, e, f] = *octets;
    Endpoint { ip: Ipv4Addr::new(a, b, c, d), port: u16::from_be_bytes([e, f]) }
}

fn v6_endpoint(octets: &OctetsV6) -> EndpointV6 {
    let (ip, port) = octets.split_at(16);
    let ip: [u8; 16] = ip.try_into().expect("16 octets");
    Endpoint { ip: Ipv6Addr::from(ip), port: u16::from_be_bytes([port[0], port[1]]) }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::domain::ids::PeerId;
    use crate::domain::peer::{Endpoint, Peer, PeerList};

    fn list() -> PeerList {
        let v4 = |last, port| Peer {
            id: Some(PeerId([last; 20])),
            endpoint: Endpoint { ip: Ipv4Addr::new(10, 0, 0, last), port },
        };
        let v6 = |port| Peer { id: None, endpoint: Endpoint { ip: Ipv6Addr::LOCALHOST, port } };
        PeerList { v4: vec![v4(9, 1), v4(2, 7), v4(9, 1), v4(2, 6)], v6: vec![v6(5), v6(5), v6(4)] }
    }

    fn ports(endpoints: impl Iterator<Item = AnyEndpoint>) -> Vec<u16> {
        endpoints.map(|endpoint| endpoint.port()).collect()
    }

    #[test]
    fn keeps_each_endpoint_once_sorted_v4_first() {
        let peers = UpstreamPeers::new(&list());
        assert_eq!(peers.len(), 5);
        assert_eq!(
            ports((0..peers.len()).map(|position| peers.endpoint(position))),
            [6, 7, 1, 4, 5]
        );
        assert_eq!(peers.endpoint(2), AnyEndpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 1));
    }

    #[test]
    fn finds_every_endpoint_it_has_and_none_it_lacks() {
        let peers = UpstreamPeers::new(&list());
        for position in 0..peers.len() {
            assert_eq!(peers.position(peers.endpoint(position)), Some(position));
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

    #[test]
    fn octets_are_the_address_then_the_big_endian_port() {
        let peers = UpstreamPeers::new(&list());
        assert_eq!(peers.v4_in(&(1..2)), [[10, 0, 0, 2, 0, 7]]);
        let mut v6 = [0; 18];
        v6[15] = 1;
        v6[17] = 5;
        assert_eq!(peers.v6_in(&(4..5)), [v6]);
    }

    #[test]
    fn a_range_splits_into_its_families() {
        let peers = UpstreamPeers::new(&list());
        assert_eq!((peers.v4_in(&(2..5)).len(), peers.v6_in(&(2..5)).len()), (1, 2));
        assert_eq!((peers.v4_in(&(0..2)).len(), peers.v6_in(&(0..2)).len()), (2, 0));
        assert_eq!((peers.v4_in(&(4..5)).len(), peers.v6_in(&(4..5)).len()), (0, 1));
    }

    #[test]
    fn a_selection_joins_runs_that_follow_on() {
        let (a, b) = (UpstreamPeers::new(&list()), UpstreamPeers::new(&list()));
        let mut selection = UpstreamSelection::default();
        selection.push(&a, 3..5);
        selection.push(&a, 0..0);
        selection.push(&a, 0..1);
        selection.push(&a, 1..2);
        selection.push(&b, 2..3);
        assert_eq!(selection.runs.len(), 3);
        assert_eq!((selection.len(), selection.v4_len(), selection.v6_len()), (5, 3, 2));
        assert_eq!(ports(selection.endpoints()), [4, 5, 6, 7, 1]);
    }
}
