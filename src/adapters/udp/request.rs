//! BEP 15 requests read from a datagram: connect, announce and scrape.
//!
//! A pure codec: bytes in, a typed request or a typed fault out, no socket and no clock, so
//! it is tested byte by byte and fuzzed without a runtime. A fault says whether the packet may
//! be answered at all: only one that carries a connection id and a transaction id can be, and
//! the server answers it only once the id proves the sender receives at its address.

use std::net::Ipv4Addr;

use crate::domain::ids::{InfoHash, PeerId};
use crate::domain::peer::Event;

/// The connection id a connect carries: it marks the packet as BEP 15.
pub const CONNECT_MAGIC: u64 = 0x0417_2710_1980;
/// Connection id, action, transaction id: the start of every request.
pub const HEADER_LEN: usize = 16;
/// An announce's fixed body; BEP 41 options may follow.
pub const ANNOUNCE_LEN: usize = 98;
/// An info hash in a scrape.
const HASH_LEN: usize = 20;

pub const ACTION_CONNECT: u32 = 0;
pub const ACTION_ANNOUNCE: u32 = 1;
pub const ACTION_SCRAPE: u32 = 2;
pub const ACTION_ERROR: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Connect { transaction_id: u32 },
    Announce(Announce),
    Scrape(Scrape),
}

/// An announce as the packet states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    pub connection_id: u64,
    pub transaction_id: u32,
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub downloaded: u64,
    pub left: u64,
    pub uploaded: u64,
    pub event: Event,
    /// The address field; 0 (the usual) is none.
    pub ip: Option<Ipv4Addr>,
    pub key: u32,
    /// None for a negative num_want (-1 by the BEP): the tracker's default.
    pub num_want: Option<u32>,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scrape {
    pub connection_id: u64,
    pub transaction_id: u32,
    /// In request order, repeats kept: the answer follows it.
    pub info_hashes: Vec<InfoHash>,
}

/// Why a packet is not a request the tracker can serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// Shorter than a header: not even a transaction id to answer to.
    #[error("packet of {0} bytes, shorter than a header")]
    TooShort(usize),
    /// A connect without the BEP 15 magic: not meant for us.
    #[error("connect without the protocol id")]
    NoMagic,
    /// A packet with a header but a bad body. It deserves an error answer, if its
    /// connection id is valid.
    #[error("{problem}")]
    Answerable { connection_id: u64, transaction_id: u32, problem: Problem },
}

/// What was wrong with a packet that has a header; the text is the error answer's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("unknown action {0}: expected 1 (announce) or 2 (scrape)")]
    UnknownAction(u32),
    #[error("announce too short: {0} bytes, an announce is at least 98")]
    ShortAnnounce(usize),
    #[error("unknown event {0}: expected 0 (none), 1 (completed), 2 (started) or 3 (stopped)")]
    UnknownEvent(u32),
    #[error("scrape without an info hash")]
    NoHashes,
    #[error("scrape of {0} bytes after the header: not a whole number of 20-byte info hashes")]
    RaggedHashes(usize),
    #[error("too many info hashes: {count}, the limit is {limit}")]
    TooManyHashes { count: usize, limit: usize },
}

/// Reads one datagram; a scrape may name at most `max_scrape_hashes` torrents.
pub fn parse(packet: &[u8], max_scrape_hashes: usize) -> Result<Request, Malformed> {
    let mut header = Reader(packet);
    let (Some(connection_id), Some(action), Some(transaction_id)) =
        (header.u64(), header.u32(), header.u32())
    else {
        return Err(Malformed::TooShort(packet.len()));
    };
    let answerable = |problem| Malformed::Answerable { connection_id, transaction_id, problem };
    match action {
        ACTION_CONNECT if connection_id == CONNECT_MAGIC => Ok(Request::Connect { transaction_id }),
        ACTION_CONNECT => Err(Malformed::NoMagic),
        ACTION_ANNOUNCE => announce(packet, connection_id, transaction_id).map_err(answerable),
        ACTION_SCRAPE => {
            scrape(packet, connection_id, transaction_id, max_scrape_hashes).map_err(answerable)
        }
        other => Err(answerable(Problem::UnknownAction(other))),
    }
}

