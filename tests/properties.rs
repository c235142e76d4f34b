//! Property tests for the code that reads untrusted bytes: the announce and scrape query
//! parser, the UDP (BEP 15) request reader, the bencode decoder (with the encoder, in round
//! trips) and the readers of upstream answers, HTTP and UDP. The fuzz targets under `fuzz/` search the same code far longer; these keep the
//! main claims checked on every `cargo test`.
//!
//! 128 cases per property unless `PROPTEST_CASES` is set (set it high for a long local run).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use retracker::adapters::bencode::decode::{DecodeError, MAX_DEPTH, Value, decode};
use retracker::adapters::bencode::encode;
use retracker::adapters::forwarder::answer;
use retracker::adapters::forwarder::udp_codec::{self, Answer};
use retracker::adapters::http::query::{self, AnnounceQuery, RequestError};
use retracker::adapters::udp::request::{self as udp, Malformed, Request};
use retracker::domain::address;
use retracker::domain::announce::AnnounceRequest;
use retracker::domain::identity::PeerKey;
use retracker::domain::ids::{InfoHash, PeerId};
use retracker::domain::peer::{AnyEndpoint, Event};
use retracker::ports::UpstreamError;

fn config() -> ProptestConfig {
    let default = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_some() {
        default
    } else {
        ProptestConfig { cases: 128, ..default }
    }
}

// ---------------------------------------------------------------------------------------------
// Query strings
// ---------------------------------------------------------------------------------------------

/// Bytes a client may send without escaping: RFC 3986's unreserved set, plus `+`, which BEP 3
/// queries treat as a literal byte.
const SENT_RAW: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+";

/// How one byte is written: raw when it may be, and the case of each hex digit of `%XX`.
#[derive(Debug, Clone, Copy)]
struct ByteStyle {
    raw_if_allowed: bool,
    upper_high: bool,
    upper_low: bool,
}

fn byte_style() -> impl Strategy<Value = ByteStyle> {
    any::<(bool, bool, bool)>().prop_map(|(raw_if_allowed, upper_high, upper_low)| ByteStyle {
        raw_if_allowed,
        upper_high,
        upper_low,
    })
}

/// Percent-encodes bytes the way assorted clients do, cycling through generated styles.
#[derive(Debug, Clone)]
struct ClientEncoder {
    styles: Vec<ByteStyle>,
    next: usize,
}

impl ClientEncoder {
    fn encode(&mut self, bytes: &[u8]) -> String {
        let mut out = String::new();
        for &byte in bytes {
            let style = self.styles[self.next % self.styles.len()];
            self.next += 1;
            if style.raw_if_allowed && SENT_RAW.contains(&byte) {
                out.push(char::from(byte));
            } else {
                out.push('%');
                out.push(hex_digit(byte >> 4, style.upper_high));
                out.push(hex_digit(byte & 0xf, style.upper_low));
            }
        }
        out
    }

    fn pair(&mut self, key: &[u8], value: &[u8]) -> String {
        format!("{}={}", self.encode(key), self.encode(value))
    }
}

fn hex_digit(nibble: u8, upper: bool) -> char {
    let digit = char::from_digit(u32::from(nibble), 16).expect("a nibble is below 16");
    if upper { digit.to_ascii_uppercase() } else { digit }
}

fn client_encoder() -> impl Strategy<Value = ClientEncoder> {
    vec(byte_style(), 1..48).prop_map(|styles| ClientEncoder { styles, next: 0 })
}

/// Twenty bytes, biased towards bytes that may travel raw so both spellings are common.
fn id_bytes() -> impl Strategy<Value = [u8; 20]> {
    proptest::array::uniform20(prop_oneof![any::<u8>(), select(SENT_RAW)])
}

/// How `numwant` is sent, and what the parser should make of it.
#[derive(Debug, Clone, Copy)]
enum Numwant {
    Absent,
    /// `-<n>`: "whatever the tracker's default is".
    Negative(u32),
    Exact(u32),
    /// More than a u32 holds, with this many more digits after it (past what a u64
    /// holds); capped rather than refused.
    Huge(u64, usize),
}

