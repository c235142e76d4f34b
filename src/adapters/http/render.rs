//! Writes tracker answers as bencoded bodies.
//!
//! Dictionary keys go out in sorted byte order, as bencode requires:
//! `complete` < `downloaded` < `incomplete` < `interval` < `min interval` < `peers` < `peers6`,
//! and in a scrape's files `downloaded` < `downloaders` < `incomplete`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::adapters::bencode::encode as be;
use crate::domain::announce::AnnounceResponse;
use crate::domain::ids::PeerId;
use crate::domain::peer::Peer;
use crate::domain::scrape::ScrapeResponse;
use crate::domain::swarm::SwarmStats;

/// How the client asked for its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerFormat {
    /// BEP 23: IPv4 peers as 6-byte strings in `peers`, IPv6 ones as 18-byte strings in `peers6`.
    Compact,
    /// BEP 3: a list of dictionaries in `peers`, for both families.
    Dictionary { with_peer_id: bool },
}

/// `d14:failure reason<len>:<text>e`, shown by clients to their user.
pub fn failure(reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(reason.len() + 24);
    be::dict_start(&mut out);
    be::bytes(&mut out, b"failure reason");
    be::bytes(&mut out, reason.as_bytes());
    be::end(&mut out);
    out
}

// The integer entries, each key encoded with its `i` opened: constants, written in one copy.
const COMPLETE: &[u8] = b"8:completei";
const DOWNLOADED: &[u8] = b"10:downloadedi";
const DOWNLOADERS: &[u8] = b"11:downloadersi";
const INCOMPLETE: &[u8] = b"10:incompletei";
const INTERVAL: &[u8] = b"8:intervali";
const MIN_INTERVAL: &[u8] = b"12:min intervali";
const PORT: &[u8] = b"4:porti";

pub fn announce(response: &AnnounceResponse, format: PeerFormat) -> Vec<u8> {
    let (peers, upstream) = (&response.peers, &response.upstream);
    let mut out = Vec::with_capacity(announce_len(response, format));
    be::dict_start(&mut out);
    stats(&mut out, &response.stats);
    be::encoded_key_integer(&mut out, INTERVAL, response.interval.as_secs());
    be::encoded_key_integer(&mut out, MIN_INTERVAL, response.min_interval.as_secs());
    out.extend_from_slice(b"5:peers");
    match format {
        PeerFormat::Compact => {
            be::byte_string_header(&mut out, 6 * (peers.v4.len() + upstream.v4_len()));
            compact(&mut out, &peers.v4, Ipv4Addr::octets);
            // Upstream peers are kept in this very form: a copy a run.
            for run in upstream.v4() {
                out.extend_from_slice(run.as_flattened());
            }
            let v6 = peers.v6.len() + upstream.v6_len();
            if v6 > 0 {
                out.extend_from_slice(b"6:peers6");
                be::byte_string_header(&mut out, 18 * v6);
                compact(&mut out, &peers.v6, Ipv6Addr::octets);
                for run in upstream.v6() {
                    out.extend_from_slice(run.as_flattened());
                }
            }
        }
        PeerFormat::Dictionary { with_peer_id } => {
            be::list_start(&mut out);
            let id = |id: Option<PeerId>| id.filter(|_| with_peer_id);
            for peer in &peers.v4 {
                dictionary_peer(&mut out, peer.endpoint.ip.into(), peer.endpoint.port, id(peer.id));
            }
            for peer in &peers.v6 {
                dictionary_peer(&mut out, peer.endpoint.ip.into(), peer.endpoint.port, id(peer.id));
            }
            for endpoint in upstream.endpoints() {
                dictionary_peer(&mut out, endpoint.ip(), endpoint.port(), None);
            }
            be::end(&mut out);
        }
    }
    be::end(&mut out);
    out
}

/// The exact length of a compact answer, so that hyper can take the body over without
/// allocating again (`Bytes` from a `Vec` with spare room allocates); an estimate for the rare
/// dictionary form, whose addresses are written as text.
fn announce_len(response: &AnnounceResponse, format: PeerFormat) -> usize {
    let SwarmStats { complete, incomplete, downloaded, .. } = response.stats;
    let integers = [
        (COMPLETE, u64::from(complete)),
        (DOWNLOADED, u64::from(downloaded)),
        (INCOMPLETE, u64::from(incomplete)),
        (INTERVAL, response.interval.as_secs()),
        (MIN_INTERVAL, response.min_interval.as_secs()),
    ];
    let entries: usize = integers.iter().map(|(key, n)| key.len() + decimal_len(*n) + 1).sum();
    let string = |len: usize| decimal_len(len as u64) + 1 + len;
    let (peers, upstream) = (&response.peers, &response.upstream);
    let (v4, v6) = (peers.v4.len() + upstream.v4_len(), peers.v6.len() + upstream.v6_len());
    let peers = match format {
        PeerFormat::Compact if v6 == 0 => string(6 * v4),
        PeerFormat::Compact => string(6 * v4) + b"6:peers6".len() + string(18 * v6),
        PeerFormat::Dictionary { .. } => 2 + 96 * (v4 + v6),
    };
    b"d".len() + entries + b"5:peers".len() + peers + b"e".len()
}

fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

pub fn scrape(response: &ScrapeResponse) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 80 * response.files.len());
    be::dict_start(&mut out);
    be::bytes(&mut out, b"files");
    be::dict_start(&mut out);
    // Keys of `files` must be sorted too: the raw hash bytes.
    let mut files: Vec<_> = response.files.iter().collect();
    files.sort_unstable_by_key(|(hash, _)| hash.0);
    for (hash, file) in files {
        be::bytes(&mut out, hash.as_bytes());
        be::dict_start(&mut out);
        be::encoded_key_integer(&mut out, COMPLETE, file.complete.into());
        be::encoded_key_integer(&mut out, DOWNLOADED, file.downloaded.into());
        // BEP 21; the announce answer leaves it out, as BEP 21 asks it of scrapes only.
        be::encoded_key_integer(&mut out, DOWNLOADERS, file.downloaders.into());
        be::encoded_key_integer(&mut out, INCOMPLETE, file.incomplete.into());
        be::end(&mut out);
    }
    be::end(&mut out);
    be::end(&mut out);
    out
}

fn stats(out: &mut Vec<u8>, stats: &SwarmStats) {
    be::encoded_key_integer(out, COMPLETE, stats.complete.into());
    be::encoded_key_integer(out, DOWNLOADED, stats.downloaded.into());
    be::encoded_key_integer(out, INCOMPLETE, stats.incomplete.into());
}

/// Appends each peer as its address's `N` octets and its port, in network order. The room is
/// made once and filled in place: two appends a peer cost a capacity check each.
fn compact<Ip, const N: usize>(out: &mut Vec<u8>, peers: &[Peer<Ip>], octets: fn(&Ip) -> [u8; N]) {
    let start = out.len();
    out.resize(start + (N + 2) * peers.len(), 0);
    for (slot, peer) in out[start..].chunks_exact_mut(N + 2).zip(peers) {
        let (ip, port) = slot.split_at_mut(N);
        ip.copy_from_slice(&octets(&peer.endpoint.ip));
        port.copy_from_slice(&peer.endpoint.port.to_be_bytes());
    }
}

