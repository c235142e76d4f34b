//! The announce script's arguments and reply, as bytes: what `announce.lua` reads and
//! writes, with no connection in sight, so both ends are tested here.

use std::net::{Ipv4Addr, Ipv6Addr};

use redis::{Cmd, Value};

use crate::domain::announce::Refusal;
use crate::domain::identity::PeerKey;
use crate::domain::ids::PeerId;
use crate::domain::peer::{AnyEndpoint, Endpoint, Event, Peer, PeerList, Role};
use crate::domain::swarm::{AnnounceContext, PeerAnnounce, Standing, SwarmAnswer, SwarmStats};
use crate::domain::time::Timestamp;

/// The server-side script, loaded once and called by its SHA.
pub const ANNOUNCE: &str = include_str!("announce.lua");

/// Expired peers one announce removes at most: `unpack` in Redis's Lua takes a few thousand
/// values, and a bounded batch keeps each call short. A torrent that had more expire at once
/// sheds them over the next announces.
pub const EXPIRE_BATCH: usize = 1_000;

/// Writes the script's ARGV for one announce, in its order, onto `command`: straight into
/// its buffer, with nothing allocated on the way.
pub fn write_arguments(command: &mut Cmd, announce: &PeerAnnounce, context: &AnnounceContext) {
    // The keys live as long as a peer does, so a torrent nobody announces to goes by itself.
    let ttl = context.now.secs().saturating_sub(context.cutoff.secs()).max(1);
    let (endpoint, endpoint_length) = endpoint_bytes(&announce.endpoint);
    command
        .arg(context.now.secs())
        .arg(context.cutoff.secs())
        .arg(context.numwant)
        .arg(context.max_peers)
        .arg(ttl)
        .arg(EXPIRE_BATCH)
        .arg(&peer_name(&announce.peer_id, &announce.endpoint)[..])
        .arg(&[role_letter(announce.role())][..])
        .arg(&key_text(announce.key)[..])
        .arg(&endpoint[..endpoint_length])
        .arg(event_text(announce.event))
        // Lua's numbers are doubles: any start below 2^53 reads exactly.
        .arg(context.start % (1 << 31));
}

/// A peer's name in the records: its family, then its id.
fn peer_name(id: &PeerId, endpoint: &AnyEndpoint) -> [u8; 21] {
    let mut name = [0; 21];
    name[0] = match endpoint {
        AnyEndpoint::V4(_) => b'4',
        AnyEndpoint::V6(_) => b'6',
    };
    name[1..].copy_from_slice(id.as_bytes());
    name
}

fn role_letter(role: Role) -> u8 {
    match role {
        Role::Seeder => b's',
        Role::PartialSeed => b'p',
        Role::Leecher => b'l',
    }
}

/// The key's hash as eight hex digits; a hash is never zero, so all dashes means none.
fn key_text(key: Option<PeerKey>) -> [u8; 8] {
    let Some(key) = key else { return *b"--------" };
    let mut text = [0; 8];
    hex::encode_to_slice(key.get().to_be_bytes(), &mut text).expect("8 digits for 4 bytes");
    text
}

/// The compact endpoint (4 or 16 bytes of address, 2 of port) and its length.
fn endpoint_bytes(endpoint: &AnyEndpoint) -> ([u8; 18], usize) {
    let mut bytes = [0; 18];
    let address = match endpoint {
        AnyEndpoint::V4(endpoint) => &endpoint.ip.octets()[..],
        AnyEndpoint::V6(endpoint) => &endpoint.ip.octets()[..],
    };
    bytes[..address.len()].copy_from_slice(address);
    bytes[address.len()..address.len() + 2].copy_from_slice(&endpoint.port().to_be_bytes());
    (bytes, address.len() + 2)
}

fn event_text(event: Event) -> &'static str {
    match event {
        Event::Stopped => "stopped",
        Event::Completed => "completed",
        Event::Started | Event::Periodic | Event::Paused => "",
    }
}

