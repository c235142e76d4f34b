//! Parses announce and scrape query strings into requests.
//!
//! `info_hash` and `peer_id` are raw bytes, percent-encoded and rarely UTF-8, so the query is
//! split and decoded to bytes here; a text-based query decoder would mangle them. Following
//! BEP 3, `+` is a literal byte, not a space.

use std::borrow::Cow;
use std::net::IpAddr;
use std::str::FromStr;

use percent_encoding::percent_decode;

use crate::domain::announce::AnnounceRequest;
use crate::domain::identity::PeerKey;
use crate::domain::ids::{InfoHash, PeerId};
use crate::domain::peer::Event;

/// Why a request could not be read. The text becomes the bencoded `failure reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("invalid {field}: must be 20 bytes, got {len}")]
    WrongLength { field: &'static str, len: usize },
    #[error("invalid {field}: expected {expected}")]
    Invalid { field: &'static str, expected: &'static str },
    #[error("request too long: the query is {len} bytes, the limit is {max}")]
    TooLong { len: usize, max: usize },
    #[error("too many info_hash values: {count}, the limit is {max}")]
    TooManyHashes { count: usize, max: usize },
    #[error("invalid X-Real-IP header: expected an IP address")]
    BadRealIp,
}

/// An announce and how the client wants its answer written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceQuery {
    pub request: AnnounceRequest,
    /// BEP 23 compact peer strings; the default unless the client sends `compact=0`.
    pub compact: bool,
    /// Leave `peer id` out of dictionary-form peers.
    pub no_peer_id: bool,
}

/// Rejects a query longer than `max` bytes before any of it is decoded.
pub fn check_length(query: &str, max: usize) -> Result<(), RequestError> {
    if query.len() > max {
        return Err(RequestError::TooLong { len: query.len(), max });
    }
    Ok(())
}

/// The query's `key=value` pairs, percent-decoded to bytes, in order, repeats kept.
pub fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, [u8]>, Cow<'_, [u8]>)> {
    raw_pairs(query).map(|(key, value)| (key, decode(value)))
}

/// The pairs as they are on the wire, values still percent-encoded (keys decoded, should one
/// be escaped), for the scrape and for `pairs`; the announce reads its query in place.
fn raw_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, [u8]>, &[u8])> {
    // memchr for the `&`: a scrape's values are 60-byte escaped hashes.
    let mut rest = query.as_bytes();
    let pairs = std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'&', rest).unwrap_or(rest.len());
        let pair = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or_default();
        Some(pair)
    });
    pairs.filter(|pair| !pair.is_empty()).map(|pair| {
        let (key, value) = split_at_first(pair, b'=');
        (decode(key), value)
    })
}

/// What comes before the first `separator` and what after it; all of `bytes` before it when
/// there is none: a pair's key and value at `=`, a value and the rest of the query at `&`.
fn split_at_first(bytes: &[u8], separator: u8) -> (&[u8], &[u8]) {
    // A loop, not memchr: keys and values are mostly a few bytes, too short to repay its setup.
    match bytes.iter().position(|&byte| byte == separator) {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &[]),
    }
}

fn decode(raw: &[u8]) -> Cow<'_, [u8]> {
    if raw.contains(&b'%') { percent_decode(raw).into() } else { Cow::Borrowed(raw) }
}

/// Decodes an id straight into its 20 bytes, without allocating: the crate's decoder
/// collects into a `Vec`, which was a tenth of the time of a whole announce.
fn decode_id(field: &'static str, raw: &[u8]) -> Result<[u8; 20], RequestError> {
    let mut id = [0u8; 20];
    let mut rest = raw;
    let mut filled = 0;
    for slot in &mut id {
        let Some((byte, tail)) = next_byte(rest) else { break };
        (*slot, rest, filled) = (byte, tail, filled + 1);
    }
    if filled == id.len() && rest.is_empty() {
        return Ok(id);
    }
    // Only a wrong id pays for counting its whole decoded length, for the message.
    Err(RequestError::WrongLength { field, len: percent_decode(raw).count() })
}