impl Numwant {
    fn text(self) -> Option<String> {
        match self {
            Self::Absent => None,
            Self::Negative(n) => Some(format!("-{n}")),
            Self::Exact(n) => Some(n.to_string()),
            Self::Huge(n, more) => Some(format!("{n}{}", "9".repeat(more))),
        }
    }

    fn parsed(self) -> Option<u32> {
        match self {
            Self::Absent | Self::Negative(_) => None,
            Self::Exact(n) => Some(n),
            Self::Huge(..) => Some(u32::MAX),
        }
    }
}

fn numwant() -> impl Strategy<Value = Numwant> {
    prop_oneof![
        Just(Numwant::Absent),
        any::<u32>().prop_map(Numwant::Negative),
        any::<u32>().prop_map(Numwant::Exact),
        (u64::from(u32::MAX) + 1..=u64::MAX, 0usize..30)
            .prop_map(|(n, more)| Numwant::Huge(n, more)),
    ]
}

/// Every spelling of `event` a client may use, and the event it means.
const EVENTS: &[(Option<&str>, Event)] = &[
    (None, Event::Periodic),
    (Some(""), Event::Periodic),
    (Some("empty"), Event::Periodic),
    (Some("paused"), Event::Paused),
    (Some("started"), Event::Started),
    (Some("completed"), Event::Completed),
    (Some("stopped"), Event::Stopped),
];

/// Everything an announce carries, as the client means it.
#[derive(Debug, Clone)]
struct Announce {
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    port: u16,
    uploaded: u64,
    downloaded: u64,
    left: u64,
    event: (Option<&'static str>, Event),
    numwant: Numwant,
    claimed_ip: Option<IpAddr>,
    compact: Option<bool>,
    no_peer_id: Option<bool>,
    key: Option<Vec<u8>>,
}

impl Announce {
    fn pairs(&self, encoder: &mut ClientEncoder) -> Vec<String> {
        let mut pairs = vec![
            encoder.pair(b"info_hash", &self.info_hash),
            encoder.pair(b"peer_id", &self.peer_id),
            encoder.pair(b"port", self.port.to_string().as_bytes()),
            encoder.pair(b"uploaded", self.uploaded.to_string().as_bytes()),
            encoder.pair(b"downloaded", self.downloaded.to_string().as_bytes()),
            encoder.pair(b"left", self.left.to_string().as_bytes()),
            // Real clients send keys the tracker does not know; they must change nothing.
            encoder.pair(b"supportcrypto", b"1"),
            encoder.pair(b"corrupt", b"0"),
        ];
        if let Some(key) = &self.key {
            pairs.push(encoder.pair(b"key", key));
        }
        if let Some(event) = self.event.0 {
            pairs.push(encoder.pair(b"event", event.as_bytes()));
        }
        if let Some(numwant) = self.numwant.text() {
            pairs.push(encoder.pair(b"numwant", numwant.as_bytes()));
        }
        if let Some(ip) = self.claimed_ip {
            pairs.push(encoder.pair(b"ip", ip.to_string().as_bytes()));
        }
        if let Some(compact) = self.compact {
            pairs.push(encoder.pair(b"compact", if compact { b"1" } else { b"0" }));
        }
        if let Some(no_peer_id) = self.no_peer_id {
            pairs.push(encoder.pair(b"no_peer_id", if no_peer_id { b"1" } else { b"0" }));
        }
        pairs
    }

