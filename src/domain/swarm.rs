//! One torrent's swarm and the announce rule applied to it.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use super::announce::Refusal;
use super::identity::PeerKey;
use super::ids::PeerId;
use super::peer::{AnyEndpoint, Event, PeerList, Role};
use super::peer_set::{PeerSet, Pick, Report};
use super::time::Timestamp;

/// A swarm's counts, as announce and scrape answers report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwarmStats {
    /// Seeders.
    pub complete: u32,
    /// Leechers, partial seeds included.
    pub incomplete: u32,
    /// `completed` events counted, once per peer.
    pub downloaded: u32,
    /// BEP 21: leechers that still download; `incomplete` less the partial seeds.
    pub downloaders: u32,
}

/// Peers counted by role and address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerCensus {
    pub seeders_v4: usize,
    pub leechers_v4: usize,
    pub seeders_v6: usize,
    pub leechers_v6: usize,
}

impl std::ops::AddAssign for PeerCensus {
    fn add_assign(&mut self, other: Self) {
        self.seeders_v4 += other.seeders_v4;
        self.leechers_v4 += other.leechers_v4;
        self.seeders_v6 += other.seeders_v6;
        self.leechers_v6 += other.leechers_v6;
    }
}

/// One peer's announce, reduced to what the swarm needs.
#[derive(Debug, Clone, Copy)]
pub struct PeerAnnounce {
    pub peer_id: PeerId,
    /// The `key` it sent, if any: what proves it is the peer listed under `peer_id`.
    pub key: Option<PeerKey>,
    pub endpoint: AnyEndpoint,
    pub seeder: bool,
    pub event: Event,
}

impl PeerAnnounce {
    pub fn role(&self) -> Role {
        Role::announced(self.seeder, self.event)
    }
}

/// The circumstances of one announce, decided outside the swarm.
#[derive(Debug, Clone, Copy)]
pub struct AnnounceContext {
    pub now: Timestamp,
    /// Peers last seen at or before this are expired.
    pub cutoff: Timestamp,
    /// How many peers to hand out, already capped.
    pub numwant: usize,
    /// The most peers the swarm keeps; a newcomer past it is answered but not listed.
    pub max_peers: usize,
    /// Where the random window of peers starts.
    pub start: usize,
    /// The answer shows peer ids (a dictionary answer without `no_peer_id`), so they are
    /// picked too; compact answers have no room for them.
    pub with_ids: bool,
}

/// The announcing peer's place in the swarm, before and after its announce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// When it announced before, if the swarm held it.
    pub previous: Option<Timestamp>,
    /// The swarm holds it now: false after `stopped`, and for a newcomer to a full swarm.
    pub listed: bool,
}

/// The swarm's answer to one announce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmAnswer {
    pub stats: SwarmStats,
    pub peers: PeerList,
    pub standing: Standing,
}

/// All peers of one torrent. IPv4 and IPv6 peers are kept apart: a dual-stack client that
/// announces over both is listed once in each family, under the same peer id.
#[derive(Debug, Clone, Default)]
pub struct Swarm {
    v4: PeerSet<Ipv4Addr>,
    /// Boxed, and only once an IPv6 peer comes: most swarms never see one, and an empty set
    /// inline cost every torrent 96 bytes.
    v6: Option<Box<PeerSet<Ipv6Addr>>>,
    downloaded: u32,
}

impl Swarm {
    /// The IPv6 peers: an empty set while there are none.
    fn v6(&self) -> &PeerSet<Ipv6Addr> {
        static NO_PEERS: LazyLock<PeerSet<Ipv6Addr>> = LazyLock::new(PeerSet::default);
        self.v6.as_deref().unwrap_or(&NO_PEERS)
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6().is_empty()
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6().len()
    }

    pub fn stats(&self) -> SwarmStats {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        SwarmStats {
            complete: count(self.v4.seeders() + self.v6().seeders()),
            incomplete: count(self.v4.leechers() + self.v6().leechers()),
            downloaded: self.downloaded,
            downloaders: count(self.v4.downloaders() + self.v6().downloaders()),
        }
    }

    pub fn census(&self) -> PeerCensus {
        PeerCensus {
            seeders_v4: self.v4.seeders(),
            leechers_v4: self.v4.leechers(),
            seeders_v6: self.v6().seeders(),
            leechers_v6: self.v6().leechers(),
        }
    }

