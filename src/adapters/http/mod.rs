//! The HTTP front end: BEP 3 announce (with BEP 23 and BEP 7 peers) and BEP 48 scrape.

pub mod client_ip;
pub mod query;
pub mod render;
pub mod routes;
pub mod server;

pub use routes::{Backends, RequestLimits, routes};
pub use server::{ServerSettings, bind, serve};
