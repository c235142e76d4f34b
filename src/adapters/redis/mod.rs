//! The Redis peer repository: swarms shared by every tracker instance that uses one Redis
//! (or one Redis Cluster), so instances behind a load balancer hand out the same peers, and
//! a restarted instance forgets nobody.
//!
//! One announce is one round trip: a Lua script (`announce.lua`), loaded once and run by its
//! SHA, applies the domain's announce rules to the torrent's keys and picks the answer's
//! peers at random on the server. A scrape sends one small pipeline per torrent, all at once
//! over the multiplexed connection. Peers age out by their score in a sorted set, and a
//! torrent's keys by a TTL of the peer age, so no instance ever walks the keyspace.
//!
//! Every call ends within the storage timeout. A store that does not answer in time turns
//! into `Refusal::StorageUnavailable` for the client, and into "unavailable" for `/healthz`
//! until a probe finds it again.

mod batch;
mod keys;
mod link;
mod records;
mod script;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::announce::Refusal;
use crate::domain::ids::InfoHash;
use crate::domain::peer::Event;
use crate::domain::swarm::{AnnounceContext, PeerAnnounce, SwarmAnswer, SwarmStats};
use crate::domain::time::Timestamp;
use crate::ports::{
    PeerRepository, PlanUpstream, StoreTotals, SweepPart, SweepReport, UpdateUpstream,
};
use keys::{torrent_keys, write_torrent_keys};
use link::{Link, LinkError, LoadedScript};
use records::LocalRecords;

/// How often the store is probed while the tracker runs, so `/healthz` turns back to ok
/// soon after Redis returns, even with no client left to notice.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Where the store is and how long a call to it may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// One `redis://` or `rediss://` URL; several mean the nodes of a Redis Cluster.
    pub urls: Vec<String>,
    /// The longest any call may take before the client is told the store is unavailable.
    pub timeout: Duration,
}

pub struct RedisRepository {
    link: Link,
    announce: LoadedScript,
    timeout: Duration,
    /// Forwarding records stay in this process (`records` says why).
    records: LocalRecords,
    available: AtomicBool,
}

impl RedisRepository {
    /// Connects to the store and starts its health probe, which ends when the repository is
    /// dropped. A single server may still be down: requests fail until it is up.
    pub async fn connect(settings: &RedisSettings) -> Result<Arc<Self>, redis::RedisError> {
        let link = match settings.urls.as_slice() {
            [url] => Link::single(url, settings.timeout)?,
            nodes => Link::cluster(nodes, settings.timeout).await?,
        };
        let repository = Arc::new(Self {
            link,
            announce: LoadedScript::new(script::ANNOUNCE),
            timeout: settings.timeout,
            records: LocalRecords::default(),
            available: AtomicBool::new(false),
        });
        let up = repository.link.ping(settings.timeout).await;
        repository.available.store(up, Ordering::Relaxed);
        if !up {
            tracing::warn!("redis does not answer yet; requests fail until it does");
        }
        tokio::spawn(probe(Arc::downgrade(&repository)));
        Ok(repository)
    }

    /// Turns a failed call into the client's refusal, and notes whether the store answers.
    fn answered<T>(&self, outcome: Result<T, LinkError>) -> Result<T, Refusal> {
        match outcome {
            Ok(value) => {
                self.available.store(true, Ordering::Relaxed);
                Ok(value)
            }
            // Redis at its `maxmemory` answers, and takes no more: the tracker is full, as
            // the memory store is at `max_torrents`, not down.
            Err(LinkError::Redis(error)) if error.code() == Some("OOM") => {
                self.available.store(true, Ordering::Relaxed);
                Err(Refusal::StorageFull)
            }
            Err(error) => {
                if self.available.swap(false, Ordering::Relaxed) {
                    tracing::warn!(%error, "redis unavailable");
                }
                Err(Refusal::StorageUnavailable)
            }
        }
    }

    async fn run_announce(
        &self,
        info_hash: &InfoHash,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
    ) -> Result<SwarmAnswer, Refusal> {
        let keys_and_arguments = |command: &mut redis::Cmd| {
            command.arg(4);
            write_torrent_keys(command, info_hash);
            script::write_arguments(command, announce, context);
        };
        let reply = self.link.script(&self.announce, keys_and_arguments, self.timeout).await;
        let reply = self.answered(reply)?;
        script::answer(&reply, context.with_ids).unwrap_or_else(|bad| {
            tracing::error!(%bad, "redis answered an announce with something else");
            Err(Refusal::StorageUnavailable)
        })
    }
}

/// Pings the store every `PROBE_EVERY` while the repository lives.
async fn probe(repository: Weak<RedisRepository>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(repository) = repository.upgrade() else { return };
        let up = repository.link.ping(repository.timeout).await;
        if up != repository.available.swap(up, Ordering::Relaxed) {
            tracing::warn!(available = up, "redis availability changed");
        }
    }
}

#[async_trait]
impl PeerRepository for RedisRepository {
    async fn announce(
        &self,
        info_hash: &InfoHash,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
    ) -> Result<SwarmAnswer, Refusal> {
        self.run_announce(info_hash, announce, context).await
    }

    async fn announce_forwarded<'u>(
        &self,
        info_hash: &InfoHash,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
        upstream: &'u mut (dyn PlanUpstream + 'u),
    ) -> Result<SwarmAnswer, Refusal> {
        let answer = self.run_announce(info_hash, announce, context).await?;
        let standing = answer.standing;
        // As in memory, a `stopped` from a peer nobody listed makes no records.
        if announce.event == Event::Stopped && standing.previous.is_none() {
            self.records.with_held(info_hash, |records| upstream.plan(records, standing));
        } else {
            self.records.with(info_hash, |records| upstream.plan(records, standing));
        }
        Ok(answer)
    }

    fn update_upstream(&self, info_hash: &InfoHash, update: &mut dyn UpdateUpstream) -> bool {
        self.records.with_held(info_hash, |records| update.update(records)).is_some()
    }

    async fn scrape(&self, info_hashes: &[InfoHash]) -> Result<Vec<SwarmStats>, Refusal> {
        let calls = info_hashes.iter().map(|hash| {
            let [seed, part, leech, records] = torrent_keys(hash);
            let mut pipeline = redis::pipe();
            pipeline.zcard(seed).zcard(part).zcard(leech).hget(records, "#");
            async move { self.link.pipeline(&pipeline, self.timeout).await }
        });
        let replies = self.answered(futures_util::future::try_join_all(calls).await)?;
        let counts = replies.into_iter().map(|reply| match reply.as_slice() {
            [seeders, partial, leechers, done] => {
                let n = |count: &Option<u64>| count.unwrap_or(0);
                script::stats(n(seeders), n(partial), n(leechers), n(done))
            }
            _ => SwarmStats::default(),
        });
        Ok(counts.collect())
    }

    fn sweep(&self, cutoff: Timestamp, part: SweepPart) -> SweepReport {
        // Redis ages the peers itself; only this instance's forwarding records are left,
        // few enough to age in the first part of each round.
        let torrents_removed = if part.index == 0 { self.records.expire(cutoff) } else { 0 };
        SweepReport { peers_removed: 0, torrents_removed }
    }

    fn totals(&self) -> Option<StoreTotals> {
        // Counting would walk the whole keyspace, shared with other instances: not done.
        None
    }

    fn is_available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }

    fn busiest(&self, _limit: usize) -> Vec<(InfoHash, SwarmStats)> {
        // Ranking would walk the whole keyspace, shared with other instances: not done.
        Vec::new()
    }
}
