//! retracker: an in-memory HTTP BitTorrent tracker, laid out as ports and adapters.
//!
//! - [`domain`]: the pure core (swarms, peers, the announce and scrape rules).
//! - [`ports`]: the traits the core needs from the world, and offers to it.
//! - [`adapters`]: HTTP, the in-memory repository, the system clock.
//! - [`app`]: the use cases, configuration and wiring.
//! - [`allocator`]: the memory allocator, and giving freed memory back.
//! - [`sharded`]: the lock-striped map both the repository and forwarding keep state in.

pub mod adapters;
pub mod allocator;
pub mod app;
pub mod domain;
pub mod ports;
pub mod sharded;