fn dictionary_peer(out: &mut Vec<u8>, ip: IpAddr, port: u16, id: Option<PeerId>) {
    let mut ip_text = String::with_capacity(39);
    // Writing to a String cannot fail.
    let _ = write!(ip_text, "{ip}");
    be::dict_start(out);
    be::bytes(out, b"ip");
    be::bytes(out, ip_text.as_bytes());
    if let Some(id) = id {
        be::bytes(out, b"peer id");
        be::bytes(out, id.as_bytes());
    }
    be::encoded_key_integer(out, PORT, port.into());
    be::end(out);
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    use super::*;
    use crate::domain::ids::InfoHash;
    use crate::domain::peer::{Endpoint, Peer, PeerList};
    use crate::domain::upstream_peers::{UpstreamPeers, UpstreamSelection};

    fn response(peers: PeerList) -> AnnounceResponse {
        AnnounceResponse {
            interval: Duration::from_secs(30),
            min_interval: Duration::from_secs(15),
            stats: SwarmStats { complete: 2, incomplete: 1, downloaded: 5, downloaders: 1 },
            peers,
            upstream: UpstreamSelection::default(),
        }
    }

    fn peers() -> PeerList {
        PeerList {
            v4: vec![Peer {
                id: Some(PeerId(*b"-TR3000-abcdefghijkl")),
                endpoint: Endpoint { ip: Ipv4Addr::new(10, 1, 2, 3), port: 0x1ae1 },
            }],
            v6: vec![Peer {
                id: None,
                endpoint: Endpoint { ip: Ipv6Addr::LOCALHOST, port: 51413 },
            }],
        }
    }

    #[test]
    fn failure_reason() {
        assert_eq!(failure("missing port"), b"d14:failure reason12:missing porte");
    }

    #[test]
    fn compact_announce_is_byte_exact() {
        let body = announce(&response(peers()), PeerFormat::Compact);
        let mut want =
            b"d8:completei2e10:downloadedi5e10:incompletei1e8:intervali30e12:min intervali15e"
                .to_vec();
        want.extend_from_slice(b"5:peers6:\x0a\x01\x02\x03\x1a\xe1");
        want.extend_from_slice(b"6:peers618:\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\xc8\xd5e");
        assert_eq!(body, want);
    }

    #[test]
    fn compact_announce_without_peers() {
        let body = announce(&response(PeerList::default()), PeerFormat::Compact);
        assert_eq!(
            body,
            b"d8:completei2e10:downloadedi5e10:incompletei1e8:intervali30e12:min intervali15e5:peers0:e"
        );
    }

    #[test]
    fn compact_answers_are_allocated_at_their_exact_length() {
        let v4 = |_| Peer { id: None, endpoint: Endpoint { ip: Ipv4Addr::LOCALHOST, port: 1 } };
        let v6 = |_| Peer { id: None, endpoint: Endpoint { ip: Ipv6Addr::LOCALHOST, port: 1 } };
        for (ipv4, ipv6) in [(0, 0), (1, 0), (2, 0), (17, 0), (200, 0), (0, 1), (3, 6), (50, 50)] {
            for big in [0, 9, 10, 99_999, u32::MAX] {
                let mut answer = response(PeerList {
                    v4: (0..ipv4).map(v4).collect(),
                    v6: (0..ipv6).map(v6).collect(),
                });
                answer.stats = SwarmStats {
                    complete: big,
                    incomplete: big / 3,
                    downloaded: big,
                    downloaders: big / 3,
                };
                answer.interval = Duration::from_secs(big.into());
                let body = announce(&answer, PeerFormat::Compact);
                assert_eq!(body.len(), body.capacity(), "{ipv4} + {ipv6} peers, {big}");
            }
        }
    }

    /// The answer of `peers()` with two upstream runs after it: an IPv4 peer, and one of
    /// each family.
    fn with_upstream() -> AnnounceResponse {
        let v4 = Endpoint { ip: Ipv4Addr::new(198, 51, 100, 7), port: 0x0102 };
        let v6 = Endpoint { ip: Ipv6Addr::LOCALHOST, port: 0x0304 };
        let list = PeerList {
            v4: vec![Peer { id: None, endpoint: v4 }],
            v6: vec![Peer { id: None, endpoint: v6 }],
        };
        let mut answer = response(peers());
        answer.upstream.push(&UpstreamPeers::new(&list), 0..1);
        answer.upstream.push(&UpstreamPeers::new(&list), 0..2);
        answer
    }

    #[test]
    fn compact_announce_carries_upstream_peers_after_local_ones() {
        let body = announce(&with_upstream(), PeerFormat::Compact);
        assert_eq!(body.len(), body.capacity());
        let mut want =
            b"d8:completei2e10:downloadedi5e10:incompletei1e8:intervali30e12:min intervali15e"
                .to_vec();
        want.extend_from_slice(b"5:peers18:\x0a\x01\x02\x03\x1a\xe1");
        want.extend_from_slice(b"\xc6\x33\x64\x07\x01\x02\xc6\x33\x64\x07\x01\x02");
        want.extend_from_slice(b"6:peers636:\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\xc8\xd5");
        want.extend_from_slice(b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x03\x04e");
        assert_eq!(body, want);
    }

    #[test]
    fn dictionary_announce_carries_upstream_peers_without_ids() {
        let body = announce(&with_upstream(), PeerFormat::Dictionary { with_peer_id: true });
        let text = String::from_utf8_lossy(&body);
        let upstream = "d2:ip12:198.51.100.74:porti258eed2:ip12:198.51.100.74:porti258ee\
                        d2:ip3:::14:porti772ee";
        assert!(text.ends_with(&format!("4:porti51413ee{upstream}ee")), "{text}");
    }

    #[test]
    fn dictionary_announce_is_byte_exact_and_omits_unknown_ids() {
        let body = announce(&response(peers()), PeerFormat::Dictionary { with_peer_id: true });
        let want =
            b"d8:completei2e10:downloadedi5e10:incompletei1e8:intervali30e12:min intervali15e\
5:peersl\
d2:ip8:10.1.2.37:peer id20:-TR3000-abcdefghijkl4:porti6881ee\
d2:ip3:::14:porti51413ee\
ee";
        assert_eq!(body, want.to_vec());
    }

    #[test]
    fn dictionary_announce_without_peer_ids() {
        let body = announce(&response(peers()), PeerFormat::Dictionary { with_peer_id: false });
        let want =
            b"d8:completei2e10:downloadedi5e10:incompletei1e8:intervali30e12:min intervali15e\
5:peersld2:ip8:10.1.2.34:porti6881eed2:ip3:::14:porti51413eeee";
        assert_eq!(body, want.to_vec());
    }

    #[test]
    fn scrape_sorts_files_by_hash() {
        let stats = SwarmStats { complete: 1, incomplete: 2, downloaded: 3, downloaders: 1 };
        let response = ScrapeResponse {
            files: vec![
                (InfoHash([b'z'; 20]), SwarmStats::default()),
                (InfoHash([b'a'; 20]), stats),
            ],
        };
        let want = format!(
            "d5:filesd20:{}d8:completei1e10:downloadedi3e11:downloadersi1e10:incompletei2ee\
             20:{}d8:completei0e10:downloadedi0e11:downloadersi0e10:incompletei0eeee",
            "a".repeat(20),
            "z".repeat(20)
        );
        assert_eq!(scrape(&response), want.as_bytes());
    }
}