/// The store answered with something the script never sends: another program wrote the
/// keys, or the script is not the one this build carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply from the announce script: {0}")]
pub struct BadReply(&'static str);

/// Reads the script's reply; a refusal is the domain's own.
pub fn answer(reply: &[Value], with_ids: bool) -> Result<Result<SwarmAnswer, Refusal>, BadReply> {
    let int = |at: usize| match reply.get(at) {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(BadReply("a count is missing")),
    };
    if int(0)? == 0 {
        return Ok(Err(Refusal::PeerIdTaken));
    }
    let count = |at: usize| int(at).map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX));
    let previous = int(1)?;
    let standing = Standing {
        previous: u32::try_from(previous).ok().map(Timestamp::from_secs),
        listed: int(2)? == 1,
    };
    let stats = SwarmStats {
        complete: count(3)?,
        incomplete: count(4)?,
        downloaded: count(5)?,
        downloaders: count(6)?,
    };
    let mut peers = PeerList::default();
    let members = match reply.get(7) {
        Some(Value::BulkString(members)) => members.as_slice(),
        _ => return Err(BadReply("the peers are missing")),
    };
    let mut rest = members;
    while let Some(&family) = rest.first() {
        let length = match family {
            b'4' => V4_MEMBER,
            b'6' => V6_MEMBER,
            _ => return Err(BadReply("a member's family is neither 4 nor 6")),
        };
        if rest.len() < length {
            return Err(BadReply("the last member is cut short"));
        }
        let (member, after) = rest.split_at(length);
        peers_push(&mut peers, member, with_ids)?;
        rest = after;
    }
    Ok(Ok(SwarmAnswer { stats, peers, standing }))
}

/// A member's length: the family, the 20-byte peer id, then 4 or 16 bytes of address and 2
/// of port.
const V4_MEMBER: usize = 1 + 20 + 6;
const V6_MEMBER: usize = 1 + 20 + 18;

/// Reads one member: the family, the 20-byte id, the compact endpoint.
fn peers_push(peers: &mut PeerList, member: &[u8], with_ids: bool) -> Result<(), BadReply> {
    if member.len() < 21 {
        return Err(BadReply("a member is too short for a peer id"));
    }
    let (name, endpoint) = member.split_at(21);
    let id = PeerId::from_bytes(&name[1..]).map_err(|_| BadReply("a peer id is not 20 bytes"))?;
    let id = with_ids.then_some(id);
    let port = |at: usize| u16::from_be_bytes([endpoint[at], endpoint[at + 1]]);
    match (name[0], endpoint.len()) {
        (b'4', 6) => {
            let ip = Ipv4Addr::from(<[u8; 4]>::try_from(&endpoint[..4]).expect("length checked"));
            peers.v4.push(Peer { id, endpoint: Endpoint { ip, port: port(4) } });
        }
        (b'6', 18) => {
            let ip = Ipv6Addr::from(<[u8; 16]>::try_from(&endpoint[..16]).expect("length checked"));
            peers.v6.push(Peer { id, endpoint: Endpoint { ip, port: port(16) } });
        }
        _ => return Err(BadReply("a peer's family and endpoint do not match")),
    }
    Ok(())
}

