//! Joining upstream peers to the local ones: which upstream entries an answer gets, as runs of
//! the shared lists so that a compact answer copies them whole.

use std::ops::Range;

use super::peer::{AnyEndpoint, PeerList};
use super::upstream_peers::{UpstreamPeers, UpstreamSelection};

/// The upstream peers to add to the `local` ones, for an answer of at most `numwant` in all:
/// taken in turn from each list, skipping the client and any endpoint already in the answer.
/// Each list is read from `start` round (any number; the caller draws it at random), so that
/// the clients of a torrent do not all get the same few upstream peers.
pub fn merge(
    local: &PeerList,
    upstream: &[UpstreamPeers],
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
    upstream: &[UpstreamPeers],
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
    upstream: &[UpstreamPeers],
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

    fn v4(last: u8, port: u16) -> Peer<Ipv4Addr> {
        Peer { id: None, endpoint: Endpoint { ip: Ipv4Addr::new(10, 0, 0, last), port } }
    }

    fn list(peers: &[Peer<Ipv4Addr>]) -> UpstreamPeers {
        UpstreamPeers::new(&PeerList { v4: peers.to_vec(), v6: vec![] })
    }

    /// The ports of `local`'s peers, then of those `merge` adds.
    fn ports(local: &PeerList, merged: &UpstreamSelection) -> Vec<u16> {
        let v4 = local.v4.iter().map(|p| p.endpoint.port);
        let local = v4.chain(local.v6.iter().map(|p| p.endpoint.port));
        local.chain(merged.endpoints().map(|endpoint| endpoint.port())).collect()
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
        let upstream =
            |v6: Vec<Peer<Ipv6Addr>>| UpstreamPeers::new(&PeerList { v4: vec![v4(1, 1)], v6 });
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
