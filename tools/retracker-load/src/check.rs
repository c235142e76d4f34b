//! Checks that each answer is a valid tracker answer, so a fast server that answers
//! nonsense (or failure reasons) does not pass for a fast tracker.

use std::fmt;

use retracker::adapters::bencode::decode::{DecodeError, Value, decode};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Status(u16),
    NotBencode(DecodeError),
    NotADictionary,
    Failure(String),
    Missing(&'static str),
    /// A compact peer string whose length is not a whole number of peers.
    RaggedPeers {
        key: &'static str,
        len: usize,
    },
    TooManyPeers {
        got: usize,
        numwant: u32,
    },
    BadScrapeEntry,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(status) => write!(f, "HTTP status {status}"),
            Self::NotBencode(error) => write!(f, "body is not bencode: {error}"),
            Self::NotADictionary => write!(f, "body is not a dictionary"),
            Self::Failure(reason) => write!(f, "failure reason: {reason}"),
            Self::Missing(key) => write!(f, "no valid `{key}`"),
            Self::RaggedPeers { key, len } => write!(f, "`{key}` is {len} bytes long"),
            Self::TooManyPeers { got, numwant } => write!(f, "{got} peers for numwant={numwant}"),
            Self::BadScrapeEntry => write!(f, "a scrape entry is not hash → counts"),
        }
    }
}

/// Accepts a BEP 3/23 announce answer: counts, an interval, and at most `numwant` peers in
/// compact strings. Returns how many peers it carried.
pub fn announce(body: &[u8], numwant: u32) -> Result<usize, Problem> {
    let answer = dictionary(body)?;
    for key in ["complete", "incomplete", "interval"] {
        non_negative(&answer, key)?;
    }
    let peers = compact_peers(&answer, "peers", 6)?.ok_or(Problem::Missing("peers"))?;
    let peers6 = compact_peers(&answer, "peers6", 18)?.unwrap_or(0);
    let got = peers + peers6;
    if got > numwant as usize {
        return Err(Problem::TooManyPeers { got, numwant });
    }
    Ok(got)
}

/// Accepts a BEP 48 scrape answer: `files` maps 20-byte hashes to their three counts.
pub fn scrape(body: &[u8]) -> Result<(), Problem> {
    let answer = dictionary(body)?;
    let Some(Value::Dict(files)) = answer.get(b"files") else {
        return Err(Problem::Missing("files"));
    };
    for (hash, counts) in files {
        let counts_ok = ["complete", "downloaded", "incomplete"].iter().all(|key| {
            counts.get(key.as_bytes()).and_then(Value::as_integer).is_some_and(|n| n >= 0)
        });
        if hash.len() != 20 || !counts_ok {
            return Err(Problem::BadScrapeEntry);
        }
    }
    Ok(())
}

fn dictionary(body: &[u8]) -> Result<Value<'_>, Problem> {
    let value = decode(body).map_err(Problem::NotBencode)?;
    if !matches!(value, Value::Dict(_)) {
        return Err(Problem::NotADictionary);
    }
    if let Some(reason) = value.get(b"failure reason") {
        let text = reason.as_bytes().map(String::from_utf8_lossy).unwrap_or_default();
        return Err(Problem::Failure(text.into_owned()));
    }
    Ok(value)
}

fn non_negative(answer: &Value<'_>, key: &'static str) -> Result<i64, Problem> {
    answer
        .get(key.as_bytes())
        .and_then(Value::as_integer)
        .filter(|n| *n >= 0)
        .ok_or(Problem::Missing(key))
}

fn compact_peers(
    answer: &Value<'_>,
    key: &'static str,
    size: usize,
) -> Result<Option<usize>, Problem> {
    match answer.get(key.as_bytes()) {
        None => Ok(None),
        Some(Value::Bytes(bytes)) if bytes.len() % size == 0 => Ok(Some(bytes.len() / size)),
        Some(Value::Bytes(bytes)) => Err(Problem::RaggedPeers { key, len: bytes.len() }),
        Some(_) => Err(Problem::Missing(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_PEERS: &[u8] =
        b"d8:completei1e10:incompletei2e8:intervali30e12:min intervali15e5:peers12:abcdefghijkle";

    #[test]
    fn a_compact_answer_passes_with_its_peer_count() {
        assert_eq!(announce(TWO_PEERS, 50), Ok(2));
        let with_v6 =
            b"d8:completei0e10:incompletei0e8:intervali30e5:peers0:6:peers618:abcdefghijklmnopqre";
        assert_eq!(announce(with_v6, 50), Ok(1));
    }

    #[test]
    fn a_failure_reason_is_reported_with_its_text() {
        let body = b"d14:failure reason17:missing info_hashe";
        assert_eq!(announce(body, 50), Err(Problem::Failure("missing info_hash".into())));
        assert_eq!(scrape(body), Err(Problem::Failure("missing info_hash".into())));
    }

    #[test]
    fn broken_answers_are_caught() {
        assert!(matches!(announce(b"d8:complete", 50), Err(Problem::NotBencode(_))));
        assert_eq!(announce(b"li1ee", 50), Err(Problem::NotADictionary));
        let no_interval = b"d8:completei1e10:incompletei2e5:peers0:e";
        assert_eq!(announce(no_interval, 50), Err(Problem::Missing("interval")));
        let ragged = b"d8:completei1e10:incompletei2e8:intervali30e5:peers7:abcdefge";
        assert_eq!(announce(ragged, 50), Err(Problem::RaggedPeers { key: "peers", len: 7 }));
        let negative = b"d8:completei-1e10:incompletei2e8:intervali30e5:peers0:e";
        assert_eq!(announce(negative, 50), Err(Problem::Missing("complete")));
        let dictionary_peers = b"d8:completei1e10:incompletei2e8:intervali30e5:peerslee";
        assert_eq!(announce(dictionary_peers, 50), Err(Problem::Missing("peers")));
    }

    #[test]
    fn more_peers_than_asked_for_is_an_error() {
        assert_eq!(announce(TWO_PEERS, 1), Err(Problem::TooManyPeers { got: 2, numwant: 1 }));
    }

    #[test]
    fn scrape_answers_need_hash_keyed_counts() {
        let good =
            b"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:downloadedi0e10:incompletei2eeee";
        assert_eq!(scrape(good), Ok(()));
        assert_eq!(scrape(b"d5:filesdee"), Ok(()));
        let short_hash = b"d5:filesd3:aaad8:completei1e10:downloadedi0e10:incompletei2eeee";
        assert_eq!(scrape(short_hash), Err(Problem::BadScrapeEntry));
        let missing_count = b"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1eeee";
        assert_eq!(scrape(missing_count), Err(Problem::BadScrapeEntry));
        assert_eq!(scrape(b"de"), Err(Problem::Missing("files")));
    }
}
