//! Forwarding announces to upstream trackers: who is asked when, what is waited for, and what
//! is remembered, per the policy in `domain::forwarding`.
//!
//! Every upstream due a forward is asked at once, each in its own task bounded by the forward
//! timeout. The client waits only for upstreams that have no fresh answer cached; the others
//! finish in the background and refresh the cache for the next client.

use std::sync::Arc;
use std::time::Duration;

use smallvec::SmallVec;

use crate::domain::announce::AnnounceRequest;
use crate::domain::forwarding::{ForwardRules, UpstreamRecords};
use crate::domain::peer::Event;
use crate::domain::swarm::Standing;
use crate::domain::time::Timestamp;
use crate::domain::upstream_peers::UpstreamPeers;
use crate::ports::metrics::{ForwardOutcome, ForwardStatus};
use crate::ports::{Clock, Metrics, PeerRepository, UpstreamError, UpstreamTracker};

/// The upstream lists for one answer; inline up to two forwarders, the usual at most, so that
/// an announce allocates nothing for them.
pub type UpstreamLists = SmallVec<[UpstreamPeers; 2]>;

/// What a torrent's records said of one announce.
#[derive(Debug, Default)]
pub struct ForwardPlan {
    /// Fresh cached lists, usable at once.
    cached: UpstreamLists,
    /// Upstreams to ask, and whether the client waits for each; empty on most announces,
    /// which cached lists answer.
    due: SmallVec<[(usize, bool); 2]>,
    /// Upstreams backing off after a failure, counted as rate limited.
    held_back: SmallVec<[usize; 2]>,
}

pub struct Forwarding {
    upstreams: Vec<Arc<dyn UpstreamTracker>>,
    /// Keeps each torrent's records, one per upstream in the order of `upstreams`, beside
    /// its swarm.
    repository: Arc<dyn PeerRepository>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn Metrics>,
    timeout: Duration,
    rules: ForwardRules,
}

impl Forwarding {
    pub fn new(
        upstreams: Vec<Arc<dyn UpstreamTracker>>,
        repository: Arc<dyn PeerRepository>,
        clock: Arc<dyn Clock>,
        metrics: Arc<dyn Metrics>,
        timeout: Duration,
        rules: ForwardRules,
    ) -> Self {
        Self { upstreams, repository, clock, metrics, timeout, rules }
    }

    /// Decides what `request`, made at `now` by a client standing so in the swarm, asks of
    /// each upstream, from the torrent's `records`. The repository lends them under its lock,
    /// so this only decides; `carry_out` does the rest.
    pub fn plan(
        &self,
        records: &mut UpstreamRecords,
        request: &AnnounceRequest,
        standing: Standing,
        now: Timestamp,
    ) -> ForwardPlan {
        let stopping = request.event == Event::Stopped;
        let mut plan = ForwardPlan::default();
        let records = records.for_upstreams(self.upstreams.len(), &self.rules);
        for (index, record) in records.iter_mut().enumerate() {
            let decided = record.plan(&request.peer_id, standing, request.event, now, &self.rules);
            let must_wait = decided.cached.is_none() && !stopping;
            plan.cached.extend(decided.cached);
            if decided.forward {
                plan.due.push((index, must_wait));
            } else if !stopping {
                plan.held_back.push(index);
            }
        }
        plan
    }

    /// Carries out `plan` for `request`: asks every upstream due a forward, and returns the
    /// upstream peer lists to merge: the cached ones, and those of upstreams without one once
    /// they answer or time out.
    pub async fn carry_out(
        self: &Arc<Self>,
        plan: ForwardPlan,
        request: &AnnounceRequest,
    ) -> UpstreamLists {
        for index in plan.held_back {
            let name = self.upstreams[index].name();
            self.metrics.forward(name, ForwardOutcome::RateLimited, ForwardStatus::NoAnswer, None);
        }
        let mut lists = plan.cached;
        let mut awaited = Vec::new();
        for (index, must_wait) in plan.due {
            let task = tokio::spawn(Arc::clone(self).forward(index, request.clone()));
            if must_wait {
                awaited.push(task);
            }
        }
        for task in awaited {
            if let Ok(Some(peers)) = task.await {
                lists.push(peers);
            }
        }
        lists
    }

