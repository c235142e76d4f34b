//! The UDP front end (BEP 15): connect, announce and scrape over datagrams, through the same
//! `TrackerService` as HTTP.
//!
//! `request` and `response` are the wire format, pure.

pub mod request;
pub mod response;
