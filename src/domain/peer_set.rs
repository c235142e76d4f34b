//! The peers of one address family in one swarm.
//!
//! Peer ids live in `PeerIds`: found by id, and addressable by position, so a random window
//! of `numwant` peers costs O(numwant) however large the swarm. What is known of each peer
//! lives apart, in an array of `Entry` in the same positions (the same block, `domain::columns`):
//! picking a window reads 11 bytes an IPv4 peer instead of 35 with its id and key, and at a
//! million peers that window was most of an announce's cache misses. Peers are kept in regions by role: seeders, then partial seeds,
//! then leechers, so "leechers first" is also just a window, and one that skips the partial
//! seeds.

use std::ops::Range;

use super::identity::{self, NotThatPeer, PeerKey};
use super::ids::PeerId;
use super::peer::{Endpoint, Peer, Role};
use super::peer_entry::Entry;
use super::peer_ids::PeerIds;
use super::time::Timestamp;

/// What recording one announce changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// False when the peer was new and the set was full: it gets an answer but is not listed.
    pub stored: bool,
    /// This announce finished a download that had not been counted yet.
    pub newly_completed: bool,
    /// When the peer announced before this, if the set held it.
    pub previous: Option<Timestamp>,
    /// Where the peer stands in the set now, if it is listed: what a pick excludes.
    pub position: Option<usize>,
}

/// What one peer reported about itself.
#[derive(Debug, Clone, Copy)]
pub struct Report<Ip> {
    pub id: PeerId,
    /// The `key` it sent, if any: what proves it is the peer listed under `id`.
    pub key: Option<PeerKey>,
    pub endpoint: Endpoint<Ip>,
    pub role: Role,
    pub completed: bool,
}

/// How to pick the peers of one answer.
#[derive(Debug, Clone, Copy)]
pub struct Pick {
    /// The asking peer's position in the set, if it is there: never handed to itself.
    pub exclude: Option<usize>,
    /// The asking peer only uploads (a seeder or partial seed): it gets leechers, then
    /// seeders, and no partial seeds. Anyone else gets a mix of every role.
    pub uploader: bool,
    /// Where the window starts; any value, reduced modulo the range picked from.
    pub start: usize,
    /// Peers last seen at or before this are expired and skipped.
    pub cutoff: Timestamp,
    /// Hand out the peers' ids too; only a dictionary answer without `no_peer_id` shows them.
    pub with_ids: bool,
}

#[derive(Debug, Clone)]
pub struct PeerSet<Ip: Copy> {
    /// The ids, and by position as they are, the entries.
    ids: PeerIds<Entry<Ip>>,
    /// Seeders stand in `0..seeders`, partial seeds after them, leechers last. 32 bits, as
    /// positions in `ids` are.
    seeders: u32,
    partial_seeds: u32,
}

impl<Ip: Copy> Default for PeerSet<Ip> {
    fn default() -> Self {
        Self { ids: PeerIds::default(), seeders: 0, partial_seeds: 0 }
    }
}

