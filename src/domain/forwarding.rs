//! The forwarding policy: when a client's announce is passed on to an upstream tracker, and
//! when a remembered upstream answer is still good.
//!
//! An upstream sees each client as a peer of its own (same peer id and port), so each client is
//! re-announced there once per upstream `interval`, while one upstream answer, cached for that
//! interval, serves every client of the torrent.
//!
//! Nothing is kept per client to do that: a client's turns come at fixed points of each
//! interval, placed by its peer id, and the swarm says when the client last announced, so a
//! turn that came since then is due. The points spread a torrent's clients evenly over the
//! interval. Only while an upstream is failing are clients remembered: those whose turn it
//! missed, to forward them once it is back.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::Duration;

use foldhash::fast::{FixedState, RandomState};
use smallvec::SmallVec;

use super::ids::PeerId;
use super::peer::Event;
use super::swarm::Standing;
use super::time::Timestamp;
use super::upstream_peers::UpstreamPeers;

/// The fixed parts of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardRules {
    /// Assumed until an upstream states its own `interval`.
    pub default_interval: Duration,
    /// The least interval honoured, so an upstream answering `interval 0` is not hammered.
    pub interval_floor: Duration,
    /// The most interval honoured, so a cached peer list is refreshed at least this often.
    pub interval_ceiling: Duration,
    /// How long an upstream is left alone after a failure.
    pub retry_after_failure: Duration,
    /// Clients owed a forward remembered per torrent and upstream while it fails; past it, the
    /// rest wait for their next turn.
    pub max_owed: usize,
}

#[cfg(test)]
impl ForwardRules {
    /// Half-hour default, one minute to one hour bounds, a minute's back-off.
    pub(crate) const fn for_tests(max_owed: usize) -> Self {
        Self {
            default_interval: Duration::from_secs(1800),
            interval_floor: Duration::from_secs(60),
            interval_ceiling: Duration::from_secs(3600),
            retry_after_failure: Duration::from_secs(60),
            max_owed,
        }
    }
}

/// What to do for one client's announce, as far as one upstream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Send the announce upstream.
    pub forward: bool,
    /// Peers from an upstream answer still within its interval: usable without waiting.
    pub cached: Option<UpstreamPeers>,
}

/// Clients owed a forward, and since when.
type Owed = HashMap<PeerId, Timestamp, RandomState>;

/// What is remembered of one upstream tracker for one torrent. Every announce of the torrent
/// reads it, most of them cold, so it is kept to 32 bytes that sit inline beside the torrent's
/// swarm (`interval_secs` rather than a `Duration`, `owed` boxed since it is empty unless the
/// upstream fails).
#[derive(Debug, Clone)]
pub struct UpstreamTorrent {
    answer: Option<UpstreamPeers>,
    answered_at: Timestamp,
    interval_secs: u32,
    retry_after: Timestamp,
    /// Clients whose forward failed or whose turn came during a back-off.
    owed: Option<Box<Owed>>,
}

impl UpstreamTorrent {
    pub fn new(rules: &ForwardRules) -> Self {
        Self {
            answer: None,
            answered_at: Timestamp::default(),
            interval_secs: bounded_secs(rules.default_interval, rules),
            retry_after: Timestamp::default(),
            owed: None,
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_secs.into())
    }

    /// Decides for one client's announce, given where the swarm says it stood.
    pub fn plan(
        &mut self,
        client: &PeerId,
        standing: Standing,
        event: Event,
        now: Timestamp,
        rules: &ForwardRules,
    ) -> Plan {
        let cached = self
            .answer
            .as_ref()
            .filter(|_| now < self.answered_at.saturating_add(self.interval()))
            .cloned();
        let was_owed = self.owed.as_mut().is_some_and(|owed| owed.remove(client).is_some());
        let forward = match event {
            // Only a client the upstream was told about needs telling that it left.
            Event::Stopped => standing.previous.is_some() && !was_owed,
            Event::Completed => true,
            // A client the swarm did not take (it was full) is not passed on either.
            Event::Started | Event::Periodic | Event::Paused if !standing.listed => false,
            Event::Started | Event::Periodic | Event::Paused => {
                let due = was_owed || self.turn_came(client, standing.previous, now);
                if due && now < self.retry_after {
                    self.owe(client, now, rules);
                    false
                } else {
                    due
                }
            }
        };
        Plan { forward, cached }
    }

