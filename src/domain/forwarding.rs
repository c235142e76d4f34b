//! The forwarding policy: when a client's announce is passed on to an upstream tracker, when a
//! remembered upstream answer is still good, and how upstream peers join the local ones.
//!
//! An upstream sees each client as a peer of its own (same peer id and port), so each client is
//! re-announced there no more often than the upstream's `interval` asks, while one upstream
//! answer, cached for that interval, serves every client of the torrent.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use foldhash::fast::RandomState;

use super::ids::PeerId;
use super::peer::{AnyEndpoint, Event, PeerList};
use super::time::Timestamp;
use super::upstream_peers::{UpstreamPeers, UpstreamSelection};

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

/// The upstream peers to add to the `local` ones, for an answer of at most `numwant` in all:
/// taken in turn from each list, skipping the client and any endpoint already in the answer.
/// Each list is read from `start` round (any number; the caller draws it at random), so that
/// the clients of a torrent do not all get the same few upstream peers.
pub fn merge(
    local: &PeerList,
    upstream: &[Arc<UpstreamPeers>],
    numwant: usize,
    client: AnyEndpoint,
    start: usize,
) -> UpstreamSelection {
    let mut selection = UpstreamSelection::default();
    let mut room = numwant.saturating_sub(local.len());
    if room == 0 || upstream.is_empty() {
        return selection;
    }
    // The (list, position) of upstream entries the answer already has. Local and upstream
    // peers rarely overlap, so this is nearly always empty and a plain search of it is free.
    let mut listed = Vec::new();
    // Plain loops: through an iterator chain these lookups cost a third more.
    for (list, peers) in upstream.iter().enumerate() {
        if let Some(position) = peers.position(client) {
            listed.push((list, position));
        }
        for peer in &local.v4 {
            if let Some(position) = peers.v4_position(peer.endpoint) {
                listed.push((list, position));
            }
        }
        for peer in &local.v6 {
            if let Some(position) = peers.v6_position(peer.endpoint) {
                listed.push((list, position));
            }
        }
    }
    if let [only] = upstream {
        // The usual case, a single forwarder: its runs in one pass, no cursors to allocate.
        take_runs(&mut Cursor::new(only, start), upstream, 0, room, &mut listed, &mut selection);
        return selection;
    }
    let mut cursors: Vec<_> = upstream.iter().map(|peers| Cursor::new(peers, start)).collect();
    // Each turn takes a share of the room from a list rather than a single peer, so that what
    // a turn takes is a run of the list.
    loop {
        let active = cursors.iter().filter(|cursor| !cursor.is_done()).count();
        if active == 0 || room == 0 {
            return selection;
        }
        let share = (room / active).max(1);
        for (list, cursor) in cursors.iter_mut().enumerate() {
            let want = share.min(room);
            room -= take_runs(cursor, upstream, list, want, &mut listed, &mut selection);
        }
    }
}

/// Takes up to `want` positions of list `list` from `cursor` into `selection`, run by run;
/// returns how many it took.
fn take_runs(
    cursor: &mut Cursor,
    upstream: &[Arc<UpstreamPeers>],
    list: usize,
    want: usize,
    listed: &mut Vec<(usize, usize)>,
    selection: &mut UpstreamSelection,
) -> usize {
    let mut taken = 0;
    while taken < want {
        let Some(run) = cursor.next_run(want - taken, list, listed) else {
            break;
        };
        taken += run.len();
        if upstream.len() > 1 {
            note_repeats(upstream, list, run.clone(), listed);
        }
        selection.push(&upstream[list], run);
    }
    taken
}

/// Marks the endpoints at `run` of list `list` as listed in every other list that has them: an
/// endpoint in several lists is taken from the first that offers it.
fn note_repeats(
    upstream: &[Arc<UpstreamPeers>],
    list: usize,
    run: Range<usize>,
    listed: &mut Vec<(usize, usize)>,
) {
    for position in run {
        let endpoint = upstream[list].endpoint(position);
        for (other, peers) in upstream.iter().enumerate().filter(|(other, _)| *other != list) {
            if let Some(position) = peers.position(endpoint) {
                listed.push((other, position));
            }
        }
    }
}

/// Reads one upstream list once round, from a starting position.
struct Cursor {
    len: usize,
    first: usize,
    read: usize,
}

impl Cursor {
    fn new(peers: &UpstreamPeers, start: usize) -> Self {
        let len = peers.len();
        Self { len, first: start.checked_rem(len).unwrap_or(0), read: 0 }
    }

    fn is_done(&self) -> bool {
        self.read >= self.len
    }