    /// Applies one announce and picks the peers to answer with.
    ///
    /// `stopped` removes the peer and is answered with no peers: it is leaving. Otherwise the
    /// peer is recorded and gets up to `numwant` others, its own address family first. An
    /// announce that names a listed peer without speaking for it (`domain::identity`) is
    /// refused and changes nothing.
    pub fn announce(
        &mut self,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
    ) -> Result<SwarmAnswer, Refusal> {
        let (id, key) = (&announce.peer_id, announce.key);
        if announce.event == Event::Stopped {
            let previous = match announce.endpoint {
                AnyEndpoint::V4(endpoint) => self.v4.remove(id, key, endpoint.ip),
                AnyEndpoint::V6(endpoint) => match self.v6.as_mut() {
                    Some(v6) => v6.remove(id, key, endpoint.ip),
                    None => Ok(None),
                },
            }
            .map_err(|_| Refusal::PeerIdTaken)?;
            let standing = Standing { previous, listed: false };
            return Ok(SwarmAnswer { stats: self.stats(), peers: PeerList::default(), standing });
        }

        let room = self.len() < context.max_peers;
        let completed = announce.event == Event::Completed;
        let role = announce.role();
        let recorded = match announce.endpoint {
            AnyEndpoint::V4(endpoint) => {
                let report = Report { id: *id, key, endpoint, role, completed };
                self.v4.record(report, context.now, room)
            }
            AnyEndpoint::V6(endpoint) => {
                let report = Report { id: *id, key, endpoint, role, completed };
                self.v6.get_or_insert_default().record(report, context.now, room)
            }
        }
        .map_err(|_| Refusal::PeerIdTaken)?;
        if recorded.newly_completed {
            self.downloaded = self.downloaded.saturating_add(1);
        }
        let standing = Standing { previous: recorded.previous, listed: recorded.stored };
        let peers = self.pick(announce, context, recorded.position);
        Ok(SwarmAnswer { stats: self.stats(), peers, standing })
    }

    /// Picks from the announcing peer's own family, where it stands at `position`, then tops
    /// up from the other, where a dual-stack client may be listed too under the same id.
    fn pick(
        &self,
        announce: &PeerAnnounce,
        context: &AnnounceContext,
        position: Option<usize>,
    ) -> PeerList {
        let pick = |exclude| Pick {
            exclude,
            uploader: announce.role().uploads_only(),
            start: context.start,
            cutoff: context.cutoff,
            with_ids: context.with_ids,
        };
        let mut peers = PeerList::default();
        let wanted = context.numwant;
        match announce.endpoint {
            AnyEndpoint::V4(_) => {
                peers.v4.reserve(wanted.min(self.v4.len()));
                self.v4.pick(pick(position), wanted, &mut peers.v4);
                let rest = wanted - peers.v4.len();
                if let Some(v6) = self.v6.as_deref().filter(|_| rest > 0) {
                    let exclude = v6.position(&announce.peer_id);
                    v6.pick(pick(exclude), rest, &mut peers.v6);
                }
            }
            AnyEndpoint::V6(_) => {
                peers.v6.reserve(wanted.min(self.v6().len()));
                self.v6().pick(pick(position), wanted, &mut peers.v6);
                let rest = wanted - peers.v6.len();
                if rest > 0 && !self.v4.is_empty() {
                    let exclude = self.v4.position(&announce.peer_id);
                    self.v4.pick(pick(exclude), rest, &mut peers.v4);
                }
            }
        }
        peers
    }

    /// Drops the peers last seen at or before `cutoff`; returns how many went.
    pub fn expire(&mut self, cutoff: Timestamp) -> usize {
        let v6 = self.v6.as_mut().map_or(0, |v6| v6.expire(cutoff));
        if self.v6().is_empty() {
            self.v6 = None;
        }
        self.v4.expire(cutoff) + v6
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    const NOW: Timestamp = Timestamp::from_secs(10_000);

    fn context(numwant: usize) -> AnnounceContext {
        AnnounceContext {
            now: NOW,
            cutoff: Timestamp::from_secs(0),
            numwant,
            max_peers: 1_000,
            start: 7,
            with_ids: true,
        }
    }

    /// Applies an announce that speaks for its peer, as every test announce does.
    fn announce(swarm: &mut Swarm, peer: &PeerAnnounce, context: &AnnounceContext) -> SwarmAnswer {
        swarm.announce(peer, context).expect("the announce speaks for its peer")
    }

    fn peer(n: u8, ip: &str, seeder: bool, event: Event) -> PeerAnnounce {
        PeerAnnounce {
            peer_id: PeerId([n; 20]),
            key: None,
            endpoint: AnyEndpoint::new(ip.parse::<IpAddr>().unwrap(), 6881),
            seeder,
            event,
        }
    }

    #[test]
    fn two_peers_see_each_other_and_not_themselves() {
        let mut swarm = Swarm::default();
        let first = announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Started), &context(50));
        assert!(first.peers.is_empty());
        assert_eq!(
            first.stats,
            SwarmStats { complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 }
        );