fn announce(packet: &[u8], connection_id: u64, transaction_id: u32) -> Result<Request, Problem> {
    // Whatever follows the body is BEP 41 options (or aria2's two zero bytes): none changes
    // the answer, so they are skipped unread.
    let Some(body) = packet.get(HEADER_LEN..ANNOUNCE_LEN) else {
        return Err(Problem::ShortAnnounce(packet.len()));
    };
    let mut body = Reader(body);
    let mut id = || body.array::<HASH_LEN>().expect("within the 98 bytes");
    let (info_hash, peer_id) = (InfoHash(id()), PeerId(id()));
    let mut number = || body.u64().expect("within the 98 bytes");
    let (downloaded, left, uploaded) = (number(), number(), number());
    let mut word = || body.u32().expect("within the 98 bytes");
    let event = match word() {
        0 => Event::Periodic,
        1 => Event::Completed,
        2 => Event::Started,
        3 => Event::Stopped,
        other => return Err(Problem::UnknownEvent(other)),
    };
    let ip = Some(Ipv4Addr::from(word())).filter(|ip| !ip.is_unspecified());
    let key = word();
    // num_want is signed on the wire; any negative value asks for the default.
    let num_want = i32::try_from(word()).ok().and_then(|n| u32::try_from(n).ok());
    let port = body.u16().expect("within the 98 bytes");
    Ok(Request::Announce(Announce {
        connection_id,
        transaction_id,
        info_hash,
        peer_id,
        downloaded,
        left,
        uploaded,
        event,
        ip,
        key,
        num_want,
        port,
    }))
}

fn scrape(
    packet: &[u8],
    connection_id: u64,
    transaction_id: u32,
    limit: usize,
) -> Result<Request, Problem> {
    let hashes = &packet[HEADER_LEN..];
    if hashes.is_empty() {
        return Err(Problem::NoHashes);
    }
    if hashes.len() % HASH_LEN != 0 {
        return Err(Problem::RaggedHashes(hashes.len()));
    }
    let count = hashes.len() / HASH_LEN;
    if count > limit {
        return Err(Problem::TooManyHashes { count, limit });
    }
    let info_hashes = hashes
        .chunks_exact(HASH_LEN)
        .map(|hash| InfoHash(hash.try_into().expect("chunks of 20")))
        .collect();
    Ok(Request::Scrape(Scrape { connection_id, transaction_id, info_hashes }))
}

