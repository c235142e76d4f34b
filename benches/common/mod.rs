//! Builders shared by the benchmarks: ids, addresses and swarms made from a number, so every
//! run measures the same data and set-up stays out of the timed code.
#![allow(dead_code, reason = "each benchmark file uses its own subset of these")]

use std::net::Ipv4Addr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use retracker::domain::ids::{InfoHash, PeerId};

/// What BitTorrent clients leave unescaped in a query: letters, digits and `-._~`.
const CLIENT_ESCAPES: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Twenty bytes that look random (as a SHA-1 does) and are the same on every run.
pub fn info_hash(n: u64) -> InfoHash {
    let mut bytes = [0; 20];
    fastrand::Rng::with_seed(n).fill(&mut bytes);
    InfoHash(bytes)
}

/// A qBittorrent-style peer id: an Azureus-style client prefix, then twelve arbitrary bytes.
pub fn peer_id(n: u64) -> PeerId {
    let mut bytes = *b"-qB4650-\0\0\0\0\0\0\0\0\0\0\0\0";
    // A different seed space from the info hashes, so no peer id equals a hash.
    fastrand::Rng::with_seed(n ^ 0x5eed_0000_0000_0000).fill(&mut bytes[8..]);
    PeerId(bytes)
}

/// A distinct private address for each of the first 2^24 peers.
pub fn ipv4(n: usize) -> Ipv4Addr {
    let low = u32::try_from(n).expect("fewer than 2^32 peers") & 0x00ff_ffff;
    Ipv4Addr::from(0x0a00_0000 | low)
}

/// Bytes escaped the way a client escapes them in an announce or scrape query.
pub fn client_escaped(bytes: &[u8]) -> String {
    percent_encode(bytes, CLIENT_ESCAPES).to_string()
}

/// The output of a future that is ready at once, as the memory repository's are: polled once,
/// with no runtime, so the benchmark times the call and not a scheduler.
pub fn at_once<F: std::future::Future>(future: F) -> F::Output {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the memory repository never waits"),
    }
}
