//! The in-memory peer repository: torrents (swarms and their forwarding records) in sharded
//! hash maps.
//!
//! A torrent's swarm lives in one of many shards picked by a seeded hash of its info hash, so
//! announces for different torrents rarely wait on the same lock, and a lock is held for one
//! swarm update and the copy of at most `numwant` peers.

mod sharded;

use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;

use crate::domain::announce::Refusal;
use crate::domain::ids::InfoHash;
use crate::domain::peer::Event;
use crate::domain::swarm::{AnnounceContext, PeerAnnounce, SwarmAnswer, SwarmStats};
use crate::domain::time::Timestamp;
use crate::domain::torrent::Torrent;
use crate::ports::{
    PeerRepository, PlanUpstream, StoreTotals, SweepPart, SweepReport, UpdateUpstream,
};
use sharded::{Sharded, shrink_if_sparse};

/// Many more shards than cores, so two busy torrents rarely share a lock.
const SHARDS: usize = 256;

pub struct MemoryRepository {
    torrents: Sharded<InfoHash, Torrent>,
    /// Torrents held over all shards; touched only when a torrent is created or freed.
    held: AtomicUsize,
    max_torrents: usize,
}

impl MemoryRepository {
    /// A repository that refuses new torrents once it holds `max_torrents`.
    pub fn new(max_torrents: usize) -> Self {
        Self { torrents: Sharded::new(SHARDS), held: AtomicUsize::new(0), max_torrents }
    }

    /// How many torrents are held now.
    pub fn torrents(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Takes one of the `max_torrents` places, or says there is none left.
    fn reserve_torrent(&self) -> Result<(), Refusal> {
        self.held
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
                (held < self.max_torrents).then_some(held + 1)
            })
            .map(drop)
            .map_err(|_| Refusal::TorrentLimit(self.max_torrents))
    }

    /// Applies one announce, then lets `upstream` see the torrent's forwarding records.
    fn announce_with(
        &self,
        info_hash: &InfoHash,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
        upstream: Option<&mut dyn PlanUpstream>,
    ) -> Result<SwarmAnswer, Refusal> {
        let mut torrents = self.torrents.shard(info_hash).lock();
        let torrent = match torrents.entry(*info_hash) {
            Entry::Occupied(held) => held.into_mut(),
            Entry::Vacant(_) if announce.event == Event::Stopped => {
                return Ok(SwarmAnswer::default());
            }
            Entry::Vacant(new) => {
                self.reserve_torrent()?;
                new.insert(Torrent::default())
            }
        };
        if upstream.is_some() {
            torrent.upstream.prefetch();
        }
        // A refusal leaves no torrent made for it: a new torrent has no peer to speak for.
        let answer = torrent.swarm.announce(announce, context)?;
        if let Some(upstream) = upstream {
            upstream.plan(&mut torrent.upstream, answer.standing);
        }
        Ok(answer)
    }
}

// The async calls answer at once: nothing here waits, and no lock outlives a call.
#[async_trait]
impl PeerRepository for MemoryRepository {
    async fn announce(
        &self,
        info_hash: &InfoHash,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
    ) -> Result<SwarmAnswer, Refusal> {
        self.announce_with(info_hash, announce, context, None)
    }