    fn expected(&self) -> AnnounceQuery {
        AnnounceQuery {
            request: AnnounceRequest {
                info_hash: InfoHash(self.info_hash),
                peer_id: PeerId(self.peer_id),
                port: self.port,
                uploaded: self.uploaded,
                downloaded: self.downloaded,
                left: self.left,
                event: self.event.1,
                numwant: self.numwant.parsed(),
                claimed_ip: self.claimed_ip,
                peer_ids: !self.compact.unwrap_or(true) && !self.no_peer_id.unwrap_or(false),
                key: self.key.as_deref().and_then(PeerKey::of),
            },
            compact: self.compact.unwrap_or(true),
            no_peer_id: self.no_peer_id.unwrap_or(false),
        }
    }
}

prop_compose! {
    fn announce()(
        info_hash in id_bytes(),
        peer_id in id_bytes(),
        port in any::<u16>(),
        (uploaded, downloaded, left) in any::<(u64, u64, u64)>(),
        event in select(EVENTS),
        numwant in numwant(),
        claimed_ip in proptest::option::of(any::<IpAddr>()),
        compact in proptest::option::of(any::<bool>()),
        no_peer_id in proptest::option::of(any::<bool>()),
        key in proptest::option::of(vec(any::<u8>(), 0..12)),
    ) -> Announce {
        Announce {
            info_hash, peer_id, port, uploaded, downloaded, left, event, numwant, claimed_ip,
            compact, no_peer_id, key,
        }
    }
}

/// An announce, and its query with the pairs in a random order.
fn announce_and_query() -> impl Strategy<Value = (Announce, String)> {
    (announce(), client_encoder()).prop_flat_map(|(announce, mut encoder)| {
        let pairs = announce.pairs(&mut encoder);
        (Just(announce), Just(pairs).prop_shuffle().prop_map(|pairs| pairs.join("&")))
    })
}

/// Pieces that steer random text towards the parser's interesting paths.
const QUERY_TOKENS: &[&str] = &[
    "info_hash=",
    "peer_id=",
    "port=",
    "uploaded=",
    "downloaded=",
    "left=",
    "event=",
    "numwant=",
    "ip=",
    "compact=",
    "no_peer_id=",
    "key=",
    "%69nfo_hash=",
    "&",
    "=",
    "%",
    "%2",
    "%zz",
    "%ff",
    "%FF",
    "%00",
    "+",
    "-",
    "-1",
    "0",
    "1",
    "65535",
    "65536",
    "1234567890123456789",
    "18446744073709551616",
    "%30",
    "started",
    "::1",
    "192.0.2.1",
    "aaaaaaaaaaaaaaaaaaaa",
    "%aa%bb%cc%dd%ee%ff%00%11%22%33",
];

fn query_soup() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        vec(any::<u8>(), 0..256).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
        vec(
            prop_oneof![3 => select(QUERY_TOKENS).prop_map(str::to_owned), 1 => "\\PC{0,4}"],
            0..40
        )
        .prop_map(|tokens| tokens.concat()),
    ]
}

/// The tokens that are a key and its `=`, and the others, values and pieces of values.
fn query_keys_and_values() -> (Vec<&'static str>, Vec<&'static str>) {
    QUERY_TOKENS.iter().partition(|token| token.len() > 1 && token.ends_with('='))
}

/// A whole announce, for queries whose other pairs should show in a parsed answer.
const WHOLE_ANNOUNCE: &str = concat!(
    "info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb",
    "&port=1&uploaded=2&downloaded=3&left=4"
);

/// `query` with the first byte of every key escaped: the parser reads such a pair the general
/// way (split, decoded, then read) where it reads a plain key's value in place. A key already
/// escaped, an empty one and a non-ASCII first byte are left as they are.
fn keys_escaped(query: &str) -> String {
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.as_bytes().first() {
            Some(&first) if first.is_ascii() && first != b'%' && first != b'=' => {
                format!("%{first:02X}{}", &pair[1..])
            }
            _ => pair.to_owned(),
        })
        .collect();
    pairs.join("&")
}

