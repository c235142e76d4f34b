//! Everything that knows a library, a wire format or the operating system.
//!
//! Each adapter implements or drives a port; none imports another (the shared bencode
//! module is a format, not an adapter).

pub mod bencode;
pub mod clock;
pub mod forwarder;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod redis;
pub mod stats;
pub mod udp;
