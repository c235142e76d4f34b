//! The HTTP front end: BEP 3 announce (with BEP 23 and BEP 7 peers) and BEP 48 scrape.

mod accept;
mod address_cap;
pub mod client_ip;
pub mod dispatch;
pub mod endpoints;
mod first_read;
mod first_request;
mod log_throttle;
mod prefixed;
pub mod query;
pub mod render;
pub mod routes;
pub mod server;
mod watchdog;

pub use dispatch::{Dispatch, front_end};
pub use endpoints::{Endpoints, RequestLimits};
pub use routes::{Pages, routes};
pub use server::{ServerSettings, bind, serve};
