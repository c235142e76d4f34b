//! The use cases over the ports, the configuration, and the wiring that runs them.

pub mod allocator;
#[cfg(target_os = "linux")]
pub mod capability;
pub mod cli;
pub mod config;
pub mod forwarders;
pub mod forwarding;
pub mod logging;
pub mod metrics_fan_out;
pub mod open_files;
pub mod redacted_uri;
pub mod run;
pub mod stats_sampler;
pub mod sweeper;
pub mod tracker;

pub use config::Config;
pub use run::{Running, StartError, run, start};
