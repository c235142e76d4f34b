//! retracker: an in-memory HTTP BitTorrent tracker, laid out as ports and adapters.
//!
//! - [`domain`]: the pure core (swarms, peers, the announce and scrape rules).
//! - [`ports`]: the traits the core needs from the world, and offers to it.
//! - [`adapters`]: HTTP, the in-memory repository, forwarding, metrics, the system clock.
//! - [`app`]: the use cases, configuration, the allocator and the wiring.

pub mod adapters;
pub mod app;
pub mod domain;
pub mod ports;
