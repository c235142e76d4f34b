//! Two tracker processes on one Redis: each hands out the other's peers, with the same rules
//! and counts; peers age out with no sweep; a restart forgets nobody.

use std::time::Duration;

use crate::common::*;
use crate::instance::Instance;
use crate::server::{Redis, redis_installed};

#[tokio::test]
async fn two_instances_hand_out_each_others_peers_and_agree_on_counts() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let a = Instance::start(&redis.url(), "180").await;
    let b = Instance::start(&redis.url(), "180").await;

    let seeder = Announce::new(1, 1).seeding().with("event=started");
    assert!(announce(&a.base, &seeder).await.peers.is_empty());
    let leecher = Announce::new(1, 2).with("event=started");
    let answer = announce(&b.base, &leecher).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6001".parse().unwrap()], "a's seeder, at b");
    assert_eq!((answer.complete, answer.incomplete), (1, 1));
    let answer = announce(&a.base, &seeder).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6002".parse().unwrap()], "b's leecher, at a");

    let hash = seeder.info_hash;
    assert_eq!(scrape(&a.base, &[hash]).await, vec![(1, 0, 1)]);
    assert_eq!(scrape(&b.base, &[hash]).await, vec![(1, 0, 1)]);

    // `completed` counts once, whichever instance hears it.
    let done = Announce::new(1, 2).seeding().with("event=completed");
    announce(&a.base, &done).await;
    announce(&b.base, &done).await;
    assert_eq!(scrape(&b.base, &[hash]).await, vec![(2, 1, 0)]);

    // Stopped at b, the seeder is gone from a's answers too.
    announce(&b.base, &seeder.clone().with("event=stopped")).await;
    let answer = announce(&a.base, &Announce::new(1, 3)).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6002".parse().unwrap()]);
    assert_eq!(scrape(&a.base, &[hash]).await, vec![(1, 1, 1)]);
}

#[tokio::test]
async fn a_peer_bound_to_its_key_at_one_instance_is_refused_to_another_key_at_the_other() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let a = Instance::start(&redis.url(), "180").await;
    let b = Instance::start(&redis.url(), "180").await;

    announce(&a.base, &Announce::new(2, 1).with("key=first")).await;
    // From another address than the peer's: from its own, any key speaks for it.
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let stop = Announce::new(2, 1).with("key=other&event=stopped");
    let (status, body) =
        get_with(&elsewhere, &format!("{}/announce?{}", b.base, stop.query()), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        failure_reason(&body),
        "peer_id in use: this torrent lists it for a client with another key or address"
    );
    let answer = announce(&b.base, &Announce::new(2, 2)).await;
    assert_eq!(answer.peers, vec!["127.0.0.1:6001".parse().unwrap()], "still listed");
}

#[tokio::test]
async fn a_full_swarm_answers_newcomers_without_listing_them_and_stopped_writes_nothing() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let full = [("MAX_PEERS_PER_SWARM", "2")];
    let a = Instance::start_with(&redis.url(), "180", &full).await;
    let b = Instance::start_with(&redis.url(), "180", &full).await;

    // A stopped for a torrent nobody announced creates no key.
    announce(&a.base, &Announce::new(7, 1).with("event=stopped")).await;
    assert_eq!(redis.key_count(), 0);

    announce(&a.base, &Announce::new(7, 1)).await;
    announce(&b.base, &Announce::new(7, 2)).await;
    let newcomer = announce(&a.base, &Announce::new(7, 3)).await;
    assert_eq!(newcomer.peers.len(), 2, "answered with the listed peers");
    assert_eq!((newcomer.complete, newcomer.incomplete), (0, 2), "but not listed");
    let mut listed = announce(&b.base, &Announce::new(7, 1)).await.peers;
    listed.sort();
    assert_eq!(listed, vec!["127.0.0.1:6002".parse().unwrap()]);
}

#[tokio::test]
async fn peers_and_torrents_expire_after_the_peer_age_with_no_sweep() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    // Three seconds: the keys' TTL, and the score cut-off.
    let a = Instance::start(&redis.url(), "0.05").await;
    let b = Instance::start(&redis.url(), "0.05").await;

    let seeder = Announce::new(3, 1).seeding();
    announce(&a.base, &seeder).await;
    assert_eq!(announce(&b.base, &Announce::new(3, 2)).await.peers.len(), 1);
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    assert_eq!(scrape(&b.base, &[seeder.info_hash]).await, vec![(0, 0, 0)], "keys gone");
    assert!(announce(&b.base, &Announce::new(3, 3)).await.peers.is_empty());
}

#[tokio::test]
async fn a_restarted_tracker_keeps_every_peer() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let first = Instance::start(&redis.url(), "180").await;
    for peer in 1..=3 {
        announce(&first.base, &Announce::new(4, peer).seeding()).await;
    }
    drop(first);
    let again = Instance::start(&redis.url(), "180").await;
    let mut peers = announce(&again.base, &Announce::new(4, 9)).await.peers;
    peers.sort();
    let want: Vec<std::net::SocketAddr> =
        (1..=3).map(|peer| format!("127.0.0.1:{}", 6000 + peer).parse().unwrap()).collect();
    assert_eq!(peers, want);
}

#[tokio::test]
async fn a_partial_seed_is_handed_to_leechers_only_across_instances() {
    if !redis_installed() {
        return;
    }
    let redis = Redis::start();
    let a = Instance::start(&redis.url(), "180").await;
    let b = Instance::start(&redis.url(), "180").await;

    announce(&a.base, &Announce::new(6, 1).with("event=paused")).await;
    let seeder = announce(&b.base, &Announce::new(6, 2).seeding()).await;
    assert!(seeder.peers.is_empty(), "a seeder gets no partial seed: {:?}", seeder.peers);
    let mut leecher = announce(&a.base, &Announce::new(6, 3)).await.peers;
    leecher.sort();
    let want: Vec<std::net::SocketAddr> =
        vec!["127.0.0.1:6001".parse().unwrap(), "127.0.0.1:6002".parse().unwrap()];
    assert_eq!(leecher, want);
    let seeder = announce(&b.base, &Announce::new(6, 2).seeding()).await;
    assert_eq!(seeder.peers, vec!["127.0.0.1:6003".parse().unwrap()], "the leecher only");
}
