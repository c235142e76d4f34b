//! Bencoding of answers: a typical announce answer of 50 peers, compact and as dictionaries,
//! and a scrape answer for 50 torrents.

mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{info_hash, ipv4, peer_id};
use criterion::{Criterion, criterion_group, criterion_main};
use retracker::adapters::http::render::{self, PeerFormat};
use retracker::domain::announce::AnnounceResponse;
use retracker::domain::peer::{Endpoint, Peer, PeerList};
use retracker::domain::scrape::ScrapeResponse;
use retracker::domain::swarm::SwarmStats;

const PEERS: usize = 50;

fn announce_response() -> AnnounceResponse {
    let v4 = (0..PEERS)
        .map(|n| Peer {
            id: Some(peer_id(n as u64)),
            endpoint: Endpoint { ip: ipv4(n), port: 6881 + n as u16 },
        })
        .collect();
    AnnounceResponse {
        interval: Duration::from_secs(1800),
        min_interval: Duration::from_secs(900),
        stats: SwarmStats {
            complete: 2_473,
            incomplete: 618,
            downloaded: 15_902,
            downloaders: 618,
        },
        peers: PeerList { v4, v6: Vec::new() },
        upstream: Default::default(),
    }
}

fn scrape_response() -> ScrapeResponse {
    let files = (0..50)
        .map(|n| {
            (
                info_hash(n),
                SwarmStats { complete: 40, incomplete: 7, downloaded: 1_200, downloaders: 7 },
            )
        })
        .collect();
    ScrapeResponse { files }
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");

    let response = announce_response();
    let compact = render::announce(&response, PeerFormat::Compact);
    // Checked once outside the timing: 50 six-byte peers under one `peers` key.
    let peers_key = format!("5:peers{}:", 6 * PEERS);
    assert!(compact.windows(peers_key.len()).any(|window| window == peers_key.as_bytes()));
    group.bench_function("announce_compact_50_peers", |b| {
        b.iter(|| render::announce(black_box(&response), PeerFormat::Compact))
    });

    let format = PeerFormat::Dictionary { with_peer_id: true };
    assert!(render::announce(&response, format).len() > PEERS * 20);
    group.bench_function("announce_dictionary_50_peers", |b| {
        b.iter(|| render::announce(black_box(&response), format))
    });

    let scrape = scrape_response();
    assert!(render::scrape(&scrape).starts_with(b"d5:filesd20:"));
    group.bench_function("scrape_50_hashes", |b| b.iter(|| render::scrape(black_box(&scrape))));

    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
