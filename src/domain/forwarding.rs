//! The forwarding policy: when a client's announce is passed on to an upstream tracker, when a
//! remembered upstream answer is still good.
//!
//! An upstream sees each client as a peer of its own (same peer id and port), so each client is
//! re-announced there no more often than the upstream's `interval` asks, while one upstream
//! answer, cached for that interval, serves every client of the torrent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use foldhash::fast::RandomState;

use super::ids::PeerId;
use super::peer::{Event, PeerList};
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
    /// Clients remembered per torrent and upstream; new ones past it are not forwarded.
    pub max_clients: usize,
}

#[cfg(test)]
impl ForwardRules {
    /// Half-hour default, one minute to one hour bounds, a minute's back-off.
    pub(crate) const fn for_tests(max_clients: usize) -> Self {
        Self {
            default_interval: Duration::from_secs(1800),
            interval_floor: Duration::from_secs(60),
            interval_ceiling: Duration::from_secs(3600),
            retry_after_failure: Duration::from_secs(60),
            max_clients,
        }
    }
}

/// What to do for one client's announce, as far as one upstream goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Send the announce upstream.
    pub forward: bool,
    /// Peers from an upstream answer still within its interval: usable without waiting.
    pub cached: Option<Arc<UpstreamPeers>>,
}

/// What is remembered of one upstream tracker for one torrent.
#[derive(Debug, Clone)]
pub struct UpstreamTorrent {
    answer: Option<(Arc<UpstreamPeers>, Timestamp)>,
    interval: Duration,
    min_interval: Duration,
    retry_after: Timestamp,
    /// When each client was last forwarded.
    clients: HashMap<PeerId, Timestamp, RandomState>,
}

impl UpstreamTorrent {
    pub fn new(rules: &ForwardRules) -> Self {
        let interval = rules.default_interval.clamp(rules.interval_floor, rules.interval_ceiling);
        Self {
            answer: None,
            interval,
            min_interval: interval,
            retry_after: Timestamp::default(),
            clients: HashMap::default(),
        }
    }

    /// Decides for one client's announce, and notes the forward if there is one.
    pub fn plan(
        &mut self,
        client: &PeerId,
        event: Event,
        now: Timestamp,
        rules: &ForwardRules,
    ) -> Plan {
        let cached = self
            .answer
            .as_ref()
            .filter(|(_, at)| now < at.saturating_add(self.interval))
            .map(|(peers, _)| peers.clone());
        let last = self.clients.get(client).copied();
        let due_after = |wait: Duration| last.is_none_or(|last| now >= last.saturating_add(wait));
        let settled = now >= self.retry_after;
        let forward = match event {
            // Only a client the upstream was told about needs telling that it left.
            Event::Stopped => self.clients.remove(client).is_some(),
            Event::Completed => true,
            Event::Started if last.is_some() => settled && due_after(self.min_interval),
            Event::Started | Event::Periodic => {
                let room = last.is_some() || self.clients.len() < rules.max_clients;
                settled && room && due_after(self.interval)
            }
        };
        if forward && event != Event::Stopped {
            self.clients.insert(*client, now);
        }
        Plan { forward, cached }
    }

    /// Remembers an upstream answer; returns its peers, shared with later announces.
    pub fn record_answer(
        &mut self,
        peers: PeerList,
        interval: Option<Duration>,
        min_interval: Option<Duration>,
        now: Timestamp,
        rules: &ForwardRules,
    ) -> Arc<UpstreamPeers> {
        let bound = |d: Duration| d.clamp(rules.interval_floor, rules.interval_ceiling);
        self.interval = bound(interval.unwrap_or(rules.default_interval));
        self.min_interval = bound(min_interval.unwrap_or(self.interval)).min(self.interval);
        let peers = Arc::new(UpstreamPeers::new(&peers));
        self.answer = Some((peers.clone(), now));
        peers
    }

    /// Backs off after a failure; the client is forwarded again once the upstream is retried.
    pub fn record_failure(&mut self, client: &PeerId, now: Timestamp, rules: &ForwardRules) {
        self.retry_after = now.saturating_add(rules.retry_after_failure);
        self.clients.remove(client);
    }