/// The first byte `raw` decodes to, and what follows it.
fn next_byte(raw: &[u8]) -> Option<(u8, &[u8])> {
    match raw {
        [b'%', high, low, tail @ ..] => {
            let (high, low) = (HEX[usize::from(*high)], HEX[usize::from(*low)]);
            // As in the crate: a `%` without two hex digits after it is a literal `%`.
            if (high | low) > 0xf { Some((b'%', &raw[1..])) } else { Some((high << 4 | low, tail)) }
        }
        [byte, tail @ ..] => Some((*byte, tail)),
        [] => None,
    }
}

/// Hex digit values by byte; `NOT_HEX` for every other byte.
static HEX: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = match byte as u8 {
            digit @ b'0'..=b'9' => digit - b'0',
            letter @ b'a'..=b'f' => letter - b'a' + 10,
            letter @ b'A'..=b'F' => letter - b'A' + 10,
            _ => NOT_HEX,
        };
        byte += 1;
    }
    table
};
const NOT_HEX: u8 = 0xff;

pub fn parse_announce(query: &str) -> Result<AnnounceQuery, RequestError> {
    let mut fields = AnnounceFields::default();
    let mut rest = query.as_bytes();
    while !rest.is_empty() {
        rest = match key_at(rest) {
            Key::Known(field, value_onward) => fields.take(field, value_onward)?,
            Key::Unknown => split_at_first(rest, b'&').1,
            Key::Unusual => fields.take_unusual_pair(rest)?,
        };
    }
    fields.into_query()
}

/// An announce field a query key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    InfoHash,
    PeerId,
    Port,
    Uploaded,
    Downloaded,
    Left,
    Event,
    Numwant,
    Compact,
    NoPeerId,
    Ip,
    Key,
}

/// What the key at the start of a pair is, as far as the announce goes.
enum Key<'q> {
    /// A plain known key, and what follows its `=`.
    Known(Field, &'q [u8]),
    /// A key that names no field however it is decoded: clients' extras such as `corrupt`
    /// and `supportcrypto`, skipped without being split or decoded.
    Unknown,
    /// Anything else (an escaped key, a key without `=`): the general way decides.
    Unusual,
}

/// Reads the key at the start of `pair` as it stands: matching the query in place spares
/// splitting it into pairs and keys first. Two bytes at most pick the one candidate, and each
/// arm compares a key of known length, which compiles to a few word compares where a key
/// chosen at run time cost a `memcmp` call.
fn key_at(pair: &[u8]) -> Key<'_> {
    let second = pair.get(1).copied();
    let (field, value_onward) = match pair.first() {
        Some(b'i') if second == Some(b'p') => (Field::Ip, after(pair, b"ip=")),
        Some(b'i') => (Field::InfoHash, after(pair, b"info_hash=")),
        Some(b'p') if second == Some(b'e') => (Field::PeerId, after(pair, b"peer_id=")),
        Some(b'p') => (Field::Port, after(pair, b"port=")),
        Some(b'u') => (Field::Uploaded, after(pair, b"uploaded=")),
        Some(b'd') => (Field::Downloaded, after(pair, b"downloaded=")),
        Some(b'l') => (Field::Left, after(pair, b"left=")),
        Some(b'e') => (Field::Event, after(pair, b"event=")),
        Some(b'n') if second == Some(b'o') => (Field::NoPeerId, after(pair, b"no_peer_id=")),
        Some(b'n') => (Field::Numwant, after(pair, b"numwant=")),
        Some(b'c') => (Field::Compact, after(pair, b"compact=")),
        Some(b'k') => (Field::Key, after(pair, b"key=")),
        // An escaped first byte may still decode to one of the letters above.
        Some(b'%') => return Key::Unusual,
        _ => return Key::Unknown,
    };
    match value_onward {
        Some(value_onward) => Key::Known(field, value_onward),
        None => Key::Unusual,
    }
}

