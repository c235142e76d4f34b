//! Bencode, the wire format of tracker answers, shared by the adapters that speak it.

pub mod decode;
pub mod encode;
