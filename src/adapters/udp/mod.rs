//! The UDP front end (BEP 15): connect, announce and scrape over datagrams, through the same
//! `TrackerService` as HTTP.
//!
//! `request` and `response` are the wire format, pure; `connection_id` the proof that a
//! sender receives; `server` the socket loop that joins them.

mod batch;
pub mod connection_id;
pub mod request;
pub mod response;
pub mod server;

pub use connection_id::ConnectionIds;
pub use server::{UdpFrontEnd, UdpSettings, bind, serve};
