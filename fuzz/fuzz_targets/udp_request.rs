//! Fuzzes the UDP (BEP 15) request reader with arbitrary datagrams.
//!
//! Beyond "never panics": a packet without a whole header is always the silent kind (no
//! transaction id to answer to), nothing shorter than an announce reads as one, and an error
//! answer's text stays short, so that it is never much larger than the packet it answers.

#![no_main]

use libfuzzer_sys::fuzz_target;
use retracker::adapters::udp::request::{self, Malformed, Request};

/// The default of `max_scrape_hashes`.
const MAX_SCRAPE_HASHES: usize = 100;
/// Longest error text an answer may carry.
const MAX_ERROR_CHARS: usize = 100;

fuzz_target!(|data: &[u8]| {
    match request::parse(data, MAX_SCRAPE_HASHES) {
        Err(Malformed::TooShort(len)) => assert!(len < request::HEADER_LEN && len == data.len()),
        Err(Malformed::Answerable { problem, .. }) => {
            assert!(data.len() >= request::HEADER_LEN);
            assert!(problem.to_string().len() <= MAX_ERROR_CHARS, "{problem}");
        }
        Err(Malformed::NoMagic) => assert!(data.len() >= request::HEADER_LEN),
        Ok(Request::Announce(_)) => assert!(data.len() >= request::ANNOUNCE_LEN),
        Ok(Request::Scrape(scrape)) => {
            assert!(
                !scrape.info_hashes.is_empty() && scrape.info_hashes.len() <= MAX_SCRAPE_HASHES
            );
            assert_eq!(data.len(), request::HEADER_LEN + 20 * scrape.info_hashes.len());
        }
        Ok(Request::Connect { .. }) => assert!(data.len() >= request::HEADER_LEN),
    }
});
