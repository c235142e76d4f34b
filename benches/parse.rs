//! Query parsing: a typical client announce, and a scrape of 50 torrents, from the raw query
//! string to the decoded request.

mod common;

use std::hint::black_box;

use common::{client_escaped, info_hash, peer_id};
use criterion::{Criterion, criterion_group, criterion_main};
use retracker::adapters::http::query::{parse_announce, parse_scrape};
use retracker::domain::peer::Event;

/// The scrape limit the tracker ships with (`max_scrape_hashes`).
const MAX_SCRAPE_HASHES: usize = 100;

/// An announce as qBittorrent sends it when a download starts.
fn announce_query() -> String {
    format!(
        "info_hash={}&peer_id={}&port=51413&uploaded=0&downloaded=0&left=1468006400\
         &event=started&key=4E1A97C2&compact=1&numwant=50",
        client_escaped(info_hash(1).as_bytes()),
        client_escaped(peer_id(1).as_bytes()),
    )
}

fn scrape_query(hashes: u64) -> String {
    (0..hashes)
        .map(|n| format!("info_hash={}", client_escaped(info_hash(n).as_bytes())))
        .collect::<Vec<_>>()
        .join("&")
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");

    let announce = announce_query();
    // Checked once outside the timing, so the smoke run fails if the query stops parsing.
    let parsed = parse_announce(&announce).expect("the announce parses");
    assert_eq!(parsed.request.info_hash, info_hash(1));
    assert_eq!(parsed.request.peer_id, peer_id(1));
    assert_eq!((parsed.request.event, parsed.request.numwant), (Event::Started, Some(50)));
    group.bench_function("announce", |b| b.iter(|| parse_announce(black_box(&announce))));

    let scrape = scrape_query(50);
    assert_eq!(parse_scrape(&scrape, MAX_SCRAPE_HASHES).expect("the scrape parses").len(), 50);
    group.bench_function("scrape_50_hashes", |b| {
        b.iter(|| parse_scrape(black_box(&scrape), MAX_SCRAPE_HASHES))
    });

    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