impl<Ip: Copy + PartialEq> PeerSet<Ip> {
    /// The entries, by position.
    fn entries(&self) -> &[Entry<Ip>] {
        self.ids.entries()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn seeders(&self) -> usize {
        self.seeders as usize
    }

    /// Everyone but the seeders: what BEP 3 counts as `incomplete`, partial seeds included.
    pub fn leechers(&self) -> usize {
        self.ids.len() - self.seeders()
    }

    /// Leechers that still download: BEP 21's `downloaders`, partial seeds left out.
    pub fn downloaders(&self) -> usize {
        self.leechers() - self.partial_seeds as usize
    }

    pub fn contains(&self, id: &PeerId) -> bool {
        self.ids.position(id).is_some()
    }

    /// Where the peer stands in the set, if it is there.
    pub fn position(&self, id: &PeerId) -> Option<usize> {
        self.ids.position(id)
    }

    /// Records a peer's announce. A new peer is only added while `room` allows it. A listed
    /// one changes only if the report speaks for it (`domain::identity`).
    pub fn record(
        &mut self,
        report: Report<Ip>,
        now: Timestamp,
        room: bool,
    ) -> Result<Recorded, NotThatPeer> {
        if let Some(index) = self.ids.position(&report.id) {
            let held_key = self.ids.key(index);
            let entry = self.ids.entry_mut(index);
            let key = identity::speaks_for(held_key, entry.ip(), report.key, report.endpoint.ip)?;
            let newly_completed = report.completed && !entry.completed();
            let was = entry.role();
            let previous = Some(entry.last_seen());
            let completed = entry.completed() || report.completed;
            *entry = Entry::new(report.endpoint, now, report.role, completed);
            if key != held_key {
                self.ids.set_key(index, key);
            }
            let position = self.move_between(index, was, report.role);
            return Ok(Recorded {
                stored: true,
                newly_completed,
                previous,
                position: Some(position),
            });
        }
        let entry = Entry::new(report.endpoint, now, report.role, report.completed);
        let pushed = if room { self.ids.push(report.id, report.key, entry) } else { None };
        let Some(index) = pushed else {
            return Ok(Recorded {
                stored: false,
                newly_completed: false,
                previous: None,
                position: None,
            });
        };
        // Pushed last, so into the leechers' region.
        let position = self.move_between(index, Role::Leecher, report.role);
        Ok(Recorded {
            stored: true,
            newly_completed: report.completed,
            previous: None,
            position: Some(position),
        })
    }

    /// Removes the peer `id` for an announce with `key` from `ip`, if that speaks for it;
    /// returns when it was last seen, if it was there.
    pub fn remove(
        &mut self,
        id: &PeerId,
        key: Option<PeerKey>,
        ip: Ip,
    ) -> Result<Option<Timestamp>, NotThatPeer> {
        let Some(index) = self.ids.position(id) else { return Ok(None) };
        let entry = self.entries()[index];
        identity::speaks_for(self.ids.key(index), entry.ip(), key, ip)?;
        let (last_seen, role) = (entry.last_seen(), entry.role());
        // Into the last region first, so the swap-remove below pulls a leecher into a
        // leecher's slot.
        let index = self.move_between(index, role, Role::Leecher);
        self.ids.swap_remove(index);
        Ok(Some(last_seen))
    }

    /// Drops every peer last seen at or before `cutoff`; returns how many went.
    pub fn expire(&mut self, cutoff: Timestamp) -> usize {
        let before = self.len();
        let (mut seeders, mut partial_seeds) = (0, 0);
        // `retain` keeps the order, so the regions stay in theirs.
        self.ids.retain(|_, entry| {
            let kept = entry.last_seen() > cutoff;
            seeders += usize::from(kept && entry.role() == Role::Seeder);
            partial_seeds += usize::from(kept && entry.role() == Role::PartialSeed);
            kept
        });
        // Both fit in 32 bits: there are no more of them than ids.
        (self.seeders, self.partial_seeds) = (seeders as u32, partial_seeds as u32);
        // After a flood of one-off peers ages out of a torrent that lives on, its room for
        // the flood would otherwise stay allocated for as long as the torrent does.
        if self.ids.capacity() > 4 * self.len().max(8) {
            self.ids.shrink_to_fit();
        }
        before - self.len()
    }

    /// Appends up to `count` live peers to `out`, chosen as `pick` says.
    pub fn pick(&self, pick: Pick, count: usize, out: &mut Vec<Peer<Ip>>) {
        let all = 0..self.len();
        if pick.uploader {
            let leechers = self.uploaders()..self.len();
            let taken = self.pick_window(leechers, pick, count, out);
            self.pick_window(0..self.seeders(), pick, count - taken, out);
        } else {
            self.pick_window(all, pick, count, out);
        }
    }

    /// A window over `range` that starts at `pick.start` and wraps round; returns how many it
    /// appended. Only the asking peer and expired peers not yet swept make it walk further
    /// than `count`.
    fn pick_window(
        &self,
        range: Range<usize>,
        pick: Pick,
        count: usize,
        out: &mut Vec<Peer<Ip>>,
    ) -> usize {
        if range.is_empty() || count == 0 {
            return 0;
        }
        let split = range.start + pick.start % range.len();
        let wanted = count.min(range.len());
        out.reserve(wanted);
        let mut taken = 0;
        for part in [split..range.end, range.start..split] {
            let mut at = part.start;
            while taken < wanted && at < part.end {
                // The next run that would fill the answer. Nearly always it holds neither the
                // asking peer nor an expired one and is copied whole: peer by peer, with those
                // checks, the walk cost three times as much.
                let run = at..part.end.min(at + (wanted - taken));
                let entries = &self.entries()[run.clone()];
                let whole = !pick.with_ids
                    && pick.exclude.is_none_or(|position| !run.contains(&position))
                    && entries.iter().all(|entry| entry.last_seen() > pick.cutoff);
                if whole {
                    out.extend(
                        entries.iter().map(|entry| Peer { id: None, endpoint: entry.endpoint() }),
                    );
                    taken += entries.len();
                } else {
                    for (position, entry) in run.clone().zip(entries) {
                        if Some(position) != pick.exclude && entry.last_seen() > pick.cutoff {
                            let id = pick.with_ids.then(|| self.ids[position]);
                            out.push(Peer { id, endpoint: entry.endpoint() });
                            taken += 1;
                        }
                    }
                }
                at = run.end;
            }
        }
        taken
    }

    /// Where the leechers' region starts: seeders and partial seeds stand before it.
    fn uploaders(&self) -> usize {
        (self.seeders + self.partial_seeds) as usize
    }

    /// Moves the peer at `at` from the region of role `from` into that of role `to`; returns
    /// where it went. Each region it crosses is one swap: with the slot at the region's edge,
    /// which then moves by one.
    fn move_between(&mut self, mut at: usize, from: Role, to: Role) -> usize {
        let mut role = from;
        while role != to {
            let (next, slot) = match role {
                Role::Seeder => {
                    self.seeders -= 1;
                    self.partial_seeds += 1;
                    (Role::PartialSeed, self.seeders)
                }
                Role::PartialSeed if to == Role::Leecher => {
                    self.partial_seeds -= 1;
                    (Role::Leecher, self.seeders + self.partial_seeds)
                }
                Role::PartialSeed => {
                    self.partial_seeds -= 1;
                    self.seeders += 1;
                    (Role::Seeder, self.seeders - 1)
                }
                Role::Leecher => {
                    self.partial_seeds += 1;
                    (Role::PartialSeed, self.seeders + self.partial_seeds - 1)
                }
            };
            let slot = slot as usize;
            self.ids.swap(at, slot);
            (at, role) = (slot, next);
        }
        at
    }

    #[cfg(test)]
    fn partition_holds(&self) -> bool {
        let (seeders, rest) = self.entries().split_at(self.seeders());
        let (partial_seeds, leechers) = rest.split_at(self.partial_seeds as usize);
        self.entries().len() == self.ids.len()
            && seeders.iter().all(|e| e.role() == Role::Seeder)
            && partial_seeds.iter().all(|e| e.role() == Role::PartialSeed)
            && leechers.iter().all(|e| e.role() == Role::Leecher)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn id(n: u8) -> PeerId {
        PeerId([n; 20])
    }

    fn report(n: u8, seeder: bool) -> Report<Ipv4Addr> {
        report_as(n, if seeder { Role::Seeder } else { Role::Leecher })
    }

    fn report_as(n: u8, role: Role) -> Report<Ipv4Addr> {
        Report {
            id: id(n),
            key: None,
            endpoint: Endpoint { ip: Ipv4Addr::new(10, 0, 0, n), port: 6881 },
            role,
            completed: false,
        }
    }

    /// Records a report that speaks for itself, as every test report does.
    fn record(
        set: &mut PeerSet<Ipv4Addr>,
        report: Report<Ipv4Addr>,
        now: Timestamp,
        room: bool,
    ) -> Recorded {
        set.record(report, now, room).expect("the report speaks for its peer")
    }

    /// Removes peer `n` as the peer itself asks.
    fn remove(set: &mut PeerSet<Ipv4Addr>, n: u8) -> Option<Timestamp> {
        set.remove(&id(n), None, Ipv4Addr::new(10, 0, 0, n)).expect("the peer speaks for itself")
    }

    const ROLES: [Role; 3] = [Role::Seeder, Role::PartialSeed, Role::Leecher];

    const T0: Timestamp = Timestamp::from_secs(1_000);

    /// A pick for the peer `asking`, with the ids shown so that tests can tell peers apart.
    fn pick<Ip: Copy + PartialEq>(set: &PeerSet<Ip>, asking: &PeerId, uploader: bool) -> Pick {
        Pick {
            exclude: set.position(asking),
            uploader,
            start: 0,
            cutoff: Timestamp::from_secs(0),
            with_ids: true,
        }
    }

    fn ids(peers: &[Peer<Ipv4Addr>]) -> Vec<u8> {
        peers.iter().map(|p| p.id.unwrap().0[0]).collect()
    }

    #[test]
    fn counts_seeders_and_leechers_through_every_change() {
        let mut set = PeerSet::default();
        record(&mut set, report(1, false), T0, true);
        record(&mut set, report(2, true), T0, true);
        record(&mut set, report(3, false), T0, true);
        record(&mut set, report(4, true), T0, true);
        assert_eq!((set.seeders(), set.leechers()), (2, 2));
        assert!(set.partition_holds());

        record(&mut set, report(1, true), T0, true); // leecher finished
        assert_eq!((set.seeders(), set.leechers()), (3, 1));
        assert!(set.partition_holds());

        record(&mut set, report(2, false), T0, true); // seeder started over
        assert_eq!((set.seeders(), set.leechers()), (2, 2));
        assert!(set.partition_holds());

        assert_eq!(remove(&mut set, 4), Some(T0));
        assert_eq!(remove(&mut set, 3), Some(T0));
        assert_eq!(remove(&mut set, 3), None);
        assert_eq!((set.seeders(), set.leechers()), (1, 1));
        assert!(set.partition_holds());
    }

    #[test]
    fn every_move_between_roles_keeps_the_regions_and_the_counts() {
        let mut set = PeerSet::default();
        for n in 0..9 {
            record(&mut set, report_as(n, ROLES[usize::from(n) % 3]), T0, true);
        }
        for (n, role) in (0..9).flat_map(|n| ROLES.map(|role| (n, role))) {
            let recorded = record(&mut set, report_as(n, role), T0, true);
            assert_eq!(recorded.position, set.position(&id(n)));
            assert!(set.partition_holds() && ids_beside_their_entries(&set), "{n} to {role:?}");
        }
        // Each peer ended as a leecher; two go back to partial seeding, one seeds.
        record(&mut set, report_as(3, Role::PartialSeed), T0, true);
        record(&mut set, report_as(4, Role::PartialSeed), T0, true);
        record(&mut set, report_as(5, Role::Seeder), T0, true);
        assert_eq!((set.seeders(), set.leechers(), set.downloaders()), (1, 8, 6));
        for n in [3, 5, 0] {
            remove(&mut set, n);
            assert!(set.partition_holds() && ids_beside_their_entries(&set));
        }
        assert_eq!((set.seeders(), set.leechers(), set.downloaders()), (0, 6, 5));
    }

    #[test]
    fn partial_seeds_go_to_leechers_only() {
        let mut set = PeerSet::default();
        record(&mut set, report_as(1, Role::Seeder), T0, true);
        record(&mut set, report_as(2, Role::PartialSeed), T0, true);
        record(&mut set, report_as(3, Role::Leecher), T0, true);
        record(&mut set, report_as(4, Role::PartialSeed), T0, true);
        let picked = |asking: u8, uploader: bool| {
            let mut out = Vec::new();
            set.pick(pick(&set, &id(asking), uploader), 10, &mut out);
            let mut got = ids(&out);
            got.sort();
            got
        };
        assert_eq!(picked(1, true), [3], "a seeder");
        assert_eq!(picked(2, true), [1, 3], "a partial seed");
        assert_eq!(picked(3, false), [1, 2, 4], "a leecher");
    }

    #[test]
    fn expiry_keeps_the_count_of_each_role() {
        let mut set = PeerSet::default();
        for n in 0..12 {
            let seen = Timestamp::from_secs(100 + u32::from(n % 2) * 100);
            record(&mut set, report_as(n, ROLES[usize::from(n) % 3]), seen, true);
        }
        assert_eq!(set.expire(Timestamp::from_secs(100)), 6);
        assert!(set.partition_holds() && ids_beside_their_entries(&set));
        assert_eq!((set.seeders(), set.leechers(), set.downloaders()), (2, 4, 2));
    }

    #[test]
    fn a_report_that_does_not_speak_for_a_listed_peer_changes_nothing() {
        let mut set = PeerSet::default();
        let key = PeerKey::of(b"a1b2c3d4");
        record(&mut set, Report { key, ..report(1, false) }, T0, true);
        let away = Endpoint { ip: Ipv4Addr::new(10, 9, 9, 9), port: 7777 };
        let forged = Report { key: PeerKey::of(b"guess"), endpoint: away, ..report(1, true) };
        let later = Timestamp::from_secs(T0.secs() + 30);
        assert_eq!(set.record(forged, later, true), Err(NotThatPeer));
        assert_eq!(set.remove(&id(1), None, away.ip), Err(NotThatPeer));
        assert_eq!((set.seeders(), set.leechers()), (0, 1));
        assert_eq!(set.entries()[0].endpoint(), report(1, false).endpoint);

        // The peer itself, with its key, moves from anywhere.
        let moved = Report { key, endpoint: away, ..report(1, false) };
        assert_eq!(record(&mut set, moved, later, true).previous, Some(T0), "untouched before");
        assert_eq!(set.remove(&id(1), key, Ipv4Addr::new(10, 1, 1, 1)), Ok(Some(later)));
        assert!(set.is_empty());
    }

    #[test]
    fn removing_the_first_seeder_keeps_the_partition() {
        let mut set = PeerSet::default();
        for n in 0..6 {
            record(&mut set, report(n, n % 2 == 0), T0, true);
        }
        for n in [0, 1, 4] {
            remove(&mut set, n);
            assert!(set.partition_holds());
        }
        assert_eq!((set.seeders(), set.leechers()), (1, 2));
    }

    #[test]
    fn a_full_set_refuses_newcomers_but_updates_members() {
        let mut set = PeerSet::default();
        assert!(record(&mut set, report(1, false), T0, true).stored);
        let refused = record(&mut set, report(2, false), T0, false);
        assert_eq!(
            refused,
            Recorded { stored: false, newly_completed: false, previous: None, position: None }
        );
        assert!(!set.contains(&id(2)));
        assert!(record(&mut set, report(1, true), T0, false).stored);
        assert_eq!(set.seeders(), 1);
    }

    #[test]
    fn recording_tells_when_the_peer_was_seen_before() {
        let mut set = PeerSet::default();
        let later = Timestamp::from_secs(T0.secs() + 30);
        assert_eq!(record(&mut set, report(1, false), T0, true).previous, None);
        assert_eq!(record(&mut set, report(1, false), later, true).previous, Some(T0));
        assert_eq!(remove(&mut set, 1), Some(later));
    }

    #[test]
    fn completion_counts_once_per_peer() {
        let mut set = PeerSet::default();
        let done = Report { completed: true, ..report(1, true) };
        assert!(record(&mut set, report(1, false), T0, true).stored);
        assert!(record(&mut set, done, T0, true).newly_completed);
        assert!(!record(&mut set, done, T0, true).newly_completed);
        assert!(!record(&mut set, report(1, true), T0, true).newly_completed);
    }

    #[test]
    fn never_picks_the_asking_peer() {
        let mut set = PeerSet::default();
        for n in 1..=3 {
            record(&mut set, report(n, false), T0, true);
        }
        let mut out = Vec::new();
        set.pick(pick(&set, &id(2), false), 10, &mut out);
        let mut got = ids(&out);
        got.sort();
        assert_eq!(got, vec![1, 3]);
    }

    #[test]
    fn the_recorded_position_is_where_the_peer_stands_after_every_move() {
        let mut set = PeerSet::default();
        let steps =
            [(1, false), (2, true), (3, false), (4, true), (1, true), (2, false), (5, true)];
        for (n, seeder) in steps {
            let recorded = record(&mut set, report(n, seeder), T0, true);
            assert_eq!(recorded.position, set.position(&id(n)));
            let mut out = Vec::new();
            let asking = Pick { exclude: recorded.position, ..pick(&set, &id(n), false) };
            set.pick(asking, 10, &mut out);
            assert_eq!(out.len(), set.len() - 1);
            assert!(!ids(&out).contains(&n));
        }
        assert!(set.partition_holds());
        remove(&mut set, 2);
        assert!(set.partition_holds());
        assert!((1..=5).all(|n| n == 2 || set.position(&id(n)).is_some()));
    }

    #[test]
    fn a_seeder_gets_leechers_first() {
        let mut set = PeerSet::default();
        for n in 1..=4 {
            record(&mut set, report(n, n <= 2), T0, true); // 1, 2 seed; 3, 4 leech
        }
        let mut out = Vec::new();
        set.pick(pick(&set, &id(1), true), 3, &mut out);
        let got = ids(&out);
        assert_eq!(got.len(), 3);
        let mut leechers = got[..2].to_vec();
        leechers.sort();
        assert_eq!(leechers, vec![3, 4]);
        assert_eq!(got[2], 2);
    }

    #[test]
    fn picks_at_most_count_from_a_random_start() {
        let mut set = PeerSet::default();
        for n in 0..100 {
            record(&mut set, report(n, false), T0, true);
        }
        let mut first = Vec::new();
        set.pick(Pick { start: 0, ..pick(&set, &id(255), false) }, 5, &mut first);
        let mut second = Vec::new();
        set.pick(Pick { start: 1_000_003, ..pick(&set, &id(255), false) }, 5, &mut second);
        assert_eq!(first.len(), 5);
        assert_eq!(second.len(), 5);
        assert_ne!(ids(&first), ids(&second));
    }

    #[test]
    fn expired_peers_are_skipped_then_swept() {
        let mut set = PeerSet::default();
        record(&mut set, report(1, true), Timestamp::from_secs(100), true);
        record(&mut set, report(2, false), Timestamp::from_secs(200), true);
        record(&mut set, report(3, true), Timestamp::from_secs(300), true);

        let mut out = Vec::new();
        let cutoff = Timestamp::from_secs(200);
        set.pick(Pick { cutoff, ..pick(&set, &id(9), false) }, 10, &mut out);
        assert_eq!(ids(&out), vec![3]);

        assert_eq!(set.expire(cutoff), 2);
        assert_eq!((set.seeders(), set.leechers()), (1, 0));
        assert!(set.partition_holds());
        assert!(set.contains(&id(3)));
    }

    /// The window walked peer by peer, as the pick is specified: from `start` round the
    /// range, skipping the asking peer and the expired, until `count` are taken.
    fn walked(set: &PeerSet<Ipv4Addr>, range: Range<usize>, pick: Pick, count: usize) -> Vec<u8> {
        if range.is_empty() {
            return Vec::new();
        }
        let split = range.start + pick.start % range.len();
        (split..range.end)
            .chain(range.start..split)
            .filter(|&at| Some(at) != pick.exclude && set.entries()[at].last_seen() > pick.cutoff)
            .take(count)
            .map(|at| set.ids[at].0[0])
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn a_pick_is_the_window_walked_peer_by_peer(
            peers in proptest::collection::vec((0usize..3, 0u32..4), 0..40),
            asking in 0u8..45,
            start in 0usize..1000,
            count in 0usize..45,
            cutoff in 0u32..4,
            uploader in proptest::bool::ANY,
            with_ids in proptest::bool::ANY,
        ) {
            let mut set = PeerSet::default();
            for (n, &(role, seen)) in peers.iter().enumerate() {
                let n = u8::try_from(n).unwrap();
                record(&mut set, report_as(n, ROLES[role]), Timestamp::from_secs(seen), true);
            }
            let pick = Pick {
                start,
                cutoff: Timestamp::from_secs(cutoff),
                with_ids,
                ..pick(&set, &id(asking), uploader)
            };
            let mut out = Vec::new();
            set.pick(pick, count, &mut out);
            let expected = if uploader {
                let leechers = set.uploaders()..set.len();
                let mut leechers = walked(&set, leechers, pick, count);
                let rest = count - leechers.len();
                leechers.extend(walked(&set, 0..set.seeders(), pick, rest));
                leechers
            } else {
                walked(&set, 0..set.len(), pick, count)
            };
            let got: Vec<u8> = out.iter().map(|peer| peer.endpoint.ip.octets()[3]).collect();
            proptest::prop_assert_eq!(&got, &expected);
            proptest::prop_assert!(out.iter().all(|peer| peer.id.is_some() == with_ids));
        }
    }

    /// Test peers' addresses end in their id's byte: every id still sits beside its own entry.
    fn ids_beside_their_entries(set: &PeerSet<Ipv4Addr>) -> bool {
        set.ids.iter().zip(set.entries()).all(|(id, entry)| id.0[0] == entry.ip().octets()[3])
    }

    #[test]
    fn expiry_and_removal_keep_each_id_beside_its_entry() {
        let mut set = PeerSet::default();
        for n in 0..40 {
            record(
                &mut set,
                report(n, n % 3 == 0),
                Timestamp::from_secs(100 + u32::from(n % 4) * 100),
                true,
            );
        }
        for n in [5, 9, 12] {
            record(&mut set, report(n, n % 3 != 0), Timestamp::from_secs(900), true);
        }
        remove(&mut set, 0);
        remove(&mut set, 7);
        assert!(ids_beside_their_entries(&set) && set.partition_holds());
        assert_eq!(set.expire(Timestamp::from_secs(250)), 16);
        assert!(ids_beside_their_entries(&set) && set.partition_holds());
        assert_eq!(set.len(), 22);
        assert!([5, 9, 12].iter().all(|n| set.contains(&id(*n))));
    }

    #[test]
    fn a_swarm_shrinks_once_a_flood_of_peers_has_expired() {
        let mut set = PeerSet::default();
        for n in 0..10_000u32 {
            let mut flooder = report(0, false);
            flooder.id.0[..4].copy_from_slice(&n.to_be_bytes());
            record(&mut set, flooder, Timestamp::from_secs(100), true);
        }
        record(&mut set, report(1, true), Timestamp::from_secs(300), true);
        assert!(set.ids.capacity() >= 10_001);

        assert_eq!(set.expire(Timestamp::from_secs(200)), 10_000);
        assert!(set.ids.capacity() < 100, "capacity {}", set.ids.capacity());
        assert!(set.contains(&id(1)) && set.partition_holds());
    }
}
