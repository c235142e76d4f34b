//! BEP 15 as a client speaks it: the connect and announce requests written, the answers read.
//!
//! Pure: no socket, no clock. The server side's codec is `adapters::udp`; it is not shared,
//! since adapters do not import each other and the two read and write opposite halves.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::domain::address;
use crate::domain::announce::AnnounceRequest;
use crate::domain::peer::{AnyEndpoint, Event};
use crate::domain::upstream_peers::UpstreamPeers;

/// The protocol id a connect carries in place of a connection id.
const CONNECT_MAGIC: u64 = 0x0417_2710_1980;
const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const ERROR: u32 = 3;
pub const CONNECT_LEN: usize = 16;
pub const ANNOUNCE_LEN: usize = 98;
/// Longest error message kept: it goes to the log.
const MESSAGE_CHARS: usize = 200;

/// An answer read against the transaction id it must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Connected(u64),
    Announced {
        interval: Duration,
        peers: UpstreamPeers,
    },
    /// The error action, with its text.
    Error(String),
    /// Another transaction's answer, or a stray datagram: to be ignored, not a failure.
    Foreign,
    /// Ours, but unreadable.
    Malformed(String),
}

pub fn connect_request(transaction_id: u32) -> [u8; CONNECT_LEN] {
    let mut packet = [0; CONNECT_LEN];
    packet[0..8].copy_from_slice(&CONNECT_MAGIC.to_be_bytes());
    packet[8..12].copy_from_slice(&CONNECT.to_be_bytes());
    packet[12..16].copy_from_slice(&transaction_id.to_be_bytes());
    packet
}

/// The client's announce under `connection_id`; `ip` fills the IP field (0: the sender's).
pub fn announce_request(
    connection_id: u64,
    transaction_id: u32,
    request: &AnnounceRequest,
    ip: Option<Ipv4Addr>,
) -> [u8; ANNOUNCE_LEN] {
    let event: u32 = match request.event {
        Event::Completed => 1,
        Event::Started => 2,
        Event::Stopped => 3,
        // BEP 15 has no paused; a paused client is an ordinary periodic announce there.
        Event::Periodic | Event::Paused => 0,
    };
    // -1 asks for the upstream's default; a larger numwant than i32 can say is capped.
    let num_want = request.numwant.map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX));
    let mut packet = [0; ANNOUNCE_LEN];
    packet[0..8].copy_from_slice(&connection_id.to_be_bytes());
    packet[8..12].copy_from_slice(&ANNOUNCE.to_be_bytes());
    packet[12..16].copy_from_slice(&transaction_id.to_be_bytes());
    packet[16..36].copy_from_slice(request.info_hash.as_bytes());
    packet[36..56].copy_from_slice(request.peer_id.as_bytes());
    packet[56..64].copy_from_slice(&request.downloaded.to_be_bytes());
    packet[64..72].copy_from_slice(&request.left.to_be_bytes());
    packet[72..80].copy_from_slice(&request.uploaded.to_be_bytes());
    packet[80..84].copy_from_slice(&event.to_be_bytes());
    packet[84..88].copy_from_slice(&ip.unwrap_or(Ipv4Addr::UNSPECIFIED).octets());
    // 88..92, the key, stays 0: the HTTP forwarder sends none either.
    packet[92..96].copy_from_slice(&num_want.to_be_bytes());
    packet[96..98].copy_from_slice(&request.port.to_be_bytes());
    packet
}

/// Reads `packet` as the answer to `transaction_id`. `ipv6` says the upstream was reached over
/// IPv6, so its peers are 18 bytes each (nothing in the packet says so).
pub fn read_answer(packet: &[u8], transaction_id: u32, ipv6: bool) -> Answer {
    let word =
        |at: usize| packet.get(at..at + 4).map(|b| u32::from_be_bytes(b.try_into().unwrap()));
    let (Some(action), Some(id)) = (word(0), word(4)) else {
        return Answer::Foreign;
    };
    if id != transaction_id {
        return Answer::Foreign;
    }
    match action {
        CONNECT => match packet.get(8..16) {
            Some(bytes) => Answer::Connected(u64::from_be_bytes(bytes.try_into().unwrap())),
            None => Answer::Malformed(format!("connect answer of {} bytes", packet.len())),
        },
        ANNOUNCE => {
            let (Some(interval), Some(peers)) = (word(8), packet.get(20..)) else {
                return Answer::Malformed(format!("announce answer of {} bytes", packet.len()));
            };
            let size = if ipv6 { 18 } else { 6 };
            if peers.len() % size != 0 {
                return Answer::Malformed(format!("{} bytes of {size}-byte peers", peers.len()));
            }
            let peers = peers
                .chunks_exact(size)
                .map(endpoint)
                .filter(|e| e.port() != 0 && address::is_listable(e.ip()))
                .collect();
            Answer::Announced { interval: Duration::from_secs(interval.into()), peers }
        }
        ERROR => {
            let text = String::from_utf8_lossy(&packet[8..]);
            Answer::Error(text.chars().take(MESSAGE_CHARS).collect())
        }
        other => Answer::Malformed(format!("unknown action {other}")),
    }
}