    /// The next run of at most `most` positions of list `list` that are not in `listed`, if
    /// any is left.
    fn next_run(
        &mut self,
        most: usize,
        list: usize,
        listed: &[(usize, usize)],
    ) -> Option<Range<usize>> {
        debug_assert!(most > 0, "an empty run would not move the cursor");
        while !self.is_done() {
            // `first + read` wraps round once at most: no division here.
            let mut position = self.first + self.read;
            if position >= self.len {
                position -= self.len;
            }
            if listed.contains(&(list, position)) {
                self.read += 1;
                continue;
            }
            // A run stops where the list wraps round, and before the next listed position.
            let wrap = if position >= self.first { self.len } else { self.first };
            let mut end = wrap.min(position + most);
            for &(_, next) in listed.iter().filter(|(of, next)| *of == list && *next > position) {
                end = end.min(next);
            }
            self.read += end - position;
            return Some(position..end);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

    fn list(peers: &[Peer<Ipv4Addr>]) -> Arc<UpstreamPeers> {
        Arc::new(UpstreamPeers::new(&PeerList { v4: peers.to_vec(), v6: vec![] }))
    }

    /// The ports of `local`'s peers, then of those `merge` adds.
    fn ports(local: &PeerList, merged: &UpstreamSelection) -> Vec<u16> {
        let v4 = local.v4.iter().map(|p| p.endpoint.port);
        let local = v4.chain(local.v6.iter().map(|p| p.endpoint.port));
        local.chain(merged.endpoints().map(|endpoint| endpoint.port())).collect()
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

    #[test]
    fn merge_puts_local_first_then_takes_turns_and_drops_duplicates() {
        let local = PeerList { v4: vec![v4(1, 1)], v6: vec![] };
        let a = list(&[v4(1, 1), v4(2, 2), v4(3, 3)]);
        let b = list(&[v4(4, 4), v4(2, 2), v4(5, 5)]);
        let client = AnyEndpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)), 9);
        let merged = merge(&local, &[a, b], 4, client, 0);
        assert_eq!(ports(&local, &merged), vec![1, 2, 4, 3]);
    }

    #[test]
    fn merge_takes_shares_of_the_room_in_turns() {
        let a = list(&[v4(1, 1), v4(2, 2), v4(3, 3), v4(4, 4)]);
        let b = list(&[v4(5, 5), v4(6, 6), v4(7, 7), v4(8, 8)]);
        let c = list(&[v4(9, 9)]);
        let none = PeerList::default();
        let client = AnyEndpoint::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
        let merged = merge(&none, &[a.clone(), b.clone(), c], 7, client, 0);
        assert_eq!(ports(&none, &merged), vec![1, 2, 5, 6, 9, 3, 7]);
        let merged = merge(&none, &[a, b], 50, client, 0);
        assert_eq!(ports(&none, &merged), vec![1, 2, 3, 4, 5, 6, 7, 8], "all, when room allows");
    }

    #[test]
    fn merge_reads_each_list_from_the_start_it_is_given() {
        let upstream = list(&[v4(1, 1), v4(2, 2), v4(3, 3)]);
        let client = AnyEndpoint::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9);
        let none = PeerList::default();
        let given =
            |start| ports(&none, &merge(&none, std::slice::from_ref(&upstream), 2, client, start));
        assert_eq!(given(0), [1, 2]);
        assert_eq!(given(2), [3, 1]);
        assert_eq!(given(4), [2, 3]);
        assert_eq!(given(usize::MAX), [1, 2], "usize::MAX is 0 mod 3");
    }

    #[test]
    fn merge_skips_listed_peers_inside_a_run_and_across_the_wrap() {
        let upstream = list(&[v4(1, 1), v4(2, 2), v4(3, 3), v4(4, 4), v4(5, 5)]);
        let local = PeerList { v4: vec![v4(2, 2), v4(5, 5)], v6: vec![] };
        let client = AnyEndpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 4)), 4);
        let merged = merge(&local, std::slice::from_ref(&upstream), 50, client, 2);
        assert_eq!(ports(&local, &merged), vec![2, 5, 3, 1]);
    }

    #[test]
    fn merge_drops_ipv6_repeats_too() {
        let v6 = |port| Peer { id: None, endpoint: Endpoint { ip: Ipv6Addr::LOCALHOST, port } };
        let upstream = |v6: Vec<Peer<Ipv6Addr>>| {
            Arc::new(UpstreamPeers::new(&PeerList { v4: vec![v4(1, 1)], v6 }))
        };
        let local = PeerList { v4: vec![], v6: vec![v6(1)] };
        let (a, b) = (upstream(vec![v6(1), v6(2)]), upstream(vec![v6(2), v6(3)]));
        let client = AnyEndpoint::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 3);
        let merged = merge(&local, &[a, b], 50, client, 0);
        assert_eq!((merged.v4_len(), merged.v6_len()), (1, 1));
        assert_eq!(ports(&local, &merged), vec![1, 1, 2]);
    }

    #[test]
    fn merge_never_returns_the_client() {
        let me = AnyEndpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7)), 7);
        let upstream = list(&[v4(7, 7), v4(6, 6)]);
        let none = PeerList::default();
        for start in 0..2 {
            let merged = merge(&none, std::slice::from_ref(&upstream), 50, me, start);
            assert_eq!(ports(&none, &merged), vec![6]);
        }
    }

    #[test]
    fn merge_respects_numwant_even_with_nothing_upstream() {
        let local = PeerList { v4: vec![v4(1, 1), v4(2, 2)], v6: vec![] };
        let client = AnyEndpoint::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 1);
        assert!(merge(&local, &[], 50, client, 0).is_empty());
        assert!(merge(&local, &[list(&[v4(3, 3)])], 2, client, 0).is_empty());
        let none = PeerList::default();
        let merged = merge(&none, &[list(&[v4(1, 1), v4(2, 2)])], 1, client, 0);
        assert_eq!(merged.len(), 1);
    }
}
