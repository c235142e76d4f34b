//! One announce sequence through the memory store and the Redis store, compared step by step.

use std::net::IpAddr;
use std::time::Duration;

use retracker::adapters::memory::MemoryRepository;
use retracker::adapters::redis::{RedisRepository, RedisSettings};
use retracker::domain::announce::Refusal;
use retracker::domain::identity::PeerKey;
use retracker::domain::ids::{InfoHash, PeerId};
use retracker::domain::peer::{AnyEndpoint, Event};
use retracker::domain::swarm::{AnnounceContext, PeerAnnounce, Standing, SwarmStats};
use retracker::domain::time::Timestamp;
use retracker::ports::PeerRepository;

use crate::server::{Redis, redis_installed};

/// One announce's outcome as both stores must agree on it: counts, standing, and the ports
/// of the peers handed out (the order is each store's own).
type Outcome = Result<(SwarmStats, Standing, Vec<u16>), Refusal>;

/// Runs the same announces through `repository` and returns each outcome, in order.
async fn rule_by_rule(repository: &dyn PeerRepository) -> Vec<Outcome> {
    let hash = InfoHash([9; 20]);
    let context = |now: u32, max_peers: usize| AnnounceContext {
        now: Timestamp::from_secs(now),
        cutoff: Timestamp::from_secs(now - 600),
        numwant: 50,
        max_peers,
        start: 0,
        with_ids: true,
    };
    let peer = |n: u8, ip: [u8; 4], key: Option<&str>, seeder: bool, event: Event| PeerAnnounce {
        peer_id: PeerId([n; 20]),
        key: key.and_then(|key| PeerKey::of(key.as_bytes())),
        endpoint: AnyEndpoint::new(IpAddr::from(ip), 6000 + u16::from(n)),
        seeder,
        event,
    };
    let steps = [
        // Stopped for an unknown torrent, then a leecher, a seeder, a partial seed.
        (peer(1, [10, 0, 0, 1], None, false, Event::Stopped), context(1_000, 9)),
        (peer(1, [10, 0, 0, 1], None, false, Event::Started), context(1_000, 9)),
        (peer(2, [10, 0, 0, 2], Some("k2"), true, Event::Started), context(1_010, 9)),
        (peer(3, [10, 0, 0, 3], None, false, Event::Paused), context(1_020, 9)),
        // The seeder's key from elsewhere speaks for it; another key, or none, does not.
        (peer(2, [10, 9, 9, 9], Some("k2"), true, Event::Periodic), context(1_030, 9)),
        (peer(2, [10, 0, 0, 2], Some("other"), true, Event::Stopped), context(1_040, 9)),
        (peer(2, [10, 0, 0, 2], None, true, Event::Periodic), context(1_050, 9)),
        // From its own address a new key binds it; the old one no longer speaks for it.
        (peer(2, [10, 9, 9, 9], Some("k2b"), true, Event::Periodic), context(1_052, 9)),
        (peer(2, [10, 0, 0, 2], Some("k2"), true, Event::Periodic), context(1_054, 9)),
        (peer(2, [10, 0, 0, 2], Some("k2b"), true, Event::Periodic), context(1_056, 9)),
        // A keyless peer is bound to its address; its first key binds it, and from its
        // address it needs none.
        (peer(1, [10, 0, 0, 7], None, false, Event::Periodic), context(1_060, 9)),
        (peer(1, [10, 0, 0, 1], Some("k1"), false, Event::Periodic), context(1_070, 9)),
        (peer(1, [10, 0, 0, 1], None, false, Event::Periodic), context(1_080, 9)),
        // Completed counts once per peer.
        (peer(1, [10, 0, 0, 1], Some("k1"), true, Event::Completed), context(1_090, 9)),
        (peer(1, [10, 0, 0, 1], Some("k1"), true, Event::Completed), context(1_100, 9)),
        // A full swarm answers a newcomer without listing it.
        (peer(4, [10, 0, 0, 4], None, false, Event::Started), context(1_110, 3)),
        // Stopped removes, and answers no peers.
        (peer(3, [10, 0, 0, 3], None, false, Event::Stopped), context(1_120, 9)),
        // A newcomer gets everyone listed but itself.
        (peer(5, [10, 0, 0, 5], None, false, Event::Started), context(1_130, 9)),
    ];
    let mut outcomes = Vec::new();
    for (announce, context) in steps {
        let answer = repository.announce(&hash, &announce, &context).await;
        outcomes.push(answer.map(|answer| {
            let mut ports: Vec<u16> = answer.peers.v4.iter().map(|p| p.endpoint.port).collect();
            ports.sort_unstable();
            (answer.stats, answer.standing, ports)
        }));
    }
    outcomes
}

#[tokio::test]
async fn redis_keeps_the_announce_rules_as_the_memory_store_does() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let settings = RedisSettings { urls: vec![redis.url()], timeout: Duration::from_secs(2) };
    let on_redis = RedisRepository::connect(&settings).await.expect("connects");
    let in_memory = MemoryRepository::new(10);
    let expected = rule_by_rule(&in_memory).await;
    assert_eq!(rule_by_rule(on_redis.as_ref()).await, expected);
    // The script refused what the domain refuses, so the comparison compared something.
    assert_eq!(expected.iter().filter(|outcome| outcome.is_err()).count(), 4);
    assert_eq!(
        on_redis.scrape(&[InfoHash([9; 20]), InfoHash([8; 20])]).await.unwrap(),
        in_memory.scrape(&[InfoHash([9; 20]), InfoHash([8; 20])]).await.unwrap()
    );
}
