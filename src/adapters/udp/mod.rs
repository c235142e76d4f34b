//! The UDP front end (BEP 15): connect, announce and scrape over datagrams, through the same
//! `TrackerService` as HTTP.
//!
//! `request` and `response` are the wire format, pure; `connection_id` the proof that a
//! sender receives.

pub mod connection_id;
pub mod request;
pub mod response;

pub use connection_id::ConnectionIds;
