//! Checks each BEP 15 answer, as `check` does HTTP's: the action, the transaction id, a length
//! that fits the peer count, and counts that make sense. A server that answers fast with the
//! wrong bytes does not pass for a fast tracker.

use std::fmt;

pub const CONNECT: u32 = 0;
pub const ANNOUNCE: u32 = 1;
pub const SCRAPE: u32 = 2;
pub const ERROR: u32 = 3;

/// Action and transaction id: the start of every answer.
pub const HEADER_LEN: usize = 8;
/// The header, then interval, leechers and seeders.
pub const ANNOUNCE_HEAD_LEN: usize = 20;
pub const CONNECT_LEN: usize = 16;
/// An IPv4 peer: the only kind an answer over IPv4 carries.
pub const PEER_LEN: usize = 6;
/// Seeders, completed and leechers of one torrent.
pub const SCRAPE_ENTRY_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    ShorterThanHeader(usize),
    /// The error action, with the server's text.
    Refused(String),
    WrongAction {
        got: u32,
        expected: u32,
    },
    WrongLength {
        action: u32,
        len: usize,
    },
    TooManyPeers {
        got: usize,
        numwant: u32,
    },
    /// More peers handed out than the swarm's own counts say it has.
    PeersBeyondCounts {
        peers: usize,
        counted: u64,
    },
    /// A count or interval that a tracker cannot mean (negative, read as signed).
    Insane(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ShorterThanHeader(len) => write!(f, "a {len}-byte answer, shorter than a header"),
            Self::Refused(text) => write!(f, "error answer: {text}"),
            Self::WrongAction { got, expected } => {
                write!(f, "answer with action {got} to a request of action {expected}")
            }
            Self::WrongLength { action, len } => write!(f, "action {action} answer of {len} bytes"),
            Self::TooManyPeers { got, numwant } => write!(f, "{got} peers for num_want {numwant}"),
            Self::PeersBeyondCounts { peers, counted } => {
                write!(f, "{peers} peers from a swarm counted at {counted}")
            }
            Self::Insane(what) => write!(f, "a negative {what}"),
        }
    }
}

/// The transaction id an answer carries, if it is long enough to carry one.
pub fn transaction_id(answer: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(answer.get(4..8)?.try_into().ok()?))
}

/// Accepts a connect answer (whose transaction id the caller matched) and gives its
/// connection id.
pub fn connect(answer: &[u8]) -> Result<u64, Problem> {
    expect_action(answer, CONNECT)?;
    if answer.len() != CONNECT_LEN {
        return Err(Problem::WrongLength { action: CONNECT, len: answer.len() });
    }
    Ok(u64::from_be_bytes(answer[8..16].try_into().expect("8 bytes")))
}

/// Accepts an announce answer with at most `numwant` IPv4 peers; gives their count.
pub fn announce(answer: &[u8], numwant: u32) -> Result<usize, Problem> {
    expect_action(answer, ANNOUNCE)?;
    let peer_bytes = answer.len().checked_sub(ANNOUNCE_HEAD_LEN);
    let Some(peer_bytes) = peer_bytes.filter(|bytes| bytes % PEER_LEN == 0) else {
        return Err(Problem::WrongLength { action: ANNOUNCE, len: answer.len() });
    };
    let interval = signed(answer, 8);
    let (leechers, seeders) = (signed(answer, 12), signed(answer, 16));
    if interval <= 0 {
        return Err(Problem::Insane("or zero interval"));
    }
    if leechers < 0 || seeders < 0 {
        return Err(Problem::Insane("peer count"));
    }
    let peers = peer_bytes / PEER_LEN;
    if peers > numwant as usize {
        return Err(Problem::TooManyPeers { got: peers, numwant });
    }
    // The peers handed out are listed in the swarm, so its counts include them.
    let counted = (leechers + seeders) as u64;
    if peers as u64 > counted {
        return Err(Problem::PeersBeyondCounts { peers, counted });
    }
    Ok(peers)
}

/// Accepts a scrape answer for `hashes` torrents.
pub fn scrape(answer: &[u8], hashes: usize) -> Result<(), Problem> {
    expect_action(answer, SCRAPE)?;
    if answer.len() != HEADER_LEN + hashes * SCRAPE_ENTRY_LEN {
        return Err(Problem::WrongLength { action: SCRAPE, len: answer.len() });
    }
    let mut at = HEADER_LEN;
    while at < answer.len() {
        if signed(answer, at) < 0 || signed(answer, at + 4) < 0 || signed(answer, at + 8) < 0 {
            return Err(Problem::Insane("scrape count"));
        }
        at += SCRAPE_ENTRY_LEN;
    }
    Ok(())
}