/// What follows `prefix` at the start of `bytes`.
fn after<'q, const N: usize>(bytes: &'q [u8], prefix: &[u8; N]) -> Option<&'q [u8]> {
    let (head, rest) = bytes.split_first_chunk::<N>()?;
    (head == prefix).then_some(rest)
}

/// The field a whole (decoded) key names; the keys of `key_at` without their `=`.
fn field_named(key: &[u8]) -> Option<Field> {
    Some(match key {
        b"info_hash" => Field::InfoHash,
        b"peer_id" => Field::PeerId,
        b"port" => Field::Port,
        b"uploaded" => Field::Uploaded,
        b"downloaded" => Field::Downloaded,
        b"left" => Field::Left,
        b"event" => Field::Event,
        b"numwant" => Field::Numwant,
        b"compact" => Field::Compact,
        b"no_peer_id" => Field::NoPeerId,
        b"ip" => Field::Ip,
        b"key" => Field::Key,
        _ => return None,
    })
}

/// The announce fields as they are read.
struct AnnounceFields {
    info_hash: Option<InfoHash>,
    peer_id: Option<PeerId>,
    port: Option<u16>,
    uploaded: Option<u64>,
    downloaded: Option<u64>,
    left: Option<u64>,
    event: Event,
    numwant: Option<u32>,
    claimed_ip: Option<IpAddr>,
    key: Option<PeerKey>,
    compact: bool,
    no_peer_id: bool,
}

impl Default for AnnounceFields {
    fn default() -> Self {
        Self {
            info_hash: None,
            peer_id: None,
            port: None,
            uploaded: None,
            downloaded: None,
            left: None,
            event: Event::Periodic,
            numwant: None,
            claimed_ip: None,
            key: None,
            compact: true,
            no_peer_id: false,
        }
    }
}

