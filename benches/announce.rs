//! One announce on the in-memory repository, in a small swarm and in a huge one, and the peer
//! selection inside it on its own. The target: an announce in a 100,000-peer swarm costs
//! within 2x of one in a 10-peer swarm.

mod common;

use std::hint::black_box;
use std::net::Ipv4Addr;

use common::{at_once, info_hash, ipv4, peer_id};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use retracker::adapters::memory::MemoryRepository;
use retracker::domain::identity::PeerKey;
use retracker::domain::ids::InfoHash;
use retracker::domain::peer::{AnyEndpoint, Endpoint, Event, Peer, Role};
use retracker::domain::peer_set::{PeerSet, Pick, Report};
use retracker::domain::swarm::{AnnounceContext, PeerAnnounce};
use retracker::domain::time::Timestamp;
use retracker::ports::PeerRepository;

const SWARM_SIZES: [usize; 2] = [10, 100_000];
/// 50 is the default numwant; a 10-peer swarm can answer at most 9, so 9 makes answers of
/// equal size in both swarms.
const NUMWANTS: [usize; 2] = [50, 9];

const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);
/// Three hours back, the default peer age: every peer in these swarms is live.
const CUTOFF: Timestamp = Timestamp::from_secs(1_700_000_000 - 3 * 60 * 60);
/// The default `max_peers_per_swarm`.
const MAX_PEERS: usize = 250_000;

fn context(numwant: usize, start: usize) -> AnnounceContext {
    // Compact answers, as nearly every client asks: no peer ids picked.
    AnnounceContext {
        now: NOW,
        cutoff: CUTOFF,
        numwant,
        max_peers: MAX_PEERS,
        start,
        with_ids: false,
    }
}

/// Peer `n` of a swarm: one in four seeds, the rest leech; each sends a key, as real
/// clients do.
fn member(n: usize, event: Event) -> PeerAnnounce {
    PeerAnnounce {
        peer_id: peer_id(n as u64),
        key: PeerKey::of(&n.to_le_bytes()),
        endpoint: AnyEndpoint::V4(Endpoint { ip: ipv4(n), port: 6881 }),
        seeder: n % 4 == 0,
        event,
    }
}

/// A repository holding one torrent whose swarm has `size` IPv4 peers.
fn repository_with_swarm(size: usize) -> (MemoryRepository, InfoHash) {
    let repository = MemoryRepository::new(16);
    let hash = info_hash(1);
    for n in 0..size {
        at_once(repository.announce(&hash, &member(n, Event::Started), &context(0, 0))).unwrap();
    }
    (repository, hash)
}

fn announce(c: &mut Criterion) {
    let mut group = c.benchmark_group("announce");
    for size in SWARM_SIZES {
        let (repository, hash) = repository_with_swarm(size);
        let repository: &dyn PeerRepository = &repository;
        let everyone: Vec<PeerAnnounce> = (0..size).map(|n| member(n, Event::Periodic)).collect();
        for numwant in NUMWANTS {
            let expected = numwant.min(size - 1);

            // The same leecher announcing again and again: its entry stays in cache.
            let again = member(1, Event::Periodic);
            let answer = at_once(repository.announce(&hash, &again, &context(numwant, 0))).unwrap();
            assert_eq!(answer.peers.v4.len(), expected);
            let mut starts = fastrand::Rng::with_seed(7);
            group.bench_function(
                BenchmarkId::new(format!("same_peer/numwant_{numwant}"), size),
                |b| {
                    b.iter(|| {
                        let context = context(numwant, starts.usize(..));
                        at_once(repository.announce(black_box(&hash), black_box(&again), &context))
                    })
                },
            );

            // Every member in turn, as a live swarm re-announces: the lookup of the
            // announcing peer's own entry is a cold one in a big swarm.
            let mut turn = everyone.iter().cycle();
            group.bench_function(
                BenchmarkId::new(format!("each_peer/numwant_{numwant}"), size),
                |b| {
                    b.iter(|| {
                        let context = context(numwant, starts.usize(..));
                        let peer = turn.next().expect("a cycle never ends");
                        at_once(repository.announce(black_box(&hash), black_box(peer), &context))
                    })
                },
            );
        }
    }
    group.finish();
}

fn peer_set(size: usize) -> PeerSet<Ipv4Addr> {
    let mut set = PeerSet::default();
    for n in 0..size {
        let report = Report {
            id: peer_id(n as u64),
            key: PeerKey::of(&n.to_le_bytes()),
            endpoint: Endpoint { ip: ipv4(n), port: 6881 },
            role: if n % 4 == 0 { Role::Seeder } else { Role::Leecher },
            completed: false,
        };
        set.record(report, NOW, true).expect("a new peer");
    }
    set
}

/// Peer selection alone, without the update of the announcing peer or the answer's allocation.
fn pick(c: &mut Criterion) {
    let mut group = c.benchmark_group("pick");
    // 50 of 100 fits in L1 cache: against 50 of 100,000 it shows what cache misses add.
    for (size, numwant) in [(10, 9), (100_000, 9), (100, 50), (100_000, 50)] {
        let set = peer_set(size);
        let asking = peer_id(1);
        let mut out: Vec<Peer<Ipv4Addr>> = Vec::with_capacity(numwant);
        let mut starts = fastrand::Rng::with_seed(7);
        let exclude = set.position(&asking);
        let pick =
            |start| Pick { exclude, uploader: false, start, cutoff: CUTOFF, with_ids: false };
        set.pick(pick(0), numwant, &mut out);
        assert_eq!(out.len(), numwant);
        group.bench_function(BenchmarkId::new(format!("numwant_{numwant}"), size), |b| {
            b.iter(|| {
                out.clear();
                set.pick(pick(starts.usize(..)), black_box(numwant), &mut out);
                black_box(&out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, announce, pick);
criterion_main!(benches);
