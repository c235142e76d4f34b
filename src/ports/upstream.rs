//! The upstream-tracker port: another tracker that announces are forwarded to.

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::announce::AnnounceRequest;
use crate::domain::upstream_peers::UpstreamPeers;

/// What an upstream tracker answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamAnswer {
    pub interval: Option<Duration>,
    pub peers: UpstreamPeers,
    /// It came over UDP (BEP 15), not HTTP: `forwarder_status` counts the two apart.
    pub over_udp: bool,
}

/// Why an upstream gave no peers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("request failed: {0}")]
    Transport(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
    #[error("unreadable answer: {0}")]
    Malformed(String),
    #[error("refused the announce: {0}")]
    Refused(String),
    #[error("answered BEP 15's error action: {0}")]
    UdpError(String),
    #[error("unreadable UDP answer: {0}")]
    UdpUnreadable(String),
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait UpstreamTracker: Send + Sync {
    /// A short name for logs and metrics.
    fn name(&self) -> &str;

    /// Forwards one client's announce. Waiting is the caller's business: it puts its own
    /// timeout around this.
    async fn announce(&self, request: &AnnounceRequest) -> Result<UpstreamAnswer, UpstreamError>;
}