impl AnnounceFields {
    /// Reads `field`'s value from the start of `value_onward`; returns what follows its `&`.
    fn take<'q>(&mut self, field: Field, value_onward: &'q [u8]) -> Result<&'q [u8], RequestError> {
        // The long and the numeric values are read straight up to their `&` when they are
        // plain; anything else (escaped digits, a wrong length, a port out of range) goes the
        // general way below, which also words the error.
        let read_in_place = match field {
            Field::InfoHash => id_until_amp(value_onward).map(|(id, rest)| {
                self.info_hash = Some(InfoHash(id));
                rest
            }),
            Field::PeerId => id_until_amp(value_onward).map(|(id, rest)| {
                self.peer_id = Some(PeerId(id));
                rest
            }),
            Field::Port => digits_until_amp(value_onward).and_then(|(n, rest)| {
                self.port = Some(u16::try_from(n).ok()?);
                Some(rest)
            }),
            Field::Uploaded => digits_until_amp(value_onward).map(|(n, rest)| {
                self.uploaded = Some(n);
                rest
            }),
            Field::Downloaded => digits_until_amp(value_onward).map(|(n, rest)| {
                self.downloaded = Some(n);
                rest
            }),
            Field::Left => digits_until_amp(value_onward).map(|(n, rest)| {
                self.left = Some(n);
                rest
            }),
            // A huge numwant is capped later, not refused; "-1" goes the general way.
            Field::Numwant => digits_until_amp(value_onward).map(|(n, rest)| {
                self.numwant = Some(u32::try_from(n).unwrap_or(u32::MAX));
                rest
            }),
            Field::Compact => flag_until_amp(value_onward).map(|(flag, rest)| {
                self.compact = flag != b'0';
                rest
            }),
            Field::NoPeerId => flag_until_amp(value_onward).map(|(flag, rest)| {
                self.no_peer_id = flag == b'1';
                rest
            }),
            _ => None,
        };
        if let Some(rest) = read_in_place {
            return Ok(rest);
        }
        let (value, rest) = split_at_first(value_onward, b'&');
        self.take_value(field, value)?;
        Ok(rest)
    }

    /// A pair whose key is unknown, escaped or has no `=`; returns what follows its `&`.
    fn take_unusual_pair<'q>(&mut self, pair_onward: &'q [u8]) -> Result<&'q [u8], RequestError> {
        let (pair, rest) = split_at_first(pair_onward, b'&');
        let (key, value) = split_at_first(pair, b'=');
        // Clients never encode keys; one that is encoded anyway is decoded here.
        if let Some(field) = field_named(&decode(key)) {
            self.take_value(field, value)?;
        }
        Ok(rest)
    }

    /// `field`'s whole value, still percent-encoded.
    fn take_value(&mut self, field: Field, raw: &[u8]) -> Result<(), RequestError> {
        match field {
            Field::InfoHash => self.info_hash = Some(InfoHash(decode_id("info_hash", raw)?)),
            Field::PeerId => self.peer_id = Some(PeerId(decode_id("peer_id", raw)?)),
            Field::Port => self.port = Some(port_number(raw)?),
            Field::Uploaded => self.uploaded = Some(count("uploaded", raw)?),
            Field::Downloaded => self.downloaded = Some(count("downloaded", raw)?),
            Field::Left => self.left = Some(count("left", raw)?),
            Field::Event => self.event = parse_event(&decode(raw)),
            Field::Numwant => self.numwant = parse_numwant(&decode(raw))?,
            // BEP 3 allows a DNS name here too; only a literal address is any use to us.
            Field::Ip => {
                self.claimed_ip = text(&decode(raw)).and_then(|ip| IpAddr::from_str(ip).ok());
            }
            // Hashed at once: the key itself is never kept, nor logged.
            Field::Key => self.key = PeerKey::of(&decode(raw)),
            Field::Compact => self.compact = &*decode(raw) != b"0",
            Field::NoPeerId => self.no_peer_id = &*decode(raw) == b"1",
        }
        Ok(())
    }

    fn into_query(self) -> Result<AnnounceQuery, RequestError> {
        let request = AnnounceRequest {
            info_hash: self.info_hash.ok_or(RequestError::Missing("info_hash"))?,
            peer_id: self.peer_id.ok_or(RequestError::Missing("peer_id"))?,
            port: self.port.ok_or(RequestError::Missing("port"))?,
            uploaded: self.uploaded.ok_or(RequestError::Missing("uploaded"))?,
            downloaded: self.downloaded.ok_or(RequestError::Missing("downloaded"))?,
            left: self.left.ok_or(RequestError::Missing("left"))?,
            event: self.event,
            numwant: self.numwant,
            claimed_ip: self.claimed_ip,
            peer_ids: !self.compact && !self.no_peer_id,
            key: self.key,
        };
        Ok(AnnounceQuery { request, compact: self.compact, no_peer_id: self.no_peer_id })
    }
}

/// A 20-byte id decoded from the start of `value_onward` when its value is exactly that
/// (ending at `&` or the end), with what follows; `None` for anything else, a `%` without two
/// hex digits after it included.
fn id_until_amp(value_onward: &[u8]) -> Option<([u8; 20], &[u8])> {
    let mut id = [0u8; 20];
    let mut rest = value_onward;
    for slot in &mut id {
        (*slot, rest) = match rest {
            [b'%', high, low, tail @ ..] => {
                let (high, low) = (HEX[usize::from(*high)], HEX[usize::from(*low)]);
                if (high | low) > 0xf {
                    return None;
                }
                (high << 4 | low, tail)
            }
            // A plain `&` ends the value, here too soon (an escaped one, `%26`, is an id byte).
            [b'%' | b'&', ..] | [] => return None,
            [byte, tail @ ..] => (*byte, tail),
        };
    }
    Some((id, ends_at_amp(rest)?))
}

/// The most digits read in place: any 19 fit a `u64`; a longer run goes the general way,
/// which checks for overflow.
const MAX_PLAIN_DIGITS: usize = 19;