    /// Whether one of the client's turns came after `previous` (its last announce) and by
    /// `now`; a client new to the swarm is due at once.
    fn turn_came(&self, client: &PeerId, previous: Option<Timestamp>, now: Timestamp) -> bool {
        let Some(previous) = previous else {
            return true;
        };
        let period = u64::from(self.interval_secs.max(1));
        // Any fixed seed: the point only has to stay put for as long as the client is around.
        let phase = FixedState::with_seed(0).hash_one(client) % period;
        let turn = |at: Timestamp| (u64::from(at.secs()) + phase) / period;
        turn(now) > turn(previous)
    }

    fn owe(&mut self, client: &PeerId, now: Timestamp, rules: &ForwardRules) {
        let owed = self.owed.get_or_insert_default();
        if owed.len() < rules.max_owed {
            owed.entry(*client).or_insert(now);
        }
    }

    /// Remembers an upstream answer; returns its peers, shared with later announces.
    pub fn record_answer(
        &mut self,
        peers: UpstreamPeers,
        interval: Option<Duration>,
        now: Timestamp,
        rules: &ForwardRules,
    ) -> UpstreamPeers {
        self.interval_secs = bounded_secs(interval.unwrap_or(rules.default_interval), rules);
        self.answer = Some(peers.clone());
        self.answered_at = now;
        peers
    }

    /// Backs off after a failure; the client is forwarded again at its first announce after.
    pub fn record_failure(&mut self, client: &PeerId, now: Timestamp, rules: &ForwardRules) {
        self.retry_after = now.saturating_add(rules.retry_after_failure);
        self.owe(client, now, rules);
    }

    /// Forgets clients owed since `cutoff` and an answer older than it; returns whether
    /// anything is left worth keeping.
    pub fn expire(&mut self, cutoff: Timestamp) -> bool {
        if let Some(owed) = &mut self.owed {
            owed.retain(|_, since| *since > cutoff);
            if owed.is_empty() {
                self.owed = None;
            }
        }
        if self.answered_at <= cutoff {
            self.answer = None;
        }
        self.owed.is_some() || self.answer.is_some() || self.retry_after > cutoff
    }
}

/// A torrent's records, one per upstream in the configured order: inline for one upstream, the
/// usual case, so that they share the torrent's map slot with its swarm and the lookup an
/// announce makes anyway finds them.
#[derive(Debug, Clone, Default)]
pub struct UpstreamRecords(SmallVec<[UpstreamTorrent; 1]>);

impl UpstreamRecords {
    /// The records of `upstreams` upstreams, the missing ones made new.
    pub fn for_upstreams(
        &mut self,
        upstreams: usize,
        rules: &ForwardRules,
    ) -> &mut [UpstreamTorrent] {
        if self.0.len() < upstreams {
            self.0.resize_with(upstreams, || UpstreamTorrent::new(rules));
        }
        &mut self.0[..upstreams]
    }

    /// Starts fetching the cached upstream lists a plan is about to read (see
    /// `UpstreamPeers::prefetch`).
    pub fn prefetch(&self) {
        for answer in self.0.iter().filter_map(|record| record.answer.as_ref()) {
            answer.prefetch();
        }
    }

    /// No record is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ages every record by `cutoff`, and forgets them all once none holds anything.
    pub fn expire(&mut self, cutoff: Timestamp) {
        // Every record must age, so no short-circuiting `any` here.
        let mut keep = false;
        for record in &mut self.0 {
            keep |= record.expire(cutoff);
        }
        if !keep {
            self.0 = SmallVec::new();
        }
    }
}