    /// Asks one upstream and records what came of it.
    async fn forward(
        self: Arc<Self>,
        index: usize,
        request: AnnounceRequest,
    ) -> Option<UpstreamPeers> {
        let upstream = &self.upstreams[index];
        let name = upstream.name();
        let started = tokio::time::Instant::now();
        let outcome = tokio::time::timeout(self.timeout, upstream.announce(&request)).await;
        let took = Some(started.elapsed());
        let now = self.clock.now();
        let mut answer = match outcome {
            Ok(Ok(answer)) => {
                tracing::debug!(upstream = name, peers = answer.peers.len(), "forwarded");
                let status = if answer.over_udp {
                    ForwardStatus::UdpAnnounce
                } else {
                    ForwardStatus::Http(200)
                };
                self.metrics.forward(name, ForwardOutcome::Ok, status, took);
                self.metrics.forwarder_peers(name, answer.peers.len());
                Some(answer)
            }
            Ok(Err(error @ UpstreamError::UdpError(_))) => {
                // The upstream's own words: worth more than a debug line.
                tracing::info!(upstream = name, %error, "forward refused");
                self.metrics.forward(name, ForwardOutcome::Error, answered_status(&error), took);
                None
            }
            Ok(Err(error)) => {
                tracing::debug!(upstream = name, %error, "forward failed");
                self.metrics.forward(name, ForwardOutcome::Error, answered_status(&error), took);
                None
            }
            Err(_) => {
                tracing::debug!(upstream = name, timeout = ?self.timeout, "forward timed out");
                self.metrics.forward(name, ForwardOutcome::Timeout, ForwardStatus::NoAnswer, took);
                None
            }
        };
        let mut kept = None;
        self.repository.update_upstream(
            &request.info_hash,
            &mut |records: &mut UpstreamRecords| {
                let record = &mut records.for_upstreams(self.upstreams.len(), &self.rules)[index];
                match answer.take() {
                    Some(answer) => {
                        let peers = answer.peers;
                        kept = Some(record.record_answer(peers, answer.interval, now, &self.rules));
                    }
                    None => record.record_failure(&request.peer_id, now, &self.rules),
                }
            },
        );
        // A torrent swept meanwhile keeps nothing, but the waiting client still gets the peers.
        kept.or(answer.map(|answer| answer.peers))
    }
}