/// A run of digits at the start of `value_onward` that is its whole value, with what follows;
/// `None` for anything else (no digits, escaped ones, too many, other bytes).
fn digits_until_amp(value_onward: &[u8]) -> Option<(u64, &[u8])> {
    let mut number = 0u64;
    let mut len = 0;
    while let Some(&byte) = value_onward.get(len) {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        // Wraps only past MAX_PLAIN_DIGITS, where the value is thrown away.
        number = number.wrapping_mul(10).wrapping_add(u64::from(digit));
        len += 1;
    }
    if len == 0 || len > MAX_PLAIN_DIGITS {
        return None;
    }
    Some((number, ends_at_amp(&value_onward[len..])?))
}

/// A one-byte value such as `compact`'s, with what follows; `None` for anything longer or
/// escaped.
fn flag_until_amp(value_onward: &[u8]) -> Option<(u8, &[u8])> {
    match value_onward {
        [b'%', ..] | [b'&', ..] | [] => None,
        [flag, rest @ ..] => Some((*flag, ends_at_amp(rest)?)),
    }
}

/// What follows a value that ends where `after_value` starts: at a `&`, or at the end.
fn ends_at_amp(after_value: &[u8]) -> Option<&[u8]> {
    match after_value {
        [] => Some(after_value),
        [b'&', after @ ..] => Some(after),
        _ => None,
    }
}

/// The `info_hash` values of a scrape, at most `max` of them.
pub fn parse_scrape(query: &str, max: usize) -> Result<Vec<InfoHash>, RequestError> {
    let mut hashes = Vec::new();
    for (key, raw) in raw_pairs(query) {
        if &*key == b"info_hash" {
            hashes.push(InfoHash(decode_id("info_hash", raw)?));
        }
    }
    if hashes.is_empty() {
        // A scrape of every torrent would hand the whole database to anyone who asks.
        return Err(RequestError::Missing("info_hash"));
    }
    if hashes.len() > max {
        return Err(RequestError::TooManyHashes { count: hashes.len(), max });
    }
    Ok(hashes)
}

