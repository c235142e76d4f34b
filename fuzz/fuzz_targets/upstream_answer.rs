//! Fuzzes the reader of upstream tracker answers (and the bencode decoder under it) with
//! arbitrary bodies.
//!
//! Beyond "never panics": whatever the decoder accepts must be the one spelling bencode allows
//! (writing the value out again gives the same bytes), and the peers read have usable ports.

#![no_main]

use libfuzzer_sys::fuzz_target;
use retracker::adapters::bencode::decode::{Value, decode};
use retracker::adapters::bencode::encode;
use retracker::adapters::forwarder::answer;
use retracker::ports::UpstreamError;

fuzz_target!(|body: &[u8]| {
    if let Ok(value) = decode(body) {
        let mut again = Vec::with_capacity(body.len());
        write(&value, &mut again);
        assert_eq!(again, body, "decoder accepted a non-canonical spelling");
    }
    match answer::parse(body) {
        Ok(answer) => {
            assert!(answer.peers.endpoints().all(|endpoint| endpoint.port() != 0));
            // Each peer costs at least six bytes of the body, so the count is bounded by it.
            assert!(answer.peers.len() <= body.len() / 6);
        }
        Err(UpstreamError::Refused(reason)) => assert!(reason.chars().count() <= 200),
        Err(_) => {}
    }
});

/// Writes a decoded value back with the crate's encoder (negative integers, which our own
/// answers never carry, by hand).
fn write(value: &Value<'_>, out: &mut Vec<u8>) {
    match value {
        Value::Integer(n) => match u64::try_from(*n) {
            Ok(n) => encode::integer(out, n),
            Err(_) => out.extend_from_slice(format!("i{n}e").as_bytes()),
        },
        Value::Bytes(bytes) => encode::bytes(out, bytes),
        Value::List(items) => {
            encode::list_start(out);
            items.iter().for_each(|item| write(item, out));
            encode::end(out);
        }
        Value::Dict(pairs) => {
            encode::dict_start(out);
            for (key, item) in pairs {
                encode::bytes(out, key);
                write(item, out);
            }
            encode::end(out);
        }
    }
}
