//! Swarms on a real Redis, shared by real tracker processes (the binary) on loopback: what one
//! instance records the other hands out, a restart forgets nobody, peers age out with no
//! sweep, and a Redis that dies turns answers into failure reasons and `/healthz` into 503
//! until it is back. The same against a three-master Redis Cluster, with torrents on every
//! master, and through TLS with a password.
//!
//! Each test starts its own `redis-server` on a free port, without persistence, in a temporary
//! directory, and kills it by its process id. Skipped, loudly, where `redis-server` is missing,
//! unless RETRACKER_REQUIRE_REDIS=1 (as `.ci/run` sets).

#[path = "../common/mod.rs"]
mod common;

mod batching;
mod cluster;
mod counts;
mod faults;
mod instance;
mod rules;
mod server;
mod sharing;
mod tls;
