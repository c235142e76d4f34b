//! A scrape of 50 torrents on a repository holding 100,000 of them.

mod common;

use std::hint::black_box;
use std::net::Ipv4Addr;

use common::{at_once, info_hash, peer_id};
use criterion::{Criterion, criterion_group, criterion_main};
use retracker::adapters::memory::MemoryRepository;
use retracker::domain::ids::InfoHash;
use retracker::domain::peer::{AnyEndpoint, Endpoint, Event};
use retracker::domain::swarm::{AnnounceContext, PeerAnnounce, SwarmStats};
use retracker::domain::time::Timestamp;
use retracker::ports::PeerRepository;

const TORRENTS: u64 = 100_000;
const SCRAPED: u64 = 50;

/// A repository of `TORRENTS` torrents, each with one leecher.
fn full_repository() -> MemoryRepository {
    let repository = MemoryRepository::new(TORRENTS as usize);
    let context = AnnounceContext {
        now: Timestamp::from_secs(1_700_000_000),
        cutoff: Timestamp::from_secs(0),
        numwant: 0,
        max_peers: 250_000,
        start: 0,
        with_ids: false,
    };
    let leecher = PeerAnnounce {
        peer_id: peer_id(1),
        key: None,
        endpoint: AnyEndpoint::V4(Endpoint { ip: Ipv4Addr::new(10, 0, 0, 1), port: 6881 }),
        seeder: false,
        event: Event::Started,
    };
    for n in 0..TORRENTS {
        at_once(repository.announce(&info_hash(n), &leecher, &context)).unwrap();
    }
    repository
}

fn scrape(c: &mut Criterion) {
    let repository = full_repository();
    let repository: &dyn PeerRepository = &repository;
    // Spread over the whole repository rather than the first few inserted.
    let hashes: Vec<InfoHash> = (0..SCRAPED).map(|n| info_hash(n * (TORRENTS / SCRAPED))).collect();

    let one_leecher = SwarmStats { complete: 0, incomplete: 1, downloaded: 0, downloaders: 1 };
    assert!(at_once(repository.scrape(&hashes)).unwrap().iter().all(|stats| *stats == one_leecher));

    c.bench_function("scrape/repository_50_of_100000_torrents", |b| {
        b.iter(|| at_once(repository.scrape(black_box(&hashes))))
    });
}

criterion_group!(benches, scrape);
criterion_main!(benches);