        let second = announce(&mut swarm, &peer(2, "10.0.0.2", true, Event::Started), &context(50));
        assert_eq!(second.peers.v4.len(), 1);
        assert_eq!(second.peers.v4[0].id, Some(PeerId([1; 20])));
        assert_eq!(
            second.stats,
            SwarmStats { complete: 1, incomplete: 1, downloaded: 0, downloaders: 1 }
        );

        let again =
            announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Periodic), &context(50));
        assert_eq!(again.peers.v4[0].id, Some(PeerId([2; 20])));
    }

    #[test]
    fn stopped_removes_the_peer_and_gets_no_peers() {
        let mut swarm = Swarm::default();
        announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Started), &context(50));
        announce(&mut swarm, &peer(2, "10.0.0.2", false, Event::Started), &context(50));
        let answer =
            announce(&mut swarm, &peer(2, "10.0.0.2", false, Event::Stopped), &context(50));
        assert!(answer.peers.is_empty());
        assert_eq!(answer.stats.incomplete, 1);
        let left = announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Periodic), &context(50));
        assert!(left.peers.is_empty());
    }

    #[test]
    fn completed_counts_one_download_per_peer() {
        let mut swarm = Swarm::default();
        announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Started), &context(50));
        announce(&mut swarm, &peer(1, "10.0.0.1", true, Event::Completed), &context(50));
        let answer =
            announce(&mut swarm, &peer(1, "10.0.0.1", true, Event::Completed), &context(50));
        assert_eq!(
            answer.stats,
            SwarmStats { complete: 1, incomplete: 0, downloaded: 1, downloaders: 0 }
        );
    }

    #[test]
    fn own_family_first_then_the_other() {
        let mut swarm = Swarm::default();
        announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Started), &context(50));
        announce(&mut swarm, &peer(2, "2001:db8::2", false, Event::Started), &context(50));
        announce(&mut swarm, &peer(3, "2001:db8::3", false, Event::Started), &context(50));

        let v6_asks_for_one =
            announce(&mut swarm, &peer(4, "2001:db8::4", false, Event::Started), &context(1));
        assert_eq!((v6_asks_for_one.peers.v4.len(), v6_asks_for_one.peers.v6.len()), (0, 1));

        let v4_asks_for_all =
            announce(&mut swarm, &peer(5, "10.0.0.5", false, Event::Started), &context(50));
        assert_eq!((v4_asks_for_all.peers.v4.len(), v4_asks_for_all.peers.v6.len()), (1, 3));
    }

    #[test]
    fn a_dual_stack_client_never_gets_itself_in_either_family() {
        let mut swarm = Swarm::default();
        for n in 2..6 {
            announce(
                &mut swarm,
                &peer(n, &format!("10.0.0.{n}"), n % 2 == 0, Event::Started),
                &context(50),
            );
            announce(
                &mut swarm,
                &peer(n, &format!("2001:db8::{n}"), n % 2 == 0, Event::Started),
                &context(50),
            );
        }
        announce(&mut swarm, &peer(1, "2001:db8::1", false, Event::Started), &context(50));
        let over_v4 =
            announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Started), &context(50));
        let over_v6 =
            announce(&mut swarm, &peer(1, "2001:db8::1", false, Event::Periodic), &context(50));
        for answer in [over_v4, over_v6] {
            assert_eq!((answer.peers.v4.len(), answer.peers.v6.len()), (4, 4));
            let ids =
                answer.peers.v4.iter().map(|p| p.id).chain(answer.peers.v6.iter().map(|p| p.id));
            assert!(ids.clone().all(|id| id.is_some() && id != Some(PeerId([1; 20]))));
        }
    }

    #[test]
    fn peer_ids_are_picked_only_for_answers_that_show_them() {
        let mut swarm = Swarm::default();
        for n in 1..4 {
            announce(
                &mut swarm,
                &peer(n, &format!("10.0.0.{n}"), false, Event::Started),
                &context(50),
            );
        }
        let compact = AnnounceContext { with_ids: false, ..context(50) };
        let answer = announce(&mut swarm, &peer(9, "10.0.0.9", false, Event::Started), &compact);
        assert_eq!(answer.peers.v4.len(), 3);
        assert!(answer.peers.v4.iter().all(|p| p.id.is_none()));
        let answer =
            announce(&mut swarm, &peer(9, "10.0.0.9", false, Event::Periodic), &context(50));
        let mut ids: Vec<_> = answer.peers.v4.iter().map(|p| p.id.unwrap().0[0]).collect();
        ids.sort();
        assert_eq!(ids, [1, 2, 3]);
    }

    #[test]
    fn numwant_caps_the_answer() {
        let mut swarm = Swarm::default();
        for n in 0..30 {
            announce(
                &mut swarm,
                &peer(n, &format!("10.0.1.{n}"), false, Event::Started),
                &context(0),
            );
        }
        let answer =
            announce(&mut swarm, &peer(200, "10.0.2.1", false, Event::Started), &context(8));
        assert_eq!(answer.peers.len(), 8);
        let none =
            announce(&mut swarm, &peer(200, "10.0.2.1", false, Event::Periodic), &context(0));
        assert!(none.peers.is_empty());
        assert_eq!(none.stats.incomplete, 31);
    }

    #[test]
    fn a_full_swarm_answers_newcomers_without_listing_them() {
        let mut swarm = Swarm::default();
        let small = AnnounceContext { max_peers: 2, ..context(50) };
        announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Started), &small);
        announce(&mut swarm, &peer(2, "10.0.0.2", false, Event::Started), &small);
        let third = announce(&mut swarm, &peer(3, "10.0.0.3", false, Event::Started), &small);
        assert_eq!(third.peers.len(), 2);
        assert_eq!(third.standing, Standing { previous: None, listed: false });
        assert_eq!(swarm.len(), 2);
    }

    #[test]
    fn the_answer_tells_the_peer_where_it_stood() {
        let mut swarm = Swarm::default();
        let later = AnnounceContext { now: Timestamp::from_secs(NOW.secs() + 30), ..context(50) };
        let first = announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Started), &context(50));
        assert_eq!(first.standing, Standing { previous: None, listed: true });
        let again = announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Periodic), &later);
        assert_eq!(again.standing, Standing { previous: Some(NOW), listed: true });
        let gone = announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Stopped), &context(50));
        assert_eq!(gone.standing, Standing { previous: Some(later.now), listed: false });
        let unknown =
            announce(&mut swarm, &peer(2, "10.0.0.2", false, Event::Stopped), &context(50));
        assert_eq!(unknown.standing, Standing::default());
    }

    #[test]
    fn expired_peers_leave_answers_and_memory() {
        let mut swarm = Swarm::default();
        let early = AnnounceContext { now: Timestamp::from_secs(100), ..context(50) };
        announce(&mut swarm, &peer(1, "10.0.0.1", true, Event::Started), &early);
        announce(&mut swarm, &peer(2, "2001:db8::2", false, Event::Started), &early);

        let later = AnnounceContext { cutoff: Timestamp::from_secs(100), ..context(50) };
        let answer = announce(&mut swarm, &peer(3, "10.0.0.3", false, Event::Started), &later);
        assert!(answer.peers.is_empty());

        let census = swarm.census();
        assert_eq!((census.seeders_v4, census.leechers_v4, census.leechers_v6), (1, 1, 1));
        assert_eq!(swarm.expire(later.cutoff), 2);
        assert_eq!(
            swarm.stats(),
            SwarmStats { complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 }
        );
        assert!(swarm.v6.is_none(), "the emptied IPv6 set is freed");
    }

    #[test]
    fn ipv6_peers_come_and_go_in_a_swarm_that_had_none() {
        let mut swarm = Swarm::default();
        announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Started), &context(50));
        let gone =
            announce(&mut swarm, &peer(2, "2001:db8::2", false, Event::Stopped), &context(50));
        assert_eq!(gone.standing, Standing { previous: None, listed: false });
        assert!(swarm.v6.is_none());

        let joined =
            announce(&mut swarm, &peer(2, "2001:db8::2", false, Event::Started), &context(50));
        assert_eq!(joined.peers.v4.len(), 1);
        assert_eq!(swarm.census().leechers_v6, 1);
        let seen = announce(&mut swarm, &peer(1, "10.0.0.1", false, Event::Periodic), &context(50));
        assert_eq!(seen.peers.v6.len(), 1);
    }
}