fn endpoint(entry: &[u8]) -> AnyEndpoint {
    let (ip, port) = entry.split_at(entry.len() - 2);
    let ip = match <[u8; 16]>::try_from(ip) {
        Ok(v6) => IpAddr::V6(Ipv6Addr::from(v6)),
        Err(_) => IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])),
    };
    AnyEndpoint::new(ip, u16::from_be_bytes([port[0], port[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{InfoHash, PeerId};

    fn request() -> AnnounceRequest {
        AnnounceRequest {
            info_hash: InfoHash([0xaa; 20]),
            peer_id: PeerId(*b"-qB4650-abcdefghijkl"),
            port: 51413,
            uploaded: 3,
            downloaded: 1,
            left: 2,
            event: Event::Started,
            numwant: Some(50),
            claimed_ip: None,
            peer_ids: false,
            key: None,
        }
    }

    fn header(action: u32, transaction_id: u32) -> Vec<u8> {
        [action.to_be_bytes(), transaction_id.to_be_bytes()].concat()
    }

    fn endpoints(answer: Answer) -> Vec<String> {
        match answer {
            Answer::Announced { peers, .. } => peers
                .endpoints()
                .map(|e| std::net::SocketAddr::new(e.ip(), e.port()).to_string())
                .collect(),
            other => panic!("not an announce answer: {other:?}"),
        }
    }

    #[test]
    fn connect_is_magic_action_and_transaction() {
        let packet = connect_request(0x0102_0304);
        assert_eq!(packet[..8], [0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80]);
        assert_eq!(packet[8..], [0, 0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn announce_fields_sit_at_bep_15_offsets() {
        let ip = Some(Ipv4Addr::new(192, 0, 2, 9));
        let packet = announce_request(0x1122_3344_5566_7788, 7, &request(), ip);
        assert_eq!(packet[0..8], 0x1122_3344_5566_7788u64.to_be_bytes()); // connection id
        assert_eq!(packet[8..16], [0, 0, 0, 1, 0, 0, 0, 7]); // action 1, transaction 7
        assert_eq!(packet[16..36], [0xaa; 20]); // info_hash
        assert_eq!(&packet[36..56], b"-qB4650-abcdefghijkl"); // peer_id
        assert_eq!(packet[56..64], 1u64.to_be_bytes()); // downloaded
        assert_eq!(packet[64..72], 2u64.to_be_bytes()); // left
        assert_eq!(packet[72..80], 3u64.to_be_bytes()); // uploaded
        assert_eq!(packet[80..84], 2u32.to_be_bytes()); // event: started is 2 over UDP
        assert_eq!(packet[84..88], [192, 0, 2, 9]); // IP
        assert_eq!(packet[88..92], [0; 4]); // key
        assert_eq!(packet[92..96], 50i32.to_be_bytes()); // num_want
        assert_eq!(packet[96..98], 51413u16.to_be_bytes()); // port
    }

    #[test]
    fn announce_defaults_and_event_numbers() {
        let mut plain = AnnounceRequest { numwant: None, event: Event::Stopped, ..request() };
        let packet = announce_request(1, 1, &plain, None);
        assert_eq!(packet[80..84], 3u32.to_be_bytes());
        assert_eq!(packet[84..88], [0; 4]);
        assert_eq!(packet[92..96], (-1i32).to_be_bytes());
        plain.numwant = Some(u32::MAX);
        plain.event = Event::Paused;
        let packet = announce_request(1, 1, &plain, None);
        assert_eq!(packet[80..84], 0u32.to_be_bytes());
        assert_eq!(packet[92..96], i32::MAX.to_be_bytes());
    }

    #[test]
    fn reads_a_connect_answer() {
        let mut packet = header(0, 9);
        packet.extend(0xdead_beefu64.to_be_bytes());
        assert_eq!(read_answer(&packet, 9, false), Answer::Connected(0xdead_beef));
        assert!(matches!(read_answer(&packet[..12], 9, false), Answer::Malformed(_)));
    }

    #[test]
    fn reads_announce_peers_of_either_family() {
        let mut packet = header(1, 5);
        packet.extend([0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 2]); // interval 1800, leechers, seeders
        let v4 = [[10, 0, 0, 1, 0x1a, 0xe1], [0, 0, 0, 0, 0, 80], [10, 0, 0, 2, 0, 0]].concat();
        let answer = read_answer(&[packet.clone(), v4].concat(), 5, false);
        let Answer::Announced { interval, .. } = &answer else { panic!("{answer:?}") };
        assert_eq!(*interval, Duration::from_secs(0x708));
        assert_eq!(endpoints(answer), ["10.0.0.1:6881"], "unusable and port 0 dropped");
        let mut v6 = vec![0x20, 0x01, 0x0d, 0xb8];
        v6.extend([0; 11]);
        v6.extend([3, 0x1a, 0xe1]);
        assert_eq!(
            endpoints(read_answer(&[packet.clone(), v6].concat(), 5, true)),
            ["[2001:db8::3]:6881"]
        );
        assert!(matches!(
            read_answer(&[&packet[..], &[1; 7]].concat(), 5, false),
            Answer::Malformed(_)
        ));
        assert!(matches!(read_answer(&packet[..19], 5, false), Answer::Malformed(_)));
    }

    #[test]
    fn an_error_carries_its_text_and_others_are_foreign() {
        let packet = [header(3, 4), b"go away".to_vec()].concat();
        assert_eq!(read_answer(&packet, 4, false), Answer::Error("go away".into()));
        assert_eq!(read_answer(&packet, 5, false), Answer::Foreign, "wrong transaction id");
        assert_eq!(read_answer(&[0, 0, 0], 4, false), Answer::Foreign);
        let long = [header(3, 4), vec![b'x'; 1000]].concat();
        assert!(matches!(read_answer(&long, 4, false), Answer::Error(text) if text.len() == 200));
        assert!(matches!(read_answer(&header(9, 4), 4, false), Answer::Malformed(_)));
    }

    #[test]
    fn no_short_packet_panics() {
        let mut packet = header(1, 1);
        packet.extend([0; 40]);
        for len in 0..packet.len() {
            for ipv6 in [false, true] {
                let _ = read_answer(&packet[..len], 1, ipv6);
            }
        }
    }
}
