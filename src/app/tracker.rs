//! The announce, scrape and sweep use cases, over the repository and clock ports.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::allocator::release_freed_memory;
use super::forwarding::{ForwardPlan, Forwarding};
use crate::domain::announce::{self, AnnounceRequest, AnnounceResponse, NumwantLimits, Refusal};
use crate::domain::forwarding::UpstreamRecords;
use crate::domain::ids::InfoHash;
use crate::domain::merge::merge;
use crate::domain::peer::{AnyEndpoint, Event};
use crate::domain::scrape::{self, ScrapeResponse};
use crate::domain::swarm::{AnnounceContext, PeerAnnounce, Standing};
use crate::domain::time::{PeerAge, Timestamp};
use crate::domain::upstream_peers::UpstreamSelection;
use crate::ports::metrics::NoMetrics;
use crate::ports::{
    Clock, Metrics, PeerRepository, PlanUpstream, SweepPart, SweepReport, TrackerService,
};

/// The tracker's rules, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerSettings {
    pub peer_age: PeerAge,
    pub interval: Duration,
    pub min_interval: Duration,
    pub numwant: NumwantLimits,
    pub max_peers_per_swarm: usize,
    /// Honour the `ip=` a client claims. Off by default: it would let anyone list a third
    /// party's address in a swarm and aim every downloader of it at that party.
    pub allow_claimed_ip: bool,
}

pub struct Tracker {
    repository: Arc<dyn PeerRepository>,
    clock: Arc<dyn Clock>,
    settings: TrackerSettings,
    forwarding: Option<Arc<Forwarding>>,
    metrics: Arc<dyn Metrics>,
    /// A sweep part freed something since memory was last given back to the system.
    freed_since_release: AtomicBool,
}

impl Tracker {
    pub fn new(
        repository: Arc<dyn PeerRepository>,
        clock: Arc<dyn Clock>,
        settings: TrackerSettings,
    ) -> Self {
        Self {
            repository,
            clock,
            settings,
            forwarding: None,
            metrics: Arc::new(NoMetrics),
            freed_since_release: AtomicBool::new(false),
        }
    }

    /// Counts expired peers and merged upstream peers.
    pub fn with_metrics(self, metrics: Arc<dyn Metrics>) -> Self {
        Self { metrics, ..self }
    }

    /// Also forwards announces to upstream trackers and merges in their peers.
    pub fn with_forwarding(self, forwarding: Arc<Forwarding>) -> Self {
        Self { forwarding: Some(forwarding), ..self }
    }

    /// Where the announcing client is reached: its remote address, or the address it claims
    /// where that is allowed.
    fn endpoint(&self, request: &AnnounceRequest, remote_ip: IpAddr) -> AnyEndpoint {
        let ip = match request.claimed_ip {
            Some(claimed) if self.settings.allow_claimed_ip => claimed,
            _ => remote_ip,
        };
        AnyEndpoint::new(ip, request.port)
    }

    /// Records an announce from `remote_ip` and picks the peers to answer with.
    pub async fn announce_locally(
        &self,
        request: &AnnounceRequest,
        remote_ip: IpAddr,
    ) -> Result<AnnounceResponse, Refusal> {
        self.record(request, remote_ip, self.clock.now(), None).await
    }

    /// `announce_locally` at `now`, letting `upstream` plan the forwarding on the torrent's
    /// records with the client's standing, if given.
    async fn record(
        &self,
        request: &AnnounceRequest,
        remote_ip: IpAddr,
        now: Timestamp,
        upstream: Option<&mut dyn PlanUpstream>,
    ) -> Result<AnnounceResponse, Refusal> {
        let endpoint = self.endpoint(request, remote_ip);
        announce::admit(request, endpoint.ip())?;
        let context = AnnounceContext {
            now,
            cutoff: self.settings.peer_age.cutoff(now),
            numwant: self.settings.numwant.effective(request.numwant),
            max_peers: self.settings.max_peers_per_swarm,
            start: fastrand::usize(..),
            with_ids: request.peer_ids,
        };
        let peer = PeerAnnounce {
            peer_id: request.peer_id,
            key: request.key,
            endpoint,
            seeder: request.is_seeder(),
            event: request.event,
        };
        let hash = &request.info_hash;
        let answer = match upstream {
            Some(upstream) => {
                self.repository.announce_forwarded(hash, &peer, &context, upstream).await
            }
            None => self.repository.announce(hash, &peer, &context).await,
        }?;
        Ok(AnnounceResponse {
            interval: self.settings.interval,
            min_interval: self.settings.min_interval,
            stats: answer.stats,
            peers: answer.peers,
            upstream: UpstreamSelection::default(),
        })
    }