proptest! {
    #![proptest_config(config())]

    /// Anything at all is either an announce or an error that says what is wrong, in a
    /// bounded number of characters (the text goes back to the client).
    #[test]
    fn any_query_parses_or_fails_cleanly(query in query_soup()) {
        let _ = query::pairs(&query).count();
        if let Err(error) = query::parse_announce(&query) {
            prop_assert!(error.to_string().chars().count() <= 128, "{error}");
        }
        match query::parse_scrape(&query, 5) {
            Ok(hashes) => prop_assert!((1..=5).contains(&hashes.len())),
            Err(error) => prop_assert!(error.to_string().chars().count() <= 128, "{error}"),
        }
    }

    /// Values read in place come out as the general way reads them, errors included.
    #[test]
    fn in_place_reading_agrees_with_the_general_way(
        pairs in vec((select(query_keys_and_values().0), select(query_keys_and_values().1)), 1..4),
    ) {
        // A few pairs, a key and a token for its value, so that every field meets values right
        // and wrong; few, so that one wrong value seldom makes the whole query an error, which
        // would hide how the others were read.
        let pairs: Vec<String> = pairs.iter().map(|(key, value)| format!("{key}{value}")).collect();
        let query = format!("{WHOLE_ANNOUNCE}&{}", pairs.join("&"));
        prop_assert_eq!(
            query::parse_announce(&query),
            query::parse_announce(&keys_escaped(&query)),
            "query: {}", query
        );
    }

    /// The splitter hands back exactly the pairs that were written, escapes undone.
    #[test]
    fn pairs_decode_to_the_bytes_written(
        written in vec((vec(any::<u8>(), 0..8), vec(any::<u8>(), 0..8)), 0..8),
        mut encoder in client_encoder(),
    ) {
        let query: Vec<String> = written.iter().map(|(k, v)| encoder.pair(k, v)).collect();
        let query = query.join("&");
        let read: Vec<(Vec<u8>, Vec<u8>)> =
            query::pairs(&query).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        prop_assert_eq!(read, written, "query: {}", query);
    }

    /// Binary ids in any mix of escapes and raw bytes, and every number field, come back
    /// exactly as the client meant them, whatever the order of the pairs.
    #[test]
    fn announce_round_trips((announce, query) in announce_and_query()) {
        let parsed = query::parse_announce(&query);
        prop_assert_eq!(parsed, Ok(announce.expected()), "query: {}", query);
    }

    /// Every `info_hash` of a scrape is read, in order, up to the limit and no further.
    #[test]
    fn scrape_round_trips(
        hashes in vec(id_bytes(), 1..8),
        max in 0usize..10,
        mut encoder in client_encoder(),
    ) {
        let mut pairs: Vec<String> =
            hashes.iter().map(|hash| encoder.pair(b"info_hash", hash)).collect();
        pairs.insert(pairs.len() / 2, encoder.pair(b"peer_id", b"not a scrape key"));
        let query = pairs.join("&");
        let expected = if hashes.len() <= max {
            Ok(hashes.iter().copied().map(InfoHash).collect())
        } else {
            Err(RequestError::TooManyHashes { count: hashes.len(), max })
        };
        prop_assert_eq!(query::parse_scrape(&query, max), expected, "query: {}", query);
    }
}

// ---------------------------------------------------------------------------------------------
// Bencode
// ---------------------------------------------------------------------------------------------

/// An owned bencode value, to generate and to compare decoded values with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tree {
    Integer(i64),
    Bytes(Vec<u8>),
    List(Vec<Tree>),
    Dict(Vec<(Vec<u8>, Tree)>),
}

impl Tree {
    fn from_value(value: &Value<'_>) -> Self {
        match value {
            Value::Integer(n) => Self::Integer(*n),
            Value::Bytes(bytes) => Self::Bytes(bytes.to_vec()),
            Value::List(items) => Self::List(items.iter().map(Self::from_value).collect()),
            Value::Dict(pairs) => {
                Self::Dict(pairs.iter().map(|(k, v)| (k.to_vec(), Self::from_value(v))).collect())
            }
        }
    }

    /// Written with the crate's encoder; it has no negative integers (the tracker never sends
    /// one), so those are written here by hand.
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::Integer(n) => match u64::try_from(*n) {
                Ok(n) => encode::integer(out, n),
                Err(_) => out.extend_from_slice(format!("i{n}e").as_bytes()),
            },
            Self::Bytes(bytes) => encode::bytes(out, bytes),
            Self::List(items) => {
                encode::list_start(out);
                items.iter().for_each(|item| item.write(out));
                encode::end(out);
            }
            Self::Dict(pairs) => {
                encode::dict_start(out);
                for (key, value) in pairs {
                    encode::bytes(out, key);
                    value.write(out);
                }
                encode::end(out);
            }
        }
    }

    fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }
}

/// Nested values up to six levels deep; dictionary keys from `key`, in any order, repeats
/// allowed (the decoder keeps pairs as they came).
fn tree(integer: BoxedStrategy<i64>, key: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        integer.prop_map(Tree::Integer),
        vec(any::<u8>(), 0..24).prop_map(Tree::Bytes),
    ];
    leaf.prop_recursive(6, 64, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Tree::List),
            vec((key.clone(), inner), 0..6).prop_map(Tree::Dict),
        ]
    })
}

