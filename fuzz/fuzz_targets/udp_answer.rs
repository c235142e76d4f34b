//! Fuzzes the UDP forwarder's reader of BEP 15 answers with arbitrary datagrams.
//!
//! The first byte picks how the datagram is read: bit 0 as if the upstream was reached over
//! IPv6, bit 1 against the transaction id the datagram itself carries (so that the fuzzer
//! reaches past the id check at once) rather than a fixed one. Beyond "never panics": an
//! answer to another transaction is foreign, whatever follows; peers are bounded by the bytes
//! that carry them and have usable ports; an error's text stays short, as it goes to the log.

#![no_main]

use libfuzzer_sys::fuzz_target;
use retracker::adapters::forwarder::udp_codec::{Answer, read_answer};

const FIXED_TRANSACTION_ID: u32 = 0x5EED_0001;
/// The codec's cap on an error message, in characters.
const MESSAGE_CHARS: usize = 200;
/// action and transaction id, then interval, leechers and seeders.
const ANNOUNCE_HEADER_LEN: usize = 20;

fuzz_target!(|data: &[u8]| {
    let Some((&how, packet)) = data.split_first() else { return };
    let ipv6 = how & 1 != 0;
    let carried = packet.get(4..8).map(|b| u32::from_be_bytes(b.try_into().unwrap()));
    let transaction_id = match carried {
        Some(id) if how & 2 != 0 => id,
        _ => FIXED_TRANSACTION_ID,
    };
    let answer = read_answer(packet, transaction_id, ipv6);
    if carried != Some(transaction_id) {
        assert_eq!(answer, Answer::Foreign, "read an answer to another transaction");
        return;
    }
    match answer {
        Answer::Connected(_) => assert!(packet.len() >= 16),
        Answer::Announced { peers, .. } => {
            let size = if ipv6 { 18 } else { 6 };
            assert!(packet.len() >= ANNOUNCE_HEADER_LEN);
            assert!(peers.len() <= (packet.len() - ANNOUNCE_HEADER_LEN) / size);
            assert!(peers.endpoints().all(|endpoint| endpoint.port() != 0));
        }
        Answer::Error(text) => assert!(text.chars().count() <= MESSAGE_CHARS),
        Answer::Malformed(_) | Answer::Foreign => {}
    }
});