    /// Forgets peers older than the peer age, and torrents left empty; forwarding records,
    /// kept with the torrents, age the same way.
    pub fn sweep(&self) -> SweepReport {
        self.sweep_part(SweepPart::WHOLE)
    }

    /// `sweep`, in `part` of what is held. After a whole round that freed anything, the
    /// freed pages go back to the system: a flood of one-off torrents that aged out leaves
    /// them scattered through the heap, where a quiet allocator would keep them.
    pub fn sweep_part(&self, part: SweepPart) -> SweepReport {
        let cutoff = self.settings.peer_age.cutoff(self.clock.now());
        let report = self.repository.sweep(cutoff, part);
        self.metrics.peers_expired(report.peers_removed);
        if report.freed_anything() {
            self.freed_since_release.store(true, Ordering::Relaxed);
        }
        // Once a round at most: it walks the allocator's heaps.
        if part.is_last() && self.freed_since_release.swap(false, Ordering::Relaxed) {
            release_freed_memory();
        }
        report
    }
}

#[async_trait]
impl TrackerService for Tracker {
    async fn announce(
        &self,
        request: AnnounceRequest,
        remote_ip: IpAddr,
    ) -> Result<AnnounceResponse, Refusal> {
        let now = self.clock.now();
        let Some(forwarding) = &self.forwarding else {
            return self.record(&request, remote_ip, now, None).await;
        };
        // Upstreams are asked for as many peers as the client may get, and are never told
        // an address the client merely claims: by default they see retracker's own.
        let numwant = self.settings.numwant.effective(request.numwant);
        let forwarded = AnnounceRequest {
            numwant: Some(u32::try_from(numwant).unwrap_or(u32::MAX)),
            claimed_ip: None,
            ..request.clone()
        };
        let mut plan = ForwardPlan::default();
        let mut plan_forwarding = |records: &mut UpstreamRecords, standing: Standing| {
            plan = forwarding.plan(records, &forwarded, standing, now);
        };
        let mut response =
            self.record(&request, remote_ip, now, Some(&mut plan_forwarding)).await?;
        let upstream = forwarding.carry_out(plan, &forwarded).await;
        if request.event != Event::Stopped && !upstream.is_empty() {
            let client = self.endpoint(&request, remote_ip);
            // A random start spreads the clients of a torrent over the upstream peers.
            let start = fastrand::usize(..);
            response.upstream = merge(&response.peers, &upstream, numwant, client, start);
            self.metrics.upstream_peers_merged(response.upstream.len());
        }
        Ok(response)
    }

    async fn scrape(&self, info_hashes: &[InfoHash]) -> Result<ScrapeResponse, Refusal> {
        let hashes = scrape::distinct(info_hashes);
        let stats = self.repository.scrape(&hashes).await?;
        Ok(ScrapeResponse { files: hashes.into_iter().zip(stats).collect() })
    }

    fn is_available(&self) -> bool {
        self.repository.is_available()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use mockall::predicate::eq;

    use super::*;
    use crate::domain::ids::PeerId;
    use crate::domain::peer::{Endpoint, Event, Peer, PeerList};
    use crate::domain::swarm::{SwarmAnswer, SwarmStats};
    use crate::domain::upstream_peers::UpstreamPeers;
    use crate::ports::clock::MockClock;
    use crate::ports::peer_repository::MockPeerRepository;

    const NOW: Timestamp = Timestamp::from_secs(100_000);

    fn settings() -> TrackerSettings {
        TrackerSettings {
            peer_age: PeerAge::new(Duration::from_secs(3 * 60 * 60)),
            interval: Duration::from_secs(30),
            min_interval: Duration::from_secs(15),
            numwant: NumwantLimits { default: 50, max: 80 },
            max_peers_per_swarm: 1_000,
            allow_claimed_ip: false,
        }
    }

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().return_const(NOW);
        Arc::new(clock)
    }

