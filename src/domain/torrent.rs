//! Everything held for one torrent: its swarm and its forwarding records, side by side in one
//! map slot, so that an announce finds both with the one lookup it makes anyway (a second map
//! for the records cost a forwarding announce a cold miss of its own).

use super::forwarding::UpstreamRecords;
use super::swarm::Swarm;
use super::time::Timestamp;

#[derive(Debug, Clone, Default)]
pub struct Torrent {
    pub swarm: Swarm,
    /// Empty unless announces of the torrent are forwarded.
    pub upstream: UpstreamRecords,
}

impl Torrent {
    /// Drops peers last seen at or before `cutoff` and ages the forwarding records by it;
    /// returns how many peers went.
    pub fn expire(&mut self, cutoff: Timestamp) -> usize {
        self.upstream.expire(cutoff);
        self.swarm.expire(cutoff)
    }

    /// Neither a peer nor a forwarding record is left: the torrent can go.
    pub fn is_spent(&self) -> bool {
        self.swarm.is_empty() && self.upstream.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use super::*;
    use crate::domain::forwarding::ForwardRules;
    use crate::domain::ids::PeerId;
    use crate::domain::peer::{AnyEndpoint, Event};
    use crate::domain::swarm::{AnnounceContext, PeerAnnounce};
    use crate::domain::upstream_peers::UpstreamPeers;

    const RULES: ForwardRules = ForwardRules::for_tests(10);

    fn t(secs: u32) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn a_peer_at(torrent: &mut Torrent, secs: u32) {
        let announce = PeerAnnounce {
            peer_id: PeerId([1; 20]),
            key: None,
            endpoint: AnyEndpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 6881),
            seeder: false,
            event: Event::Started,
        };
        let context = AnnounceContext {
            now: t(secs),
            cutoff: t(0),
            numwant: 50,
            max_peers: 100,
            start: 0,
            with_ids: false,
        };
        torrent.swarm.announce(&announce, &context).expect("a new peer is always taken");
    }

    #[test]
    fn a_torrent_is_spent_once_its_peers_and_its_upstream_answers_aged_out() {
        let mut torrent = Torrent::default();
        a_peer_at(&mut torrent, 1_000);
        let record = &mut torrent.upstream.for_upstreams(1, &RULES)[0];
        record.record_answer(
            UpstreamPeers::default(),
            Some(Duration::from_secs(600)),
            t(2_000),
            &RULES,
        );

        assert_eq!(torrent.expire(t(1_000)), 1);
        assert!(!torrent.is_spent(), "the upstream answer is younger than the cutoff");
        assert_eq!(torrent.expire(t(2_000)), 0);
        assert!(torrent.is_spent());
    }

    #[test]
    fn a_torrent_without_forwarding_is_spent_with_its_last_peer() {
        let mut torrent = Torrent::default();
        a_peer_at(&mut torrent, 1_000);
        assert!(!torrent.is_spent());
        torrent.expire(t(1_000));
        assert!(torrent.is_spent());
    }

    #[test]
    fn a_torrent_takes_112_bytes() {
        // Every torrent's map slot holds one: the IPv4 peer set is 56 of them (`PeerSet`).
        assert_eq!(std::mem::size_of::<Torrent>(), 112);
    }
}
