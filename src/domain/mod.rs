//! The pure core: identifiers, peers, swarms and the announce and scrape rules.
//!
//! Nothing here does I/O, reads a clock or knows a wire format; time is a value handed in.

pub mod address;
pub mod announce;
pub mod columns;
pub mod forwarding;
pub mod growth;
pub mod identity;
pub mod ids;
pub mod merge;
pub mod peer;
pub mod peer_entry;
pub mod peer_ids;
pub mod peer_set;
pub mod scrape;
pub mod swarm;
pub mod time;
pub mod torrent;
pub mod upstream_peers;