/// An upstream's interval within the rules' bounds, in whole seconds.
fn bounded_secs(interval: Duration, rules: &ForwardRules) -> u32 {
    let bounded = interval.clamp(rules.interval_floor, rules.interval_ceiling);
    u32::try_from(bounded.as_secs()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::domain::peer::AnyEndpoint;

    const RULES: ForwardRules = ForwardRules::for_tests(3);

    fn t(secs: u32) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn id(n: u8) -> PeerId {
        PeerId([n; 20])
    }

    const NEWCOMER: Standing = Standing { previous: None, listed: true };

    fn seen_at(secs: u32) -> Standing {
        Standing { previous: Some(t(secs)), listed: true }
    }

    fn answered(state: &mut UpstreamTorrent, interval: u64, at: u32) {
        state.record_answer(
            UpstreamPeers::default(),
            Some(Duration::from_secs(interval)),
            t(at),
            &RULES,
        );
    }

    /// When the client announcing every `every` seconds from `from` to `to` is forwarded.
    fn forwards(
        state: &mut UpstreamTorrent,
        client: u8,
        from: u32,
        to: u32,
        every: u32,
    ) -> Vec<u32> {
        let mut forwarded = Vec::new();
        for at in (from..=to).step_by(every as usize) {
            if state.plan(&id(client), seen_at(at - every), Event::Periodic, t(at), &RULES).forward
            {
                forwarded.push(at);
            }
        }
        forwarded
    }

    #[test]
    fn a_client_is_forwarded_once_per_upstream_interval() {
        let mut state = UpstreamTorrent::new(&RULES);
        assert!(state.plan(&id(1), NEWCOMER, Event::Started, t(1000), &RULES).forward);
        answered(&mut state, 600, 1000);
        let forwarded = forwards(&mut state, 1, 1030, 1000 + 10 * 600, 30);
        assert_eq!(forwarded.len(), 10, "one turn in each of 10 intervals: {forwarded:?}");
        for pair in forwarded.windows(2) {
            assert_eq!(pair[1] - pair[0], 600, "turns a whole interval apart: {forwarded:?}");
        }
    }

    #[test]
    fn the_clients_of_a_torrent_take_turns_spread_over_the_interval() {
        let mut state = UpstreamTorrent::new(&RULES);
        answered(&mut state, 600, 1000);
        // 100 clients that all started at 1000: their turns fall in most tenths of an interval.
        let mut tenths = std::collections::BTreeSet::new();
        for client in 0..100 {
            let first = forwards(&mut state, client, 1010, 1600, 10);
            assert_eq!(first.len(), 1, "client {client}: {first:?}");
            tenths.insert((first[0] - 1001) / 60);
        }
        assert!(tenths.len() >= 8, "turns bunched in {tenths:?}");
    }

    #[test]
    fn a_returning_or_long_silent_client_is_forwarded_at_once() {
        let mut state = UpstreamTorrent::new(&RULES);
        answered(&mut state, 600, 1000);
        assert!(state.plan(&id(1), NEWCOMER, Event::Started, t(1001), &RULES).forward);
        assert!(state.plan(&id(1), seen_at(1001), Event::Periodic, t(1700), &RULES).forward);
    }

    #[test]
    fn a_client_the_swarm_did_not_take_is_not_forwarded() {
        let mut state = UpstreamTorrent::new(&RULES);
        let refused = Standing { previous: None, listed: false };
        assert!(!state.plan(&id(1), refused, Event::Started, t(1000), &RULES).forward);
    }

    #[test]
    fn other_clients_are_forwarded_and_get_the_cached_list_meanwhile() {
        let mut state = UpstreamTorrent::new(&RULES);
        state.plan(&id(1), NEWCOMER, Event::Started, t(1000), &RULES);
        let upstream_peer = AnyEndpoint::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
        let peers = state.record_answer(
            std::iter::once(upstream_peer).collect(),
            Some(Duration::from_secs(600)),
            t(1000),
            &RULES,
        );
        let plan = state.plan(&id(2), NEWCOMER, Event::Started, t(1010), &RULES);
        assert!(plan.forward, "the new client must be registered upstream too");
        assert_eq!(plan.cached, Some(peers));
        let stale = state.plan(&id(3), NEWCOMER, Event::Started, t(1600), &RULES);
        assert_eq!(stale.cached, None, "an answer is good for its interval only");
    }

    #[test]
    fn stopped_and_completed_skip_the_wait() {
        let mut state = UpstreamTorrent::new(&RULES);
        state.plan(&id(1), NEWCOMER, Event::Started, t(1000), &RULES);
        answered(&mut state, 600, 1000);
        assert!(state.plan(&id(1), seen_at(1000), Event::Completed, t(1001), &RULES).forward);
        let leaving = Standing { previous: Some(t(1001)), listed: false };
        assert!(state.plan(&id(1), leaving, Event::Stopped, t(1002), &RULES).forward);
        let unknown = Standing { previous: None, listed: false };
        assert!(
            !state.plan(&id(1), unknown, Event::Stopped, t(1003), &RULES).forward,
            "already gone"
        );
    }

    #[test]
    fn a_failure_backs_off_and_then_forwards_the_clients_it_owes() {
        let mut state = UpstreamTorrent::new(&RULES);
        assert!(state.plan(&id(1), NEWCOMER, Event::Started, t(1000), &RULES).forward);
        state.record_failure(&id(1), t(1002), &RULES);
        assert!(!state.plan(&id(1), seen_at(1000), Event::Periodic, t(1030), &RULES).forward);
        assert!(!state.plan(&id(2), NEWCOMER, Event::Started, t(1061), &RULES).forward);
        assert!(state.plan(&id(1), seen_at(1030), Event::Periodic, t(1062), &RULES).forward);
        assert!(state.plan(&id(2), seen_at(1061), Event::Periodic, t(1091), &RULES).forward);
        assert!(
            !state.plan(&id(2), seen_at(1091), Event::Periodic, t(1092), &RULES).forward,
            "paid once"
        );
    }

    #[test]
    fn upstream_intervals_are_bounded() {
        let mut state = UpstreamTorrent::new(&RULES);
        answered(&mut state, 0, 1000);
        assert_eq!(forwards(&mut state, 1, 1010, 1600, 10).len(), 10, "interval 0 means 60 s");
        answered(&mut state, 999_999, 1600);
        assert_eq!(forwards(&mut state, 1, 1610, 1600 + 7200, 10).len(), 2, "capped at an hour");
    }

    #[test]
    fn a_record_fits_half_a_cache_line() {
        assert!(std::mem::size_of::<UpstreamTorrent>() <= 32);
    }

    #[test]
    fn one_upstream_record_takes_no_allocation() {
        let mut records = UpstreamRecords::default();
        assert_eq!(records.for_upstreams(1, &RULES).len(), 1);
        assert!(!records.0.spilled());
        assert!(std::mem::size_of::<UpstreamRecords>() <= 40);
    }

    #[test]
    fn records_are_made_per_upstream_and_forgotten_once_all_are_spent() {
        let mut records = UpstreamRecords::default();
        assert!(records.is_empty());
        let [first, second] = records.for_upstreams(2, &RULES) else { panic!("two records") };
        answered(first, 600, 1000);
        answered(second, 600, 2000);
        records.expire(t(1000));
        assert_eq!(records.for_upstreams(2, &RULES).len(), 2, "the second one is fresh");
        assert!(!records.is_empty());
        records.expire(t(2000));
        assert!(records.is_empty());
    }

    #[test]
    fn owed_clients_are_bounded_and_aged() {
        let mut state = UpstreamTorrent::new(&RULES);
        state.record_failure(&id(1), t(1000), &RULES);
        for n in 2..=4 {
            assert!(!state.plan(&id(n), NEWCOMER, Event::Started, t(1010), &RULES).forward);
        }
        // Owed: 1, 2 and 3; 4 came past max_owed and waits for its next turn.
        let back = |n| state.clone().plan(&id(n), seen_at(1010), Event::Periodic, t(1070), &RULES);
        assert!(back(3).forward);
        assert!(!back(4).forward);
        assert!(state.expire(t(1009)));
        assert!(state.expire(t(1010)), "the back-off itself is kept a while");
        assert!(!state.expire(t(1060)), "nothing left once every client aged out");
    }
}