fn small_integer() -> BoxedStrategy<i64> {
    prop_oneof![any::<i64>(), -2i64..70_000].boxed()
}

fn any_key() -> BoxedStrategy<Vec<u8>> {
    vec(any::<u8>(), 0..12).boxed()
}

/// Pieces of bencode, so random input gets past the first byte often.
const BENCODE_TOKENS: &[&[u8]] = &[
    b"i",
    b"e",
    b"l",
    b"d",
    b"-",
    b"0",
    b"1",
    b"9",
    b":",
    b"i0e",
    b"i-1e",
    b"i-0e",
    b"i01e",
    b"0:",
    b"1:a",
    b"2:ab",
    b"5:peers",
    b"6:peers6",
    b"8:interval",
    b"2:ip",
    b"4:port",
    b"7:peer id",
    b"14:failure reason",
    b"6:\x7f\x00\x00\x01\x1a\xe1",
    b"99999999999999999999:",
];

/// What the deepest container of a nesting test holds: a scalar or an empty container.
const INNERMOST: &[&[u8]] = &[b"i7e", b"0:", b"le", b"de"];

/// One small change to otherwise valid bencode.
#[derive(Debug, Clone)]
enum Damage {
    Insert(Vec<u8>),
    Delete(usize),
    Replace(u8),
}

fn damage() -> impl Strategy<Value = (proptest::sample::Index, Damage)> {
    let change = prop_oneof![
        select(BENCODE_TOKENS).prop_map(|token| Damage::Insert(token.to_vec())),
        (1usize..4).prop_map(Damage::Delete),
        any::<u8>().prop_map(Damage::Replace),
    ];
    (any::<proptest::sample::Index>(), change)
}

/// Valid bencode with a few small changes: near misses test the decoder's rules best.
fn damaged_bencode() -> impl Strategy<Value = Vec<u8>> {
    (tree(small_integer(), any_key()), vec(damage(), 1..4)).prop_map(|(tree, damages)| {
        let mut bytes = tree.encoded();
        for (at, damage) in damages {
            let at = at.index(bytes.len() + 1);
            match damage {
                Damage::Insert(token) => drop(bytes.splice(at..at, token)),
                Damage::Delete(len) => drop(bytes.drain(at..(at + len).min(bytes.len()))),
                Damage::Replace(byte) if at < bytes.len() => bytes[at] = byte,
                Damage::Replace(byte) => bytes.push(byte),
            }
        }
        bytes
    })
}

