//! Fuzzes the announce and scrape query parser with arbitrary query strings.
//!
//! Beyond "never panics", two checks: an error's text (sent back to the client) stays short,
//! and an accepted announce, written out again in a plain spelling, parses to the same thing
//! (but for its `key`, which is kept only as a hash and so cannot be written out again).

#![no_main]

use std::fmt::Write;

use libfuzzer_sys::fuzz_target;
use retracker::adapters::http::query::{self, AnnounceQuery};
use retracker::domain::peer::Event;

/// The defaults of `max_query_length` and `max_scrape_hashes`.
const MAX_QUERY_LENGTH: usize = 8_192;
const MAX_SCRAPE_HASHES: usize = 100;

/// Longest failure text the parser may produce; it echoes at most 32 characters of input.
const MAX_ERROR_CHARS: usize = 128;

fuzz_target!(|data: &[u8]| {
    // The server hands the parser the URI's query as text; lossy decoding keeps every input
    // useful instead of discarding the non-UTF-8 ones.
    let query = String::from_utf8_lossy(data);
    if query::check_length(&query, MAX_QUERY_LENGTH).is_err() {
        return;
    }
    for (key, value) in query::pairs(&query) {
        // A decoded escape is one byte for three characters, never more bytes than it came from.
        assert!(key.len() + value.len() <= query.len());
    }
    match query::parse_announce(&query) {
        Ok(mut announce) => {
            let again = query::parse_announce(&plain_spelling(&announce));
            announce.request.key = None;
            assert_eq!(again.as_ref(), Ok(&announce), "re-spelled announce differs");
        }
        Err(error) => assert!(error.to_string().chars().count() <= MAX_ERROR_CHARS),
    }
    match query::parse_scrape(&query, MAX_SCRAPE_HASHES) {
        Ok(hashes) => assert!((1..=MAX_SCRAPE_HASHES).contains(&hashes.len())),
        Err(error) => assert!(error.to_string().chars().count() <= MAX_ERROR_CHARS),
    }
});

/// The announce as a query with every id byte escaped and nothing optional left implicit
/// that the parser would default differently.
fn plain_spelling(announce: &AnnounceQuery) -> String {
    let request = &announce.request;
    let mut out = String::new();
    out.push_str("info_hash=");
    escape_all(&mut out, request.info_hash.as_bytes());
    out.push_str("&peer_id=");
    escape_all(&mut out, request.peer_id.as_bytes());
    let _ = write!(
        out,
        "&port={}&uploaded={}&downloaded={}&left={}",
        request.port, request.uploaded, request.downloaded, request.left
    );
    let event = match request.event {
        Event::Periodic => "",
        Event::Started => "started",
        Event::Completed => "completed",
        Event::Stopped => "stopped",
        Event::Paused => "paused",
    };
    let _ = write!(out, "&event={event}");
    if let Some(numwant) = request.numwant {
        let _ = write!(out, "&numwant={numwant}");
    }
    if let Some(ip) = request.claimed_ip {
        let _ = write!(out, "&ip={ip}");
    }
    let _ = write!(out, "&compact={}", u8::from(announce.compact));
    let _ = write!(out, "&no_peer_id={}", u8::from(announce.no_peer_id));
    out
}

fn escape_all(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        let _ = write!(out, "%{byte:02X}");
    }
}
