//! The peer repository port: where swarms live between announces.
//!
//! What a request waits on (announce, scrape) is async, so that a store across the network
//! (Redis) can answer it; the memory store answers at once, and holds its locks only for the
//! length of one call, never across an `.await`. What never waits on the network is plain:
//! forwarding records stay in this process whatever the store (a shared store keeps them per
//! instance), and the sweep and the totals walk only what this process holds.

use async_trait::async_trait;

use crate::domain::announce::Refusal;
use crate::domain::forwarding::UpstreamRecords;
use crate::domain::ids::InfoHash;
use crate::domain::swarm::{
    AnnounceContext, PeerAnnounce, PeerCensus, Standing, SwarmAnswer, SwarmStats,
};
use crate::domain::time::Timestamp;

/// Everything held, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreTotals {
    pub torrents: usize,
    pub peers: PeerCensus,
}

/// What one sweep freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub peers_removed: usize,
    pub torrents_removed: usize,
}

impl SweepReport {
    pub fn freed_anything(&self) -> bool {
        self.peers_removed > 0 || self.torrents_removed > 0
    }
}

/// Part `index` of `count` parts that between them hold every torrent once: a sweep done a
/// part at a time holds a CPU for short stretches instead of one long one (a whole sweep of a
/// million peers is a fifth of a second, a long stall for answers that share its CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepPart {
    pub index: usize,
    pub count: usize,
}

impl SweepPart {
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    pub fn is_last(&self) -> bool {
        self.index + 1 >= self.count
    }
}

/// What forwarding does with a torrent's records during an announce, where the repository
/// keeps them, knowing where the client now stands. A trait rather than `dyn FnMut` because
/// mockall cannot mock the latter; any such closure is one. `Send`, as an announce may wait
/// on a store with it.
pub trait PlanUpstream: Send {
    fn plan(&mut self, records: &mut UpstreamRecords, standing: Standing);
}

impl<F: FnMut(&mut UpstreamRecords, Standing) + Send> PlanUpstream for F {
    fn plan(&mut self, records: &mut UpstreamRecords, standing: Standing) {
        self(records, standing);
    }
}

/// A change to a torrent's forwarding records once an upstream answered or failed; any such
/// closure is one.
pub trait UpdateUpstream {
    fn update(&mut self, records: &mut UpstreamRecords);
}

impl<F: FnMut(&mut UpstreamRecords)> UpdateUpstream for F {
    fn update(&mut self, records: &mut UpstreamRecords) {
        self(records);
    }
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait PeerRepository: Send + Sync {
    /// Applies one announce to the torrent's swarm, creating the swarm if it is new and there
    /// is room for another torrent. A `stopped` for an unknown torrent creates nothing. A
    /// store that cannot answer refuses with `Refusal::StorageUnavailable`.
    async fn announce(
        &self,
        info_hash: &InfoHash,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
    ) -> Result<SwarmAnswer, Refusal>;

    /// `announce`, then `upstream` on the torrent's forwarding records with where the client
    /// now stands, under the same lookup. Not called when no torrent is kept: a refusal, or a
    /// `stopped` for an unknown torrent.
    // The planner's lifetime is spelled out: mockall's mock of an async method cannot match
    // the one elided in a `&mut dyn` (and then flags the parentheses it needs).
    #[allow(unused_parens)]
    async fn announce_forwarded<'u>(
        &self,
        info_hash: &InfoHash,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
        upstream: &'u mut (dyn PlanUpstream + 'u),
    ) -> Result<SwarmAnswer, Refusal>;

    /// Runs `update` on the torrent's forwarding records; returns false, without running it,
    /// when the torrent is no longer held.
    fn update_upstream(&self, info_hash: &InfoHash, update: &mut dyn UpdateUpstream) -> bool;

    /// Counts for each hash, in the same order; an unknown torrent counts zero.
    async fn scrape(&self, info_hashes: &[InfoHash]) -> Result<Vec<SwarmStats>, Refusal>;

    /// Drops peers last seen at or before `cutoff` and ages forwarding records by it, then
    /// frees torrents left with neither, in `part` of the repository.
    fn sweep(&self, cutoff: Timestamp, part: SweepPart) -> SweepReport;

    /// Counts everything held. Walks every torrent: for a metrics scrape, not a request.
    /// None from a store that does not count (one shared with other instances).
    fn totals(&self) -> Option<StoreTotals>;

    /// Whether the store answered lately; a store in this process always does.
    fn is_available(&self) -> bool {
        true
    }

    /// The `limit` torrents with the most peers, most first, with their counts. Walks every
    /// torrent, a shard at a time: for a status page, not a request.
    fn busiest(&self, limit: usize) -> Vec<(InfoHash, SwarmStats)>;
}