fn expect_action(answer: &[u8], expected: u32) -> Result<(), Problem> {
    let Some(action) = answer.get(0..4) else {
        return Err(Problem::ShorterThanHeader(answer.len()));
    };
    if answer.len() < HEADER_LEN {
        return Err(Problem::ShorterThanHeader(answer.len()));
    }
    match u32::from_be_bytes(action.try_into().expect("4 bytes")) {
        got if got == expected => Ok(()),
        ERROR => Err(Problem::Refused(String::from_utf8_lossy(&answer[8..]).into_owned())),
        got => Err(Problem::WrongAction { got, expected }),
    }
}

/// The signed 32-bit number at `at`: BEP 15's counts are int32.
fn signed(answer: &[u8], at: usize) -> i64 {
    i64::from(i32::from_be_bytes(answer[at..at + 4].try_into().expect("4 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(action: u32, transaction_id: u32) -> Vec<u8> {
        [action.to_be_bytes(), transaction_id.to_be_bytes()].concat()
    }

    fn announce_answer(leechers: i32, seeders: i32, peers: usize) -> Vec<u8> {
        let mut answer = head(ANNOUNCE, 7);
        answer.extend(1800u32.to_be_bytes());
        answer.extend(leechers.to_be_bytes());
        answer.extend(seeders.to_be_bytes());
        answer.extend(std::iter::repeat_n([127, 0, 0, 1, 0x1a, 0xe1], peers).flatten());
        answer
    }

    #[test]
    fn a_connect_answer_gives_its_id() {
        let answer = [head(CONNECT, 7), 0xabcdu64.to_be_bytes().to_vec()].concat();
        assert_eq!(transaction_id(&answer), Some(7));
        assert_eq!(connect(&answer), Ok(0xabcd));
        assert_eq!(connect(&answer[..15]), Err(Problem::WrongLength { action: 0, len: 15 }));
        assert_eq!(connect(&answer[..3]), Err(Problem::ShorterThanHeader(3)));
        assert_eq!(transaction_id(&answer[..7]), None);
    }

    #[test]
    fn an_announce_answer_passes_with_its_peer_count() {
        assert_eq!(announce(&announce_answer(2, 3, 4), 50), Ok(4));
        assert_eq!(announce(&announce_answer(0, 0, 0), 50), Ok(0));
    }

    #[test]
    fn broken_announce_answers_are_caught() {
        let ragged = &announce_answer(2, 3, 4)[..43];
        assert_eq!(announce(ragged, 50), Err(Problem::WrongLength { action: 1, len: 43 }));
        assert_eq!(
            announce(&announce_answer(2, 3, 4), 3),
            Err(Problem::TooManyPeers { got: 4, numwant: 3 })
        );
        assert_eq!(
            announce(&announce_answer(1, 1, 4), 50),
            Err(Problem::PeersBeyondCounts { peers: 4, counted: 2 })
        );
        assert_eq!(announce(&announce_answer(-1, 1, 0), 50), Err(Problem::Insane("peer count")));
        let scrape_answer = [head(SCRAPE, 7), vec![0; 12]].concat();
        assert_eq!(
            announce(&scrape_answer, 50),
            Err(Problem::WrongAction { got: SCRAPE, expected: ANNOUNCE })
        );
        let refused = [head(ERROR, 7), b"unknown torrent".to_vec()].concat();
        assert_eq!(announce(&refused, 50), Err(Problem::Refused("unknown torrent".into())));
    }

    #[test]
    fn a_scrape_answer_has_one_entry_a_hash() {
        let answer = [head(SCRAPE, 7), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2].to_vec()].concat();
        assert_eq!(scrape(&answer, 1), Ok(()));
        assert_eq!(scrape(&answer, 2), Err(Problem::WrongLength { action: 2, len: 20 }));
        let negative = [head(SCRAPE, 7), [0xff; 12].to_vec()].concat();
        assert_eq!(scrape(&negative, 1), Err(Problem::Insane("scrape count")));
    }
}