/// Big-endian fields read off the front of a slice; `None` once it runs out.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (field, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*field)
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 74;

    fn header(connection_id: u64, action: u32, transaction_id: u32) -> Vec<u8> {
        let mut packet = connection_id.to_be_bytes().to_vec(); // 0: connection id
        packet.extend(action.to_be_bytes()); // 8: action
        packet.extend(transaction_id.to_be_bytes()); // 12: transaction id
        packet
    }

    /// An announce built field by field, offsets as in BEP 15.
    fn announce_packet(event: u32, ip: [u8; 4], num_want: i32) -> Vec<u8> {
        let mut packet = header(0x1122_3344_5566_7788, ACTION_ANNOUNCE, 0xdead_beef);
        packet.extend([b'h'; 20]); // 16: info hash
        packet.extend([b'p'; 20]); // 36: peer id
        packet.extend(1000u64.to_be_bytes()); // 56: downloaded
        packet.extend(2000u64.to_be_bytes()); // 64: left
        packet.extend(3000u64.to_be_bytes()); // 72: uploaded
        packet.extend(event.to_be_bytes()); // 80: event
        packet.extend(ip); // 84: IP address
        packet.extend(0x0a0b_0c0du32.to_be_bytes()); // 88: key
        packet.extend(num_want.to_be_bytes()); // 92: num_want
        packet.extend(6881u16.to_be_bytes()); // 96: port
        assert_eq!(packet.len(), ANNOUNCE_LEN);
        packet
    }

    fn parsed_announce(packet: &[u8]) -> Announce {
        match parse(packet, LIMIT) {
            Ok(Request::Announce(announce)) => announce,
            other => panic!("not an announce: {other:?}"),
        }
    }

    #[test]
    fn a_connect_needs_the_magic() {
        let connect = header(CONNECT_MAGIC, ACTION_CONNECT, 7);
        assert_eq!(parse(&connect, LIMIT), Ok(Request::Connect { transaction_id: 7 }));
        let no_magic = header(CONNECT_MAGIC + 1, ACTION_CONNECT, 7);
        assert_eq!(parse(&no_magic, LIMIT), Err(Malformed::NoMagic));
    }

    #[test]
    fn every_field_of_an_announce_is_read_big_endian() {
        let announce = parsed_announce(&announce_packet(2, [0; 4], 50));
        assert_eq!(
            announce,
            Announce {
                connection_id: 0x1122_3344_5566_7788,
                transaction_id: 0xdead_beef,
                info_hash: InfoHash([b'h'; 20]),
                peer_id: PeerId([b'p'; 20]),
                downloaded: 1000,
                left: 2000,
                uploaded: 3000,
                event: Event::Started,
                ip: None,
                key: 0x0a0b_0c0d,
                num_want: Some(50),
                port: 6881,
            }
        );
    }

    #[test]
    fn events_are_numbered_as_bep_15_says() {
        let event = |n| parse(&announce_packet(n, [0; 4], 50), LIMIT);
        let expected =
            [(0, Event::Periodic), (1, Event::Completed), (2, Event::Started), (3, Event::Stopped)];
        for (n, want) in expected {
            assert!(matches!(event(n), Ok(Request::Announce(a)) if a.event == want), "event {n}");
        }
        assert!(matches!(
            event(4),
            Err(Malformed::Answerable {
                transaction_id: 0xdead_beef,
                problem: Problem::UnknownEvent(4),
                ..
            })
        ));
    }

    #[test]
    fn a_negative_num_want_is_the_default() {
        assert_eq!(parsed_announce(&announce_packet(0, [0; 4], -1)).num_want, None);
        assert_eq!(parsed_announce(&announce_packet(0, [0; 4], i32::MIN)).num_want, None);
        assert_eq!(parsed_announce(&announce_packet(0, [0; 4], 0)).num_want, Some(0));
        assert_eq!(
            parsed_announce(&announce_packet(0, [0; 4], i32::MAX)).num_want,
            Some(i32::MAX as u32)
        );
    }

    #[test]
    fn the_ip_field_is_none_when_zero() {
        assert_eq!(parsed_announce(&announce_packet(0, [0; 4], 1)).ip, None);
        let ip = parsed_announce(&announce_packet(0, [192, 0, 2, 9], 1)).ip;
        assert_eq!(ip, Some(Ipv4Addr::new(192, 0, 2, 9)));
    }

    #[test]
    fn bep_41_options_and_trailing_bytes_are_skipped() {
        let plain = parsed_announce(&announce_packet(2, [0; 4], 50));
        let mut libtorrent = announce_packet(2, [0; 4], 50);
        libtorrent.extend(b"\x02\x09/announce\x01\x00"); // URL data, NOP, end
        assert_eq!(parsed_announce(&libtorrent), plain);
        let mut aria2 = announce_packet(2, [0; 4], 50);
        aria2.extend([0, 0]);
        assert_eq!(parsed_announce(&aria2), plain);
        let mut truncated_option = announce_packet(2, [0; 4], 50);
        truncated_option.extend([2, 200, b'/']);
        assert_eq!(parsed_announce(&truncated_option), plain);
    }

    #[test]
    fn a_short_announce_is_answerable_and_says_its_length() {
        let packet = announce_packet(2, [0; 4], 50);
        let short = parse(&packet[..97], LIMIT);
        assert_eq!(
            short,
            Err(Malformed::Answerable {
                connection_id: 0x1122_3344_5566_7788,
                transaction_id: 0xdead_beef,
                problem: Problem::ShortAnnounce(97),
            })
        );
        assert_eq!(
            short.unwrap_err().to_string(),
            "announce too short: 97 bytes, an announce is at least 98"
        );
    }

    #[test]
    fn every_length_shorter_than_a_header_is_dropped() {
        let packet = announce_packet(2, [0; 4], 50);
        for len in 0..HEADER_LEN {
            assert_eq!(parse(&packet[..len], LIMIT), Err(Malformed::TooShort(len)));
        }
        // And no length of any request panics.
        for len in HEADER_LEN..packet.len() {
            assert!(parse(&packet[..len], LIMIT).is_err(), "{len} bytes");
        }
    }

    #[test]
    fn a_scrape_keeps_hashes_in_order_with_repeats() {
        let mut packet = header(9, ACTION_SCRAPE, 3);
        for byte in [1u8, 2, 1] {
            packet.extend([byte; 20]);
        }
        let hashes = [InfoHash([1; 20]), InfoHash([2; 20]), InfoHash([1; 20])];
        assert_eq!(
            parse(&packet, LIMIT),
            Ok(Request::Scrape(Scrape {
                connection_id: 9,
                transaction_id: 3,
                info_hashes: hashes.to_vec()
            }))
        );
    }

    #[test]
    fn a_scrape_is_bounded_whole_and_not_empty() {
        let problem = |packet: &[u8], limit| match parse(packet, limit) {
            Err(Malformed::Answerable { problem, .. }) => problem,
            other => panic!("not refused: {other:?}"),
        };
        let empty = header(9, ACTION_SCRAPE, 3);
        assert_eq!(problem(&empty, LIMIT), Problem::NoHashes);
        let mut ragged = empty.clone();
        ragged.extend([1; 21]);
        assert_eq!(problem(&ragged, LIMIT), Problem::RaggedHashes(21));
        let mut many = empty.clone();
        many.extend([7; 20 * 74]);
        assert!(matches!(parse(&many, 74), Ok(Request::Scrape(s)) if s.info_hashes.len() == 74));
        assert_eq!(problem(&many, 73), Problem::TooManyHashes { count: 74, limit: 73 });
    }

    #[test]
    fn an_unknown_action_is_answerable() {
        for action in [ACTION_ERROR, 4, u32::MAX] {
            let packet = header(5, action, 6);
            assert_eq!(
                parse(&packet, LIMIT),
                Err(Malformed::Answerable {
                    connection_id: 5,
                    transaction_id: 6,
                    problem: Problem::UnknownAction(action)
                })
            );
        }
    }
}