/// A non-empty run of ASCII digits, without overflow.
fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &byte| {
        let digit = byte.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// The number in `raw`: digits as they came, or percent-encoded ones (rare; decoded only then).
fn raw_digits(raw: &[u8]) -> Option<u64> {
    digits(raw).or_else(|| if raw.contains(&b'%') { digits(&decode(raw)) } else { None })
}

fn port_number(raw: &[u8]) -> Result<u16, RequestError> {
    raw_digits(raw).and_then(|n| u16::try_from(n).ok()).ok_or_else(port_error)
}

fn port_error() -> RequestError {
    RequestError::Invalid { field: "port", expected: "a port number from 1 to 65535" }
}

fn count(field: &'static str, raw: &[u8]) -> Result<u64, RequestError> {
    raw_digits(raw).ok_or(RequestError::Invalid { field, expected: "a whole number of bytes" })
}

fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

fn parse_numwant(bytes: &[u8]) -> Result<Option<u32>, RequestError> {
    let is_number = |bytes: &[u8]| !bytes.is_empty() && bytes.iter().all(u8::is_ascii_digit);
    // Some clients send -1 to mean "the tracker's default".
    if bytes.strip_prefix(b"-").is_some_and(is_number) {
        return Ok(None);
    }
    if !is_number(bytes) {
        return Err(RequestError::Invalid {
            field: "numwant",
            expected: "a whole number of peers",
        });
    }
    // A huge request is capped later, not refused, however many digits it has.
    Ok(Some(digits(bytes).and_then(|n| u32::try_from(n).ok()).unwrap_or(u32::MAX)))
}

fn parse_event(bytes: &[u8]) -> Event {
    match bytes {
        b"started" => Event::Started,
        b"completed" => Event::Completed,
        b"stopped" => Event::Stopped,
        b"paused" => Event::Paused,
        // What some clients spell the absent event.
        b"" | b"empty" => Event::Periodic,
        // Read as no event, as the Go original does: refusing an extension would cost its
        // client the tracker.
        other => {
            let shown: String = String::from_utf8_lossy(other).chars().take(32).collect();
            tracing::debug!(event = shown, "unknown event read as none");
            Event::Periodic
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real-looking announce: binary info_hash with `%xx` in both cases and raw bytes.
    const HASH_ENCODED: &str = "%124Vx%9A%bc%DE%f0%01%23Eg%89%AB%cd%EF%00%FF%10%20";
    const HASH: [u8; 20] = [
        0x12, b'4', b'V', b'x', 0x9a, 0xbc, 0xde, 0xf0, 0x01, 0x23, b'E', b'g', 0x89, 0xab, 0xcd,
        0xef, 0x00, 0xff, 0x10, 0x20,
    ];

    fn announce_query(extra: &str) -> String {
        format!(
            "info_hash={HASH_ENCODED}&peer_id=-qB4650-a+b%2Bc*d.e~f_&port=6881&uploaded=1&downloaded=2&left=3{extra}"
        )
    }

    #[test]
    fn decodes_binary_ids_byte_for_byte() {
        let query = parse_announce(&announce_query("")).unwrap();
        assert_eq!(query.request.info_hash, InfoHash(HASH));
        // `+` stays a plus; `%2B` is a plus too.
        assert_eq!(&query.request.peer_id.0, b"-qB4650-a+b+c*d.e~f_");
        assert_eq!(query.request.port, 6881);
        assert_eq!(
            (query.request.uploaded, query.request.downloaded, query.request.left),
            (1, 2, 3)
        );
        assert_eq!(query.request.event, Event::Periodic);
        assert_eq!(query.request.numwant, None);
        assert!(query.compact);
        assert!(!query.no_peer_id);
    }

    #[test]
    fn keys_in_any_order_and_unknown_keys_ignored() {
        let query = "key=abc&left=0&port=1&event=completed&downloaded=0&trackerid=x&uploaded=9\
                     &peer_id=ABCDEFGHIJKLMNOPQRST&supportcrypto=1&info_hash=aaaaaaaaaaaaaaaaaaaa";
        let parsed = parse_announce(query).unwrap();
        assert_eq!(parsed.request.info_hash, InfoHash([b'a'; 20]));
        assert_eq!(parsed.request.event, Event::Completed);
        assert!(parsed.request.is_seeder());
    }

    #[test]
    fn the_key_is_read_however_it_is_spelt_and_an_empty_one_is_none() {
        let key = |extra: &str| parse_announce(&announce_query(extra)).unwrap().request.key;
        assert_eq!(key(""), None);
        assert_eq!(key("&key="), None);
        assert_eq!(key("&key=a1B2"), PeerKey::of(b"a1B2"));
        assert_eq!(key("&key=a%31B2"), PeerKey::of(b"a1B2"));
        assert_eq!(key("&%6Bey=a1B2"), PeerKey::of(b"a1B2"));
        assert_eq!(key("&key=%FF%00+"), PeerKey::of(&[0xff, 0, b'+']));
        assert_ne!(key("&key=a1B2"), key("&key=A1B2"));
    }

    #[test]
    fn reads_answer_format_options() {
        let parsed = parse_announce(&announce_query("&compact=0&no_peer_id=1&numwant=7")).unwrap();
        assert!(!parsed.compact);
        assert!(parsed.no_peer_id);
        assert_eq!(parsed.request.numwant, Some(7));
    }

    #[test]
    fn events() {
        for (text, event) in [
            ("started", Event::Started),
            ("stopped", Event::Stopped),
            ("completed", Event::Completed),
            ("", Event::Periodic),
            ("empty", Event::Periodic),
            ("paused", Event::Paused),
        ] {
            let parsed = parse_announce(&announce_query(&format!("&event={text}"))).unwrap();
            assert_eq!(parsed.request.event, event, "event={text}");
        }
    }

    #[test]
    fn an_event_nobody_defines_is_read_as_none() {
        // As the Go original does: a client that sends an extension keeps its tracker.
        for unknown in ["exploded", "%FF%00", "STARTED"] {
            let parsed = parse_announce(&announce_query(&format!("&event={unknown}"))).unwrap();
            assert_eq!(parsed.request.event, Event::Periodic, "event={unknown}");
        }
    }

    #[test]
    fn numwant_negative_means_default_and_huge_is_capped_later() {
        let minus_one = parse_announce(&announce_query("&numwant=-1")).unwrap();
        assert_eq!(minus_one.request.numwant, None);
        let huge = parse_announce(&announce_query("&numwant=99999999999")).unwrap();
        assert_eq!(huge.request.numwant, Some(u32::MAX));
        for beyond_u64 in ["99999999999999999999999", "%399999999999999999999999"] {
            let parsed = parse_announce(&announce_query(&format!("&numwant={beyond_u64}")));
            assert_eq!(parsed.unwrap().request.numwant, Some(u32::MAX), "{beyond_u64}");
        }
        let minus_huge = parse_announce(&announce_query("&numwant=-99999999999999999999999"));
        assert_eq!(minus_huge.unwrap().request.numwant, None);
        let err = parse_announce(&announce_query("&numwant=lots")).unwrap_err();
        assert_eq!(err.to_string(), "invalid numwant: expected a whole number of peers");
    }

    #[test]
    fn claimed_ip_is_read_when_literal() {
        let v4 = parse_announce(&announce_query("&ip=192.0.2.9")).unwrap();
        assert_eq!(v4.request.claimed_ip, Some("192.0.2.9".parse().unwrap()));
        let named = parse_announce(&announce_query("&ip=example.org")).unwrap();
        assert_eq!(named.request.claimed_ip, None);
    }

    #[test]
    fn missing_fields_are_named() {
        for field in ["info_hash", "peer_id", "port", "uploaded", "downloaded", "left"] {
            let query: Vec<String> = announce_query("")
                .split('&')
                .filter(|pair| !pair.starts_with(&format!("{field}=")))
                .map(str::to_owned)
                .collect();
            let err = parse_announce(&query.join("&")).unwrap_err();
            assert_eq!(err, RequestError::Missing(field));
            assert_eq!(err.to_string(), format!("missing {field}"));
        }
    }

    #[test]
    fn malformed_fields_say_what_was_expected() {
        let cases = [
            ("info_hash=%12%34", "invalid info_hash: must be 20 bytes, got 2"),
            ("peer_id=123456789012345678901", "invalid peer_id: must be 20 bytes, got 21"),
            ("port=65536", "invalid port: expected a port number from 1 to 65535"),
            ("port=-1", "invalid port: expected a port number from 1 to 65535"),
            ("port=", "invalid port: expected a port number from 1 to 65535"),
            ("left=ten", "invalid left: expected a whole number of bytes"),
            ("uploaded=1.5", "invalid uploaded: expected a whole number of bytes"),
            ("downloaded=-3", "invalid downloaded: expected a whole number of bytes"),
        ];
        for (bad, message) in cases {
            let err = parse_announce(&format!("{}&{bad}", announce_query(""))).unwrap_err();
            assert_eq!(err.to_string(), message, "{bad}");
        }
    }

    #[test]
    fn port_zero_parses_so_the_domain_can_refuse_it() {
        let parsed = parse_announce(&announce_query("&port=0")).unwrap();
        assert_eq!(parsed.request.port, 0);
    }

    #[test]
    fn scrape_takes_repeated_hashes() {
        let query = format!("info_hash={HASH_ENCODED}&info_hash=bbbbbbbbbbbbbbbbbbbb&other=1");
        let hashes = parse_scrape(&query, 10).unwrap();
        assert_eq!(hashes, vec![InfoHash(HASH), InfoHash([b'b'; 20])]);
    }

    #[test]
    fn scrape_limits() {
        assert_eq!(parse_scrape("", 10), Err(RequestError::Missing("info_hash")));
        let three = ["info_hash=aaaaaaaaaaaaaaaaaaaa"; 3].join("&");
        assert_eq!(
            parse_scrape(&three, 2).unwrap_err().to_string(),
            "too many info_hash values: 3, the limit is 2"
        );
        assert_eq!(
            parse_scrape("info_hash=short", 2).unwrap_err().to_string(),
            "invalid info_hash: must be 20 bytes, got 5"
        );
    }

    #[test]
    fn overlong_queries_are_refused() {
        assert_eq!(check_length("abc", 3), Ok(()));
        assert_eq!(
            check_length("abcd", 3).unwrap_err().to_string(),
            "request too long: the query is 4 bytes, the limit is 3"
        );
    }

    #[test]
    fn ids_decode_as_the_percent_encoding_crate_does() {
        // Stray and broken escapes are literal bytes, in every position.
        for raw in
            ["%41%4a%zz%4%g%%25abcdefghij", "abcdefghijklmnopqr%4", "abcdefghijklmnopqrs%", "%FF"]
        {
            let expected: Vec<u8> = percent_decode(raw.as_bytes()).collect();
            match decode_id("peer_id", raw.as_bytes()) {
                Ok(id) => assert_eq!(id.to_vec(), expected, "{raw}"),
                Err(error) => {
                    assert_eq!(
                        error,
                        RequestError::WrongLength { field: "peer_id", len: expected.len() }
                    )
                }
            }
        }
        assert!(decode_id("peer_id", b"abcdefghijklmnopqr%4").is_ok());
    }

    #[test]
    fn values_read_in_place_end_exactly_where_the_split_ones_do() {
        const ID: &str = "%26%3D%25aaaaaaaaaaaaaaaaa";
        let parsed = |query: &str| parse_announce(query).map(|q| q.request);
        let base = "peer_id=bbbbbbbbbbbbbbbbbbbb&port=1&uploaded=1&downloaded=2&left=3";
        // Escaped `&`, `=` and `%` are id bytes; a plain `&` ends the id.
        let ok = parsed(&format!("info_hash={ID}&{base}")).unwrap();
        assert_eq!(&ok.info_hash.as_bytes()[..3], b"&=%");
        let short = parsed(&format!("info_hash={}&{base}", &ID[..ID.len() - 1]));
        assert_eq!(short, Err(RequestError::WrongLength { field: "info_hash", len: 19 }));
        let long = parsed(&format!("{base}&info_hash={ID}a"));
        assert_eq!(long, Err(RequestError::WrongLength { field: "info_hash", len: 21 }));
        // Numbers: plain digits, escaped ones, and what is not a number.
        let query = |left: &str| format!("info_hash={ID}&{base}&left={left}&event=started");
        assert_eq!(parsed(&query("42")).unwrap().left, 42);
        assert_eq!(parsed(&query("%342")).unwrap().left, 42);
        let not_a_number =
            Err(RequestError::Invalid { field: "left", expected: "a whole number of bytes" });
        for bad in ["", "4x2", "-1", "99999999999999999999", "4=2"] {
            assert_eq!(parsed(&query(bad)), not_a_number, "{bad:?}");
        }
        let port = |port: &str| parsed(&format!("info_hash={ID}&{base}&port={port}"));
        assert_eq!(port("65535").unwrap().port, 65535);
        assert_eq!(port("65536"), Err(port_error()));
        // An escaped key, and a repeated one: the last value counts.
        let escaped = parsed(&format!("info%5Fhash={ID}&{base}&left=7&left=8")).unwrap();
        assert_eq!((escaped.info_hash.as_bytes()[0], escaped.left), (b'&', 8));
    }

    #[test]
    fn empty_and_odd_pairs_do_not_confuse_the_splitter() {
        let got: Vec<_> =
            pairs("&&a=1&&b&=2&c=x=y").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"".to_vec()),
            (b"".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"x=y".to_vec()),
        ];
        assert_eq!(got, want);
    }
}
