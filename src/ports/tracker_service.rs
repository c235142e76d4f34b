//! The driving port: what a front end (HTTP, UDP) asks of the tracker.

use std::net::IpAddr;

use async_trait::async_trait;

use crate::domain::announce::{AnnounceRequest, AnnounceResponse, Refusal};
use crate::domain::ids::InfoHash;
use crate::domain::scrape::ScrapeResponse;

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait TrackerService: Send + Sync {
    /// Answers an announce that came from `remote_ip` (the connection's address, or the one a
    /// trusted proxy reported).
    async fn announce(
        &self,
        request: AnnounceRequest,
        remote_ip: IpAddr,
    ) -> Result<AnnounceResponse, Refusal>;

    /// Counts for each distinct hash; refused only when the store cannot answer.
    async fn scrape(&self, info_hashes: &[InfoHash]) -> Result<ScrapeResponse, Refusal>;

    /// Whether requests can be served now: false while the store does not answer, so that
    /// a load balancer takes the instance out.
    fn is_available(&self) -> bool;
}