    fn request() -> AnnounceRequest {
        AnnounceRequest {
            info_hash: InfoHash([7; 20]),
            peer_id: PeerId([8; 20]),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 0,
            event: Event::Started,
            numwant: Some(500),
            claimed_ip: Some("198.51.100.1".parse().unwrap()),
            peer_ids: false,
            key: None,
        }
    }

    const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));

    fn a_peer() -> PeerList {
        PeerList {
            v4: vec![Peer {
                id: Some(PeerId([1; 20])),
                endpoint: Endpoint { ip: Ipv4Addr::LOCALHOST, port: 1 },
            }],
            v6: vec![],
        }
    }

    #[tokio::test]
    async fn announce_records_the_peer_at_its_remote_address_with_the_rules_applied() {
        let mut repository = MockPeerRepository::new();
        repository
            .expect_announce()
            .withf(|hash, peer, context| {
                *hash == InfoHash([7; 20])
                    && peer.peer_id == PeerId([8; 20])
                    && peer.endpoint == AnyEndpoint::new(REMOTE, 6881)
                    && peer.seeder
                    && peer.event == Event::Started
                    && context.now == NOW
                    && context.cutoff == Timestamp::from_secs(100_000 - 10_800)
                    && context.numwant == 80
                    && context.max_peers == 1_000
            })
            .times(1)
            .returning(|_, _, _| {
                Ok(SwarmAnswer {
                    stats: SwarmStats { complete: 1, incomplete: 2, downloaded: 3, downloaders: 2 },
                    peers: a_peer(),
                    standing: Standing::default(),
                })
            });
        let tracker = Tracker::new(Arc::new(repository), clock(), settings());

        let response = tracker.announce_locally(&request(), REMOTE).await.unwrap();
        assert_eq!(response.interval, Duration::from_secs(30));
        assert_eq!(response.min_interval, Duration::from_secs(15));
        assert_eq!(
            response.stats,
            SwarmStats { complete: 1, incomplete: 2, downloaded: 3, downloaders: 2 }
        );
        assert_eq!(response.peers, a_peer());
    }

    #[tokio::test]
    async fn forwarded_peers_join_the_local_ones() {
        use crate::domain::forwarding::ForwardRules;
        use crate::ports::upstream::{MockUpstreamTracker, UpstreamAnswer};

        // The torrent's forwarding records, kept by the repository beside its swarm.
        let records = Arc::new(parking_lot::Mutex::new(UpstreamRecords::default()));
        let mut repository = MockPeerRepository::new();
        let held = records.clone();
        repository.expect_announce_forwarded().times(1).returning(move |_, _, _, upstream| {
            let standing = Standing { previous: None, listed: true };
            upstream.plan(&mut held.lock(), standing);
            Ok(SwarmAnswer { peers: a_peer(), standing, ..SwarmAnswer::default() })
        });
        let held = records.clone();
        repository.expect_update_upstream().times(1).returning(move |_, update| {
            update.update(&mut held.lock());
            true
        });
        let repository = Arc::new(repository);
        let mut upstream = MockUpstreamTracker::new();
        upstream.expect_name().return_const("up".to_string());
        upstream
            .expect_announce()
            .withf(|forwarded| forwarded.numwant == Some(80) && forwarded.claimed_ip.is_none())
            .times(1)
            .returning(|_| {
                let endpoint = Endpoint { ip: Ipv4Addr::new(198, 51, 100, 9), port: 7 };
                let peers = PeerList { v4: vec![Peer { id: None, endpoint }], v6: vec![] };
                Ok(UpstreamAnswer {
                    interval: None,
                    peers: UpstreamPeers::new(&peers),
                    over_udp: false,
                })
            });
        let rules = ForwardRules::for_tests(10);
        let forwarding = Forwarding::new(
            vec![Arc::new(upstream)],
            repository.clone(),
            clock(),
            Arc::new(NoMetrics),
            Duration::from_secs(2),
            rules,
        );
        let tracker =
            Tracker::new(repository, clock(), settings()).with_forwarding(Arc::new(forwarding));

        let response = TrackerService::announce(&tracker, request(), REMOTE).await.unwrap();
        let local = response.peers.v4.iter().map(|p| p.endpoint.port);
        let ports: Vec<u16> =
            local.chain(response.upstream.endpoints().map(|e| e.port())).collect();
        assert_eq!(ports, vec![1, 7], "local first, then upstream");
        let next_client = PeerId([9; 20]);
        let later = records.lock().for_upstreams(1, &rules)[0].plan(
            &next_client,
            Standing { previous: None, listed: true },
            Event::Started,
            NOW,
            &rules,
        );
        assert!(later.cached.is_some(), "the answer is kept with the torrent for later clients");
    }

    #[tokio::test]
    async fn a_claimed_ip_is_used_only_when_allowed() {
        let mut repository = MockPeerRepository::new();
        repository
            .expect_announce()
            .withf(|_, peer, _| peer.endpoint.ip() == "198.51.100.1".parse::<IpAddr>().unwrap())
            .times(1)
            .returning(|_, _, _| Ok(SwarmAnswer::default()));
        let allowing = TrackerSettings { allow_claimed_ip: true, ..settings() };
        let tracker = Tracker::new(Arc::new(repository), clock(), allowing);
        tracker.announce_locally(&request(), REMOTE).await.unwrap();
    }

    #[tokio::test]
    async fn port_zero_is_refused_before_the_repository() {
        let mut repository = MockPeerRepository::new();
        repository.expect_announce().never();
        let tracker = Tracker::new(Arc::new(repository), clock(), settings());
        let refused =
            tracker.announce_locally(&AnnounceRequest { port: 0, ..request() }, REMOTE).await;
        assert_eq!(refused, Err(Refusal::PortZero));
    }

    #[tokio::test]
    async fn the_address_the_peer_would_be_listed_at_is_checked_after_ip_is_resolved() {
        let multicast =
            AnnounceRequest { claimed_ip: Some("224.0.0.1".parse().unwrap()), ..request() };

        let mut repository = MockPeerRepository::new();
        repository.expect_announce().never();
        let allowing = TrackerSettings { allow_claimed_ip: true, ..settings() };
        let tracker = Tracker::new(Arc::new(repository), clock(), allowing);
        let refused = tracker.announce_locally(&multicast, REMOTE).await;
        assert_eq!(refused, Err(Refusal::UnusableAddress("224.0.0.1".parse().unwrap())));

        // Ignored, the claim cannot get the announce refused: the remote address is fine.
        let mut repository = MockPeerRepository::new();
        repository.expect_announce().times(1).returning(|_, _, _| Ok(SwarmAnswer::default()));
        let tracker = Tracker::new(Arc::new(repository), clock(), settings());
        assert!(tracker.announce_locally(&multicast, REMOTE).await.is_ok());
    }

    #[tokio::test]
    async fn a_repository_refusal_reaches_the_client() {
        let mut repository = MockPeerRepository::new();
        repository.expect_announce().returning(|_, _, _| Err(Refusal::TorrentLimit(5)));
        let tracker = Tracker::new(Arc::new(repository), clock(), settings());
        assert_eq!(
            tracker.announce_locally(&request(), REMOTE).await,
            Err(Refusal::TorrentLimit(5))
        );
    }

    #[tokio::test]
    async fn scrape_asks_once_per_distinct_hash() {
        let (a, b) = (InfoHash([1; 20]), InfoHash([2; 20]));
        let counted = SwarmStats { complete: 4, incomplete: 5, downloaded: 6, downloaders: 5 };
        let mut repository = MockPeerRepository::new();
        repository
            .expect_scrape()
            .with(eq(vec![a, b]))
            .times(1)
            .returning(move |_| Ok(vec![counted, SwarmStats::default()]));
        let tracker = Tracker::new(Arc::new(repository), Arc::new(MockClock::new()), settings());
        let response = TrackerService::scrape(&tracker, &[a, b, a]).await.unwrap();
        assert_eq!(response.files, vec![(a, counted), (b, SwarmStats::default())]);
    }

    #[test]
    fn sweep_forgets_what_is_older_than_the_peer_age() {
        let mut repository = MockPeerRepository::new();
        repository
            .expect_sweep()
            .with(eq(Timestamp::from_secs(100_000 - 10_800)), eq(SweepPart::WHOLE))
            .times(1)
            .return_const(SweepReport { peers_removed: 3, torrents_removed: 1 });
        let tracker = Tracker::new(Arc::new(repository), clock(), settings());
        assert_eq!(tracker.sweep(), SweepReport { peers_removed: 3, torrents_removed: 1 });
    }
}