    async fn announce_forwarded<'u>(
        &self,
        info_hash: &InfoHash,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
        upstream: &'u mut (dyn PlanUpstream + 'u),
    ) -> Result<SwarmAnswer, Refusal> {
        self.announce_with(info_hash, announce, context, Some(upstream))
    }

    fn update_upstream(&self, info_hash: &InfoHash, update: &mut dyn UpdateUpstream) -> bool {
        let mut torrents = self.torrents.shard(info_hash).lock();
        torrents.get_mut(info_hash).map(|torrent| update.update(&mut torrent.upstream)).is_some()
    }

    async fn scrape(&self, info_hashes: &[InfoHash]) -> Result<Vec<SwarmStats>, Refusal> {
        let stats = info_hashes.iter().map(|hash| {
            let torrents = self.torrents.shard(hash).lock();
            torrents.get(hash).map(|torrent| torrent.swarm.stats()).unwrap_or_default()
        });
        Ok(stats.collect())
    }

    fn sweep(&self, cutoff: Timestamp, part: SweepPart) -> SweepReport {
        let mut report = SweepReport::default();
        for shard in self.torrents.shards_in(part.index, part.count) {
            let mut torrents = shard.lock();
            let before = torrents.len();
            torrents.retain(|_, torrent| {
                report.peers_removed += torrent.expire(cutoff);
                !torrent.is_spent()
            });
            report.torrents_removed += before - torrents.len();
            // Give memory back after a flood of one-off torrents has aged out.
            shrink_if_sparse(&mut torrents);
        }
        self.held.fetch_sub(report.torrents_removed, Ordering::Relaxed);
        report
    }

    fn totals(&self) -> Option<StoreTotals> {
        let mut totals = StoreTotals::default();
        for shard in self.torrents.shards() {
            let torrents = shard.lock();
            totals.torrents += torrents.len();
            for torrent in torrents.values() {
                totals.peers += torrent.swarm.census();
            }
        }
        Some(totals)
    }

    fn busiest(&self, limit: usize) -> Vec<(InfoHash, SwarmStats)> {
        let peers = |stats: &SwarmStats| u64::from(stats.complete) + u64::from(stats.incomplete);
        // Kept sorted, most peers first, and never longer than `limit`: the walk costs one
        // comparison per torrent, and memory for `limit` of them however many are held.
        let mut top: Vec<(InfoHash, SwarmStats)> = Vec::with_capacity(limit + 1);
        for shard in self.torrents.shards() {
            let torrents = shard.lock();
            for (hash, torrent) in torrents.iter() {
                let stats = torrent.swarm.stats();
                let count = peers(&stats);
                if top.len() == limit && top.last().is_none_or(|(_, last)| peers(last) >= count) {
                    continue;
                }
                let at = top.partition_point(|(_, held)| peers(held) >= count);
                top.insert(at, (*hash, stats));
                top.truncate(limit);
            }
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use super::*;
    use crate::domain::forwarding::{ForwardRules, UpstreamRecords};
    use crate::domain::ids::PeerId;
    use crate::domain::peer::AnyEndpoint;
    use crate::domain::swarm::Standing;
    use crate::domain::upstream_peers::UpstreamPeers;

    fn context(now: u32) -> AnnounceContext {
        AnnounceContext {
            now: Timestamp::from_secs(now),
            cutoff: Timestamp::from_secs(0),
            numwant: 50,
            max_peers: 1_000,
            start: 0,
            with_ids: true,
        }
    }

    fn announce(n: u8, event: Event) -> PeerAnnounce {
        PeerAnnounce {
            peer_id: PeerId([n; 20]),
            key: None,
            endpoint: AnyEndpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)), 6881),
            seeder: false,
            event,
        }
    }

    fn hash(n: u8) -> InfoHash {
        InfoHash([n; 20])
    }

    #[tokio::test]
    async fn busiest_are_the_torrents_with_most_peers_most_first() {
        let repository = MemoryRepository::new(100);
        // Torrent n gets n peers; the peer ids differ per torrent and peer.
        for torrent in 1..=6u8 {
            for peer in 0..torrent {
                let mut one = announce(torrent * 10 + peer, Event::Started);
                one.seeder = peer == 0;
                repository.announce(&hash(torrent), &one, &context(10)).await.unwrap();
            }
        }
        let top = repository.busiest(3);
        let hashes: Vec<InfoHash> = top.iter().map(|(hash, _)| *hash).collect();
        assert_eq!(hashes, [hash(6), hash(5), hash(4)]);
        assert_eq!((top[0].1.complete, top[0].1.incomplete), (1, 5));
        assert_eq!(repository.busiest(0), []);
        assert_eq!(repository.busiest(50).len(), 6);
    }

    #[tokio::test]
    async fn peers_of_one_torrent_meet_and_others_do_not() {
        let repository = MemoryRepository::new(10);
        repository.announce(&hash(1), &announce(1, Event::Started), &context(10)).await.unwrap();
        repository.announce(&hash(2), &announce(2, Event::Started), &context(10)).await.unwrap();
        let answer = repository
            .announce(&hash(1), &announce(3, Event::Started), &context(10))
            .await
            .unwrap();
        assert_eq!(answer.peers.v4.len(), 1);
        assert_eq!(answer.peers.v4[0].id, Some(PeerId([1; 20])));
        assert_eq!(repository.torrents(), 2);
    }

    #[tokio::test]
    async fn refuses_new_torrents_past_the_limit_but_serves_known_ones() {
        let repository = MemoryRepository::new(1);
        repository.announce(&hash(1), &announce(1, Event::Started), &context(10)).await.unwrap();
        let refused =
            repository.announce(&hash(2), &announce(2, Event::Started), &context(10)).await;
        assert_eq!(refused, Err(Refusal::TorrentLimit(1)));
        assert!(
            repository.announce(&hash(1), &announce(2, Event::Started), &context(10)).await.is_ok()
        );
    }

    #[tokio::test]
    async fn a_stopped_for_an_unknown_torrent_creates_nothing() {
        let repository = MemoryRepository::new(10);
        let answer = repository
            .announce(&hash(1), &announce(1, Event::Stopped), &context(10))
            .await
            .unwrap();
        assert_eq!(answer, SwarmAnswer::default());
        assert_eq!(repository.torrents(), 0);
    }

    #[tokio::test]
    async fn scrape_counts_known_torrents_and_zeroes_unknown_ones() {
        let repository = MemoryRepository::new(10);
        repository.announce(&hash(1), &announce(1, Event::Started), &context(10)).await.unwrap();
        let stats = repository.scrape(&[hash(9), hash(1)]).await.unwrap();
        assert_eq!(stats[0], SwarmStats::default());
        assert_eq!(
            stats[1],
            SwarmStats { complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 }
        );
    }

    #[tokio::test]
    async fn totals_count_torrents_and_peers() {
        let repository = MemoryRepository::new(10);
        repository.announce(&hash(1), &announce(1, Event::Started), &context(10)).await.unwrap();
        repository.announce(&hash(2), &announce(2, Event::Started), &context(10)).await.unwrap();
        let seeder = PeerAnnounce { seeder: true, ..announce(3, Event::Started) };
        repository.announce(&hash(2), &seeder, &context(10)).await.unwrap();
        let totals = repository.totals().expect("memory counts");
        assert_eq!(totals.torrents, 2);
        assert_eq!((totals.peers.seeders_v4, totals.peers.leechers_v4), (1, 2));
    }

    #[tokio::test]
    async fn sweep_frees_aged_peers_and_empty_torrents() {
        let repository = MemoryRepository::new(1);
        repository.announce(&hash(1), &announce(1, Event::Started), &context(100)).await.unwrap();
        repository.announce(&hash(1), &announce(2, Event::Started), &context(200)).await.unwrap();
        let report = repository.sweep(Timestamp::from_secs(100), SweepPart::WHOLE);
        assert_eq!(report, SweepReport { peers_removed: 1, torrents_removed: 0 });

        let report = repository.sweep(Timestamp::from_secs(200), SweepPart::WHOLE);
        assert_eq!(report, SweepReport { peers_removed: 1, torrents_removed: 1 });
        assert_eq!(repository.torrents(), 0);
        // The freed place can be taken by a new torrent.
        assert!(
            repository
                .announce(&hash(2), &announce(3, Event::Started), &context(300))
                .await
                .is_ok()
        );
    }

    const RULES: ForwardRules = ForwardRules::for_tests(10);

    /// Records an answer from the torrent's one upstream, given at `secs`.
    fn answered_upstream(repository: &MemoryRepository, torrent: u8, secs: u32) -> bool {
        repository.update_upstream(&hash(torrent), &mut |records: &mut UpstreamRecords| {
            let peers = UpstreamPeers::default();
            let interval = Some(Duration::from_secs(600));
            let now = Timestamp::from_secs(secs);
            records.for_upstreams(1, &RULES)[0].record_answer(peers, interval, now, &RULES);
        })
    }

    #[tokio::test]
    async fn a_forwarded_announce_shows_the_records_kept_with_the_swarm_and_the_standing() {
        let repository = MemoryRepository::new(10);
        let mut seen = Vec::new();
        let mut note = |records: &mut UpstreamRecords, standing: Standing| {
            seen.push((records.is_empty(), standing.previous.map(|at| at.secs())));
            records.for_upstreams(1, &RULES);
        };
        repository
            .announce_forwarded(&hash(1), &announce(1, Event::Started), &context(10), &mut note)
            .await
            .unwrap();
        repository
            .announce_forwarded(&hash(1), &announce(1, Event::Periodic), &context(40), &mut note)
            .await
            .unwrap();
        assert_eq!(seen, vec![(true, None), (false, Some(10))]);
    }

    #[tokio::test]
    async fn no_records_are_made_for_a_torrent_that_is_not_kept() {
        let repository = MemoryRepository::new(1);
        let mut called = false;
        let mut call = |_: &mut UpstreamRecords, _: Standing| called = true;
        let stopped = announce(1, Event::Stopped);
        repository.announce_forwarded(&hash(1), &stopped, &context(10), &mut call).await.unwrap();
        repository.announce(&hash(2), &announce(2, Event::Started), &context(10)).await.unwrap();
        let refused = announce(3, Event::Started);
        assert!(
            repository
                .announce_forwarded(&hash(3), &refused, &context(10), &mut call)
                .await
                .is_err()
        );
        assert!(!called);
        assert!(!answered_upstream(&repository, 1, 10), "no torrent, so no record to update");
    }

    #[tokio::test]
    async fn a_torrent_with_a_fresh_upstream_answer_outlives_its_peers() {
        let repository = MemoryRepository::new(10);
        repository.announce(&hash(1), &announce(1, Event::Started), &context(100)).await.unwrap();
        assert!(answered_upstream(&repository, 1, 200));

        let report = repository.sweep(Timestamp::from_secs(100), SweepPart::WHOLE);
        assert_eq!(report, SweepReport { peers_removed: 1, torrents_removed: 0 });
        let report = repository.sweep(Timestamp::from_secs(200), SweepPart::WHOLE);
        assert_eq!(report, SweepReport { peers_removed: 0, torrents_removed: 1 });
        assert_eq!(repository.torrents(), 0);
    }

    #[tokio::test]
    async fn a_sweep_in_parts_frees_each_torrent_once() {
        let repository = MemoryRepository::new(1_000);
        for torrent in 0..200 {
            repository
                .announce(&hash(torrent), &announce(1, Event::Started), &context(100))
                .await
                .unwrap();
        }
        let count = 7;
        let reports: Vec<_> = (0..count)
            .map(|index| repository.sweep(Timestamp::from_secs(100), SweepPart { index, count }))
            .collect();
        assert!(reports.iter().all(|report| report.torrents_removed < 200), "{reports:?}");
        let removed: usize = reports.iter().map(|report| report.torrents_removed).sum();
        assert_eq!(removed, 200);
        assert_eq!(repository.totals().map(|totals| totals.torrents), Some(0));
    }
}