/// The answer behind a failure, if one came: what the Go original's `forwarder_status` counts.
fn answered_status(error: &UpstreamError) -> ForwardStatus {
    match error {
        UpstreamError::Status(code) => ForwardStatus::Http(*code),
        UpstreamError::TooLarge(_) | UpstreamError::Malformed(_) | UpstreamError::Refused(_) => {
            ForwardStatus::Http(200)
        }
        UpstreamError::UdpError(_) => ForwardStatus::UdpError,
        UpstreamError::UdpUnreadable(_) => ForwardStatus::UdpUnreadable,
        UpstreamError::Transport(_) => ForwardStatus::NoAnswer,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::atomic::{AtomicU32, Ordering};

    use parking_lot::Mutex;

    use super::*;
    use crate::domain::ids::{InfoHash, PeerId};
    use crate::domain::peer::AnyEndpoint;
    use crate::ports::clock::MockClock;
    use crate::ports::metrics::NoMetrics;
    use crate::ports::peer_repository::MockPeerRepository;
    use crate::ports::upstream::{MockUpstreamTracker, UpstreamAnswer, UpstreamError};

    const RULES: ForwardRules = ForwardRules::for_tests(100);
    const TIMEOUT: Duration = Duration::from_secs(2);

    /// A mocked clock the test moves by hand.
    fn clock(now: Arc<AtomicU32>) -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(move || Timestamp::from_secs(now.load(Ordering::SeqCst)));
        Arc::new(clock)
    }

    fn request(peer: u8, event: Event) -> AnnounceRequest {
        AnnounceRequest {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([peer; 20]),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 5,
            event,
            numwant: Some(50),
            claimed_ip: None,
            peer_ids: false,
            key: None,
        }
    }

    /// One upstream peer, told apart by its port.
    fn peers(port: u16) -> UpstreamPeers {
        std::iter::once(AnyEndpoint::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), port)).collect()
    }

    fn answering(port: u16, interval: u64, times: usize) -> MockUpstreamTracker {
        let mut upstream = MockUpstreamTracker::new();
        upstream.expect_name().return_const("upstream".to_string());
        upstream.expect_announce().times(times).returning(move |_| {
            Ok(UpstreamAnswer {
                interval: Some(Duration::from_secs(interval)),
                peers: peers(port),
                over_udp: false,
            })
        });
        upstream
    }

    /// The mocked clock's time.
    fn at(now: &AtomicU32) -> Timestamp {
        Timestamp::from_secs(now.load(Ordering::SeqCst))
    }

    /// A client the swarm has just taken in.
    fn newcomer() -> Standing {
        Standing { previous: None, listed: true }
    }

    /// A client the swarm holds, last seen at `secs`.
    fn seen_at(secs: u32) -> Standing {
        Standing { previous: Some(Timestamp::from_secs(secs)), listed: true }
    }

    /// The forwarding of one torrent, whose records the test holds as the repository would.
    #[derive(Clone)]
    struct OneTorrent {
        forwarding: Arc<Forwarding>,
        records: Arc<Mutex<UpstreamRecords>>,
    }

    impl OneTorrent {
        fn new(upstreams: Vec<Arc<dyn UpstreamTracker>>, now: &Arc<AtomicU32>) -> Self {
            let records = Arc::new(Mutex::new(UpstreamRecords::default()));
            let mut repository = MockPeerRepository::new();
            let held = records.clone();
            repository.expect_update_upstream().returning(move |_, update| {
                update.update(&mut held.lock());
                true
            });
            let forwarding = Arc::new(Forwarding::new(
                upstreams,
                Arc::new(repository),
                clock(now.clone()),
                Arc::new(NoMetrics),
                TIMEOUT,
                RULES,
            ));
            Self { forwarding, records }
        }

        /// One announce: planned on the records, then carried out.
        async fn upstream_peers(
            &self,
            request: &AnnounceRequest,
            standing: Standing,
            now: Timestamp,
        ) -> UpstreamLists {
            let plan = self.forwarding.plan(&mut self.records.lock(), request, standing, now);
            self.forwarding.carry_out(plan, request).await
        }
    }

    fn forwarding(upstreams: Vec<MockUpstreamTracker>, now: &Arc<AtomicU32>) -> OneTorrent {
        let upstreams =
            upstreams.into_iter().map(|u| Arc::new(u) as Arc<dyn UpstreamTracker>).collect();
        OneTorrent::new(upstreams, now)
    }

    #[tokio::test]
    async fn every_upstream_is_asked_and_its_peers_returned() {
        let now = Arc::new(AtomicU32::new(1_000));
        let forwarding = forwarding(vec![answering(1, 600, 1), answering(2, 600, 1)], &now);
        let lists =
            forwarding.upstream_peers(&request(1, Event::Started), newcomer(), at(&now)).await;
        assert_eq!(lists.to_vec(), vec![peers(1), peers(2)]);
    }

    #[tokio::test]
    async fn a_client_is_forwarded_again_once_in_the_next_interval() {
        let now = Arc::new(AtomicU32::new(1_000));
        let forwarding = forwarding(vec![answering(1, 600, 2)], &now);
        forwarding.upstream_peers(&request(1, Event::Started), newcomer(), at(&now)).await;
        now.store(1_030, Ordering::SeqCst);
        let cached =
            forwarding.upstream_peers(&request(1, Event::Periodic), seen_at(1_000), at(&now)).await;
        assert_eq!(cached[0], peers(1), "the cached answer serves the re-announce");
        // Announcing every 30 s through the next 600 s: its turn comes once in them.
        for secs in (1_060..=1_600).step_by(30) {
            now.store(secs, Ordering::SeqCst);
            let previous = seen_at(secs - 30);
            forwarding.upstream_peers(&request(1, Event::Periodic), previous, at(&now)).await;
        }
        // `times(2)` on the mock checks that exactly two forwards happened.
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_cached_list_is_answered_without_waiting() {
        let now = Arc::new(AtomicU32::new(1_000));
        // Answers the first client, then hangs for the second: its answer must not wait.
        let upstream =
            HangsAfter { answered: 1, calls: AtomicU32::new(0), inner: answering(1, 600, 2) };
        let forwarding = OneTorrent::new(vec![Arc::new(upstream)], &now);
        forwarding.upstream_peers(&request(1, Event::Started), newcomer(), at(&now)).await;
        let started = tokio::time::Instant::now();
        let lists =
            forwarding.upstream_peers(&request(2, Event::Started), newcomer(), at(&now)).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(lists[0], peers(1));
        tokio::time::sleep(TIMEOUT).await; // let the hung forward time out in the background
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_upstream_costs_its_peers_only_and_at_most_the_timeout() {
        let now = Arc::new(AtomicU32::new(1_000));
        let hung =
            HangsAfter { answered: 0, calls: AtomicU32::new(0), inner: answering(9, 600, 1) };
        let forwarding =
            OneTorrent::new(vec![Arc::new(answering(1, 600, 1)), Arc::new(hung)], &now);
        let started = tokio::time::Instant::now();
        let lists =
            forwarding.upstream_peers(&request(1, Event::Started), newcomer(), at(&now)).await;
        assert_eq!(lists.len(), 1);
        assert_eq!(lists[0], peers(1));
        assert_eq!(started.elapsed(), TIMEOUT);
    }

    /// Passes the first `answered` calls to the mock, then hangs forever (still calling the
    /// mock, so its expected call count checks every call).
    struct HangsAfter {
        answered: u32,
        calls: AtomicU32,
        inner: MockUpstreamTracker,
    }

    #[async_trait::async_trait]
    impl UpstreamTracker for HangsAfter {
        fn name(&self) -> &str {
            self.inner.name()
        }
        async fn announce(
            &self,
            request: &AnnounceRequest,
        ) -> Result<UpstreamAnswer, UpstreamError> {
            let answer = self.inner.announce(request).await;
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.answered {
                return answer;
            }
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_failing_upstream_is_left_alone_for_a_while_then_owed_clients_go() {
        let now = Arc::new(AtomicU32::new(1_000));
        let (seen, mut asked) = tokio::sync::mpsc::unbounded_channel();
        let mut failing = MockUpstreamTracker::new();
        failing.expect_name().return_const("failing".to_string());
        failing.expect_announce().times(3).returning(move |request| {
            let _ = seen.send(request.peer_id.0[0]);
            Err(UpstreamError::Status(500))
        });
        let forwarding = forwarding(vec![failing], &now);
        let announce = |client, standing| {
            let forwarding = forwarding.clone();
            let when = at(&now);
            async move {
                forwarding.upstream_peers(&request(client, Event::Started), standing, when).await
            }
        };
        assert!(announce(1, newcomer()).await.is_empty());
        now.store(1_030, Ordering::SeqCst);
        assert!(announce(2, newcomer()).await.is_empty(), "backed off: not asked");
        now.store(1_061, Ordering::SeqCst);
        announce(2, seen_at(1_030)).await;
        now.store(1_200, Ordering::SeqCst);
        announce(1, seen_at(1_030)).await;
        let order: Vec<u8> = (0..3).map(|_| asked.try_recv().unwrap()).collect();
        assert_eq!(order, vec![1, 2, 1], "each owed client is asked for once it is retried");
    }

    #[tokio::test]
    async fn stopped_is_forwarded_but_not_waited_for() {
        let now = Arc::new(AtomicU32::new(1_000));
        let (seen, mut events) = tokio::sync::mpsc::unbounded_channel();
        let mut upstream = MockUpstreamTracker::new();
        upstream.expect_name().return_const("upstream".to_string());
        upstream.expect_announce().times(2).returning(move |request| {
            let _ = seen.send(request.event);
            Ok(UpstreamAnswer {
                interval: Some(Duration::from_secs(600)),
                peers: peers(1),
                over_udp: false,
            })
        });
        let forwarding = forwarding(vec![upstream], &now);
        forwarding.upstream_peers(&request(1, Event::Started), newcomer(), at(&now)).await;
        now.store(3_000, Ordering::SeqCst); // the cached answer is stale by now
        let gone = Standing { previous: Some(Timestamp::from_secs(2_990)), listed: false };
        let lists = forwarding.upstream_peers(&request(1, Event::Stopped), gone, at(&now)).await;
        assert!(lists.is_empty(), "a leaving client gets no peers");
        let forwarded: Vec<Event> =
            vec![events.recv().await.unwrap(), events.recv().await.unwrap()];
        assert_eq!(forwarded, vec![Event::Started, Event::Stopped]);
    }
}