/// The counts of one torrent from the scrape pipeline's four replies: seeders, partial
/// seeds, leechers, completed downloads.
pub fn stats(seeders: u64, partial: u64, leechers: u64, downloaded: u64) -> SwarmStats {
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    SwarmStats {
        complete: count(seeders),
        incomplete: count(leechers + partial),
        downloaded: count(downloaded),
        downloaders: count(leechers),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    fn announce(ip: &str, key: Option<PeerKey>, seeder: bool, event: Event) -> PeerAnnounce {
        PeerAnnounce {
            peer_id: PeerId([7; 20]),
            key,
            endpoint: AnyEndpoint::new(ip.parse::<IpAddr>().unwrap(), 6881),
            seeder,
            event,
        }
    }

    fn context() -> AnnounceContext {
        AnnounceContext {
            now: Timestamp::from_secs(1_000),
            cutoff: Timestamp::from_secs(400),
            numwant: 50,
            max_peers: 9,
            start: 0,
            with_ids: false,
        }
    }

    use redis::Arg;

    /// The arguments as `write_arguments` leaves them on a command.
    fn arguments(announce: &PeerAnnounce, context: &AnnounceContext) -> Vec<Vec<u8>> {
        let mut command = Cmd::new();
        write_arguments(&mut command, announce, context);
        let simple = |arg| match arg {
            Arg::Simple(bytes) => <[u8]>::to_vec(bytes),
            _ => panic!("only plain arguments are written"),
        };
        command.args_iter().map(simple).collect()
    }

    #[test]
    fn arguments_carry_the_rules_and_the_peer_in_the_scripts_order() {
        let key = PeerKey::of(b"secret");
        let args = arguments(&announce("10.0.0.1", key, false, Event::Completed), &context());
        let text = |n: usize| String::from_utf8_lossy(&args[n]).into_owned();
        assert_eq!(
            (text(0), text(1), text(2), text(3), text(4), text(5)),
            ("1000".into(), "400".into(), "50".into(), "9".into(), "600".into(), "1000".into())
        );
        assert_eq!(text(11), "0");
        assert_eq!(args[6][0], b'4');
        assert_eq!(args[6][1..], [7; 20]);
        assert_eq!(text(7), "l");
        assert_eq!(text(8), format!("{:08x}", key.unwrap().get()));
        assert_eq!(args[9], [10, 0, 0, 1, 0x1a, 0xe1]);
        assert_eq!(text(10), "completed");
    }

    #[test]
    fn a_peer_without_key_and_a_paused_ipv6_one_are_told_apart() {
        let args = arguments(&announce("2001:db8::1", None, false, Event::Paused), &context());
        assert_eq!(args[6][0], b'6');
        assert_eq!(args[7], b"p");
        assert_eq!(args[8], b"--------");
        assert_eq!(args[9].len(), 18);
        assert_eq!(args[10], b"");
    }

    fn bulk(bytes: &[u8]) -> Value {
        Value::BulkString(bytes.to_vec())
    }

    #[test]
    fn a_reply_becomes_counts_standing_and_peers_of_both_families() {
        let mut v4 = vec![b'4'];
        v4.extend([1; 20]);
        v4.extend([192, 0, 2, 1, 0, 7]);
        let mut v6 = vec![b'6'];
        v6.extend([2; 20]);
        v6.extend([0x20, 0x01, 0x0d, 0xb8]);
        v6.extend([0; 11]);
        v6.extend([1, 0, 80]);
        let reply = [
            Value::Int(1),
            Value::Int(900),
            Value::Int(1),
            Value::Int(2),
            Value::Int(3),
            Value::Int(4),
            Value::Int(1),
            bulk(&[v4.clone(), v6, v4].concat()),
        ];
        let answer = answer(&reply, true).unwrap().unwrap();
        assert_eq!(
            answer.stats,
            SwarmStats { complete: 2, incomplete: 3, downloaded: 4, downloaders: 1 }
        );
        assert_eq!(
            answer.standing,
            Standing { previous: Some(Timestamp::from_secs(900)), listed: true }
        );
        assert_eq!(answer.peers.v4[0].id, Some(PeerId([1; 20])));
        assert_eq!(answer.peers.v4[0].endpoint.port, 7);
        assert_eq!(answer.peers.v6[0].endpoint.ip, "2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(answer.peers.v6[0].endpoint.port, 80);
        assert_eq!((answer.peers.v4.len(), answer.peers.v6.len()), (2, 1));
    }

    #[test]
    fn a_refusal_a_newcomer_and_garbage_read_as_such() {
        assert_eq!(answer(&[Value::Int(0)], false), Ok(Err(Refusal::PeerIdTaken)));
        let counts: Vec<Value> = [1, -1, 0, 0, 0, 0, 0].map(Value::Int).to_vec();
        let with_members = |members: &[u8]| [counts.clone(), vec![bulk(members)]].concat();
        let read = answer(&with_members(b""), false).unwrap().unwrap();
        assert_eq!(read.standing, Standing { previous: None, listed: false });
        assert!(read.peers.v4.is_empty() && read.peers.v6.is_empty());
        assert!(answer(&[], false).is_err());
        assert!(answer(&counts, false).is_err(), "no members string");
        assert!(answer(&with_members(b"4short"), false).is_err());
        let mut v6_cut_short = b"6".to_vec();
        v6_cut_short.extend([1; 20]);
        v6_cut_short.extend([192, 0, 2, 1, 0, 7]);
        assert!(answer(&with_members(&v6_cut_short), false).is_err());
        let mut no_family = b"x".to_vec();
        no_family.extend([1; 26]);
        assert!(answer(&with_members(&no_family), false).is_err());
    }

    #[test]
    fn scrape_counts_split_seeders_from_partial_seeds_and_leechers() {
        assert_eq!(
            stats(5, 2, 3, 7),
            SwarmStats { complete: 5, incomplete: 5, downloaded: 7, downloaders: 3 }
        );
    }
}
