//! BEP 15 answers written into a buffer: connect, announce, scrape and error.
//!
//! A pure codec, like `request`. Each writer clears the buffer first, so the server keeps one
//! buffer and sends what is in it.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::request::{ACTION_ANNOUNCE, ACTION_CONNECT, ACTION_ERROR, ACTION_SCRAPE};
use crate::domain::announce::AnnounceResponse;
use crate::domain::swarm::SwarmStats;

/// The address family of the socket a request came over, which decides the form of the
/// peers in its answer: no field in the packet says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// 6-byte peers.
    V4,
    /// 18-byte peers.
    V6,
}

/// The answer to a connect: 16 bytes, as long as the connect itself.
pub fn connect(out: &mut Vec<u8>, transaction_id: u32, connection_id: u64) {
    header(out, ACTION_CONNECT, transaction_id);
    out.extend_from_slice(&connection_id.to_be_bytes());
}

/// The answer to an announce, with the peers of the asker's family only.
pub fn announce(
    out: &mut Vec<u8>,
    transaction_id: u32,
    response: &AnnounceResponse,
    family: Family,
) {
    header(out, ACTION_ANNOUNCE, transaction_id);
    let interval = u32::try_from(response.interval.as_secs()).unwrap_or(u32::MAX);
    out.extend_from_slice(&interval.to_be_bytes());
    out.extend_from_slice(&response.stats.incomplete.to_be_bytes());
    out.extend_from_slice(&response.stats.complete.to_be_bytes());
    let (peers, upstream) = (&response.peers, &response.upstream);
    match family {
        Family::V4 => {
            out.reserve(6 * (peers.v4.len() + upstream.v4_len()));
            for peer in &peers.v4 {
                out.extend_from_slice(&Ipv4Addr::octets(&peer.endpoint.ip));
                out.extend_from_slice(&peer.endpoint.port.to_be_bytes());
            }
            // Upstream peers are kept in this very form: a copy a run.
            for run in upstream.v4() {
                out.extend_from_slice(run.as_flattened());
            }
        }
        Family::V6 => {
            out.reserve(18 * (peers.v6.len() + upstream.v6_len()));
            for peer in &peers.v6 {
                out.extend_from_slice(&Ipv6Addr::octets(&peer.endpoint.ip));
                out.extend_from_slice(&peer.endpoint.port.to_be_bytes());
            }
            for run in upstream.v6() {
                out.extend_from_slice(run.as_flattened());
            }
        }
    }
}

/// The answer to a scrape: for each hash asked, in the order asked, seeders, completed and
/// leechers (not the announce's order).
pub fn scrape<'a>(
    out: &mut Vec<u8>,
    transaction_id: u32,
    stats: impl IntoIterator<Item = &'a SwarmStats>,
) {
    header(out, ACTION_SCRAPE, transaction_id);
    for stats in stats {
        out.extend_from_slice(&stats.complete.to_be_bytes());
        out.extend_from_slice(&stats.downloaded.to_be_bytes());
        out.extend_from_slice(&stats.incomplete.to_be_bytes());
    }
}

/// An error answer; clients show `message` to their user.
pub fn error(out: &mut Vec<u8>, transaction_id: u32, message: &str) {
    header(out, ACTION_ERROR, transaction_id);
    out.extend_from_slice(message.as_bytes());
}

fn header(out: &mut Vec<u8>, action: u32, transaction_id: u32) {
    out.clear();
    out.extend_from_slice(&action.to_be_bytes());
    out.extend_from_slice(&transaction_id.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::peer::{Endpoint, Peer, PeerList};
    use crate::domain::upstream_peers::UpstreamPeers;

    fn response() -> AnnounceResponse {
        let mut peers = PeerList::default();
        let v4 = Endpoint { ip: Ipv4Addr::new(192, 0, 2, 1), port: 0x1ae1 };
        peers.v4.push(Peer { id: None, endpoint: v4 });
        let v6 = Endpoint { ip: "2001:db8::2".parse().unwrap(), port: 0x1ae2 };
        peers.v6.push(Peer { id: None, endpoint: v6 });
        AnnounceResponse {
            interval: Duration::from_secs(1800),
            min_interval: Duration::from_secs(900),
            stats: SwarmStats { complete: 5, incomplete: 3, downloaded: 9, downloaders: 3 },
            peers,
            upstream: Default::default(),
        }
    }

    #[test]
    fn a_connect_answer_is_16_bytes() {
        let mut out = vec![0xff; 40];
        connect(&mut out, 0x0102_0304, 0x1112_1314_1516_1718);
        assert_eq!(out, b"\0\0\0\0\x01\x02\x03\x04\x11\x12\x13\x14\x15\x16\x17\x18");
    }

    #[test]
    fn an_ipv4_announce_answer_has_6_byte_peers_only() {
        let mut out = Vec::new();
        announce(&mut out, 7, &response(), Family::V4);
        let mut want = vec![0, 0, 0, 1, 0, 0, 0, 7]; // action 1, transaction id
        want.extend(1800u32.to_be_bytes()); // interval
        want.extend(3u32.to_be_bytes()); // leechers
        want.extend(5u32.to_be_bytes()); // seeders
        want.extend([192, 0, 2, 1, 0x1a, 0xe1]);
        assert_eq!(out, want);
    }

    #[test]
    fn an_ipv6_announce_answer_has_18_byte_peers_only() {
        let mut out = Vec::new();
        announce(&mut out, 7, &response(), Family::V6);
        assert_eq!(out.len(), 20 + 18);
        let ip: Ipv6Addr = "2001:db8::2".parse().unwrap();
        assert_eq!(out[20..36], ip.octets());
        assert_eq!(out[36..], [0x1a, 0xe2]);
    }

    #[test]
    fn upstream_peers_follow_local_ones() {
        let mut answer = response();
        let mut list = PeerList::default();
        let upstream = Endpoint { ip: Ipv4Addr::new(203, 0, 113, 4), port: 80 };
        list.v4.push(Peer { id: None, endpoint: upstream });
        answer.upstream.push(&UpstreamPeers::new(&list), 0..1);
        let mut out = Vec::new();
        announce(&mut out, 7, &answer, Family::V4);
        assert_eq!(out[20..], [192, 0, 2, 1, 0x1a, 0xe1, 203, 0, 113, 4, 0, 80]);
    }

    #[test]
    fn scrape_counts_are_seeders_completed_leechers() {
        let mut out = Vec::new();
        let a = SwarmStats { complete: 1, incomplete: 2, downloaded: 3, downloaders: 2 };
        let b = SwarmStats::default();
        scrape(&mut out, 9, [&a, &b]);
        let mut want = vec![0, 0, 0, 2, 0, 0, 0, 9];
        want.extend([0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 2]);
        want.extend([0; 12]);
        assert_eq!(out, want);
    }

    #[test]
    fn an_error_carries_its_message() {
        let mut out = vec![1, 2, 3];
        error(&mut out, 0xffff_ffff, "no");
        assert_eq!(out, b"\0\0\0\x03\xff\xff\xff\xffno");
    }
}