    /// Forgets clients not forwarded since `cutoff` and an answer older than it; returns
    /// whether anything is left worth keeping.
    pub fn expire(&mut self, cutoff: Timestamp) -> bool {
        self.clients.retain(|_, last| *last > cutoff);
        if self.answer.as_ref().is_some_and(|(_, at)| *at <= cutoff) {
            self.answer = None;
        }
        !self.clients.is_empty() || self.answer.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::domain::peer::{Endpoint, Peer};

    const RULES: ForwardRules = ForwardRules::for_tests(3);

    fn t(secs: u32) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn id(n: u8) -> PeerId {
        PeerId([n; 20])
    }

    fn v4(last: u8, port: u16) -> Peer<Ipv4Addr> {
        Peer { id: None, endpoint: Endpoint { ip: Ipv4Addr::new(10, 0, 0, last), port } }
    }

    fn answered(state: &mut UpstreamTorrent, interval: u64, at: u32) {
        state.record_answer(
            PeerList::default(),
            Some(Duration::from_secs(interval)),
            None,
            t(at),
            &RULES,
        );
    }

    #[test]
    fn a_client_is_forwarded_once_per_upstream_interval() {
        let mut state = UpstreamTorrent::new(&RULES);
        assert!(state.plan(&id(1), Event::Started, t(1000), &RULES).forward);
        answered(&mut state, 600, 1000);
        assert!(!state.plan(&id(1), Event::Periodic, t(1030), &RULES).forward);
        assert!(!state.plan(&id(1), Event::Periodic, t(1599), &RULES).forward);
        assert!(state.plan(&id(1), Event::Periodic, t(1600), &RULES).forward);
    }

    #[test]
    fn a_restart_waits_only_the_min_interval() {
        let mut state = UpstreamTorrent::new(&RULES);
        state.plan(&id(1), Event::Started, t(1000), &RULES);
        state.record_answer(
            PeerList::default(),
            Some(Duration::from_secs(900)),
            Some(Duration::from_secs(120)),
            t(1000),
            &RULES,
        );
        assert!(!state.plan(&id(1), Event::Started, t(1100), &RULES).forward);
        assert!(state.plan(&id(1), Event::Started, t(1120), &RULES).forward);
    }

    #[test]
    fn other_clients_are_forwarded_and_get_the_cached_list_meanwhile() {
        let mut state = UpstreamTorrent::new(&RULES);
        state.plan(&id(1), Event::Started, t(1000), &RULES);
        let peers = state.record_answer(
            PeerList { v4: vec![v4(9, 1)], v6: vec![] },
            Some(Duration::from_secs(600)),
            None,
            t(1000),
            &RULES,
        );
        let plan = state.plan(&id(2), Event::Started, t(1010), &RULES);
        assert!(plan.forward, "the new client must be registered upstream too");
        assert_eq!(plan.cached, Some(peers));
        let stale = state.plan(&id(3), Event::Started, t(1600), &RULES);
        assert_eq!(stale.cached, None, "an answer is good for its interval only");
    }

    #[test]
    fn stopped_and_completed_skip_the_wait() {
        let mut state = UpstreamTorrent::new(&RULES);
        state.plan(&id(1), Event::Started, t(1000), &RULES);
        answered(&mut state, 600, 1000);
        assert!(state.plan(&id(1), Event::Completed, t(1001), &RULES).forward);
        assert!(state.plan(&id(1), Event::Stopped, t(1002), &RULES).forward);
        assert!(!state.plan(&id(1), Event::Stopped, t(1003), &RULES).forward, "already told");
        assert!(
            state.plan(&id(1), Event::Started, t(1004), &RULES).forward,
            "a new start after a stop"
        );
    }

    #[test]
    fn a_failure_backs_off_and_then_retries_the_client() {
        let mut state = UpstreamTorrent::new(&RULES);
        assert!(state.plan(&id(1), Event::Started, t(1000), &RULES).forward);
        state.record_failure(&id(1), t(1002), &RULES);
        assert!(!state.plan(&id(1), Event::Periodic, t(1030), &RULES).forward);
        assert!(!state.plan(&id(2), Event::Started, t(1061), &RULES).forward);
        assert!(state.plan(&id(1), Event::Periodic, t(1062), &RULES).forward);
    }

    #[test]
    fn upstream_intervals_are_bounded() {
        let mut state = UpstreamTorrent::new(&RULES);
        state.plan(&id(1), Event::Started, t(1000), &RULES);
        answered(&mut state, 0, 1000);
        assert!(
            !state.plan(&id(1), Event::Periodic, t(1059), &RULES).forward,
            "interval 0 means 60 s"
        );
        assert!(state.plan(&id(1), Event::Periodic, t(1060), &RULES).forward);
        answered(&mut state, 999_999, 1060);
        assert!(
            state.plan(&id(1), Event::Periodic, t(1060 + 3600), &RULES).forward,
            "capped at an hour"
        );
    }

    #[test]
    fn remembered_clients_are_bounded_and_aged() {
        let mut state = UpstreamTorrent::new(&RULES);
        for n in 1..=3 {
            assert!(state.plan(&id(n), Event::Started, t(1000), &RULES).forward);
        }
        assert!(!state.plan(&id(4), Event::Started, t(1000), &RULES).forward, "past max_clients");
        assert!(state.expire(t(999)));
        assert!(!state.expire(t(1000)), "nothing left once every client aged out");
    }
}