fn bencode_soup() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..256),
        vec(
            prop_oneof![
                4 => select(BENCODE_TOKENS).prop_map(<[u8]>::to_vec),
                1 => vec(any::<u8>(), 1..3),
            ],
            0..48
        )
        .prop_map(|tokens| tokens.concat()),
        damaged_bencode(),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the encoder writes, the decoder reads back as the same value.
    #[test]
    fn bencode_round_trips(value in tree((0..=i64::MAX).boxed(), any_key())) {
        let bytes = value.encoded();
        let decoded = decode(&bytes).map(|v| Tree::from_value(&v));
        prop_assert_eq!(decoded, Ok(value));
    }

    /// Every i64 reads back, the extremes and negatives included.
    #[test]
    fn integers_round_trip(n in any::<i64>()) {
        let text = format!("i{n}e");
        prop_assert_eq!(decode(text.as_bytes()), Ok(Value::Integer(n)));
    }

    /// The encoder writes u64; above i64::MAX the decoder refuses rather than wrapping.
    #[test]
    fn encoded_u64_reads_back_or_is_refused(n in prop_oneof![any::<u64>(), Just(u64::MAX)]) {
        let mut bytes = Vec::new();
        encode::integer(&mut bytes, n);
        let expected = i64::try_from(n)
            .map(Value::Integer)
            .map_err(|_| DecodeError::BadInteger { at: 1 });
        prop_assert_eq!(decode(&bytes), expected);
    }

    /// Arbitrary input is decoded or refused, and whatever is accepted was already in the one
    /// spelling bencode allows: writing it again gives back the very same bytes.
    #[test]
    fn decoder_accepts_only_canonical_input(input in bencode_soup()) {
        if let Ok(value) = decode(&input) {
            prop_assert_eq!(Tree::from_value(&value).encoded(), input);
        }
    }

    /// Numbers spelled any way but the one bencode allows are refused, wherever they sit.
    #[test]
    fn numbers_in_other_spellings_are_refused(
        before in tree(small_integer(), any_key()),
        after in tree(small_integer(), any_key()),
        n in any::<u32>(),
        bytes in vec(any::<u8>(), 0..8),
        spelling in 0usize..9,
    ) {
        let bad = match spelling {
            0 => format!("i0{n}e").into_bytes(),
            1 => format!("i-0{n}e").into_bytes(),
            2 => b"i-0e".to_vec(),
            3 => format!("i+{n}e").into_bytes(),
            4 => format!("i {n}e").into_bytes(),
            5 => b"ie".to_vec(),
            6 => [format!("0{}:", bytes.len()).as_bytes(), &bytes].concat(),
            7 => [format!("+{}:", bytes.len()).as_bytes(), &bytes].concat(),
            _ => [format!("-{}:", bytes.len()).as_bytes(), &bytes].concat(),
        };
        let input = [&b"l"[..], &before.encoded(), &bad, &after.encoded(), b"e"].concat();
        prop_assert!(decode(&input).is_err(), "{}", String::from_utf8_lossy(&input));
    }

    /// A value nested up to the cap decodes; one level more is `TooDeep`, closed or not, and
    /// never a stack overflow; an unclosed shallow value is `UnexpectedEnd`.
    #[test]
    fn nesting_is_capped(
        containers in vec(any::<bool>(), 0..2_000),
        innermost in select(INNERMOST),
        unclosed in 0usize..3,
    ) {
        let depth = containers.len();
        let mut input = Vec::new();
        for &is_list in &containers {
            input.extend_from_slice(if is_list { b"l" } else { b"d1:k" });
        }
        input.extend_from_slice(innermost);
        let closed = depth.saturating_sub(unclosed);
        input.extend(std::iter::repeat_n(b'e', closed));

        // The innermost value sits at depth `depth` (the outermost is at 0).
        let result = decode(&input);
        if depth > MAX_DEPTH {
            prop_assert_eq!(result, Err(DecodeError::TooDeep));
        } else if closed < depth {
            prop_assert_eq!(result, Err(DecodeError::UnexpectedEnd));
        } else {
            prop_assert!(result.is_ok(), "{depth} levels: {result:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Upstream answers
// ---------------------------------------------------------------------------------------------

/// Keys an upstream answer and its peers use, so generated dictionaries hit real paths.
const ANSWER_KEYS: &[&[u8]] = &[
    b"peers",
    b"peers6",
    b"interval",
    b"min interval",
    b"failure reason",
    b"ip",
    b"port",
    b"peer id",
    b"complete",
];

fn answer_key() -> BoxedStrategy<Vec<u8>> {
    let known = select(ANSWER_KEYS).prop_map(<[u8]>::to_vec);
    prop_oneof![4 => known, 1 => vec(any::<u8>(), 0..6)].boxed()
}

fn ipv6_sometimes_mapped() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![any::<Ipv6Addr>(), any::<Ipv4Addr>().prop_map(|ip| ip.to_ipv6_mapped())]
}

/// A compact peer string: the address, then the port big-endian.
fn compact(octets: &[u8], port: u16) -> Vec<u8> {
    [octets, &port.to_be_bytes()].concat()
}

proptest! {
    #![proptest_config(config())]

    /// No body an upstream can send makes the reader panic, including well-formed bencode
    /// of the wrong shape; a refusal carries at most 200 characters of the upstream's text.
    #[test]
    fn any_upstream_body_is_read_or_refused(
        body in prop_oneof![
            bencode_soup(),
            tree(small_integer(), answer_key()).prop_map(|tree| tree.encoded()),
        ]
    ) {
        match answer::parse(&body) {
            Ok(answer) => {
                let listable = |e: AnyEndpoint| e.port() != 0 && address::is_listable(e.ip());
                prop_assert!(answer.peers.endpoints().all(listable));
            }
            Err(UpstreamError::Refused(text)) => prop_assert!(text.chars().count() <= 200),
            Err(_) => {}
        }
    }

    /// Compact peers come out as written, each once; port 0 and addresses no peer can be
    /// reached at are dropped, and a v4-mapped IPv6 address in `peers6` is an IPv4 peer.
    #[test]
    fn compact_peers_round_trip(
        v4 in vec((any::<Ipv4Addr>(), any::<u16>()), 0..12),
        v6 in vec((ipv6_sometimes_mapped(), any::<u16>()), 0..12),
        interval in proptest::option::of(0i64..100_000),
    ) {
        let compact4: Vec<u8> =
            v4.iter().flat_map(|(ip, port)| compact(&ip.octets(), *port)).collect();
        let compact6: Vec<u8> =
            v6.iter().flat_map(|(ip, port)| compact(&ip.octets(), *port)).collect();
        let mut pairs = vec![
            (b"peers".to_vec(), Tree::Bytes(compact4)),
            (b"peers6".to_vec(), Tree::Bytes(compact6)),
        ];
        if let Some(interval) = interval {
            pairs.insert(0, (b"interval".to_vec(), Tree::Integer(interval)));
        }
        let answer = answer::parse(&Tree::Dict(pairs).encoded()).unwrap();

        let mut want4: Vec<(Ipv4Addr, u16)> = v4.clone();
        let mut want6 = Vec::new();
        for &(ip, port) in &v6 {
            match ip.to_ipv4_mapped() {
                Some(ip) => want4.push((ip, port)),
                None => want6.push((ip, port)),
            }
        }
        want4.retain(|&(ip, port)| port != 0 && address::is_listable(IpAddr::V4(ip)));
        want6.retain(|&(ip, port)| port != 0 && address::is_listable(IpAddr::V6(ip)));
        // Kept sorted and without repeats, as the merge needs them.
        want4.sort_unstable();
        want4.dedup();
        want6.sort_unstable();
        want6.dedup();
        let (mut got4, mut got6) = (Vec::new(), Vec::new());
        for endpoint in answer.peers.endpoints() {
            match endpoint {
                AnyEndpoint::V4(e) => got4.push((e.ip, e.port)),
                AnyEndpoint::V6(e) => got6.push((e.ip, e.port)),
            }
        }
        prop_assert_eq!(got4, want4);
        prop_assert_eq!(got6, want6);
        let interval = interval.map(|s| std::time::Duration::from_secs(s.unsigned_abs()));
        prop_assert_eq!(answer.interval, interval);
    }
}

// ---------------------------------------------------------------------------------------------
// UDP datagrams
// ---------------------------------------------------------------------------------------------

/// The scrape limit the UDP properties parse under.
const UDP_HASH_LIMIT: usize = 74;

/// An announce's fields as a client might send them, and bytes to follow its 98.
#[derive(Debug, Clone)]
struct UdpAnnounce {
    connection_id: u64,
    transaction_id: u32,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    numbers: [u64; 3],
    event: u32,
    ip: [u8; 4],
    key: u32,
    num_want: i32,
    port: u16,
    trailer: Vec<u8>,
}

prop_compose! {
    fn udp_announce()(
        connection_id in any::<u64>(),
        transaction_id in any::<u32>(),
        info_hash in id_bytes(),
        peer_id in id_bytes(),
        numbers in any::<[u64; 3]>(),
        event in 0u32..4,
        ip in any::<[u8; 4]>(),
        key in any::<u32>(),
        num_want in any::<i32>(),
        port in any::<u16>(),
        trailer in vec(any::<u8>(), 0..40),
    ) -> UdpAnnounce {
        UdpAnnounce {
            connection_id, transaction_id, info_hash, peer_id, numbers, event, ip, key,
            num_want, port, trailer,
        }
    }
}

impl UdpAnnounce {
    fn packet(&self) -> Vec<u8> {
        let mut packet = self.connection_id.to_be_bytes().to_vec();
        packet.extend(udp::ACTION_ANNOUNCE.to_be_bytes());
        packet.extend(self.transaction_id.to_be_bytes());
        packet.extend(self.info_hash);
        packet.extend(self.peer_id);
        for number in self.numbers {
            packet.extend(number.to_be_bytes());
        }
        packet.extend(self.event.to_be_bytes());
        packet.extend(self.ip);
        packet.extend(self.key.to_be_bytes());
        packet.extend(self.num_want.to_be_bytes());
        packet.extend(self.port.to_be_bytes());
        packet.extend(&self.trailer);
        packet
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes at all are read or refused, never a panic; a refusal without a header is
    /// the silent kind, and nothing shorter than an announce reads as one.
    #[test]
    fn any_datagram_parses_or_fails_cleanly(packet in vec(any::<u8>(), 0..200)) {
        match udp::parse(&packet, UDP_HASH_LIMIT) {
            Err(Malformed::TooShort(len)) => prop_assert!(len < udp::HEADER_LEN),
            Ok(Request::Announce(_)) => prop_assert!(packet.len() >= udp::ANNOUNCE_LEN),
            _ => prop_assert!(packet.len() >= udp::HEADER_LEN),
        }
    }

    /// Every field of an announce reads back as written, whatever follows it.
    #[test]
    fn udp_announce_round_trips(sent in udp_announce()) {
        let Ok(Request::Announce(read)) = udp::parse(&sent.packet(), UDP_HASH_LIMIT) else {
            return Err(TestCaseError::fail("not read as an announce"));
        };
        let events = [Event::Periodic, Event::Completed, Event::Started, Event::Stopped];
        prop_assert_eq!(read.connection_id, sent.connection_id);
        prop_assert_eq!(read.transaction_id, sent.transaction_id);
        prop_assert_eq!(read.info_hash, InfoHash(sent.info_hash));
        prop_assert_eq!(read.peer_id, PeerId(sent.peer_id));
        prop_assert_eq!([read.downloaded, read.left, read.uploaded], sent.numbers);
        prop_assert_eq!(read.event, events[sent.event as usize]);
        let ip = Some(Ipv4Addr::from(sent.ip)).filter(|ip| !ip.is_unspecified());
        prop_assert_eq!(read.ip, ip);
        prop_assert_eq!(read.key, sent.key);
        prop_assert_eq!(read.num_want, u32::try_from(sent.num_want).ok());
        prop_assert_eq!(read.port, sent.port);
    }

    /// A scrape reads back its hashes in order, up to the limit and no further.
    #[test]
    fn udp_scrape_round_trips(
        hashes in vec(id_bytes(), 1..=UDP_HASH_LIMIT + 3),
        transaction_id in any::<u32>(),
    ) {
        let mut packet = 7u64.to_be_bytes().to_vec();
        packet.extend(udp::ACTION_SCRAPE.to_be_bytes());
        packet.extend(transaction_id.to_be_bytes());
        packet.extend(hashes.iter().flatten());
        match udp::parse(&packet, UDP_HASH_LIMIT) {
            Ok(Request::Scrape(scrape)) => {
                prop_assert!(hashes.len() <= UDP_HASH_LIMIT);
                let expected: Vec<InfoHash> = hashes.iter().copied().map(InfoHash).collect();
                prop_assert_eq!(scrape.info_hashes, expected);
                prop_assert_eq!(scrape.transaction_id, transaction_id);
            }
            Err(Malformed::Answerable { .. }) => prop_assert!(hashes.len() > UDP_HASH_LIMIT),
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// No datagram a UDP upstream can send makes the client's reader panic; only an answer
    /// carrying our transaction id counts, and what it yields is bounded like HTTP's.
    #[test]
    fn any_udp_upstream_datagram_is_read_or_ignored(
        action in 0u32..5,
        ours in any::<bool>(),
        body in vec(any::<u8>(), 0..200),
        ipv6 in any::<bool>(),
    ) {
        const SENT: u32 = 0x5eed;
        let transaction_id = if ours { SENT } else { SENT + 1 };
        let packet = [&action.to_be_bytes()[..], &transaction_id.to_be_bytes(), &body].concat();
        match udp_codec::read_answer(&packet, SENT, ipv6) {
            Answer::Foreign => prop_assert!(!ours),
            Answer::Announced { peers, .. } => {
                prop_assert!(ours && action == 1);
                let listable = |e: AnyEndpoint| e.port() != 0 && address::is_listable(e.ip());
                prop_assert!(peers.endpoints().all(listable));
                prop_assert!(peers.len() <= body.len() / 6);
            }
            Answer::Error(text) => prop_assert!(ours && text.chars().count() <= 200),
            Answer::Connected(_) | Answer::Malformed(_) => prop_assert!(ours),
        }
    }
}
